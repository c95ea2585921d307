import { Injectable } from '@nestjs/common';
import type { RequestContext } from '../common/context/request-context';
import { TransactionalConnection } from '../database/transactional-connection';

/** reconciliation_daily_runs: which enterprise has had its daily summary for which day. */
@Injectable()
export class ReconciliationDailyRepository {
  constructor(private readonly connection: TransactionalConnection) {}

  /**
   * Claims (enterprise, day) for the event `eventId`, in the context's transaction: false when a run has claimed it
   * already (committed, or waiting on this row's lock until the other run's transaction ends).
   */
  async claim(ctx: RequestContext, enterpriseId: string, day: string, eventId: string): Promise<boolean> {
    const rows = await this.connection.query<unknown[]>(
      ctx,
      `INSERT INTO reconciliation_daily_runs (enterprise_id, day, event_id) VALUES ($1, $2::date, $3)
       ON CONFLICT DO NOTHING RETURNING 1`,
      [enterpriseId, day, eventId],
    );
    return rows.length === 1;
  }
}
