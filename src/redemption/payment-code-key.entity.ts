import { Column, CreateDateColumn, Entity, Index, PrimaryColumn } from 'typeorm';
import { bigintNumber } from '../database/transformers';

/**
 * A card's or a holder wallet's payment-code key (src/redemption/payment-code.ts): the random number every code of
 * it carries, its secret (sealed: DataCipher envelope, bound to the number) and how many codes it has spent. A card
 * key is the channel's for the card it bound; a wallet key (serial NULL) spends the holder's cards.
 */
@Entity('payment_code_keys')
@Index('payment_code_keys_card', ['serial'], { unique: true, where: 'serial IS NOT NULL' })
@Index('payment_code_keys_wallet', ['clientId', 'holderRef'], { unique: true, where: 'serial IS NULL' })
export class PaymentCodeKey {
  @PrimaryColumn('bigint', { transformer: bigintNumber })
  number: number;

  @Column('text')
  clientId: string;

  @Column('text')
  holderRef: string;

  @Column('bigint', { nullable: true })
  serial: string | null;

  /** `v2.<key id>.<…>`: the 32-byte secret, base64, sealed with the context `payment_code_keys.secret:<number>`. */
  @Column('text')
  secretSealed: string;

  /** Codes spent: part of each code's counter, raised by the debit that spends one. */
  @Column('bigint', { transformer: bigintNumber, default: 0 })
  uses: number;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt: Date;
}
