import { Column, CreateDateColumn, Entity, PrimaryColumn, UpdateDateColumn } from 'typeorm';

export type CardType = 'anonymous' | 'registered';

/** A card product the operator sells: card type, the face values on offer, validity and designs. */
@Entity('products')
export class Product {
  @PrimaryColumn('text')
  id: string;

  @Column('text')
  name: string;

  @Column('text', { nullable: true })
  description: string | null;

  /** 不记名 (anonymous) or 记名 (registered). */
  @Column('text')
  cardType: CardType;

  /** Face values on offer, in fen, ascending. */
  @Column('integer', { array: true })
  faceValues: number[];

  /** Months a card stays valid after issuance; null: no expiry. */
  @Column('integer', { nullable: true })
  validityMonths: number | null;

  /** Card design codes an order may pick; the first is the default. */
  @Column('text', { array: true })
  designs: string[];

  @Column('boolean', { default: false })
  greetingAllowed: boolean;

  @Column('boolean', { default: true })
  active: boolean;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ type: 'timestamptz' })
  updatedAt: Date;
}
