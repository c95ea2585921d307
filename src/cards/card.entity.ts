import { Check, Column, Entity, Index, PrimaryColumn } from 'typeorm';
import type { CardType } from '../catalog/product.entity';
import { bigintNumber } from '../database/transformers';

export const CARD_STATUSES = [
  'issued',
  'delivered',
  'active',
  'exhausted',
  'frozen',
  'lost',
  'replaced',
  'voided',
  'refunded',
  'expired',
] as const;

export type CardStatus = (typeof CARD_STATUSES)[number];

/**
 * A card. The serial is public (digits + Luhn check, safe in an ERP); the code is
 * only ever stored as an HMAC blind index (the lookup path) and inside an AES-GCM
 * envelope with the PIN. Kept lean: a million rows are written per large order.
 */
@Entity('cards')
@Index('cards_order_serial', ['orderId', 'serial'])
@Check('cards_balance_range', '"balance" >= 0 AND "balance" <= "face_value"')
@Check('cards_status_known', `"status" IN (${CARD_STATUSES.map((status) => `'${status}'`).join(', ')})`)
// A bound card has a holder; only a frozen card remembers a status to return to.
@Check('cards_bound_has_holder', `"status" NOT IN ('active', 'exhausted') OR "holder_ref" IS NOT NULL`)
@Check('cards_frozen_from', `("status" = 'frozen') = ("frozen_from" IS NOT NULL)`)
// A card bound through a channel belongs to that channel: holder references are the channel's own accounts.
@Check('cards_bound_by_channel', `"holder_ref" IS NULL OR "bound_client_id" IS NOT NULL`)
@Check('cards_pin_failures', `"pin_failures" >= 0`)
@Index('cards_channel_holder', ['boundClientId', 'holderRef'], { where: '"holder_ref" IS NOT NULL' })
@Index('cards_expiry_due', ['expiresAt'], {
  where: `"expires_at" IS NOT NULL AND "status" IN ('issued', 'delivered', 'active', 'exhausted', 'frozen')`,
})
export class Card {
  @PrimaryColumn('bigint', { transformer: bigintNumber })
  serial: number;

  @Column('text')
  orderId: string;

  @Column('text')
  batchId: string;

  /**
   * The batch's enterprise, card type and product, written with the card (minting COPYs them, a replacement takes
   * its old card's): the cards module reads them without joining issuance_batches. Not indexed: every read that
   * checks the enterprise starts from a serial or an order, and minting's COPY then maintains no extra index.
   */
  @Column('text')
  enterpriseId: string;

  @Column('text')
  cardType: CardType;

  @Column('text')
  productId: string;

  @Column('integer')
  faceValue: number;

  @Column('bigint', { transformer: bigintNumber })
  balance: number;

  @Column('text', { default: 'issued' })
  status: CardStatus;

  @Column('timestamptz', { nullable: true })
  expiresAt: Date | null;

  @Index({ unique: true })
  @Column('bytea')
  codeHash: Buffer;

  /**
   * The CODE_PEPPER id code_hash and pin_hash were made under (CardSecrets); null: before key ids, the raw pepper
   * `p0`. The re-encryption job re-indexes cards under the current pepper.
   */
  @Column('text', { nullable: true })
  codeKeyId: string | null;

  /** `code|pin` envelope; null once purged (anonymous cards after export: the code can never be shown again). */
  @Column('text', { nullable: true })
  secretCiphertext: string | null;

  @Column('timestamptz', { default: () => 'now()' })
  issuedAt: Date;

  /**
   * HMAC of the serial and PIN (CardSecrets.pinDigest): checks the PIN without opening the envelope, and survives
   * the purge of an anonymous card's envelope. Null on cards minted before it existed (the envelope is used).
   */
  @Column('bytea', { nullable: true })
  pinHash: Buffer | null;

  /** The redemption channel's account of the holder the card is bound to (set by the first successful bind). */
  @Column('text', { nullable: true })
  holderRef: string | null;

  /** The redemption channel (API client) that bound the card: only it may see, spend or reverse onto the card. */
  @Column('text', { nullable: true })
  boundClientId: string | null;

  /**
   * Wrong PINs tried on this card through any channel, since it was bound or last unfrozen: at
   * REDEMPTION_CARD_PIN_FAILURE_LIMIT the card is frozen (card.frozen, reason pin_attempts).
   */
  @Column('integer', { default: 0 })
  pinFailures: number;

  @Column('timestamptz', { nullable: true })
  boundAt: Date | null;

  /** While frozen: the status unfreezing returns to. */
  @Column('text', { nullable: true })
  frozenFrom: CardStatus | null;

  /** The card that replaced this one (lost, or expired and replaced), and the card this one replaces. */
  @Column('bigint', { nullable: true, transformer: bigintNumber })
  replacedBy: number | null;

  @Column('bigint', { nullable: true, transformer: bigintNumber })
  replaces: number | null;
}
