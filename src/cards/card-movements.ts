import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { AuditService, type AuditEntry } from '../audit/audit.service';
import { digestOf } from '../common/canonical-json';
import type { CardType } from '../catalog/product.entity';
import type { RequestContext } from '../common/context/request-context';
import type { BlindIndexCandidate } from '../issuance/card-secrets';
import type { CardStatus } from '../issuance/issuance.entity';
import type { LedgerPosting } from '../ledger/ledger-posting';
import { LedgerService } from '../ledger/ledger.service';
import type { EventType } from '../events/event-catalog';
import { EventsService } from '../events/events.service';
import type { CardTransactionKind } from './card-transaction.entity';

/** A card as the redemption and lifecycle services read it: the row, its batch's enterprise and card type. */
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

const CARD_COLUMNS = `c.serial::text AS serial, c.order_id, c.batch_id, b.enterprise_id, b.card_type, b.product_id,
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

export function isPastExpiry(card: Pick<CardRow, 'expiresAt'>, now = Date.now()): boolean {
  return card.expiresAt !== null && card.expiresAt.getTime() <= now;
}

/** One movement or change of a card, to record with its ledger entry and event. */
export interface CardMovement {
  card: Pick<CardRow, 'serial' | 'enterpriseId' | 'holderRef'>;
  kind: CardTransactionKind;
  /** Signed change of the balance, fen. */
  amount: number;
  balanceAfter: number;
  redemptionId?: string | null;
  relatedSerial?: string | null;
  /** The webhook event announcing it (type and any fields beyond the common ones), or none. */
  event?: { type: EventType; data?: Record<string, unknown> };
}

/** The audit action of a call of CardMovements.record, by the kind of its first movement. */
const AUDIT_ACTIONS: Record<CardTransactionKind, string> = {
  bind: 'card.bound',
  debit: 'card.debited',
  reverse: 'card.reversed',
  freeze: 'card.frozen',
  unfreeze: 'card.unfrozen',
  lost: 'card.reported_lost',
  replacement: 'card.replaced',
  replaced: 'card.replaced',
  void: 'cards.voided',
  refund: 'card.refunded',
  expire: 'cards.expired',
  reactivate: 'card.reactivated',
};

/** Movements listed one by one in an audit record up to this many; beyond, a digest of the list stands for them. */
const AUDIT_LISTED_MOVEMENTS = 50;

/**
 * Reads cards (by blind index or serial, optionally locked) and records what happens to them: the
 * card_transactions row, the event for the owning enterprise, through LedgerService the journal entry and, last,
 * one audit record for the whole change (its actor, reason, the cards and the entry), all in the caller's
 * transaction. Events and audit records carry serials and amounts, never a code.
 */
@Injectable()
export class CardMovements {
  constructor(
    private readonly ledger: LedgerService,
    private readonly events: EventsService,
    private readonly audit: AuditService,
  ) {}

  /**
   * The card whose blind index is one of `candidates` (the code's index under each configured pepper,
   * CardSecrets.blindIndexCandidates): one unique-index probe per candidate. The pepper of the index that matched
   * is the card's codeKeyId, which its PIN digest is checked under.
   */
  async byCodeIndex(manager: EntityManager, candidates: readonly BlindIndexCandidate[]): Promise<CardRow | null> {
    const rows = await manager.query<RawCard[]>(
      `SELECT ${CARD_COLUMNS} FROM cards c JOIN issuance_batches b ON b.id = c.batch_id
        WHERE c.code_hash = ANY($1::bytea[])`,
      [candidates.map((candidate) => candidate.hash)],
    );
    if (rows.length === 0) return null;
    const matched = candidates.find((candidate) => candidate.hash.equals(rows[0].code_hash));
    return { ...toCardRow(rows[0]), codeKeyId: matched ? matched.keyId : rows[0].code_key_id };
  }

  /** The card with this serial; with `lock`, its row stays locked (FOR UPDATE) until the transaction ends. */
  async bySerial(manager: EntityManager, serial: string, lock = false): Promise<CardRow | null> {
    const rows = await manager.query<RawCard[]>(
      `SELECT ${CARD_COLUMNS} FROM cards c JOIN issuance_batches b ON b.id = c.batch_id WHERE c.serial = $1
       ${lock ? 'FOR UPDATE OF c' : ''}`,
      [serial],
    );
    return rows.length === 0 ? null : toCardRow(rows[0]);
  }

  /** Several cards, locked in serial order (every locker takes the same order: no deadlocks). */
  async lockSerials(manager: EntityManager, serials: readonly string[]): Promise<CardRow[]> {
    const rows = await manager.query<RawCard[]>(
      `SELECT ${CARD_COLUMNS} FROM cards c JOIN issuance_batches b ON b.id = c.batch_id
       WHERE c.serial = ANY($1::bigint[]) ORDER BY c.serial FOR UPDATE OF c`,
      [serials],
    );
    return rows.map(toCardRow);
  }

  /** The active, unexpired cards a channel bound to one of its holder accounts, locked in serial order. */
  async lockHolderCards(manager: EntityManager, clientId: string, holderRef: string): Promise<CardRow[]> {
    const rows = await manager.query<RawCard[]>(
      `SELECT ${CARD_COLUMNS} FROM cards c JOIN issuance_batches b ON b.id = c.batch_id
       WHERE c.bound_client_id = $1 AND c.holder_ref = $2 AND c.status = 'active'
         AND (c.expires_at IS NULL OR c.expires_at > now())
       ORDER BY c.serial FOR UPDATE OF c`,
      [clientId, holderRef],
    );
    return rows.map(toCardRow);
  }

  /**
   * Records movements (one multi-row INSERT) and their events, posts `entry` when money moved, and appends one audit
   * record of the change (one statement, the last): `reason` is the caller's, as the API documents it.
   */
  async record(
    manager: EntityManager,
    ctx: RequestContext,
    movements: readonly CardMovement[],
    entry?: LedgerPosting,
    { reason }: { reason?: string } = {},
  ): Promise<void> {
    const posted = entry ? await this.ledger.post(ctx, entry) : null;
    if (movements.length === 0) return;
    const values: unknown[] = [];
    const tuples = movements.map((movement, index) => {
      const base = index * 9;
      values.push(
        movement.card.serial,
        movement.card.enterpriseId,
        movement.kind,
        movement.amount,
        movement.balanceAfter,
        movement.redemptionId ?? null,
        movement.card.holderRef,
        ctx.clientId,
        movement.relatedSerial ?? null,
      );
      return `($${base + 1}::bigint, $${base + 2}, $${base + 3}, $${base + 4}::bigint, $${base + 5}::bigint, $${base + 6}, $${base + 7}, $${base + 8}, $${base + 9}::bigint)`;
    });
    await manager.query(
      `INSERT INTO card_transactions
         (serial, enterprise_id, kind, amount, balance_after, redemption_id, holder_ref, client_id, related_serial)
       VALUES ${tuples.join(', ')}`,
      values,
    );
    for (const movement of movements) {
      if (!movement.event) continue;
      await this.events.record(ctx, {
        enterpriseId: movement.card.enterpriseId,
        type: movement.event.type,
        data: {
          serial: movement.card.serial,
          amount: movement.amount,
          balance_after: movement.balanceAfter,
          currency: 'CNY',
          holder_ref: movement.card.holderRef,
          ...(movement.redemptionId ? { redemption_id: movement.redemptionId } : {}),
          ...movement.event.data,
        },
      });
    }
    await this.audit.append(ctx, auditEntryOf(movements, entry, posted?.id ?? null, reason));
  }
}

function auditEntryOf(
  movements: readonly CardMovement[],
  entry: LedgerPosting | undefined,
  entryId: string | null,
  reason: string | undefined,
): AuditEntry {
  const [first] = movements;
  const listed = movements.map((movement) => ({
    serial: movement.card.serial,
    kind: movement.kind,
    amount: movement.amount,
    balance_after: movement.balanceAfter,
    ...(movement.relatedSerial ? { related_serial: movement.relatedSerial } : {}),
  }));
  const enterprises = new Set(movements.map((movement) => movement.card.enterpriseId));
  const redemptionId = first.redemptionId ?? null;
  return {
    action: AUDIT_ACTIONS[first.kind],
    objectType: redemptionId ? 'redemption' : 'card',
    objectId: redemptionId ?? first.card.serial,
    enterpriseId: enterprises.size === 1 ? first.card.enterpriseId : (entry?.enterpriseId ?? null),
    summary: {
      cards: movements.length,
      ...(movements.length <= AUDIT_LISTED_MOVEMENTS
        ? { movements: listed }
        : {
            first_serial: first.card.serial,
            last_serial: movements[movements.length - 1].card.serial,
            movements_sha256: digestOf(listed),
          }),
      amount: movements.reduce((sum, movement) => sum + movement.amount, 0),
      ledger_entry_id: entryId,
      ledger_kind: entry?.kind ?? null,
      order_id: entry?.orderId ?? null,
      redemption_id: redemptionId,
      reason: reason ?? null,
    },
  };
}
