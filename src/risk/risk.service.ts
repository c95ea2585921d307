import { Injectable, Logger } from '@nestjs/common';
import { Counter } from 'prom-client';
import type { RequestContext } from '../common/context/request-context';
import { ApiError } from '../common/errors/api-error';
import { newId } from '../common/ids';
import type { Page } from '../common/pagination/pagination';
import { AuditService } from '../audit/audit.service';
import { AppConfig } from '../config/app-config';
import { TransactionService } from '../database/transaction.service';
import { MetricsService } from '../metrics/metrics.service';
import { isValidSerial } from '../cards/card-code';
import { FREEZABLE_STATUSES } from '../cards/card-rules';
import type { CardStatus } from '../cards/card.entity';
import { CardMovements, isPastExpiry } from '../cards/card-movements';
import { CardsRepository } from '../cards/cards.repository';
import type {
  EffectiveRiskRuleDto,
  ListRiskAlertsQueryDto,
  PutRiskRulesDto,
  RiskAlertDto,
  RiskRulesDto,
  RiskRulesQueryDto,
} from './dto/risk.dto';
import type { RiskAlert } from './risk.entity';
import { RiskRepository } from './risk.repository';
import {
  crosses,
  effectiveRule,
  emptyLayers,
  parseRiskRulesConfig,
  RISK_RULE_NAMES,
  RISK_RULES,
  type EffectiveRule,
  type RiskRuleName,
  type RiskSettingLayers,
} from './risk-rules';

/**
 * The objects an alert is about: a card (always), its holder account and channel, the claim page's recipient, and the
 * end user's IP of the request (when known).
 */
export interface RiskSubject {
  serial: string;
  enterpriseId: string;
  orderId: string | null;
  holderRef: string | null;
  clientId: string | null;
  recipientId?: string | null;
  endUserIp?: string | null;
}

/** A rule that fired, with the count that crossed it. */
export interface RiskHit {
  rule: EffectiveRule;
  count: number;
}

/**
 * Fraud monitoring (README, "Fraud monitoring"; docs/decisions/0010): rules are evaluated in the request of the bind,
 * debit or wrong PIN they count, from figures of the committed rows (the counting reads and the debit's statement
 * live with the cards' tables), and what fires is raised here: an alert row and its `risk.alert` event in one
 * transaction, with a hold's freeze of the card (`card.frozen`, reason risk), and `risk_alerts_total{rule,action}`.
 * A `block` refuses the request itself with 403 risk_blocked, nothing of it written.
 */
@Injectable()
export class RiskService {
  private readonly logger = new Logger(RiskService.name);
  private readonly configured: RiskSettingLayers;
  private stored: RiskSettingLayers = emptyLayers();
  private storedAt = 0;
  private readonly alerts: Counter<'rule' | 'action'>;
  /** How long this process trusts the operator's settings it read (other processes' PUTs). */
  private readonly settingsTtlMs: number;

  constructor(
    private readonly repository: RiskRepository,
    private readonly transactions: TransactionService,
    private readonly cards: CardsRepository,
    private readonly movements: CardMovements,
    private readonly audit: AuditService,
    config: AppConfig,
    metrics: MetricsService,
  ) {
    this.configured = parseRiskRulesConfig(config.RISK_RULES);
    this.settingsTtlMs = config.RISK_SETTINGS_REFRESH_SECONDS * 1000;
    this.alerts = new Counter({
      name: 'risk_alerts_total',
      help: 'Fraud rules that fired, by rule and action (flag, hold, block)',
      labelNames: ['rule', 'action'],
      registers: [metrics.registry],
    });
  }

  /** The rule as it applies to this card's enterprise and channel (settings read RISK_SETTINGS_REFRESH_SECONDS ago at most). */
  async rule(
    ctx: RequestContext,
    name: RiskRuleName,
    scope: { enterpriseId: string | null; clientId: string | null },
  ): Promise<EffectiveRule> {
    await this.refresh(ctx);
    return effectiveRule(name, [this.configured, this.stored], scope);
  }

  /** The hits among these (rule, count) pairs: each rule fires at its threshold and at every count past it. */
  hits(figures: ReadonlyArray<{ rule: EffectiveRule; count: number }>): RiskHit[] {
    return figures.filter((figure) => crosses(figure.rule, figure.count));
  }

  /** 403 risk_blocked naming the rule that blocked (after its alert was raised). */
  static blocked(hit: RiskHit): ApiError {
    return new ApiError(403, 'risk_blocked', `Refused by the fraud rule ${hit.rule.rule}`, { rule: hit.rule.rule });
  }

  /**
   * Raises the hits on a subject: per hit, its alert and event, and for a hold the card's freeze (when it can be
   * frozen), in one transaction of their own (the request's own writes have committed, or are refused).
   */
  async raise(ctx: RequestContext, subject: RiskSubject, hits: readonly RiskHit[]): Promise<void> {
    if (hits.length === 0) return;
    await this.transactions.run(ctx, async () => {
      for (const hit of hits) {
        const id = newId('riskAlert');
        const figures = { count: hit.count, threshold: hit.rule.threshold, window_seconds: hit.rule.windowSeconds };
        await this.repository.insertAlert(ctx, {
          id,
          rule: hit.rule.rule,
          action: hit.rule.action,
          enterpriseId: subject.enterpriseId,
          clientId: subject.clientId,
          serial: subject.serial,
          holderRef: subject.holderRef,
          orderId: subject.orderId,
          recipientId: subject.recipientId ?? null,
          endUserIp: subject.endUserIp ?? null,
          figures,
          event: {
            enterpriseId: subject.enterpriseId,
            type: 'risk.alert',
            data: {
              alert_id: id,
              rule: hit.rule.rule,
              action: hit.rule.action,
              figures,
              serial: subject.serial,
              holder_ref: subject.holderRef,
              client_id: subject.clientId,
              order_id: subject.orderId,
              recipient_id: subject.recipientId ?? null,
              end_user_ip: subject.endUserIp ?? null,
            },
          },
        });
        // In the audit chain too: the card's trail shows its alerts, each with its record's hash.
        await this.audit.append(ctx, {
          action: 'risk.alert',
          objectType: 'card',
          objectId: subject.serial,
          enterpriseId: subject.enterpriseId,
          summary: {
            alert_id: id,
            rule: hit.rule.rule,
            action: hit.rule.action,
            figures,
            holder_ref: subject.holderRef,
            client_id: subject.clientId,
            order_id: subject.orderId,
            recipient_id: subject.recipientId ?? null,
            end_user_ip: subject.endUserIp ?? null,
          },
        });
        if (hit.rule.action === 'hold') await this.hold(ctx, subject.serial);
      }
    });
    for (const hit of hits) this.alerts.inc({ rule: hit.rule.rule, action: hit.rule.action });
    this.logger.warn({ msg: 'fraud rules fired', serial: subject.serial, rules: hits.map((hit) => hit.rule.rule) });
  }

  async listAlerts(ctx: RequestContext, query: ListRiskAlertsQueryDto): Promise<Page<RiskAlertDto>> {
    // A number no card can have (past bigint, or a wrong check digit) has no alerts.
    if (query.serial !== undefined && !isValidSerial(query.serial)) {
      return { object: 'list', data: [], has_more: false, next_cursor: null };
    }
    const page = await this.repository.listAlerts(ctx, query);
    return { ...page, data: page.data.map(alertDto) };
  }

  /** A card's alerts, oldest first. */
  async alertsOfCard(ctx: RequestContext, serial: string): Promise<RiskAlertDto[]> {
    return (await this.repository.alertsOfCard(ctx, serial)).map(alertDto);
  }

  async getRules(ctx: RequestContext, query: RiskRulesQueryDto): Promise<RiskRulesDto> {
    this.storedAt = 0;
    await this.refresh(ctx);
    const scope = { enterpriseId: query.enterprise_id ?? null, clientId: query.client_id ?? null };
    return {
      object: 'risk_rules',
      enterprise_id: scope.enterpriseId,
      client_id: scope.clientId,
      rules: RISK_RULE_NAMES.map((name) => ruleDto(effectiveRule(name, [this.configured, this.stored], scope))),
    };
  }

  async putRules(ctx: RequestContext, dto: PutRiskRulesDto): Promise<RiskRulesDto> {
    if (dto.enterprise_id && dto.client_id) {
      throw ApiError.validation([
        { field: 'client_id', message: 'Set the rules of an enterprise or of a channel, not both at once' },
      ]);
    }
    const scope = dto.client_id
      ? `channel:${dto.client_id}`
      : dto.enterprise_id
        ? `enterprise:${dto.enterprise_id}`
        : 'all';
    await this.transactions.run(ctx, () => this.repository.upsertSettings(ctx, scope, dto.rules));
    return this.getRules(ctx, { enterprise_id: dto.enterprise_id, client_id: dto.client_id });
  }

  private async hold(ctx: RequestContext, serial: string): Promise<void> {
    const card = await this.cards.bySerial(ctx, serial, true);
    if (!card || !(FREEZABLE_STATUSES as readonly CardStatus[]).includes(card.status) || isPastExpiry(card)) return;
    await this.cards.changeStatus(ctx, serial, { from: card.status, to: 'frozen' });
    await this.movements.record(ctx, [
      {
        card,
        kind: 'freeze',
        amount: 0,
        balanceAfter: card.balance,
        event: { type: 'card.frozen', data: { reason: 'risk' } },
      },
    ]);
  }

  private async refresh(ctx: RequestContext): Promise<void> {
    if (this.storedAt > 0 && Date.now() - this.storedAt < this.settingsTtlMs) return;
    const layers = emptyLayers();
    for (const row of await this.repository.settings(ctx)) {
      if (!(RISK_RULE_NAMES as readonly string[]).includes(row.rule)) continue;
      const setting = {
        ...(row.threshold === null ? {} : { threshold: row.threshold }),
        ...(row.action === null ? {} : { action: row.action }),
        ...(row.enabled === null ? {} : { enabled: row.enabled }),
      };
      const rule = row.rule as RiskRuleName;
      const [kind, id] = [row.scope.slice(0, row.scope.indexOf(':')), row.scope.slice(row.scope.indexOf(':') + 1)];
      if (row.scope === 'all') layers.all[rule] = setting;
      else if (kind === 'enterprise') (layers.enterprises[id] ??= {})[rule] = setting;
      else if (kind === 'channel') (layers.channels[id] ??= {})[rule] = setting;
    }
    this.stored = layers;
    this.storedAt = Date.now();
  }
}

function ruleDto(rule: EffectiveRule): EffectiveRiskRuleDto {
  const definition = RISK_RULES[rule.rule];
  return {
    rule: rule.rule,
    counts: definition.counts,
    on: definition.on,
    window_seconds: rule.windowSeconds,
    threshold: rule.threshold,
    action: rule.action,
    enabled: rule.enabled,
  };
}

function alertDto(alert: RiskAlert): RiskAlertDto {
  const figures = alert.figures as { count: number; threshold: number; window_seconds: number | null };
  return {
    object: 'risk_alert',
    id: alert.id,
    rule: alert.rule,
    action: alert.action,
    figures: { count: figures.count, threshold: figures.threshold, window_seconds: figures.window_seconds },
    enterprise_id: alert.enterpriseId,
    client_id: alert.clientId,
    serial: alert.serial,
    holder_ref: alert.holderRef,
    order_id: alert.orderId,
    recipient_id: alert.recipientId,
    end_user_ip: alert.endUserIp,
    created_at: alert.createdAt.toISOString(),
  };
}
