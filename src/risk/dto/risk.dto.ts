import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsBoolean,
  IsIn,
  IsInt,
  IsOptional,
  Matches,
  Max,
  Min,
  ValidateNested,
} from 'class-validator';
import { ListQueryDto, PageOf } from '../../common/pagination/pagination';
import { idPattern } from '../../common/ids';
import { RISK_ACTIONS, RISK_RULE_NAMES, RISK_TRIGGERS, type RiskAction, type RiskRuleName } from '../risk-rules';

const TOKEN = /^[\x21-\x7e]{1,128}$/;

export class ListRiskAlertsQueryDto extends ListQueryDto {
  @ApiPropertyOptional({ enum: RISK_RULE_NAMES })
  @IsOptional()
  @IsIn(RISK_RULE_NAMES)
  rule?: RiskRuleName;

  @ApiPropertyOptional({ enum: RISK_ACTIONS })
  @IsOptional()
  @IsIn(RISK_ACTIONS)
  action?: RiskAction;

  @ApiPropertyOptional({ description: "Alerts on this enterprise's cards" })
  @IsOptional()
  @Matches(idPattern('enterprise'), { message: 'enterprise_id must be an enterprise id' })
  enterprise_id?: string;

  @ApiPropertyOptional({ description: 'Alerts on binds and debits of this channel (API client)' })
  @IsOptional()
  @Matches(idPattern('apiClient'), { message: 'client_id must be an API client id' })
  client_id?: string;

  @ApiPropertyOptional({ description: 'Alerts on this card (its serial)' })
  @IsOptional()
  @Matches(/^\d{2,20}$/, { message: 'serial must be a card serial (digits)' })
  serial?: string;

  @ApiPropertyOptional({ description: "Alerts on this holder account (a channel's own)" })
  @IsOptional()
  @Matches(TOKEN, { message: 'holder_ref must be 1 to 128 visible ASCII characters' })
  holder_ref?: string;
}

export class RiskFiguresDto {
  @ApiProperty({ description: 'The count that crossed the rule (this event included)' }) count: number;
  @ApiProperty() threshold: number;
  @ApiProperty({ type: Number, nullable: true, description: 'The window counted over; null: since bound or unfrozen' })
  window_seconds: number | null;
}

export class RiskAlertDto {
  @ApiProperty({ enum: ['risk_alert'] }) object: 'risk_alert';
  @ApiProperty({ example: 'rsk_01JD3Q0X5V6T8W9Y2Z3A4B5C6D' }) id: string;
  @ApiProperty({ enum: RISK_RULE_NAMES }) rule: string;
  @ApiProperty({ enum: RISK_ACTIONS }) action: RiskAction;
  @ApiProperty({ type: RiskFiguresDto }) figures: RiskFiguresDto;
  @ApiProperty({ type: String, nullable: true }) enterprise_id: string | null;
  @ApiProperty({ type: String, nullable: true, description: 'The channel (API client)' }) client_id: string | null;
  @ApiProperty({ type: String, nullable: true }) serial: string | null;
  @ApiProperty({ type: String, nullable: true }) holder_ref: string | null;
  @ApiProperty({ type: String, nullable: true }) order_id: string | null;
  @ApiProperty({
    type: String,
    nullable: true,
    description: "The claim page's recipient (distribution recipient id) of a reveal or one-time-code rule",
  })
  recipient_id: string | null;
  @ApiProperty({
    type: String,
    nullable: true,
    description:
      "The end user's IP address of the request that fired the rule (the channel's end_user.ip, or the claim page's visitor); null when unknown",
  })
  end_user_ip: string | null;
  @ApiProperty({ format: 'date-time' }) created_at: string;
}

export class RiskAlertPageDto extends PageOf(RiskAlertDto) {}

export class RiskRuleSettingDto {
  @ApiProperty({ enum: RISK_RULE_NAMES })
  @IsIn(RISK_RULE_NAMES)
  rule: RiskRuleName;

  @ApiPropertyOptional({ minimum: 1, maximum: 1_000_000 })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(1_000_000)
  threshold?: number;

  @ApiPropertyOptional({ enum: RISK_ACTIONS })
  @IsOptional()
  @IsIn(RISK_ACTIONS)
  action?: RiskAction;

  @ApiPropertyOptional()
  @IsOptional()
  @IsBoolean()
  enabled?: boolean;
}

export class PutRiskRulesDto {
  @ApiPropertyOptional({ description: "The rules of this enterprise's cards (leave both ids out: every card)" })
  @IsOptional()
  @Matches(idPattern('enterprise'), { message: 'enterprise_id must be an enterprise id' })
  enterprise_id?: string;

  @ApiPropertyOptional({ description: "The rules of this channel's binds and debits (wins over an enterprise's)" })
  @IsOptional()
  @Matches(idPattern('apiClient'), { message: 'client_id must be an API client id' })
  client_id?: string;

  @ApiProperty({ type: [RiskRuleSettingDto] })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(RISK_RULE_NAMES.length)
  @ValidateNested({ each: true })
  @Type(() => RiskRuleSettingDto)
  rules: RiskRuleSettingDto[];
}

export class RiskRulesQueryDto {
  @ApiPropertyOptional()
  @IsOptional()
  @Matches(idPattern('enterprise'), { message: 'enterprise_id must be an enterprise id' })
  enterprise_id?: string;

  @ApiPropertyOptional()
  @IsOptional()
  @Matches(idPattern('apiClient'), { message: 'client_id must be an API client id' })
  client_id?: string;
}

export class EffectiveRiskRuleDto {
  @ApiProperty({ enum: RISK_RULE_NAMES }) rule: string;
  @ApiProperty({ description: 'What the rule counts' }) counts: string;
  @ApiProperty({ enum: RISK_TRIGGERS }) on: string;
  @ApiProperty({ type: Number, nullable: true }) window_seconds: number | null;
  @ApiProperty() threshold: number;
  @ApiProperty({ enum: RISK_ACTIONS }) action: RiskAction;
  @ApiProperty() enabled: boolean;
}

export class RiskRulesDto {
  @ApiProperty({ enum: ['risk_rules'] }) object: 'risk_rules';
  @ApiProperty({ type: String, nullable: true }) enterprise_id: string | null;
  @ApiProperty({ type: String, nullable: true }) client_id: string | null;
  @ApiProperty({ type: [EffectiveRiskRuleDto], description: 'Each rule as it applies at this scope' })
  rules: EffectiveRiskRuleDto[];
}
