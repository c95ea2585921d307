import { ApiProperty } from '@nestjs/swagger';
import { LedgerAccount, type LedgerEntry, type LedgerLine } from '../ledger.entity';

export class LedgerLineDto {
  @ApiProperty({ enum: Object.values(LedgerAccount) })
  account: LedgerAccount;

  @ApiProperty({
    type: String,
    nullable: true,
    description: 'Set for the per-enterprise accounts prepaid and receivable',
    example: 'ent_01JDQ6ZK6Y8V3N2M4T5R7W9XAB',
  })
  enterprise_id: string | null;

  @ApiProperty({ type: 'integer', description: 'Signed fen: debit positive, credit negative', example: -100_000 })
  amount: number;

  static from(this: void, line: LedgerLine): LedgerLineDto {
    return { account: line.account, enterprise_id: line.enterpriseId, amount: line.amount };
  }
}

/** A balanced journal entry: its lines sum to zero. Entries are never changed; corrections are new entries. */
export class LedgerEntryDto {
  @ApiProperty({ enum: ['ledger_entry'] })
  object: 'ledger_entry';

  @ApiProperty({ example: 'jrn_01JDQ6ZK6Y8V3N2M4T5R7W9XAB' })
  id: string;

  @ApiProperty({ description: 'What happened', example: 'order_payment' })
  kind: string;

  @ApiProperty({ type: String, nullable: true, example: 'ent_01JDQ6ZK6Y8V3N2M4T5R7W9XAB' })
  enterprise_id: string | null;

  @ApiProperty({ type: String, nullable: true, example: 'ord_01JDQ6ZK6Y8V3N2M4T5R7W9XAB' })
  order_id: string | null;

  @ApiProperty({ type: String, nullable: true, example: 'pay_01JDQ6ZK6Y8V3N2M4T5R7W9XAB' })
  payment_id: string | null;

  @ApiProperty({ example: 'Order ord_01JDQ6ZK6Y8V3N2M4T5R7W9XAB paid from the prepaid balance' })
  memo: string;

  @ApiProperty({ type: String, nullable: true, description: 'The request that posted the entry' })
  request_id: string | null;

  @ApiProperty({ format: 'date-time' })
  created_at: string;

  @ApiProperty({ type: [LedgerLineDto], description: 'In the order they were posted' })
  lines: LedgerLineDto[];

  static from(this: void, entry: LedgerEntry, lines: LedgerLine[]): LedgerEntryDto {
    return {
      object: 'ledger_entry',
      id: entry.id,
      kind: entry.kind,
      enterprise_id: entry.enterpriseId,
      order_id: entry.orderId,
      payment_id: entry.paymentId,
      memo: entry.memo,
      request_id: entry.requestId,
      created_at: entry.createdAt.toISOString(),
      lines: lines.map(LedgerLineDto.from),
    };
  }
}
