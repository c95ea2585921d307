import { Injectable } from '@nestjs/common';
import { AuditService, type AuditEntry } from '../audit/audit.service';
import type { RequestContext } from '../common/context/request-context';
import { SealedColumnQueries } from '../database/sealed-column-sql';
import { TransactionalConnection } from '../database/transactional-connection';
import {
  cardBindSql,
  cardDebitSql,
  cardRecentDebitsSql,
  cardEndUserIpFiguresSql,
  type CardBind,
  type EndUserIpCount,
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
  /** A debit by payment code: the code's key and its count of uses the code was made for, spent with the debit. */
  paymentCode?: PaymentCodeUse;
  /**
   * The fraud rule on a card's debits (src/risk/): count the card's debits in the window before this one; with
   * `refuseFrom`, the card refuses the debit when that count has reached it (a rule whose action is block).
   */
  recentDebits?: { windowSeconds: number; refuseFrom: number | null };
  /**
   * The IP rules (src/risk/), when the channel sent the end user's IP: count the card's distinct end-user IPs and
   * the subnets it was spent from away from its bind's, this debit's included; with `refuseIpsFrom` /
   * `refuseSubnetsFrom`, the card refuses the debit when the count reaches it (a rule whose action is block).
   */
  endUserIps?: EndUserIpCount & { refuseIpsFrom: number | null; refuseSubnetsFrom: number | null };
}

/** A payment code spent by a debit: its key, and the count of uses it was made for (the compare-and-set). */
export interface PaymentCodeUse {
  keyNumber: number;
  uses: number;
  clientId: string;
}

/** A payment-code key as the service uses it (the secret still sealed). */
export interface PaymentCodeKeyRow {
  number: number;
  clientId: string;
  holderRef: string;
  serial: string | null;
  secretSealed: string;
  uses: number;
}

/**
 * The redemption module's part of a debit by payment code (payment_code_keys is its table), in two CTEs placed
 * around the card's update: `payment_code_lock` (before it) locks the key's row while it still has the count of uses
 * the code was made for (a concurrent debit with the same code waits, then finds the count moved on: no row), and
 * `payment_code_use` (after it) raises the count once the card took the debit (`spentBy`, the card's CTE). The
 * card's update is conditioned on the lock (`paymentCodeLockedSql`), so the code and the debit happen together or
 * not at all.
 */
export function paymentCodeLockSql(use: PaymentCodeUse, firstParam: number): SqlText {
  const p = (n: number) => `$${firstParam + n}`;
  return {
    sql: `payment_code_lock AS (
       SELECT number FROM payment_code_keys
       WHERE number = ${p(0)}::bigint AND uses = ${p(1)}::bigint AND client_id = ${p(2)} FOR UPDATE)`,
    params: [use.keyNumber, use.uses, use.clientId],
  };
}

/** The second half of paymentCodeLockSql: the key's count raised when `spentBy` (the card's CTE) has a row. */
export function paymentCodeSpendSql(spentBy: string): string {
  return `payment_code_use AS (
       UPDATE payment_code_keys SET uses = uses + 1
       WHERE number = (SELECT number FROM payment_code_lock) AND EXISTS (SELECT 1 FROM ${spentBy})
       RETURNING number)`;
}

/** The condition the card's update takes when a payment code pays: the code's key is locked at its count. */
export const paymentCodeLockedSql = 'EXISTS (SELECT 1 FROM payment_code_lock)';

interface SqlText {
  sql: string;
  params: unknown[];
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
  // A payment code's lock comes first: the card's update waits on it, so a code is spent by one debit only.
  const codeLock = statement.paymentCode
    ? `${params.take(paymentCodeLockSql(statement.paymentCode, params.next))},
     `
    : '';
  const recent = statement.recentDebits;
  const recentDebits = recent
    ? `${params.take(cardRecentDebitsSql(statement.debit.serial, recent.windowSeconds, params.next))},
     `
    : '';
  const ips = statement.endUserIps;
  const endUserIps = ips
    ? `${params.take(cardEndUserIpFiguresSql(statement.debit.serial, ips, params.next))},
     `
    : '';
  const conditions = [
    ...(statement.paymentCode ? [paymentCodeLockedSql] : []),
    ...(recent && recent.refuseFrom !== null
      ? [`(SELECT n FROM card_recent_debits) < ${params.add(recent.refuseFrom)}::int`]
      : []),
    ...(ips && ips.refuseIpsFrom !== null
      ? [`(SELECT ips FROM card_end_user_ips) < ${params.add(ips.refuseIpsFrom)}::int`]
      : []),
    ...(ips && ips.refuseSubnetsFrom !== null
      ? [`(SELECT away_subnets FROM card_end_user_ips) < ${params.add(ips.refuseSubnetsFrom)}::int`]
      : []),
  ];
  const card = params.take(
    cardDebitSql(statement.debit, params.next, conditions.length > 0 ? { onlyIf: conditions.join(' AND ') } : {}),
  );
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
  const codeSpend = statement.paymentCode ? `,\n     ${paymentCodeSpendSql('card_debit')}` : '';
  const sql = `WITH ${codeLock}${recentDebits}${endUserIps}${card}${codeSpend},
     ${ledger},
     ${event},
     ${auditSql},
     ${redemption}
     SELECT card_debit.balance::text AS balance, card_debit.status, redemption.response${
       recent ? ',\n            (SELECT n FROM card_recent_debits) AS recent_debits' : ''
     }${
       ips
         ? ',\n            (SELECT ips FROM card_end_user_ips) AS end_user_ips,' +
           '\n            (SELECT away_subnets FROM card_end_user_ips) AS away_subnets'
         : ''
     }
     FROM card_debit, redemption`;
  return { sql, params: params.values, auditId: audit.id };
}

interface RawPaymentCodeKey {
  number: string;
  client_id: string;
  holder_ref: string;
  serial: string | null;
  secret_sealed: string;
  uses: string;
}

const PAYMENT_CODE_KEY_COLUMNS =
  'number::text AS number, client_id, holder_ref, serial::text AS serial, secret_sealed, uses::text AS uses';

function toPaymentCodeKey(row: RawPaymentCodeKey): PaymentCodeKeyRow {
  return {
    number: Number(row.number),
    clientId: row.client_id,
    holderRef: row.holder_ref,
    serial: row.serial,
    secretSealed: row.secret_sealed,
    uses: Number(row.uses),
  };
}

/** redemptions, redemption_attempt_counters and payment_code_keys: the only SQL on them (docs/architecture.md). */
@Injectable()
export class RedemptionRepository {
  /** Key rotation's walk over payment_code_keys.secret_sealed (src/data-keys/sealed-columns.ts). */
  readonly sealedColumns: SealedColumnQueries;

  constructor(
    private readonly connection: TransactionalConnection,
    private readonly audit: AuditService,
  ) {
    this.sealedColumns = new SealedColumnQueries(connection, ['payment_code_keys']);
  }

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
    | {
        outcome: 'debited';
        balance: number;
        status: CardStatus;
        response: RedemptionDto;
        auditId: string;
        /** The card's debits in the fraud rule's window before this one (when asked). */
        recentDebits: number | null;
        /** The card's IP figures, this debit's included (when asked). */
        endUserIps: number | null;
        awaySubnets: number | null;
      }
    | { outcome: 'refused' }
    | { outcome: 'duplicate' }
  > {
    const composed = serialDebitSql(statement, (firstParam) =>
      this.audit.appendSql(ctx, statement.audit, { source: 'card_debit', firstParam }),
    );
    try {
      const [row] = await this.connection.query<
        Array<{
          balance: string;
          status: CardStatus;
          response: RedemptionDto;
          recent_debits?: number;
          end_user_ips?: number;
          away_subnets?: number;
        }>
      >(ctx, composed.sql, composed.params);
      if (!row) return { outcome: 'refused' };
      return {
        outcome: 'debited',
        balance: Number(row.balance),
        status: row.status,
        response: row.response,
        auditId: composed.auditId,
        recentDebits: row.recent_debits ?? null,
        endUserIps: row.end_user_ips ?? null,
        awaySubnets: row.away_subnets ?? null,
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

  /** A payment-code key by its number; null when there is none. */
  async paymentCodeKey(ctx: RequestContext, keyNumber: number): Promise<PaymentCodeKeyRow | null> {
    const [row] = await this.connection.query<RawPaymentCodeKey[]>(
      ctx,
      `SELECT ${PAYMENT_CODE_KEY_COLUMNS} FROM payment_code_keys WHERE number = $1`,
      [keyNumber],
    );
    return row ? toPaymentCodeKey(row) : null;
  }

  /** The payment-code key of a card (serial) or of the channel's holder wallet (serial null); null when none yet. */
  async paymentCodeKeyOf(
    ctx: RequestContext,
    subject: { clientId: string; holderRef: string; serial: string | null },
  ): Promise<PaymentCodeKeyRow | null> {
    const [row] = await this.connection.query<RawPaymentCodeKey[]>(
      ctx,
      subject.serial === null
        ? `SELECT ${PAYMENT_CODE_KEY_COLUMNS} FROM payment_code_keys
           WHERE client_id = $1 AND holder_ref = $2 AND serial IS NULL`
        : `SELECT ${PAYMENT_CODE_KEY_COLUMNS} FROM payment_code_keys WHERE serial = $1::bigint`,
      subject.serial === null ? [subject.clientId, subject.holderRef] : [subject.serial],
    );
    return row ? toPaymentCodeKey(row) : null;
  }

  /**
   * Inserts a payment-code key unless its card or wallet has one (or, rarely, its random number is taken): false
   * then, and the caller reads the key there is (or tries another number).
   */
  async insertPaymentCodeKey(ctx: RequestContext, key: Omit<PaymentCodeKeyRow, 'uses'>): Promise<boolean> {
    const rows = await this.connection.query<unknown[]>(
      ctx,
      `INSERT INTO payment_code_keys (number, client_id, holder_ref, serial, secret_sealed)
       VALUES ($1, $2, $3, $4::bigint, $5) ON CONFLICT DO NOTHING RETURNING number`,
      [key.number, key.clientId, key.holderRef, key.serial, key.secretSealed],
    );
    return rows.length > 0;
  }

  /**
   * Spends a payment code of a wallet in the context's transaction (its debit follows there; a rollback gives the
   * code back): false when the key's count of uses has moved on (the code was spent).
   */
  async spendPaymentCode(ctx: RequestContext, use: PaymentCodeUse): Promise<boolean> {
    const manager = this.connection.transactionManager(ctx, 'RedemptionRepository.spendPaymentCode');
    // In a CTE: TypeORM answers a bare UPDATE with [rows, count], whatever RETURNING says.
    const rows = await manager.query<unknown[]>(
      `WITH spent AS (
         UPDATE payment_code_keys SET uses = uses + 1 WHERE number = $1 AND uses = $2 AND client_id = $3
         RETURNING number)
       SELECT number FROM spent`,
      [use.keyNumber, use.uses, use.clientId],
    );
    return rows.length > 0;
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
