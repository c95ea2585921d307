import { Injectable } from '@nestjs/common';
import { AuditService } from '../audit/audit.service';
import { RequestContext } from '../common/context/request-context';
import { ApiError } from '../common/errors/api-error';
import { isId, newId } from '../common/ids';
import type { Page } from '../common/pagination/pagination';
import { TransactionService } from '../database/transaction.service';
import { EnterprisesService } from '../enterprises/enterprises.service';
import { CatalogRepository } from './catalog.repository';
import { CompliancePolicy } from './compliance.policy';
import type { CreateProductDto } from './dto/create-product.dto';
import type { ListCatalogQueryDto, ListProductsQueryDto } from './dto/list-products-query.dto';
import { PricedProductDto } from './dto/priced-product.dto';
import { ProductDto } from './dto/product.dto';
import { ascending } from './dto/product-fields';
import type { UpdateProductDto } from './dto/update-product.dto';
import { Product } from './product.entity';

/** PATCH fields and the entity properties they set. */
const UPDATABLE = {
  name: 'name',
  description: 'description',
  card_type: 'cardType',
  face_values: 'faceValues',
  validity_months: 'validityMonths',
  designs: 'designs',
  greeting_allowed: 'greetingAllowed',
  active: 'active',
} as const satisfies Record<keyof UpdateProductDto, keyof Product>;

/** Changing any of these re-runs the compliance rules on the result. */
const TERMS = new Set<keyof UpdateProductDto>(['card_type', 'face_values', 'validity_months']);

export interface FindForOrderOptions {
  /**
   * SELECT … FOR SHARE (default true): a concurrent PATCH of these products waits until the order's
   * transaction ends, so the order is placed on the terms it checked. Needs an open transaction.
   */
  lock?: boolean;
}

/**
 * Card products: the operator's catalogue (create, list, update, all audited) and the enterprise's view
 * of it with its own prices. Product terms are checked by the compliance policy (card limits, validity).
 */
@Injectable()
export class CatalogService {
  constructor(
    private readonly products: CatalogRepository,
    private readonly transactions: TransactionService,
    private readonly audit: AuditService,
    private readonly compliance: CompliancePolicy,
    private readonly enterprises: EnterprisesService,
  ) {}

  async create(ctx: RequestContext, dto: CreateProductDto): Promise<ProductDto> {
    const values = {
      name: dto.name,
      description: dto.description ?? null,
      cardType: dto.card_type,
      faceValues: ascending(dto.face_values),
      validityMonths: dto.validity_months,
      designs: dto.designs,
      greetingAllowed: dto.greeting_allowed ?? false,
      active: dto.active ?? true,
    };
    this.compliance.checkProduct(values);
    return this.transactions.run(ctx, async () => {
      const id = newId('product');
      const created = ProductDto.from(await this.products.insert(ctx, { id, ...values }));
      await this.audit.record(ctx, {
        action: 'product.created',
        objectType: 'product',
        objectId: id,
        after: created,
        summary: {
          name: created.name,
          card_type: created.card_type,
          face_values: created.face_values,
          validity_months: created.validity_months,
          active: created.active,
        },
      });
      return created;
    });
  }

  /** Operator list: every product, newest first, filtered by card_type and active. */
  async list(ctx: RequestContext, query: ListProductsQueryDto): Promise<Page<ProductDto>> {
    const page = await this.products.list(ctx, { cardType: query.card_type, active: query.active }, query);
    return { ...page, data: page.data.map((product) => ProductDto.from(product)) };
  }

  /** Operator view of one product, active or not. */
  async get(ctx: RequestContext, id: string): Promise<ProductDto> {
    if (!isId('product', id)) throw ApiError.notFound('product', id);
    const product = await this.products.findById(ctx, id);
    if (!product) throw ApiError.notFound('product', id);
    return ProductDto.from(product);
  }

  async update(ctx: RequestContext, id: string, dto: UpdateProductDto): Promise<ProductDto> {
    if (!isId('product', id)) throw ApiError.notFound('product', id);
    return this.transactions.run(ctx, async () => {
      const current = await this.products.findById(ctx, id, { lock: 'update' });
      if (!current) throw ApiError.notFound('product', id);
      const before = ProductDto.from(current);

      const changes: Partial<Product> = {};
      const changed: Array<keyof UpdateProductDto> = [];
      const summary: Record<string, unknown> = {};
      for (const field of Object.keys(UPDATABLE) as Array<keyof UpdateProductDto>) {
        let value = dto[field];
        if (value === undefined) continue;
        if (field === 'face_values') value = ascending(value as number[]);
        if (JSON.stringify(value) === JSON.stringify(before[field])) continue;
        Object.assign(changes, { [UPDATABLE[field]]: value });
        changed.push(field);
        // The description may be long: its change shows in the digests, not the summary.
        if (field !== 'description') summary[field] = { from: before[field], to: value };
      }
      // Nothing to change: no write, no audit record.
      if (changed.length === 0) return before;

      const next = { ...current, ...changes };
      const activated = changes.active === true;
      if (activated || changed.some((field) => TERMS.has(field))) this.compliance.checkProduct(next);

      const after = ProductDto.from(await this.products.update(ctx, id, changes));
      await this.audit.record(ctx, {
        action: 'product.updated',
        objectType: 'product',
        objectId: id,
        before,
        after,
        summary: { changed, ...summary },
      });
      return after;
    });
  }

  /** The calling enterprise's catalogue: active products, each face value with its own price. */
  async listForEnterprise(ctx: RequestContext, query: ListCatalogQueryDto): Promise<Page<PricedProductDto>> {
    const pricing = await this.pricingOf(ctx);
    const page = await this.products.list(ctx, { cardType: query.card_type, active: true }, query);
    return {
      ...page,
      data: page.data.map((product) => PricedProductDto.from(product, pricing.discountBps, pricing.currency)),
    };
  }

  /** One active product with the calling enterprise's prices; inactive or unknown: 404. */
  async getForEnterprise(ctx: RequestContext, id: string): Promise<PricedProductDto> {
    if (!isId('product', id)) throw ApiError.notFound('product', id);
    const pricing = await this.pricingOf(ctx);
    const product = await this.products.findById(ctx, id, { activeOnly: true });
    if (!product) throw ApiError.notFound('product', id);
    return PricedProductDto.from(product, pricing.discountBps, pricing.currency);
  }

  /**
   * For the orders module, inside its transaction: the ACTIVE products among `productIds`, by id.
   * Unknown and inactive ids are simply absent from the map (the caller turns that into its own error).
   * Locks the rows FOR SHARE unless `{ lock: false }` (see FindForOrderOptions).
   */
  async findForOrder(
    ctx: RequestContext,
    productIds: readonly string[],
    options: FindForOrderOptions = {},
  ): Promise<Map<string, Product>> {
    const ids = [...new Set(productIds)];
    if (ids.length === 0) return new Map();
    const products = await this.products.findActive(ctx, ids, { share: options.lock !== false });
    return new Map(products.map((product) => [product.id, product]));
  }

  /** The products among `productIds`, active or not, by id (issuance plans the batches of a paid order). */
  async productsByIds(ctx: RequestContext, productIds: readonly string[]): Promise<Map<string, Product>> {
    const ids = [...new Set(productIds)];
    if (ids.length === 0) return new Map();
    const products = await this.products.findByIds(ctx, ids);
    return new Map(products.map((product) => [product.id, product]));
  }

  /** The caller's own discount (ctx.enterpriseId: 403 enterprise_client_required for other callers). */
  private async pricingOf(ctx: RequestContext): Promise<{ discountBps: number; currency: string }> {
    const enterprise = await this.enterprises.get(ctx, ctx.enterpriseId);
    return { discountBps: enterprise.discount_bps, currency: enterprise.currency };
  }
}
