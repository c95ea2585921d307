import { Injectable } from '@nestjs/common';
import { AuditService, type AuditEntry } from '../audit/audit.service';
import type { RequestContext } from '../common/context/request-context';
import { TransactionalConnection } from '../database/transactional-connection';
import {
  cardBindSql,
  cardDebitSql,
  type CardBind,
  cardLegsSql,
  type CardDebit,
  type CardLeg,
  type CardTransactionRow,
} from '../cards/cards.repository';
import type { CardStatus } from '../cards/card.entity';
import type { LedgerPosting } from '../ledger/ledger-posting';
import { ledgerEntrySql, type LedgerEntryRecord } from '../ledger/ledger.repository';
import { eventRowsSql, type NewEvent } from '../events/events.repository';
import type { RedemptionDto } from './dto/redemption.dto';
import type { RedemptionKind } from './redemption.entity';

/** What a redemption row says once complete. */
export interface RedemptionRecord {
  id: string;
  clientId: string;
  reference: string;
  kind: RedemptionKind;
  fingerprint: string;
  enterpriseId: string;
  holderRef: string | null;
  amount: number;
  reversesId: string | null;
  response: RedemptionDto;
}

/** A stored redemption as a retry finds it: its answer, with a debit's reversed amount as it is now. */
export interface StoredRedemption {
  id: string;
  fingerprint: string;
  response: RedemptionDto;
  reversedAmount: number;
}

/** The single-statement debit by serial: every owner's part, written only when the card takes the debit. */
export interface SerialDebitStatement {
  debit: CardDebit;
  /** The redemption row; its response's `cards` is completed by the statement (balance after, status). */
  redemption: Omit<RedemptionRecord, 'response'> & { response: Omit<RedemptionDto, 'cards'> };
  posting: LedgerPosting;
  entry: LedgerEntryRecord;
  /** Completed by the statement with the card's balance after (balance_after). */
  event: NewEvent;
  audit: AuditEntry;
}

/** The single-statement bind: every owner's part, written only when the card is bindable. */
export interface BindStatement {
  bind: CardBind;
  redemption: RedemptionRecord;
  event: NewEvent;
  audit: AuditEntry;
}

/** A holder-wide debit's second statement, after the holder's cards were locked and the legs worked out. */
export interface HolderDebitStatement {
  /** Cards to set (a debit's); none for a reversal, whose credits were made one by one. */
  legs: readonly CardLeg[];
  movements: readonly CardTransactionRow[];
  redemption: RedemptionRecord;
  posting: LedgerPosting;
  entry: LedgerEntryRecord;
  events: readonly NewEvent[];
  audit: AuditEntry;
  /** A reversal: the debit it gives back from, and how much. */
  reverses?: { debitId: string; amount: number };
}

/** The client's reference is taken by another redemption (the statement, and its transaction, rolled back). */
export class ReferenceTaken extends Error {
  override readonly name = 'ReferenceTaken';
}

/** Builds one composed statement's parameters: each owner's fragment numbers its own from where the last ended. */
class Params {
  readonly values: unknown[] = [];
  add(value: unknown): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }
  get next(): number {
    return this.values.length + 1;
  }
  take(fragment: { sql: string; params: unknown[] }): string {
    this.values.push(...fragment.params);
    return fragment.sql;
  }
}

/** The unique (client, reference) of redemptions refused the row: another redemption holds the reference. */
function isReferenceTaken(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const { code, constraint } = error as { code?: unknown; constraint?: unknown };
  return code === '23505' && constraint === 'redemptions_client_reference';
}

/**
 * The channel settlement of a period (the operator's daily report): per redemption channel (API client), its debits
 * and reversals booked in [`$1`, `$2`), counted and summed in fen. A reversal's amount is what it gave back.
 * Columns: channel_id, debits, debited, reversals, reversed (text).
 */
export function channelSettlementSql(): string {
  return `SELECT r.client_id AS channel_id,
      COUNT(*) FILTER (WHERE r.kind = 'debit')::text AS debits,
      COALESCE(SUM(r.amount) FILTER (WHERE r.kind = 'debit'), 0)::text AS debited,
      COUNT(*) FILTER (WHERE r.kind = 'reverse')::text AS reversals,
      COALESCE(SUM(r.amount) FILTER (WHERE r.kind = 'reverse'), 0)::text AS reversed
    FROM redemptions r
    WHERE r.kind IN ('debit', 'reverse') AND r.amount > 0 AND r.created_at >= $1 AND r.created_at < $2
    GROUP BY r.client_id`;
}

/**
 * One channel's settlement lines: its debits and reversals of channel `$1` booked in [`$2`, `$3`), in time order,
 * after (`$4`, `$5`) when those are not null, at most `$6`. Columns: cursor_at (UTC, microseconds: the next page's
 * `$4`), occurred_at (Asia/Shanghai), id, kind, reference, enterprise_id, amount (fen, text), reverses_id.
 */
export function channelSettlementLinesSql(): string {
  return `SELECT to_char(r.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS cursor_at,
      to_char(r.created_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD"T"HH24:MI:SS.US"+08:00"') AS occurred_at,
      r.id, r.kind, r.reference, r.enterprise_id, r.amount::text AS amount, r.reverses_id
    FROM redemptions r
    WHERE r.client_id = $1 AND r.kind IN ('debit', 'reverse') AND r.amount > 0
      AND r.created_at >= $2 AND r.created_at < $3
      AND ($4::timestamptz IS NULL OR (r.created_at, r.id) > ($4::timestamptz, $5::text))
    ORDER BY r.created_at, r.id
    LIMIT $6`;
}

/** A statement line's redemption reference: `<alias>.reference` after this join on the line's `<column>`. */
export function redemptionReferenceJoinSql(column: string, alias: string): string {
  return `LEFT JOIN redemptions ${alias} ON ${alias}.id = ${column}`;
}

/**
 * The debit by serial's one statement (RedemptionRepository.debitBySerial sends it; bench/redemption.ts runs the
 * same text under pgbench): every owner's fragment, numbered in turn; `appendAudit` is the audit module's fragment.
 */
export function serialDebitSql(
  statement: SerialDebitStatement,
  appendAudit: (firstParam: number) => { sql: string; params: unknown[]; id: string },
): { sql: string; params: unknown[]; auditId: string } {
  const params = new Params();
  const card = params.take(cardDebitSql(statement.debit, params.next));
  const ledger = params.take(
    ledgerEntrySql(statement.posting, statement.entry, { source: 'card_debit', firstParam: params.next }),
  );
  const event = params.take(
    eventRowsSql([statement.event], {
      source: 'card_debit',
      firstParam: params.next,
      extraData: `jsonb_build_object('balance_after', card_debit.balance)`,
    }),
  );
  const audit = appendAudit(params.next);
  const auditSql = params.take(audit);
  const r = statement.redemption;
  const redemption = `redemption AS (
       INSERT INTO redemptions (id, client_id, reference, kind, fingerprint, enterprise_id, holder_ref, amount, response)
       SELECT ${params.add(r.id)}, ${params.add(r.clientId)}, ${params.add(r.reference)}, ${params.add(r.kind)},
              ${params.add(r.fingerprint)}, ${params.add(r.enterpriseId)}, ${params.add(r.holderRef)},
              ${params.add(r.amount)}::bigint,
              ${params.add(JSON.stringify(r.response))}::jsonb || jsonb_build_object('cards', jsonb_build_array(
                jsonb_build_object('serial', card_debit.serial::text, 'amount', -${params.add(statement.debit.amount)}::bigint,
                  'balance_after', card_debit.balance, 'status', card_debit.status)))
       FROM card_debit
       RETURNING response)`;
  const sql = `WITH ${card},
     ${ledger},
     ${event},
     ${auditSql},
     ${redemption}
     SELECT card_debit.balance::text AS balance, card_debit.status, redemption.response
     FROM card_debit, redemption`;
  return { sql, params: params.values, auditId: audit.id };
}

/** redemptions and redemption_attempt_counters: the only SQL on them (docs/architecture.md). */
@Injectable()
export class RedemptionRepository {
  constructor(
    private readonly connection: TransactionalConnection,
    private readonly audit: AuditService,
  ) {}

  /** The client's redemption under `reference`, with a debit's reversed amount as it is now; null when none. */
  async byReference(ctx: RequestContext, clientId: string, reference: string): Promise<StoredRedemption | null> {
    const [row] = await this.connection.query<
      Array<{ id: string; fingerprint: string; response: RedemptionDto; reversed_amount: string }>
    >(
      ctx,
      `SELECT id, fingerprint, response, reversed_amount::text AS reversed_amount FROM redemptions
       WHERE client_id = $1 AND reference = $2`,
      [clientId, reference],
    );
    return row
      ? {
          id: row.id,
          fingerprint: row.fingerprint,
          response: row.response,
          reversedAmount: Number(row.reversed_amount),
        }
      : null;
  }

  /**
   * Claims the client's reference by inserting its redemption row first (completed by `complete` before the
   * commit): false when another request holds it. A second request with the reference waits on the unique index
   * until the first commits or rolls back.
   */
  async claim(
    ctx: RequestContext,
    claim: Pick<RedemptionRecord, 'id' | 'clientId' | 'reference' | 'kind' | 'fingerprint'>,
  ): Promise<boolean> {
    const claimed = await this.connection.query<Array<{ id: string }>>(
      ctx,
      `WITH c AS (
         INSERT INTO redemptions (id, client_id, reference, kind, fingerprint, enterprise_id, amount, response)
         VALUES ($1, $2, $3, $4, $5, '', 0, '{}') ON CONFLICT (client_id, reference) DO NOTHING RETURNING id)
       SELECT id FROM c`,
      [claim.id, claim.clientId, claim.reference, claim.kind, claim.fingerprint],
    );
    return claimed.length > 0;
  }

  /** Completes a claimed redemption row with what happened and the answer a retry gets. */
  async complete(ctx: RequestContext, record: RedemptionRecord): Promise<void> {
    await this.connection.query(
      ctx,
      `UPDATE redemptions SET enterprise_id = $2, holder_ref = $3, amount = $4, reverses_id = $5, response = $6
       WHERE id = $1`,
      [record.id, record.enterpriseId, record.holderRef, record.amount, record.reversesId, record.response],
    );
  }

  /**
   * The client's debit, locked (the lock serialises reversals of one debit), with the ids of its reversals so far;
   * null when the client has no such debit.
   */
  async lockDebit(
    ctx: RequestContext,
    debitId: string,
    clientId: string,
  ): Promise<{ amount: number; reversedAmount: number; holderRef: string; reversalIds: string[] } | null> {
    const [debit] = await this.connection.query<
      Array<{ amount: string; reversed_amount: string; holder_ref: string; reversal_ids: string[] }>
    >(
      ctx,
      `SELECT amount::text AS amount, reversed_amount::text AS reversed_amount, holder_ref,
              ARRAY(SELECT id FROM redemptions WHERE reverses_id = $1) AS reversal_ids
       FROM redemptions WHERE id = $1 AND client_id = $2 AND kind = 'debit' FOR UPDATE`,
      [debitId, clientId],
    );
    return debit
      ? {
          amount: Number(debit.amount),
          reversedAmount: Number(debit.reversed_amount),
          holderRef: debit.holder_ref,
          reversalIds: debit.reversal_ids,
        }
      : null;
  }

  async addReversed(ctx: RequestContext, debitId: string, amount: number): Promise<void> {
    await this.connection.query(ctx, 'UPDATE redemptions SET reversed_amount = reversed_amount + $2 WHERE id = $1', [
      debitId,
      amount,
    ]);
  }

  /**
   * The debit by serial as ONE statement (docs/architecture.md, single-statement hot paths): the conditional update
   * of the card and its card_transactions row (cards), the journal entry and its lines (ledger), the card.debited
   * event (events), the audit record (audit) and the redemption row, whose unique (client, reference) is the claim of
   * the reference. Sent outside a transaction it is one round trip and commits on its own. Answers:
   * - `debited`: the card's balance and status after, and the stored answer, plus the audit record to seal;
   * - `refused`: the card took no debit (nothing was written): the caller explains why;
   * - `duplicate`: the reference was taken (the statement rolled back): the caller answers from the stored one.
   */
  async debitBySerial(
    ctx: RequestContext,
    statement: SerialDebitStatement,
  ): Promise<
    | { outcome: 'debited'; balance: number; status: CardStatus; response: RedemptionDto; auditId: string }
    | { outcome: 'refused' }
    | { outcome: 'duplicate' }
  > {
    const composed = serialDebitSql(statement, (firstParam) =>
      this.audit.appendSql(ctx, statement.audit, { source: 'card_debit', firstParam }),
    );
    try {
      const [row] = await this.connection.query<
        Array<{ balance: string; status: CardStatus; response: RedemptionDto }>
      >(ctx, composed.sql, composed.params);
      if (!row) return { outcome: 'refused' };
      return {
        outcome: 'debited',
        balance: Number(row.balance),
        status: row.status,
        response: row.response,
        auditId: composed.auditId,
      };
    } catch (error) {
      if (isReferenceTaken(error) && !ctx.transaction) return { outcome: 'duplicate' };
      throw error;
    }
  }

  /**
   * A holder-wide debit's (or a reversal's) writes as one statement, in the context's transaction (which locked the
   * cards, or the debit): the redemption row (the claim of the reference: ReferenceTaken when another holds it), the
   * cards' new balances and their movements, a reversal's addition to its debit's reversed amount, the journal entry,
   * the events and the audit record. Answers the audit record to seal.
   */
  async debitHolder(ctx: RequestContext, statement: HolderDebitStatement): Promise<{ auditId: string }> {
    const manager = this.connection.transactionManager(ctx, 'RedemptionRepository.debitHolder');
    const params = new Params();
    const r = statement.redemption;
    const redemption = `redemption AS (
       INSERT INTO redemptions (id, client_id, reference, kind, fingerprint, enterprise_id, holder_ref, amount, response)
       VALUES (${params.add(r.id)}, ${params.add(r.clientId)}, ${params.add(r.reference)}, ${params.add(r.kind)},
               ${params.add(r.fingerprint)}, ${params.add(r.enterpriseId)}, ${params.add(r.holderRef)},
               ${params.add(r.amount)}::bigint, ${params.add(JSON.stringify(r.response))}::jsonb)
       RETURNING id)`;
    const reversed = statement.reverses
      ? `reversed AS (
           UPDATE redemptions SET reversed_amount = reversed_amount + ${params.add(statement.reverses.amount)}::bigint
           WHERE id = ${params.add(statement.reverses.debitId)} RETURNING id),
         `
      : '';
    const cards = params.take(
      cardLegsSql(statement.legs, statement.movements, { source: 'redemption', firstParam: params.next }),
    );
    const ledger = params.take(
      ledgerEntrySql(statement.posting, statement.entry, { source: 'redemption', firstParam: params.next }),
    );
    const events = params.take(eventRowsSql(statement.events, { source: 'redemption', firstParam: params.next }));
    const audit = this.audit.appendSql(ctx, statement.audit, { source: 'redemption', firstParam: params.next });
    const auditSql = params.take(audit);
    try {
      await manager.query(
        `WITH ${redemption},
         ${reversed}${cards},
         ${ledger},
         ${events},
         ${auditSql}
         SELECT id FROM redemption`,
        params.values,
      );
    } catch (error) {
      if (isReferenceTaken(error)) throw new ReferenceTaken(`reference ${r.reference} is taken`);
      throw error;
    }
    return { auditId: audit.id };
  }

  /**
   * The first bind of a card as ONE statement: the card's update and its movement (cards), the card.bound event, the
   * audit record and the redemption row (the claim of the reference). Sent outside a transaction it commits on its
   * own. `refused`: the card was not bindable (nothing was written); `duplicate`: the reference was taken.
   */
  async bindCard(
    ctx: RequestContext,
    statement: BindStatement,
  ): Promise<{ outcome: 'bound'; auditId: string } | { outcome: 'refused' } | { outcome: 'duplicate' }> {
    const params = new Params();
    const card = params.take(cardBindSql(statement.bind, params.next));
    const event = params.take(eventRowsSql([statement.event], { source: 'card_bind', firstParam: params.next }));
    const audit = this.audit.appendSql(ctx, statement.audit, { source: 'card_bind', firstParam: params.next });
    const auditSql = params.take(audit);
    const r = statement.redemption;
    const redemption = `redemption AS (
       INSERT INTO redemptions (id, client_id, reference, kind, fingerprint, enterprise_id, holder_ref, amount, response)
       SELECT ${params.add(r.id)}, ${params.add(r.clientId)}, ${params.add(r.reference)}, ${params.add(r.kind)},
              ${params.add(r.fingerprint)}, ${params.add(r.enterpriseId)}, ${params.add(r.holderRef)},
              ${params.add(r.amount)}::bigint, ${params.add(JSON.stringify(r.response))}::jsonb
       FROM card_bind
       RETURNING id)`;
    try {
      const rows = await this.connection.query<unknown[]>(
        ctx,
        `WITH ${card},
         ${event},
         ${auditSql},
         ${redemption}
         SELECT id FROM redemption`,
        params.values,
      );
      return rows.length === 0 ? { outcome: 'refused' } : { outcome: 'bound', auditId: audit.id };
    } catch (error) {
      if (isReferenceTaken(error) && !ctx.transaction) return { outcome: 'duplicate' };
      throw error;
    }
  }

  /** Milliseconds until the last of these keys' cool-downs ends; 0 when none is blocked. */
  async blockedForMs(ctx: RequestContext, keys: readonly string[]): Promise<number> {
    const [row] = await this.connection.query<Array<{ ms: string | null }>>(
      ctx,
      `SELECT CEIL(EXTRACT(EPOCH FROM MAX(blocked_until) - now()) * 1000)::bigint AS ms
       FROM redemption_attempt_counters WHERE key = ANY($1) AND blocked_until > now()`,
      [keys],
    );
    return Math.max(0, Number(row?.ms ?? 0));
  }

  /**
   * Counts one failure of `key` in its fixed window; the `limit`-th blocks the key for `lockMs`. One statement, so
   * concurrent failures are serialised by the row lock: a fresh window when the last one has ended, else one more
   * failure in it; the failure that reaches the limit (or the first one after a cool-down has run out) blocks the
   * key. now() is the statement's transaction time, so `blocked_until = now() + lock` holds exactly for the row this
   * statement blocked.
   */
  async countFailure(
    ctx: RequestContext,
    key: string,
    limit: number,
    windowMs: number,
    lockMs: number,
  ): Promise<{ failures: number; newlyBlocked: boolean }> {
    const [row] = await this.connection.query<Array<{ failures: number; newly_blocked: boolean }>>(
      ctx,
      `WITH upsert AS (
         INSERT INTO redemption_attempt_counters AS c (key, failures, window_ends_at, blocked_until)
         VALUES ($1, 1, now() + make_interval(secs => $2::double precision / 1000),
                 CASE WHEN 1 >= $3 THEN now() + make_interval(secs => $4::double precision / 1000) END)
         ON CONFLICT (key) DO UPDATE SET
           failures = CASE WHEN c.window_ends_at <= now() THEN 1 ELSE c.failures + 1 END,
           window_ends_at = CASE WHEN c.window_ends_at <= now() THEN EXCLUDED.window_ends_at ELSE c.window_ends_at END,
           blocked_until = CASE
             WHEN (CASE WHEN c.window_ends_at <= now() THEN 1 ELSE c.failures + 1 END) >= $3
              AND (c.blocked_until IS NULL OR c.blocked_until <= now())
             THEN now() + make_interval(secs => $4::double precision / 1000)
             ELSE c.blocked_until END
         RETURNING failures, blocked_until)
       SELECT failures,
              COALESCE(blocked_until = now() + make_interval(secs => $4::double precision / 1000), false)
                AS newly_blocked
       FROM upsert`,
      [key, windowMs, limit, lockMs],
    );
    return { failures: row.failures, newlyBlocked: row.newly_blocked };
  }
}
