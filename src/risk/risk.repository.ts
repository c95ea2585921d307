import { Injectable } from '@nestjs/common';
import type { RequestContext } from '../common/context/request-context';
import type { Page } from '../common/pagination/pagination';
import { paginate } from '../database/paginate';
import { TransactionalConnection } from '../database/transactional-connection';
import { eventRowsSql, type NewEvent } from '../events/events.repository';
import type { ListRiskAlertsQueryDto } from './dto/risk.dto';
import { RiskAlert, RiskRuleSettingRow } from './risk.entity';
import type { RiskAction } from './risk-rules';

/** An alert as written, with its risk.alert event (for the card's enterprise). */
export interface NewRiskAlert {
  id: string;
  rule: string;
  action: RiskAction;
  enterpriseId: string;
  clientId: string | null;
  serial: string | null;
  holderRef: string | null;
  orderId: string | null;
  recipientId: string | null;
  endUserIp: string | null;
  figures: Record<string, unknown>;
  event: NewEvent;
}

/** risk_alerts and risk_rule_settings: the only SQL on them (docs/architecture.md). */
@Injectable()
export class RiskRepository {
  constructor(private readonly connection: TransactionalConnection) {}

  /** The alert and its event in one statement, in the context's transaction (with a hold's freeze). */
  async insertAlert(ctx: RequestContext, alert: NewRiskAlert): Promise<void> {
    const manager = this.connection.transactionManager(ctx, 'RiskRepository.insertAlert');
    const values = [
      alert.id,
      alert.rule,
      alert.action,
      alert.enterpriseId,
      alert.clientId,
      alert.serial,
      alert.holderRef,
      alert.orderId,
      JSON.stringify(alert.figures),
      alert.recipientId,
      alert.endUserIp,
    ];
    const events = eventRowsSql([alert.event], { source: 'risk_alert', firstParam: values.length + 1 });
    await manager.query(
      `WITH risk_alert AS (
         INSERT INTO risk_alerts
           (id, rule, action, enterprise_id, client_id, serial, holder_ref, order_id, figures, recipient_id, end_user_ip)
         VALUES ($1, $2, $3, $4, $5, $6::bigint, $7, $8, $9::jsonb, $10, $11::inet) RETURNING id),
       ${events.sql}
       SELECT id FROM risk_alert`,
      [...values, ...events.params],
    );
  }

  async listAlerts(ctx: RequestContext, query: ListRiskAlertsQueryDto): Promise<Page<RiskAlert>> {
    const builder = this.connection.manager(ctx).createQueryBuilder(RiskAlert, 'alert');
    if (query.rule) builder.andWhere('alert.rule = :rule', { rule: query.rule });
    if (query.action) builder.andWhere('alert.action = :action', { action: query.action });
    if (query.enterprise_id)
      builder.andWhere('alert.enterprise_id = :enterpriseId', { enterpriseId: query.enterprise_id });
    if (query.client_id) builder.andWhere('alert.client_id = :clientId', { clientId: query.client_id });
    if (query.serial) builder.andWhere('alert.serial = :serial', { serial: query.serial });
    if (query.holder_ref) builder.andWhere('alert.holder_ref = :holderRef', { holderRef: query.holder_ref });
    return paginate(builder, query, (alert) => alert);
  }

  /** A card's alerts, oldest first (the card's trail). */
  async alertsOfCard(ctx: RequestContext, serial: string): Promise<RiskAlert[]> {
    return this.connection
      .manager(ctx)
      .createQueryBuilder(RiskAlert, 'alert')
      .where('alert.serial = :serial', { serial })
      .orderBy('alert.id', 'ASC')
      .getMany();
  }

  async settings(ctx: RequestContext): Promise<RiskRuleSettingRow[]> {
    return this.connection.manager(ctx).find(RiskRuleSettingRow);
  }

  /** Sets a scope's rules (a part left out keeps what it was: NULL, from the scope below, when new). */
  async upsertSettings(
    ctx: RequestContext,
    scope: string,
    rules: ReadonlyArray<{ rule: string; threshold?: number; action?: RiskAction; enabled?: boolean }>,
  ): Promise<void> {
    for (const setting of rules) {
      await this.connection.query(
        ctx,
        `INSERT INTO risk_rule_settings (scope, rule, threshold, action, enabled) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (scope, rule) DO UPDATE SET
           threshold = COALESCE(EXCLUDED.threshold, risk_rule_settings.threshold),
           action = COALESCE(EXCLUDED.action, risk_rule_settings.action),
           enabled = COALESCE(EXCLUDED.enabled, risk_rule_settings.enabled),
           updated_at = now()`,
        [scope, setting.rule, setting.threshold ?? null, setting.action ?? null, setting.enabled ?? null],
      );
    }
  }
}
