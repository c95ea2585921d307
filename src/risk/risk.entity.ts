import { Column, CreateDateColumn, Entity, Index, PrimaryColumn, UpdateDateColumn } from 'typeorm';
import type { RiskAction } from './risk-rules';

/**
 * A fraud rule that fired: the rule, the action taken, the figures that crossed it and the objects involved (card,
 * holder account, channel, order). Never a code, PIN or payment code.
 */
@Entity('risk_alerts')
@Index('risk_alerts_serial', ['serial'])
export class RiskAlert {
  @PrimaryColumn('text')
  id: string;

  @Column('text')
  rule: string;

  @Column('text')
  action: RiskAction;

  @Column('text', { nullable: true })
  enterpriseId: string | null;

  /** The channel (API client) the bind or debit came through. */
  @Column('text', { nullable: true })
  clientId: string | null;

  @Column('bigint', { nullable: true })
  serial: string | null;

  @Column('text', { nullable: true })
  holderRef: string | null;

  @Column('text', { nullable: true })
  orderId: string | null;

  /** The claim page's recipient (distribution recipient id), for the reveal and one-time-code rules. */
  @Column('text', { nullable: true })
  recipientId: string | null;

  /** The end user's IP of the request that fired the rule, when known (never a code or claim token). */
  @Column('inet', { nullable: true })
  endUserIp: string | null;

  /** `{count, threshold, window_seconds}`: what crossed the rule. */
  @Column('jsonb')
  figures: Record<string, unknown>;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt: Date;
}

/**
 * The operator's rule settings (PUT /v1/admin/risk-rules), per scope: `all`, `enterprise:<id>` or `channel:<client
 * id>`. A NULL part is taken from the scope below (configuration, then the catalog's default).
 */
@Entity('risk_rule_settings')
export class RiskRuleSettingRow {
  @PrimaryColumn('text')
  scope: string;

  @PrimaryColumn('text')
  rule: string;

  @Column('integer', { nullable: true })
  threshold: number | null;

  @Column('text', { nullable: true })
  action: RiskAction | null;

  @Column('boolean', { nullable: true })
  enabled: boolean | null;

  @UpdateDateColumn({ type: 'timestamptz' })
  updatedAt: Date;
}
