import { Column, Entity, PrimaryColumn } from 'typeorm';
import { bigintNumber } from '../database/transformers';

/** Hands out ranges of card sequence numbers; one row, locked for the instant of a reservation. */
@Entity('card_serial_allocator')
export class CardSerialAllocator {
  @PrimaryColumn('smallint')
  id: number;

  @Column('bigint', { transformer: bigintNumber })
  nextValue: number;
}
