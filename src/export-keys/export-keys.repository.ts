import { Injectable } from '@nestjs/common';
import { Not } from 'typeorm';
import type { RequestContext } from '../common/context/request-context';
import { type ListQueryDto, type Page } from '../common/pagination/pagination';
import { paginate } from '../database/paginate';
import { TransactionalConnection } from '../database/transactional-connection';
import { ExportKey, type ExportKeyStatus } from './export-key.entity';

export interface ExportKeyFilter {
  enterpriseId?: string;
  status?: ExportKeyStatus;
}

/** How a read locks the key until the context's transaction ends: `read` against a concurrent revocation. */
export type ExportKeyLock = 'read' | 'write';

/** export_keys. */
@Injectable()
export class ExportKeysRepository {
  constructor(private readonly connection: TransactionalConnection) {}

  /** Until the context's transaction ends, no other registration of this enterprise's keys runs. */
  async lockRegistrations(ctx: RequestContext, enterpriseId: string): Promise<void> {
    await this.connection
      .transactionManager(ctx, 'ExportKeysRepository.lockRegistrations')
      .query('SELECT pg_advisory_xact_lock(hashtext($1))', [`export_keys:${enterpriseId}`]);
  }

  /** The enterprise's keys that are not revoked (id and fingerprint). */
  registered(ctx: RequestContext, enterpriseId: string): Promise<Array<Pick<ExportKey, 'id' | 'fingerprint'>>> {
    return this.connection.manager(ctx).find(ExportKey, {
      where: { enterpriseId, status: Not<ExportKeyStatus>('revoked') },
      select: { id: true, fingerprint: true },
    });
  }

  async insert(ctx: RequestContext, key: ExportKey): Promise<void> {
    await this.connection.manager(ctx).insert(ExportKey, key);
  }

  /** The key by id, of `enterpriseId` when given; locked when asked (in a transaction). */
  async find(
    ctx: RequestContext,
    where: { id: string; enterpriseId?: string },
    lock?: ExportKeyLock,
  ): Promise<ExportKey | null> {
    if (!lock) return this.connection.manager(ctx).findOneBy(ExportKey, where);
    return this.connection.transactionManager(ctx, 'ExportKeysRepository.find with a lock').findOne(ExportKey, {
      where,
      lock: { mode: lock === 'read' ? 'pessimistic_read' : 'pessimistic_write' },
    });
  }

  async list(ctx: RequestContext, filter: ExportKeyFilter, page: ListQueryDto): Promise<Page<ExportKey>> {
    const builder = this.connection.manager(ctx).createQueryBuilder(ExportKey, 'key');
    if (filter.enterpriseId)
      builder.andWhere('key.enterpriseId = :enterpriseId', { enterpriseId: filter.enterpriseId });
    if (filter.status) builder.andWhere('key.status = :status', { status: filter.status });
    return paginate(builder, page, (key) => key);
  }

  async update(
    ctx: RequestContext,
    id: string,
    changes: Partial<
      Pick<ExportKey, 'status' | 'confirmedByClientId' | 'confirmedAt' | 'revokedByClientId' | 'revokedAt'>
    >,
  ): Promise<void> {
    await this.connection.manager(ctx).update(ExportKey, { id }, changes);
  }
}
