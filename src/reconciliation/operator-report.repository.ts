import { Injectable } from '@nestjs/common';
import { apiClientNameJoinSql } from '../auth/api-clients.repository';
import { RequestContext } from '../common/context/request-context';
import { TransactionalConnection } from '../database/transactional-connection';
import { type PlatformPeriodSums, readPlatformPeriodSums } from '../ledger/ledger.repository';
import { channelSettlementLinesSql, channelSettlementSql } from '../redemption/redemption.repository';

/** One channel's settlement of a period, as text (bigint / numeric in SQL). */
export interface ChannelSettlementRow {
  channel_id: string;
  channel_name: string | null;
  debits: string;
  debited: string;
  reversals: string;
  reversed: string;
}

/** One line of a channel's settlement file. */
export interface ChannelSettlementLineRow {
  cursor_at: string;
  occurred_at: string;
  id: string;
  kind: 'debit' | 'reverse';
  reference: string;
  enterprise_id: string;
  amount: string;
  reverses_id: string | null;
}

/** Where the next page of a channel's lines starts. */
export interface ChannelLineCursor {
  /** UTC with microseconds (a Date would round to milliseconds and repeat lines). */
  at: string;
  id: string;
}

/**
 * Reads the operator's daily reports. It owns no table: it runs the ledger's platform sums and the redemption
 * module's channel settlement (with the channels' names, auth's join) in one read-only snapshot.
 */
@Injectable()
export class OperatorReportRepository {
  constructor(private readonly connection: TransactionalConnection) {}

  /** The ledger's figures and the channel settlement of [from, to), both from one REPEATABLE READ snapshot. */
  async period(from: Date, to: Date): Promise<{ ledger: PlatformPeriodSums; channels: ChannelSettlementRow[] }> {
    return this.connection.rawDataSource.transaction('REPEATABLE READ', async (manager) => {
      await manager.query('SET TRANSACTION READ ONLY');
      const ledger = await readPlatformPeriodSums((sql, parameters) => manager.query(sql, parameters), from, to);
      const channels = await manager.query<ChannelSettlementRow[]>(
        `SELECT s.*, c.name AS channel_name FROM (${channelSettlementSql()}) s ${apiClientNameJoinSql('s.channel_id', 'c')}
          ORDER BY s.channel_id`,
        [from, to],
      );
      return { ledger, channels };
    });
  }

  /** The channel's name; undefined when no API client has that id. */
  async channelName(ctx: RequestContext, channelId: string): Promise<string | undefined> {
    const [row] = await this.connection.query<Array<{ name: string | null }>>(
      ctx,
      `SELECT c.name FROM (SELECT $1::text AS id) ch ${apiClientNameJoinSql('ch.id', 'c')}`,
      [channelId],
    );
    return row?.name ?? undefined;
  }

  /** Up to `limit` of the channel's settlement lines in [from, to) after `after`, in time order. */
  async channelLines(
    channelId: string,
    from: Date,
    to: Date,
    after: ChannelLineCursor | null,
    limit: number,
  ): Promise<ChannelSettlementLineRow[]> {
    return this.connection.query(RequestContext.system(), channelSettlementLinesSql(), [
      channelId,
      from,
      to,
      after?.at ?? null,
      after?.id ?? null,
      limit,
    ]);
  }
}
