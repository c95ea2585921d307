import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  ArrayMaxSize,
  ArrayMinSize,
  ArrayUnique,
  IsArray,
  IsOptional,
  IsString,
  Matches,
  MaxLength,
} from 'class-validator';
import { CardDto } from './card.dto';

export class CardActionDto {
  @ApiPropertyOptional({ description: 'Why, for the record (kept in the audit trail of the change)', maxLength: 500 })
  @IsOptional()
  @IsString()
  @MaxLength(500)
  reason?: string;
}

export class VoidCardsDto extends CardActionDto {
  @ApiProperty({ type: [String], description: 'Serials of unused cards (never bound, full balance), 1 to 1,000' })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(1000)
  @ArrayUnique()
  @Matches(/^\d{2,20}$/, { each: true, message: 'each serial must be a card serial (digits)' })
  serials: string[];
}

export class VoidResultDto {
  @ApiProperty({ enum: ['card_void'] }) object: 'card_void';
  @ApiProperty() voided: number;
  @ApiProperty({
    description:
      "fen of what the cards cost credited to the enterprises' prepaid balance: orders paid from prepaid or by transfer, and credit repaid since",
  })
  refunded_to_prepaid: number;
  @ApiProperty({
    description:
      'fen of what the cards cost given back to the credit line of the orders that drew on it (receivable first)',
  })
  refunded_to_credit: number;
  @ApiProperty({ type: [CardDto] }) cards: CardDto[];
}

export class ReplacementDto {
  @ApiProperty({ enum: ['card_replacement'] }) object: 'card_replacement';
  @ApiProperty({ type: CardDto, description: 'The old card, now lost or replaced' }) card: CardDto;
  @ApiProperty({ type: CardDto, description: 'The new card, carrying the balance' }) replacement: CardDto;
}

export class ExpiryRunDto {
  @ApiProperty() expired: number;
  @ApiProperty({ description: 'fen booked as breakage' }) breakage: number;
}
