/** Pricing lives with the catalog (which shows each enterprise its prices); kept here for existing importers. */
export { priceOrder, unitPrice, type PricedLine, type PricedOrder, type PricingLine } from '../catalog/pricing';
