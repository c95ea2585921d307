import { once } from 'node:events';
import type { Readable } from 'node:stream';
import { Injectable } from '@nestjs/common';
import type { PoolClient } from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import type { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver.js';
import type { CardType } from '../catalog/product.entity';
import type { RequestContext } from '../common/context/request-context';
import { isId } from '../common/ids';
import { SealedColumnQueries } from '../database/sealed-column-sql';
import { TransactionalConnection } from '../database/transactional-connection';
import type { BlindIndexCandidate } from './card-secrets';
import type { SqlFragment } from '../ledger/ledger.repository';
import { assertTransition, canTransition, statusesInto, statusList } from './card-state';
import type { CardTransactionKind } from './card-transaction.entity';
import { Card, type CardStatus } from './card.entity';

/** A card as the redemption and lifecycle services read it (enterprise, card type and product: its batch's). */
export interface CardRow {
  serial: string;
  orderId: string;
  batchId: string;
  enterpriseId: string;
  cardType: CardType;
  productId: string;
  faceValue: number;
  balance: number;
  status: CardStatus;
  expiresAt: Date | null;
  holderRef: string | null;
  /** The channel (API client) that bound the card; null while unbound. */
  boundClientId: string | null;
  frozenFrom: CardStatus | null;
  pinHash: Buffer | null;
  /** The CODE_PEPPER id the card's blind index and PIN digest were made under; null: before key ids. */
  codeKeyId: string | null;
  secretCiphertext: string | null;
  replacedBy: string | null;
}

interface RawCard {
  serial: string;
  order_id: string;
  batch_id: string;
  enterprise_id: string;
  card_type: CardType;
  product_id: string;
  face_value: number;
  balance: string;
  status: CardStatus;
  expires_at: Date | null;
  holder_ref: string | null;
  bound_client_id: string | null;
  frozen_from: CardStatus | null;
  pin_hash: Buffer | null;
  code_hash: Buffer;
  code_key_id: string | null;
  secret_ciphertext: string | null;
  replaced_by: string | null;
}

const CARD_COLUMNS = `c.serial::text AS serial, c.order_id, c.batch_id, c.enterprise_id, c.card_type, c.product_id,
  c.face_value, c.balance::text AS balance, c.status, c.expires_at, c.holder_ref, c.bound_client_id, c.frozen_from,
  c.pin_hash, c.code_hash, c.code_key_id, c.secret_ciphertext, c.replaced_by::text AS replaced_by`;

function toCardRow(raw: RawCard): CardRow {
  return {
    serial: raw.serial,
    orderId: raw.order_id,
    batchId: raw.batch_id,
    enterpriseId: raw.enterprise_id,
    cardType: raw.card_type,
    productId: raw.product_id,
    faceValue: Number(raw.face_value),
    balance: Number(raw.balance),
    status: raw.status,
    expiresAt: raw.expires_at,
    holderRef: raw.holder_ref,
    boundClientId: raw.bound_client_id,
    frozenFrom: raw.frozen_from,
    pinHash: raw.pin_hash,
    codeKeyId: raw.code_key_id,
    secretCiphertext: raw.secret_ciphertext,
    replacedBy: raw.replaced_by,
  };
}

/** One card_transactions row: a movement or change of a card. */
export interface CardTransactionRow {
  serial: string;
  enterpriseId: string;
  kind: CardTransactionKind;
  /** Signed change of the balance, fen. */
  amount: number;
  balanceAfter: number;
  redemptionId: string | null;
  holderRef: string | null;
  clientId: string | null;
  relatedSerial: string | null;
  /** A bind's or debit's end user IP (the channel's end_user.ip), else null. */
  endUserIp: string | null;
}

/** A card of a holder-wide debit, locked, with its figures of the debit fraud rules when they were asked for. */
export type HolderCardRow = CardRow & {
  riskFigures?: { recentDebits: number; endUserIps: number | null; awaySubnets: number | null };
};

/** A card_transactions row as listed. */
export interface CardTransactionListed {
  id: string;
  kind: string;
  amount: string;
  balance_after: string;
  redemption_id: string | null;
  holder_ref: string | null;
  related_serial: string | null;
  created_at: Date;
}

/** A status change of one locked card, checked against the state machine (card-state.ts). */
export interface CardStatusChange {
  from: CardStatus;
  to: CardStatus;
  /** The balance after the change; unchanged when left out. */
  balance?: number;
  expiresAt?: Date | null;
  replacedBy?: string;
  /** Unfreezing gives a fresh count of wrong PINs. */
  resetPinFailures?: boolean;
}

/** The card a replacement mints (a lost card's, an expired card's): sealed code and PIN, never returned. */
export interface NewCard {
  serial: string;
  orderId: string;
  batchId: string;
  enterpriseId: string;
  cardType: CardType;
  productId: string;
  faceValue: number;
  balance: number;
  status: CardStatus;
  expiresAt: Date | null;
  codeHash: Buffer;
  codeKeyId: string;
  secretCiphertext: string;
  pinHash: Buffer;
  holderRef: string | null;
  boundClientId: string | null;
  replaces: string;
}

/** What a debit by serial asks: spend `amount` of a card this channel bound to this holder. */
export interface CardDebit {
  serial: string;
  amount: number;
  holderRef: string;
  clientId: string;
  redemptionId: string;
  /** The card's enterprise as the caller knows it (a card's batch never changes): checked by the statement. */
  enterpriseId: string;
  /** The end user's IP the channel sent, recorded on the movement; null when none. */
  endUserIp: string | null;
}

/** A debit spends active cards only; a card spent to zero is exhausted (card-state.ts allows it). */
const SPENDABLE: CardStatus = 'active';
if (!canTransition(SPENDABLE, 'exhausted')) throw new Error('card-state: an active card must be able to exhaust');
/** A bind takes an unbound card: issued or delivered, each of which may become active. */
const BINDABLE = (['issued', 'delivered'] as const).filter((status) => canTransition(status, 'active'));
/** A reversal gives value back to active, exhausted (then active again) and frozen cards. */
const CREDITABLE: CardStatus[] = ['active', 'exhausted', 'frozen'];

/**
 * The cards module's part of the single-statement debit (docs/architecture.md): CTE `card_debit`, the conditional
 * update of one card (bound by this channel to this holder, active, unexpired, with the balance), returning serial,
 * balance, status, holder_ref and enterprise_id; and CTE `card_debit_movement`, its card_transactions row. No row
 * when the card refuses: nothing else of the statement happens then.
 */
export function cardDebitSql(debit: CardDebit, firstParam: number, options: { onlyIf?: string } = {}): SqlFragment {
  const p = (n: number) => `$${firstParam + n}`;
  // A caller's extra condition (a payment code's lock, composed before this fragment): SQL text, no parameters.
  const onlyIf = options.onlyIf ? ` AND ${options.onlyIf}` : '';
  return {
    sql: `card_debit AS (
       UPDATE cards c SET balance = c.balance - ${p(1)}::bigint,
         status = CASE WHEN c.balance = ${p(1)}::bigint THEN 'exhausted' ELSE c.status END
       WHERE c.serial = ${p(0)}::bigint AND c.status = '${SPENDABLE}' AND c.balance >= ${p(1)}::bigint
         AND (c.expires_at IS NULL OR c.expires_at > now()) AND c.bound_client_id = ${p(2)} AND c.holder_ref = ${p(3)}
         AND c.enterprise_id = ${p(5)}${onlyIf}
       RETURNING c.serial, c.balance, c.status, c.holder_ref, c.enterprise_id),
     card_debit_movement AS (
       INSERT INTO card_transactions
         (serial, enterprise_id, kind, amount, balance_after, redemption_id, holder_ref, client_id, end_user_ip)
       SELECT serial, enterprise_id, 'debit', -${p(1)}::bigint, balance, ${p(4)}, holder_ref, ${p(2)}, ${p(6)}::inet
       FROM card_debit
       RETURNING id)`,
    params: [
      debit.serial,
      debit.amount,
      debit.clientId,
      debit.holderRef,
      debit.redemptionId,
      debit.enterpriseId,
      debit.endUserIp,
    ],
  };
}

/**
 * The cards module's part of a debit's fraud rule (src/risk/, debits_per_card_minute): CTE `card_recent_debits`, the
 * card's debits in the last `windowSeconds` before this statement's own (`n`). Placed before `card_debit`, whose
 * condition may refuse on it (a rule whose action is block).
 */
export function cardRecentDebitsSql(serial: string, windowSeconds: number, firstParam: number): SqlFragment {
  return {
    sql: `card_recent_debits AS (
       SELECT count(*)::int AS n FROM card_transactions
       WHERE serial = $${firstParam}::bigint AND kind = 'debit'
         AND created_at > now() - make_interval(secs => $${firstParam + 1}::double precision))`,
    params: [serial, windowSeconds],
  };
}

/** The /24 of an IPv4 address, the /48 of an IPv6 one (the IP rules' "subnet"), of an inet SQL expression. */
export function endUserSubnetSql(ip: string): string {
  return `network(set_masklen(${ip}, CASE family(${ip}) WHEN 4 THEN 24 ELSE 48 END))`;
}

/**
 * The IP rules' figure on a card (src/risk/, end_user_ips_per_card_hour), as a scalar subquery over SQL expressions:
 * the distinct end-user IPs of the card's binds and debits in the last `window` seconds, with `ip` (this request's).
 */
export function cardEndUserIpsSql(serial: string, ip: string, window: string): string {
  return `(SELECT count(DISTINCT seen.ip)::int FROM (
         SELECT t.end_user_ip AS ip FROM card_transactions t
         WHERE t.serial = ${serial} AND t.kind IN ('bind', 'debit') AND t.end_user_ip IS NOT NULL
           AND t.created_at > now() - make_interval(secs => ${window}::double precision)
         UNION ALL SELECT ${ip}::inet) seen)`;
}

/**
 * The IP rules' other figure (src/risk/, debit_subnets_away_from_bind): the distinct subnets (/24, /48) the card's
 * debits in the last `window` seconds came from, with `ip` (this debit's), other than the subnet of the card's bind;
 * 0 when its bind recorded no IP.
 */
export function cardAwaySubnetsSql(serial: string, ip: string, window: string): string {
  // A card is bound once (first bind wins; a replacement is minted bound): its bind is among its first movements.
  const bindSubnet = `(SELECT ${endUserSubnetSql('b.end_user_ip')} FROM card_transactions b
           WHERE b.serial = ${serial} AND b.kind = 'bind' ORDER BY b.id LIMIT 1)`;
  return `(SELECT count(DISTINCT spent.net)::int FROM (
         SELECT ${endUserSubnetSql('t.end_user_ip')} AS net FROM card_transactions t
         WHERE t.serial = ${serial} AND t.kind = 'debit' AND t.end_user_ip IS NOT NULL
           AND t.created_at > now() - make_interval(secs => ${window}::double precision)
         UNION ALL SELECT ${endUserSubnetSql(`${ip}::inet`)}) spent
       WHERE spent.net <> ${bindSubnet})`;
}

/** The windows of a debit's IP rules (src/risk/), and this debit's end user IP. */
export interface EndUserIpCount {
  ip: string;
  ipsWindowSeconds: number;
  subnetsWindowSeconds: number;
}

/**
 * The cards module's part of a debit's IP rules (src/risk/): CTE `card_end_user_ips`, the card's distinct end-user
 * IPs (`ips`) and subnets away from its bind's (`away_subnets`), this debit's IP included. Placed before
 * `card_debit`, whose condition may refuse on them (a rule whose action is block).
 */
export function cardEndUserIpFiguresSql(serial: string, count: EndUserIpCount, firstParam: number): SqlFragment {
  const p = (n: number) => `$${firstParam + n}`;
  return {
    sql: `card_end_user_ips AS (
       SELECT ${cardEndUserIpsSql(`${p(0)}::bigint`, p(1), p(2))} AS ips,
              ${cardAwaySubnetsSql(`${p(0)}::bigint`, p(1), p(3))} AS away_subnets)`,
    params: [serial, count.ip, count.ipsWindowSeconds, count.subnetsWindowSeconds],
  };
}

/** What a bind asks: an unbound card, read with `balance`, bound to this channel's holder. */
export interface CardBind {
  serial: string;
  /** The balance the caller read (an unbound card's changes only with its status): checked by the statement. */
  balance: number;
  holderRef: string;
  clientId: string;
  redemptionId: string;
  enterpriseId: string;
  /** The end user's IP the channel sent, recorded on the movement; null when none. */
  endUserIp: string | null;
}

/**
 * The cards module's part of the single-statement bind: CTE `card_bind`, the first bind of an unbound, unexpired
 * card (active, bound to the channel and holder, a fresh count of wrong PINs), returning serial and balance; and CTE
 * `card_bind_movement`, its card_transactions row. No row when the card is not bindable (any more).
 */
export function cardBindSql(bind: CardBind, firstParam: number): SqlFragment {
  const p = (n: number) => `$${firstParam + n}`;
  return {
    sql: `card_bind AS (
       UPDATE cards SET status = 'active', holder_ref = ${p(1)}, bound_client_id = ${p(2)}, bound_at = now(),
         pin_failures = 0
       WHERE serial = ${p(0)}::bigint AND status IN (${statusList(BINDABLE)}) AND balance = ${p(3)}::bigint
         AND (expires_at IS NULL OR expires_at > now())
       RETURNING serial, balance),
     card_bind_movement AS (
       INSERT INTO card_transactions
         (serial, enterprise_id, kind, amount, balance_after, redemption_id, holder_ref, client_id, end_user_ip)
       SELECT serial, ${p(4)}, 'bind', 0, balance, ${p(5)}, ${p(1)}, ${p(2)}, ${p(6)}::inet FROM card_bind
       RETURNING id)`,
    params: [
      bind.serial,
      bind.holderRef,
      bind.clientId,
      bind.balance,
      bind.enterpriseId,
      bind.redemptionId,
      bind.endUserIp,
    ],
  };
}

/** One card of a holder-wide debit: locked by the caller, spent down to `balance`. */
export interface CardLeg {
  serial: string;
  from: CardStatus;
  balance: number;
  status: CardStatus;
}

/**
 * The cards module's part of a holder-wide debit's statement (docs/architecture.md): CTE `card_spend`, the new
 * balances and statuses of the cards the caller locked (each status change checked against card-state.ts), and CTE
 * `card_movements`, their card_transactions rows; both once per row of `source` (a one-row CTE: no row, no change).
 */
export function cardLegsSql(
  legs: readonly CardLeg[],
  movements: readonly CardTransactionRow[],
  { source, firstParam }: { source: string; firstParam: number },
): SqlFragment {
  for (const leg of legs) if (leg.status !== leg.from) assertTransition(leg.serial, leg.from, leg.status);
  const params: unknown[] = [];
  const p = (value: unknown, cast: string) => {
    params.push(value);
    return `$${firstParam + params.length - 1}::${cast}`;
  };
  const spent = legs.map(
    (leg) => `(${p(leg.serial, 'bigint')}, ${p(leg.balance, 'bigint')}, ${p(leg.status, 'text')})`,
  );
  const rows = movements.map(
    (row) =>
      `(${p(row.serial, 'bigint')}, ${p(row.enterpriseId, 'text')}, ${p(row.kind, 'text')}, ${p(row.amount, 'bigint')}, ${p(row.balanceAfter, 'bigint')}, ${p(row.redemptionId, 'text')}, ${p(row.holderRef, 'text')}, ${p(row.clientId, 'text')}, ${p(row.relatedSerial, 'bigint')}, ${p(row.endUserIp, 'inet')})`,
  );
  return {
    // No legs (a reversal, whose credits are made one by one before): the movements only.
    sql: `${
      legs.length === 0
        ? ''
        : `card_spend AS (
       UPDATE cards c SET balance = v.balance, status = v.status
       FROM ${source}, (VALUES ${spent.join(', ')}) AS v (serial, balance, status)
       WHERE c.serial = v.serial
       RETURNING c.serial),
     `
    }card_movements AS (
       INSERT INTO card_transactions
         (serial, enterprise_id, kind, amount, balance_after, redemption_id, holder_ref, client_id, related_serial,
          end_user_ip)
       SELECT v.* FROM ${source}, (VALUES ${rows.join(', ')})
         AS v (serial, enterprise_id, kind, amount, balance_after, redemption_id, holder_ref, client_id, related_serial,
               end_user_ip)
       RETURNING id)`,
    params,
  };
}

/** A distribution's message reached the employee: an issued card becomes delivered (card-state.ts). */
if (!canTransition('issued', 'delivered')) throw new Error('card-state: an issued card must be able to be delivered');
if (!canTransition('delivered', 'issued')) throw new Error('card-state: a delivered card must be able to go back');

/**
 * The cards module's part of a distribution's outcome statement (docs/architecture.md): CTE `<name>`, the cards whose
 * serial is `serialColumn` of `source`'s rows move issued → delivered (a card bound or frozen meanwhile stays as it
 * is). Returns their serials. No parameters.
 */
export function cardsDeliveredSql({
  source,
  serialColumn,
  name = 'cards_delivered',
}: {
  source: string;
  serialColumn: string;
  name?: string;
}): string {
  return `${name} AS (
       UPDATE cards c SET status = 'delivered'
       FROM ${source} s
       WHERE c.serial = s.${serialColumn} AND c.status = 'issued'
       RETURNING c.serial)`;
}

/**
 * A subquery of the serials of order `$<orderParam>`'s cards that nobody holds yet: still `issued` (never delivered,
 * bound, spent, voided or expired). Distribution narrows it to those no recipient has received (order completion).
 */
export function orderCardsStillIssuedSql(orderParam: number): string {
  return `SELECT c.serial FROM cards c WHERE c.order_id = $${orderParam} AND c.status = 'issued'`;
}

/**
 * The cards' part of a statement's lines: every movement of a card of enterprise `$1` in [`$2`, `$3`) that changed a
 * balance (binds, freezes and the like move no money), card by card, along the index (enterprise_id, created_at, id).
 * Columns as the ledger's statementEntryLinesSql: at, source ('card'), id, kind, order_id, memo, card_serial,
 * redemption_id, the three funds columns (0: a card movement moves no funds) and card_float (the signed change).
 */
export function statementCardMovementsSql(): string {
  return `SELECT t.created_at AS at, 'card'::text AS source, lpad(t.id::text, 20, '0') AS id, t.kind, c.order_id,
      NULL::text AS memo, t.serial AS card_serial, t.redemption_id,
      0::bigint AS prepaid_balance, 0::bigint AS credit_used, 0::bigint AS held_for_orders, t.amount AS card_float
    FROM card_transactions t JOIN cards c ON c.serial = t.serial
    WHERE t.enterprise_id = $1 AND t.created_at >= $2 AND t.created_at < $3 AND t.amount <> 0`;
}

/** The columns a minted card is COPYed with: all but the first and the last three are the chunk's constants. */
const COPY_COLUMNS =
  'serial, order_id, batch_id, enterprise_id, card_type, product_id, face_value, balance, status, expires_at, ' +
  'code_key_id, code_hash, secret_ciphertext, pin_hash';

/** What every card of one chunk shares (its batch's). */
export interface MintedChunk {
  orderId: string;
  batchId: string;
  enterpriseId: string;
  cardType: CardType;
  productId: string;
  faceValue: number;
  expiresAt: Date | null;
  codeKeyId: string;
}

/** One new card: its serial, the blind index of its code, its sealed code and PIN, the digest of its PIN. */
export interface MintedCard {
  serial: string;
  codeHash: Buffer;
  secretCiphertext: string;
  pinHash: Buffer;
}

/**
 * All the SQL on cards, card_transactions and card_serial_allocator (docs/architecture.md: one owner per table, one
 * repository per module). Every status change is checked against card-state.ts, and conditional updates take their
 * allowed-from statuses from it.
 */
@Injectable()
export class CardsRepository {
  /** Key rotation's census, page and reseal of the cards' sealed columns (src/data-keys/sealed-columns.ts). */
  readonly sealedColumns: SealedColumnQueries;

  constructor(private readonly connection: TransactionalConnection) {
    this.sealedColumns = new SealedColumnQueries(connection, ['cards']);
  }

  /**
   * The card whose blind index is one of `candidates` (the code's index under each configured pepper): one
   * unique-index probe per candidate. The pepper of the index that matched is the card's codeKeyId.
   */
  async byCodeIndex(ctx: RequestContext, candidates: readonly BlindIndexCandidate[]): Promise<CardRow | null> {
    const rows = await this.connection.query<RawCard[]>(
      ctx,
      `SELECT ${CARD_COLUMNS} FROM cards c WHERE c.code_hash = ANY($1::bytea[])`,
      [candidates.map((candidate) => candidate.hash)],
    );
    if (rows.length === 0) return null;
    const matched = candidates.find((candidate) => candidate.hash.equals(rows[0].code_hash));
    return { ...toCardRow(rows[0]), codeKeyId: matched ? matched.keyId : rows[0].code_key_id };
  }

  /** The card with this serial; with `lock`, its row stays locked (FOR UPDATE) until the transaction ends. */
  async bySerial(ctx: RequestContext, serial: string, lock = false): Promise<CardRow | null> {
    const rows = await this.connection.query<RawCard[]>(
      ctx,
      `SELECT ${CARD_COLUMNS} FROM cards c WHERE c.serial = $1 ${lock ? 'FOR UPDATE OF c' : ''}`,
      [serial],
    );
    return rows.length === 0 ? null : toCardRow(rows[0]);
  }

  /** Several cards, locked in serial order (every locker takes the same order: no deadlocks). */
  async lockSerials(ctx: RequestContext, serials: readonly string[]): Promise<CardRow[]> {
    const rows = await this.connection.query<RawCard[]>(
      ctx,
      `SELECT ${CARD_COLUMNS} FROM cards c
       WHERE c.serial = ANY($1::bigint[]) ORDER BY c.serial FOR UPDATE OF c`,
      [serials],
    );
    return rows.map(toCardRow);
  }

  /** Several cards, unlocked, in serial order (what a distribution reads to decide whether a code may travel). */
  async rowsOf(ctx: RequestContext, serials: readonly string[]): Promise<CardRow[]> {
    if (serials.length === 0) return [];
    const rows = await this.connection.query<RawCard[]>(
      ctx,
      `SELECT ${CARD_COLUMNS} FROM cards c WHERE c.serial = ANY($1::bigint[]) ORDER BY c.serial`,
      [serials],
    );
    return rows.map(toCardRow);
  }

  /**
   * A revoked assignment gives its card back: delivered → issued (a card still issued stays so). Returns the serials
   * that moved.
   */
  async undeliver(ctx: RequestContext, serials: readonly string[]): Promise<string[]> {
    if (serials.length === 0) return [];
    const rows = await this.connection.query<Array<{ serial: string }>>(
      ctx,
      `WITH updated AS (
       UPDATE cards SET status = 'issued' WHERE serial = ANY($1::bigint[]) AND status = 'delivered'
       RETURNING serial::text AS serial)
       SELECT serial FROM updated`,
      [serials],
    );
    return rows.map((row) => row.serial);
  }

  /**
   * The figures of the bind fraud rules before a bind (src/risk/): the channel's binds to this holder account in the
   * last `holderWindowS`, the channel's binds in the last `channelWindowS`, its binds of this order's cards to this
   * holder in the last `orderWindowS`, and (with the end user's IP) the card's distinct end-user IPs in the last
   * `ipsWindowS`, this one included. One statement.
   */
  async bindFigures(
    ctx: RequestContext,
    bind: { clientId: string; holderRef: string; orderId: string; serial: string; endUserIp: string | null },
    windows: { holderWindowS: number; channelWindowS: number; orderWindowS: number; ipsWindowS: number },
  ): Promise<{ holderBinds: number; channelBinds: number; orderBindsToHolder: number; endUserIps: number | null }> {
    const [row] = await this.connection.query<
      Array<{ holder_binds: number; channel_binds: number; order_binds_to_holder: number; end_user_ips: number | null }>
    >(
      ctx,
      `SELECT
         (SELECT count(*)::int FROM card_transactions
           WHERE kind = 'bind' AND client_id = $1 AND holder_ref = $2
             AND created_at > now() - make_interval(secs => $4::double precision)) AS holder_binds,
         (SELECT count(*)::int FROM card_transactions
           WHERE kind = 'bind' AND client_id = $1
             AND created_at > now() - make_interval(secs => $5::double precision)) AS channel_binds,
         (SELECT count(*)::int FROM card_transactions t JOIN cards c ON c.serial = t.serial
           WHERE t.kind = 'bind' AND t.client_id = $1 AND t.holder_ref = $2 AND c.order_id = $3
             AND t.created_at > now() - make_interval(secs => $6::double precision)) AS order_binds_to_holder,
         CASE WHEN $8::inet IS NOT NULL THEN ${cardEndUserIpsSql('$7::bigint', '$8', '$9')} END AS end_user_ips`,
      [
        bind.clientId,
        bind.holderRef,
        bind.orderId,
        windows.holderWindowS,
        windows.channelWindowS,
        windows.orderWindowS,
        bind.serial,
        bind.endUserIp,
        windows.ipsWindowS,
      ],
    );
    return {
      holderBinds: row.holder_binds,
      channelBinds: row.channel_binds,
      orderBindsToHolder: row.order_binds_to_holder,
      endUserIps: row.end_user_ips,
    };
  }

  /** The card's debits in the last `windowSeconds` (cardRecentDebitsSql's count, read on its own). */
  async recentDebits(ctx: RequestContext, serial: string, windowSeconds: number): Promise<number> {
    const fragment = cardRecentDebitsSql(serial, windowSeconds, 1);
    const [row] = await this.connection.query<Array<{ n: number }>>(
      ctx,
      `WITH ${fragment.sql} SELECT n FROM card_recent_debits`,
      fragment.params,
    );
    return row.n;
  }

  /** The card's IP figures for a debit from `count.ip` (cardEndUserIpFiguresSql's, read on its own). */
  async endUserIpFigures(
    ctx: RequestContext,
    serial: string,
    count: EndUserIpCount,
  ): Promise<{ endUserIps: number; awaySubnets: number }> {
    const fragment = cardEndUserIpFiguresSql(serial, count, 1);
    const [row] = await this.connection.query<Array<{ ips: number; away_subnets: number }>>(
      ctx,
      `WITH ${fragment.sql} SELECT ips, away_subnets FROM card_end_user_ips`,
      fragment.params,
    );
    return { endUserIps: row.ips, awaySubnets: row.away_subnets };
  }

  /** Whether a channel's holder account has an active, unexpired card (its wallet can spend). */
  async holderHasSpendableCards(ctx: RequestContext, clientId: string, holderRef: string): Promise<boolean> {
    const [row] = await this.connection.query<Array<{ any: boolean }>>(
      ctx,
      `SELECT EXISTS (SELECT 1 FROM cards c
         WHERE c.bound_client_id = $1 AND c.holder_ref = $2 AND c.status = '${SPENDABLE}'
           AND (c.expires_at IS NULL OR c.expires_at > now())) AS any`,
      [clientId, holderRef],
    );
    return row.any;
  }

  /**
   * The active, unexpired cards a channel bound to one of its holder accounts, locked in serial order. With `figures`,
   * each card's figures of the debit fraud rules in the same statement (a holder-wide debit's, src/risk/): its
   * debits before this one in the last `debitsWindowSeconds` and, with an end user's IP, its IP figures as
   * cardEndUserIpFiguresSql counts them.
   */
  async lockHolderCards(
    ctx: RequestContext,
    clientId: string,
    holderRef: string,
    figures?: { debitsWindowSeconds: number; endUserIps: EndUserIpCount | null },
  ): Promise<HolderCardRow[]> {
    const ips = figures?.endUserIps;
    const figureColumns = figures
      ? `,
              (SELECT count(*)::int FROM card_transactions t
               WHERE t.serial = c.serial AND t.kind = 'debit'
                 AND t.created_at > now() - make_interval(secs => $3::double precision)) AS recent_debits,
              ${ips ? cardEndUserIpsSql('c.serial', '$4', '$5') : 'NULL::int'} AS end_user_ips,
              ${ips ? cardAwaySubnetsSql('c.serial', '$4', '$6') : 'NULL::int'} AS away_subnets`
      : '';
    const rows = await this.connection.query<
      Array<RawCard & { recent_debits?: number; end_user_ips?: number | null; away_subnets?: number | null }>
    >(
      ctx,
      `SELECT ${CARD_COLUMNS}${figureColumns} FROM cards c
       WHERE c.bound_client_id = $1 AND c.holder_ref = $2 AND c.status = '${SPENDABLE}'
         AND (c.expires_at IS NULL OR c.expires_at > now())
       ORDER BY c.serial FOR UPDATE OF c`,
      [
        clientId,
        holderRef,
        ...(figures ? [figures.debitsWindowSeconds] : []),
        ...(ips ? [ips.ip, ips.ipsWindowSeconds, ips.subnetsWindowSeconds] : []),
      ],
    );
    return rows.map((row) => ({
      ...toCardRow(row),
      ...(figures
        ? {
            riskFigures: {
              recentDebits: row.recent_debits!,
              endUserIps: row.end_user_ips ?? null,
              awaySubnets: row.away_subnets ?? null,
            },
          }
        : {}),
    }));
  }

  /** The cards as the API shows them, in the order of `serials`' rows (serial order). */
  async entities(ctx: RequestContext, serials: readonly string[]): Promise<Card[]> {
    return this.connection
      .manager(ctx)
      .find(Card, { where: serials.map((serial) => ({ serial: Number(serial) })), order: { serial: 'ASC' } });
  }

  /** A page of an order's cards in serial order, after the serial `after` (from the start when undefined). */
  async pageOfOrder(
    ctx: RequestContext,
    orderId: string,
    after: string | number | undefined,
    limit: number,
  ): Promise<Card[]> {
    const builder = this.connection
      .manager(ctx)
      .createQueryBuilder(Card, 'card')
      .where('card.orderId = :orderId', { orderId })
      .orderBy('card.serial', 'ASC')
      .limit(limit);
    if (after !== undefined) builder.andWhere('card.serial > :after', { after });
    return builder.getMany();
  }

  /** The card, if it is the enterprise's. */
  async ofEnterprise(ctx: RequestContext, serial: string, enterpriseId: string): Promise<Card | null> {
    return this.connection.manager(ctx).findOneBy(Card, { serial: Number(serial), enterpriseId });
  }

  async entity(ctx: RequestContext, serial: string): Promise<Card> {
    return this.connection.manager(ctx).findOneByOrFail(Card, { serial: Number(serial) });
  }

  /** Movements, one multi-row INSERT. */
  async insertTransactions(ctx: RequestContext, movements: readonly CardTransactionRow[]): Promise<void> {
    if (movements.length === 0) return;
    const values: unknown[] = [];
    const tuples = movements.map((movement, index) => {
      const base = index * 10;
      values.push(
        movement.serial,
        movement.enterpriseId,
        movement.kind,
        movement.amount,
        movement.balanceAfter,
        movement.redemptionId,
        movement.holderRef,
        movement.clientId,
        movement.relatedSerial,
        movement.endUserIp,
      );
      return `($${base + 1}::bigint, $${base + 2}, $${base + 3}, $${base + 4}::bigint, $${base + 5}::bigint, $${base + 6}, $${base + 7}, $${base + 8}, $${base + 9}::bigint, $${base + 10}::inet)`;
    });
    await this.connection.query(
      ctx,
      `INSERT INTO card_transactions
         (serial, enterprise_id, kind, amount, balance_after, redemption_id, holder_ref, client_id, related_serial,
          end_user_ip)
       VALUES ${tuples.join(', ')}`,
      values,
    );
  }

  /** A page of a card's movements, oldest first, after the movement id `after`. */
  async transactionsPage(
    ctx: RequestContext,
    serial: string,
    after: string,
    limit: number,
  ): Promise<CardTransactionListed[]> {
    return this.connection.query<CardTransactionListed[]>(
      ctx,
      `SELECT id::text AS id, kind, amount::text AS amount, balance_after::text AS balance_after, redemption_id,
              holder_ref, related_serial::text AS related_serial, created_at
       FROM card_transactions WHERE serial = $1 AND id > $2 ORDER BY id LIMIT $3`,
      [serial, after, limit],
    );
  }

  /**
   * What each card of these redemptions (a debit and its reversals) still has out: its debit legs net of the
   * reversals, last spent first.
   */
  async outstanding(
    ctx: RequestContext,
    redemptionIds: readonly string[],
  ): Promise<Array<{ serial: string; out: number }>> {
    const rows = await this.connection.query<Array<{ serial: string; out: string }>>(
      ctx,
      `SELECT serial::text AS serial, (-SUM(amount))::text AS out FROM card_transactions
       WHERE redemption_id = ANY($1::text[])
       GROUP BY serial HAVING SUM(amount) < 0 ORDER BY MIN(id) DESC`,
      [redemptionIds],
    );
    return rows.map((row) => ({ serial: row.serial, out: Number(row.out) }));
  }

  /** What an expired card held when it expired (its expire movement), less what was restored since. */
  async expiredValue(ctx: RequestContext, serial: string): Promise<number> {
    const [row] = await this.connection.query<Array<{ value: string }>>(
      ctx,
      `SELECT COALESCE(-SUM(amount) FILTER (WHERE kind = 'expire'), 0)
              - COALESCE(SUM(amount) FILTER (WHERE kind = 'reactivate'), 0) AS value
       FROM card_transactions WHERE serial = $1`,
      [serial],
    );
    return Math.max(0, Number(row?.value ?? 0));
  }

  /**
   * Moves one card (locked by the caller) from `from` to `to`, as the state machine allows: a frozen card remembers
   * where it came from, any other status forgets it. Throws (500) when the move is not allowed or the card is not in
   * `from` any more.
   */
  async changeStatus(ctx: RequestContext, serial: string, change: CardStatusChange): Promise<void> {
    assertTransition(serial, change.from, change.to);
    const sets = ['status = $3', 'frozen_from = $4'];
    const values: unknown[] = [serial, change.from, change.to, change.to === 'frozen' ? change.from : null];
    const set = (column: string, value: unknown) => {
      values.push(value);
      sets.push(`${column} = $${values.length}`);
    };
    if (change.balance !== undefined) set('balance', change.balance);
    if (change.expiresAt !== undefined) set('expires_at', change.expiresAt);
    if (change.replacedBy !== undefined) set('replaced_by', change.replacedBy);
    if (change.resetPinFailures) sets.push('pin_failures = 0');
    const changed = await this.connection.query<unknown[]>(
      ctx,
      `WITH u AS (UPDATE cards SET ${sets.join(', ')} WHERE serial = $1 AND status = $2 RETURNING 1) SELECT * FROM u`,
      values,
    );
    if (changed.length !== 1) throw new Error(`card ${serial} is not ${change.from} any more`);
  }

  /** Voids unused cards (locked by the caller): status voided, balance 0. */
  async voidCards(ctx: RequestContext, serials: readonly string[]): Promise<void> {
    await this.connection.query(
      ctx,
      `UPDATE cards SET status = 'voided', balance = 0, frozen_from = NULL
       WHERE serial = ANY($1::bigint[]) AND status IN (${statusList(statusesInto('voided'))})`,
      [serials],
    );
  }

  /**
   * Expires up to `limit` live cards past expires_at (SKIP LOCKED: cards a redemption holds wait for the next run),
   * answering what each held, in serial order.
   */
  async expireDue(
    ctx: RequestContext,
    limit: number,
  ): Promise<Array<{ serial: string; expired: string; enterprise_id: string; holder_ref: string | null }>> {
    return this.connection.query(
      ctx,
      `WITH due AS (
         SELECT c.serial, c.balance, c.enterprise_id FROM cards c
         WHERE c.expires_at <= now() AND c.status = ANY($1::text[])
         ORDER BY c.expires_at LIMIT $2 FOR UPDATE OF c SKIP LOCKED),
       u AS (
         UPDATE cards c SET status = 'expired', balance = 0, frozen_from = NULL FROM due
         WHERE c.serial = due.serial
         RETURNING c.serial, due.balance, due.enterprise_id, c.holder_ref)
       SELECT serial::text AS serial, balance::text AS expired, enterprise_id, holder_ref FROM u ORDER BY serial`,
      [statusesInto('expired'), limit],
    );
  }

  /**
   * The orders' cards by redemption (核销) status, as text sums: a bound card (`active`) counts as `bound` while
   * unspent and `partly_spent` after a debit, `delivered` as `distributed`; spent is what debits took less what
   * reversals gave back, breakage what expiry took less what re-activation gave back, returned what
   * voids and refunds gave back, moved what a loss carried to the replacement card. One pass over the orders' cards
   * (index (order_id, serial)) and their movements (index (serial, id)).
   */
  async redemptionSummary(
    ctx: RequestContext,
    orderIds: readonly string[],
  ): Promise<
    Array<{
      status: string;
      cards: string;
      face_value: string;
      remaining: string;
      spent: string;
      breakage: string;
      returned: string;
      moved: string;
    }>
  > {
    if (orderIds.length === 0) return [];
    return this.connection.query(
      ctx,
      `SELECT CASE WHEN c.status = 'active' AND c.balance < c.face_value THEN 'partly_spent'
                   WHEN c.status = 'active' THEN 'bound'
                   WHEN c.status = 'delivered' THEN 'distributed'
                   ELSE c.status END AS status,
         COUNT(*)::text AS cards, SUM(c.face_value)::text AS face_value, SUM(c.balance)::text AS remaining,
         SUM(t.spent)::text AS spent, SUM(t.breakage)::text AS breakage, SUM(t.returned)::text AS returned,
         SUM(t.moved)::text AS moved
       FROM cards c
       CROSS JOIN LATERAL (
         SELECT COALESCE(-SUM(amount) FILTER (WHERE kind IN ('debit', 'reverse')), 0) AS spent,
                COALESCE(-SUM(amount) FILTER (WHERE kind IN ('expire', 'reactivate')), 0) AS breakage,
                COALESCE(-SUM(amount) FILTER (WHERE kind IN ('void', 'refund')), 0) AS returned,
                COALESCE(-SUM(amount) FILTER (WHERE kind = 'lost'), 0) AS moved
         FROM card_transactions WHERE serial = c.serial) t
       WHERE c.order_id = ANY($1::text[])
       GROUP BY 1 ORDER BY 1`,
      [[...orderIds]],
    );
  }

  /** Inserts a replacement card. */
  async insertCard(ctx: RequestContext, card: NewCard): Promise<void> {
    await this.connection.query(
      ctx,
      `INSERT INTO cards (serial, order_id, batch_id, face_value, balance, status, expires_at, code_hash,
         secret_ciphertext, pin_hash, holder_ref, bound_at, replaces, bound_client_id, code_key_id, enterprise_id,
         card_type, product_id)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, CASE WHEN $11::text IS NULL THEN NULL ELSE now() END, $12,
               $13, $14, $15, $16, $17)`,
      [
        card.serial,
        card.orderId,
        card.batchId,
        card.faceValue,
        card.balance,
        card.status,
        card.expiresAt,
        card.codeHash,
        card.secretCiphertext,
        card.pinHash,
        card.holderRef,
        card.replaces,
        card.boundClientId,
        card.codeKeyId,
        card.enterpriseId,
        card.cardType,
        card.productId,
      ],
    );
  }

  /**
   * First bind wins, for its channel and holder: only an unbound, unexpired card becomes active, bound to them, with
   * a fresh count of wrong PINs. The balance when it did; null when it was not bindable (any more).
   */
  async bind(ctx: RequestContext, serial: string, holderRef: string, clientId: string): Promise<number | null> {
    const [bound] = await this.connection.query<Array<{ balance: string }>>(
      ctx,
      `WITH u AS (
         UPDATE cards SET status = 'active', holder_ref = $2, bound_client_id = $3, bound_at = now(), pin_failures = 0
         WHERE serial = $1 AND status IN (${statusList(BINDABLE)}) AND (expires_at IS NULL OR expires_at > now())
         RETURNING balance)
       SELECT balance::text AS balance FROM u`,
      [serial, holderRef, clientId],
    );
    return bound ? Number(bound.balance) : null;
  }

  /**
   * Gives `amount` back to a card this channel bound, if it is active, exhausted (active again) or frozen (then the
   * status it returns to is active again): its balance and status after, or null when the card takes no credit.
   */
  async credit(
    ctx: RequestContext,
    serial: string,
    amount: number,
    clientId: string,
  ): Promise<{ balance: number; status: CardStatus; enterpriseId: string; holderRef: string | null } | null> {
    const [credited] = await this.connection.query<
      Array<{ balance: string; status: CardStatus; enterprise_id: string; holder_ref: string | null }>
    >(
      ctx,
      `WITH u AS (
         UPDATE cards c SET balance = c.balance + $2,
           status = CASE WHEN c.status = 'exhausted' THEN 'active' ELSE c.status END,
           frozen_from = CASE WHEN c.frozen_from = 'exhausted' THEN 'active' ELSE c.frozen_from END
         WHERE c.serial = $1 AND c.status IN (${statusList(CREDITABLE)}) AND c.bound_client_id = $3
         RETURNING c.balance, c.status, c.enterprise_id, c.holder_ref)
       SELECT balance::text AS balance, status, enterprise_id, holder_ref FROM u`,
      [serial, amount, clientId],
    );
    return credited
      ? {
          balance: Number(credited.balance),
          status: credited.status,
          enterpriseId: credited.enterprise_id,
          holderRef: credited.holder_ref,
        }
      : null;
  }

  /** Counts one wrong PIN on the card (its row lock serialises concurrent ones): the count after, or null. */
  async countPinFailure(ctx: RequestContext, serial: string): Promise<number | null> {
    const [counted] = await this.connection.query<Array<{ failures: number }>>(
      ctx,
      'WITH u AS (UPDATE cards SET pin_failures = pin_failures + 1 WHERE serial = $1 RETURNING pin_failures) SELECT pin_failures AS failures FROM u',
      [serial],
    );
    return counted ? counted.failures : null;
  }

  // card_serial_allocator: serial sequence numbers, in ranges for issuance's batches and one by one for replacements.

  /** Reserves `count` sequence numbers in the context's transaction: answers the first. */
  async reserve(ctx: RequestContext, count: number): Promise<bigint> {
    const [{ first }] = await this.connection.query<Array<{ first: string }>>(
      ctx,
      'WITH r AS (UPDATE card_serial_allocator SET next_value = next_value + $1 WHERE id = 1 RETURNING next_value - $1 AS first) SELECT first::text AS first FROM r',
      [count],
    );
    return BigInt(first);
  }

  // Minting's writes: new cards COPYed in, inside a savepoint so that a failed COPY (a code collision) leaves the
  // caller's transaction usable.

  /**
   * COPYs the cards `slices` yields (generated lazily: Postgres starts while Node still seals, memory stays flat).
   * On any failure the savepoint is rolled back and the error rethrown (a unique violation: a code collided).
   */
  async copyCards(ctx: RequestContext, chunk: MintedChunk, slices: Iterable<MintedCard[]>): Promise<void> {
    const manager = this.connection.transactionManager(ctx, 'CardsRepository.copyCards');
    const client = (await manager.queryRunner!.connect()) as PoolClient;
    await client.query('SAVEPOINT mint_chunk');
    try {
      await this.copyOnce(client, chunk, slices);
      await client.query('RELEASE SAVEPOINT mint_chunk');
    } catch (error) {
      await client.query('ROLLBACK TO SAVEPOINT mint_chunk');
      throw error;
    }
  }

  private async copyOnce(client: PoolClient, chunk: MintedChunk, slices: Iterable<MintedCard[]>): Promise<void> {
    const expires = chunk.expiresAt ? chunk.expiresAt.toISOString() : '\\N';
    // The batch's facts and the pepper id go with the fixed columns: nothing more per card. They are written
    // as COPY text unescaped, so a value that would need escaping is refused (ids and the card type never do).
    const facts = [chunk.orderId, chunk.batchId, chunk.enterpriseId, chunk.cardType, chunk.productId, chunk.codeKeyId];
    if (facts.some((fact) => /[\t\n\r\\]/.test(fact))) throw new Error('copyCards: a chunk fact needs COPY escaping');
    const [orderId, batchId, enterpriseId, cardType, productId, codeKeyId] = facts;
    const fixed = `\t${orderId}\t${batchId}\t${enterpriseId}\t${cardType}\t${productId}\t${chunk.faceValue}\t${chunk.faceValue}\tissued\t${expires}\t${codeKeyId}\t`;
    const stream = client.query(copyFrom(`COPY cards (${COPY_COLUMNS}) FROM STDIN`));
    // What Postgres reports (the COPY refused, the connection lost): it may come while slices are still being
    // written, so it is kept here and checked between slices, never left as an unhandled rejection.
    let failed: { error: Error } | undefined;
    const done = new Promise<void>((resolve, reject) => {
      stream.on('error', (error: Error) => {
        failed = { error };
        reject(error);
      });
      stream.on('finish', resolve);
    });
    done.catch(() => undefined);
    // bytea in COPY text format: \\x<hex> (the backslash itself escaped).
    const copyText = (cards: MintedCard[]) => {
      let slice = '';
      for (const card of cards) {
        slice += `${card.serial}${fixed}\\\\x${card.codeHash.toString('hex')}\t${card.secretCiphertext}\t\\\\x${card.pinHash.toString('hex')}\n`;
      }
      return slice;
    };
    const iterator = slices[Symbol.iterator]();
    try {
      // One slice ahead: the next slice is generated and sealed while Postgres takes in the last one, and only
      // then does the loop wait for the socket to drain (backpressure: at most one more slice waits in memory).
      let next = iterator.next();
      while (!next.done && !failed) {
        const accepted = stream.write(copyText(next.value));
        next = iterator.next();
        // A failed COPY never drains: wait for whichever comes first.
        if (!accepted && !failed) await Promise.race([once(stream, 'drain'), done]);
      }
      if (!failed) stream.end();
    } catch (error) {
      // Our own failure mid-COPY: abort it (CopyFail) so the connection stays usable for the rollback. A failure
      // Postgres reported has ended the COPY already (and may have taken the connection with it).
      if (!failed) {
        stream.destroy(error as Error);
        await done.catch(() => undefined);
      }
      throw error;
    }
    await done;
  }

  // The cards' secrets as the modules that move them in bulk need them: card-secrets exports stream and purge them
  // (key rotation re-seals and re-indexes them through `sealedColumns`).
  /**
   * Streams the order's cards (serial, secret_ciphertext, face_value, expires_at) in serial order as COPY text
   * (tab-separated, `\N` for NULL) to `consume`, in a read-only transaction of a connection of its own, with UTC
   * and ISO dates so the timestamps printed do not depend on server settings. The index (order_id, serial)
   * delivers the order without a sort. A connection left inside a failed COPY is dropped, not reused.
   */
  async streamOrderSecrets<T>(orderId: string, consume: (copy: Readable) => Promise<T>): Promise<T> {
    const sql = orderSecretsCopySql(orderId);
    const driver = this.connection.rawDataSource.driver as PostgresDriver;
    const [client, release] = (await driver.obtainMasterConnection()) as [PoolClient, (err?: unknown) => void];
    let broken: unknown;
    try {
      await client.query('BEGIN READ ONLY');
      await client.query("SET LOCAL TimeZone = 'UTC'");
      await client.query("SET LOCAL DateStyle = 'ISO, YMD'");
      const result = await consume(client.query(copyTo(sql)));
      await client.query('COMMIT');
      return result;
    } catch (error) {
      broken = error;
      throw error;
    } finally {
      release(broken);
    }
  }

  /**
   * Clears the ciphertext of the order's cards of `batchIds` among the next `limit` cards after serial `after`
   * (one short statement along the (order_id, serial) index). `last`: the last serial looked at, null when there
   * was none (the end); `purged`: how many it cleared (those already NULL are skipped).
   */
  async purgeSecretsAfter(
    ctx: RequestContext,
    orderId: string,
    batchIds: string[],
    after: string,
    limit: number,
  ): Promise<{ last: string | null; purged: number }> {
    const [step] = await this.connection.query<Array<{ last: string | null; purged: number }>>(
      ctx,
      `WITH chunk AS (
         SELECT serial FROM cards WHERE order_id = $1 AND serial > $2::bigint ORDER BY serial LIMIT $4
       ), cleared AS (
         UPDATE cards SET secret_ciphertext = NULL
          WHERE serial IN (SELECT serial FROM chunk) AND batch_id = ANY($3::text[]) AND secret_ciphertext IS NOT NULL
         RETURNING 1
       )
       SELECT (SELECT max(serial) FROM chunk)::text AS last, (SELECT count(*) FROM cleared)::int AS purged`,
      [orderId, after, batchIds, limit],
    );
    return step;
  }
}

/**
 * COPY takes no bind parameters, so the order id is checked against the id format first (a prefix, `_` and 26
 * Crockford characters) and cannot break the literal.
 */
export function orderSecretsCopySql(orderId: string): string {
  if (!isId('order', orderId)) throw new Error('orderSecretsCopySql: not an order id');
  return (
    'COPY (SELECT serial, secret_ciphertext, face_value, expires_at FROM cards ' +
    `WHERE order_id = '${orderId}' ORDER BY serial) TO STDOUT`
  );
}

/**
 * The cards module's part of a distribution's reservation (docs/architecture.md, distribution): every card of the
 * order `orderParam` with its face value, card type and order line (its batch's), and whether it may be handed to
 * an employee at all: issued (not delivered, bound, frozen, voided, …) and unexpired. Whether a distribution holds
 * it already is the caller's condition, on its own table.
 */
export function orderCardsForDistributionSql(orderParam: string): string {
  return `SELECT c.serial, c.face_value, c.card_type, c.batch_id,
                 (c.status = 'issued' AND (c.expires_at IS NULL OR c.expires_at > now())) AS assignable
            FROM cards c
           WHERE c.order_id = ${orderParam}`;
}
