import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { LEDGER_INVARIANTS, type LedgerInvariant, type LedgerViolation } from '../ledger-invariants';

export class LedgerViolationDto {
  @ApiProperty({
    enum: LEDGER_INVARIANTS,
    description:
      'entry_sums_to_zero; entry_has_two_lines; line_has_entry: no line without its entry; account_known; ' +
      'account_enterprise_scope: prepaid and receivable lines carry an enterprise, platform accounts none; ' +
      'prepaid_not_negative; receivable_not_negative; ' +
      'order_account_has_order: unissued_orders and order_deposits lines belong to an existing order; ' +
      'order_deposits_not_negative: an order never applies or releases more transfers than it received; ' +
      "unissued_matches_order: an order's unissued_orders balance is −face_total while paid, 0 before payment or " +
      'once rejected or cancelled, and between −face_total and 0 from issuing on',
  })
  invariant: LedgerInvariant;

  @ApiPropertyOptional({ example: 'jrn_01JDQ6ZK6Y8V3N2M4T5R7W9XAB' })
  entry_id?: string;

  @ApiPropertyOptional({ example: 'prepaid' })
  account?: string;

  @ApiPropertyOptional({ example: 'ent_01JDQ6ZK6Y8V3N2M4T5R7W9XAB' })
  enterprise_id?: string;

  @ApiPropertyOptional({ example: 'ord_01JDQ6ZK6Y8V3N2M4T5R7W9XAB' })
  order_id?: string;

  @ApiProperty({ example: 'Enterprise ent_01JDQ6ZK6Y8V3N2M4T5R7W9XAB has a prepaid balance of -100 fen' })
  detail: string;

  static from(this: void, violation: LedgerViolation): LedgerViolationDto {
    return {
      invariant: violation.invariant,
      ...(violation.entryId === undefined ? {} : { entry_id: violation.entryId }),
      ...(violation.account === undefined ? {} : { account: violation.account }),
      ...(violation.enterpriseId === undefined ? {} : { enterprise_id: violation.enterpriseId }),
      ...(violation.orderId === undefined ? {} : { order_id: violation.orderId }),
      detail: violation.detail,
    };
  }
}

/** The outcome of checking the ledger's invariants over every entry, in one database snapshot. */
export class LedgerVerificationDto {
  @ApiProperty({ enum: ['ledger_verification'] })
  object: 'ledger_verification';

  @ApiProperty({
    description:
      'True when no invariant is broken. Card balances against card_float are not checked yet (they need the cards of the issuance release)',
  })
  ok: boolean;

  @ApiProperty({ type: 'integer', minimum: 0, description: 'Journal entries in the ledger, all of them checked' })
  entries_checked: number;

  @ApiProperty({
    type: LedgerViolationDto,
    nullable: true,
    description: 'The first violation of the first failing invariant, in the order listed for `invariant`',
  })
  first_violation: LedgerViolationDto | null;
}
