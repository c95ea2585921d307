import { ApiProperty } from '@nestjs/swagger';
import { ValidateIf } from 'class-validator';
import { IsFenAmount } from '../../common/validation-codes';
import { MAX_FEN } from './fields';

/** What an enterprise decides for itself (its finance team, scope orders:approve). */
export class EnterpriseSettingsDto {
  @ApiProperty({
    type: 'integer',
    nullable: true,
    minimum: 0,
    description: 'Orders whose payable amount (fen) is above this wait for approval by another client; null: none',
    example: 5_000_000,
  })
  @ValidateIf((_dto, value) => value !== null)
  @IsFenAmount({ min: 0, max: MAX_FEN })
  approval_threshold: number | null;
}
