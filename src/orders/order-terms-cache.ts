import type { Product } from '../catalog/product.entity';
import type { Enterprise } from '../enterprises/enterprise.entity';

/** What pricing and the rules need of the enterprise placing an order. */
export type OrderEnterpriseTerms = Pick<Enterprise, 'id' | 'discountBps' | 'approvalThreshold'>;

/** Entries kept per kind before the cache starts afresh (tenants and products are few; this only bounds memory). */
const MAX_ENTRIES = 10_000;

/**
 * The terms of the enterprises and products recent orders were placed on, so that the next order can be checked
 * and priced without reading them first. Never trusted: the order's statement checks that they still hold (and
 * locks the products) and writes nothing when they do not; the careful path then reads them afresh.
 */
export class OrderTermsCache {
  private readonly enterprises = new Map<string, OrderEnterpriseTerms>();
  private readonly products = new Map<string, Product>();

  get(
    enterpriseId: string,
    productIds: readonly string[],
  ): { enterprise: OrderEnterpriseTerms; products: Map<string, Product> } | undefined {
    const enterprise = this.enterprises.get(enterpriseId);
    if (!enterprise) return undefined;
    const products = new Map<string, Product>();
    for (const id of productIds) {
      const product = this.products.get(id);
      if (!product) return undefined;
      products.set(id, product);
    }
    return { enterprise, products };
  }

  /** What the careful path read: an active enterprise and the active products among those ordered. */
  remember(enterprise: Enterprise, products: Iterable<Product>): void {
    if (this.enterprises.size >= MAX_ENTRIES) this.enterprises.clear();
    this.enterprises.set(enterprise.id, {
      id: enterprise.id,
      discountBps: enterprise.discountBps,
      approvalThreshold: enterprise.approvalThreshold,
    });
    for (const product of products) {
      if (this.products.size >= MAX_ENTRIES) this.products.clear();
      this.products.set(product.id, product);
    }
  }
}
