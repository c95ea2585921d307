import { Injectable } from '@nestjs/common';
import { EnterpriseStatusHooks } from './enterprise-status-hooks';
import { AuditService } from '../audit/audit.service';
import { RequestContext } from '../common/context/request-context';
import { ApiError } from '../common/errors/api-error';
import { isId, newId } from '../common/ids';
import type { Page } from '../common/pagination/pagination';
import { TransactionService } from '../database/transaction.service';
import { isValidCreditCode, normaliseCreditCode } from './credit-code';
import type { CreateEnterpriseDto } from './dto/create-enterprise.dto';
import { EnterpriseDto } from './dto/enterprise.dto';
import type { ListEnterprisesQueryDto } from './dto/list-enterprises-query.dto';
import type { UpdateEnterpriseDto } from './dto/update-enterprise.dto';
import type { Enterprise } from './enterprise.entity';
import { EnterprisesRepository } from './enterprises.repository';

/** PATCH fields and the entity properties they set. */
const UPDATABLE = {
  name: 'name',
  invoice_title: 'invoiceTitle',
  registered_address: 'registeredAddress',
  phone: 'phone',
  bank_name: 'bankName',
  bank_account: 'bankAccount',
  contact_email: 'contactEmail',
  discount_bps: 'discountBps',
  credit_limit: 'creditLimit',
  approval_threshold: 'approvalThreshold',
  status: 'status',
} as const satisfies Record<keyof UpdateEnterpriseDto, keyof Enterprise>;

/** Fields whose old and new values the audit summary shows: pricing, credit and status, nothing personal. */
const SUMMARISED = new Set<keyof UpdateEnterpriseDto>(['discount_bps', 'credit_limit', 'approval_threshold', 'status']);

export interface FindActiveOptions {
  /** SELECT … FOR UPDATE: hold the row until the transaction ends (e.g. while using the credit line). */
  lock?: boolean;
}

@Injectable()
export class EnterprisesService {
  constructor(
    private readonly enterprises: EnterprisesRepository,
    private readonly transactions: TransactionService,
    private readonly audit: AuditService,
    private readonly statusHooks: EnterpriseStatusHooks,
  ) {}

  async create(ctx: RequestContext, dto: CreateEnterpriseDto): Promise<EnterpriseDto> {
    const creditCode = normaliseCreditCode(dto.credit_code);
    if (!isValidCreditCode(creditCode)) {
      throw ApiError.unprocessable(
        'invalid_credit_code',
        `credit_code '${creditCode}' has a wrong check character (GB 32100-2015); check it against the business licence`,
      );
    }
    return this.transactions.run(ctx, async () => {
      const id = newId('enterprise');
      const inserted = await this.enterprises.insertIfAbsent(ctx, {
        id,
        name: dto.name,
        creditCode,
        status: 'active',
        invoiceTitle: dto.invoice_title ?? dto.name,
        registeredAddress: dto.registered_address ?? null,
        phone: dto.phone ?? null,
        bankName: dto.bank_name ?? null,
        bankAccount: dto.bank_account ?? null,
        contactEmail: dto.contact_email ?? null,
        discountBps: dto.discount_bps ?? 0,
        creditLimit: dto.credit_limit ?? 0,
        approvalThreshold: dto.approval_threshold ?? null,
      });
      if (!inserted) {
        const existing = await this.enterprises.idByCreditCode(ctx, creditCode);
        throw ApiError.conflict('enterprise_exists', `An enterprise with credit_code '${creditCode}' already exists`, {
          existing_id: existing,
        });
      }
      const found = await this.enterprises.findById(ctx, id);
      const created = EnterpriseDto.from(found!);
      await this.audit.record(ctx, {
        action: 'enterprise.created',
        objectType: 'enterprise',
        objectId: id,
        enterpriseId: id,
        after: created,
        summary: {
          name: created.name,
          credit_code: created.credit_code,
          discount_bps: created.discount_bps,
          credit_limit: created.credit_limit,
        },
      });
      return created;
    });
  }

  async list(ctx: RequestContext, query: ListEnterprisesQueryDto): Promise<Page<EnterpriseDto>> {
    const page = await this.enterprises.list(
      ctx,
      {
        onlyId: this.visibleOnly(ctx),
        status: query.status,
        creditCode: query.credit_code ? normaliseCreditCode(query.credit_code) : undefined,
      },
      query,
    );
    return { ...page, data: page.data.map((enterprise) => EnterpriseDto.from(enterprise)) };
  }

  /** One enterprise as the caller may see it: operators and system contexts see all, an enterprise client only its own. */
  async get(ctx: RequestContext, id: string): Promise<EnterpriseDto> {
    if (!isId('enterprise', id)) throw ApiError.notFound('enterprise', id);
    const enterprise = await this.enterprises.findById(ctx, id, { onlyId: this.visibleOnly(ctx) });
    if (!enterprise) throw ApiError.notFound('enterprise', id);
    return EnterpriseDto.from(enterprise);
  }

  async update(ctx: RequestContext, id: string, dto: UpdateEnterpriseDto): Promise<EnterpriseDto> {
    if (!isId('enterprise', id)) throw ApiError.notFound('enterprise', id);
    return this.transactions.run(ctx, async () => {
      const current = await this.enterprises.findById(ctx, id, { onlyId: this.visibleOnly(ctx), lock: true });
      if (!current) throw ApiError.notFound('enterprise', id);
      const before = EnterpriseDto.from(current);

      const changes: Partial<Enterprise> = {};
      const changed: Array<keyof UpdateEnterpriseDto> = [];
      const summary: Record<string, unknown> = {};
      for (const field of Object.keys(UPDATABLE) as Array<keyof UpdateEnterpriseDto>) {
        const value = dto[field];
        if (value === undefined || value === before[field]) continue;
        Object.assign(changes, { [UPDATABLE[field]]: value });
        changed.push(field);
        if (SUMMARISED.has(field)) summary[field] = { from: before[field], to: value };
      }
      // Nothing to change: no write, no audit record.
      if (changed.length === 0) return before;

      const after = EnterpriseDto.from(await this.enterprises.update(ctx, id, changes));
      await this.audit.record(ctx, {
        action: 'enterprise.updated',
        objectType: 'enterprise',
        objectId: id,
        enterpriseId: id,
        before,
        after,
        summary: { changed, ...summary },
      });
      // Suspension (or re-activation) reaches this process's token checks at once, others' within their cache TTL.
      if (changed.includes('status'))
        await this.transactions.afterCommit(ctx, () => this.statusHooks.statusChanged(id));
      return after;
    });
  }

  /**
   * For other modules acting on a tenant inside their transaction: the enterprise,
   * or 404 resource_not_found when it does not exist, or 403 enterprise_suspended.
   * Does not check who asks: callers pass an id they already trust (ctx.enterpriseId).
   */
  async findActive(ctx: RequestContext, id: string, options: FindActiveOptions = {}): Promise<Enterprise> {
    const enterprise = await this.enterprises.findById(ctx, id, { lock: options.lock });
    if (!enterprise) throw ApiError.notFound('enterprise', id);
    if (enterprise.status !== 'active') {
      throw ApiError.forbidden('enterprise_suspended', `Enterprise '${id}' is suspended`);
    }
    return enterprise;
  }

  /**
   * Tenant isolation: an enterprise client only ever sees its own enterprise (and
   * a 404 for any other, never a 403). Operators and contexts without an actor
   * (jobs, boot) see every enterprise.
   */
  private visibleOnly(ctx: RequestContext): string | undefined {
    if (ctx.actor === null || ctx.isOperator) return undefined;
    return ctx.actor.enterpriseId ?? '';
  }
}
