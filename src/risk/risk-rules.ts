/**
 * The fraud-monitoring rules (README, "Fraud monitoring"; docs/decisions/0010): what each counts, over which window,
 * and what it does at its threshold. Thresholds and actions are settings: the defaults here, then RISK_RULES
 * (configuration), then what the operator sets with PUT /v1/admin/risk-rules, each for every card, per enterprise or
 * per channel (the most specific wins).
 */
export const RISK_ACTIONS = ['flag', 'hold', 'block'] as const;
/** `flag`: an alert and its event only; `hold`: also freeze the card (card.frozen, reason risk); `block`: refuse (403). */
export type RiskAction = (typeof RISK_ACTIONS)[number];

/**
 * What a rule is evaluated on: the redemption channel's binds, debits (by serial, by payment code, holder-wide) and
 * wrong PINs, and the claim page's reveals and wrong SMS one-time codes.
 */
export const RISK_TRIGGERS = ['bind', 'debit', 'bind_or_debit', 'verify_failure', 'reveal', 'otp_failure'] as const;
export type RiskTrigger = (typeof RISK_TRIGGERS)[number];

export interface RiskRuleDefinition {
  on: RiskTrigger;
  /** What is counted, for the alert's readers. */
  counts: string;
  /** The window the count runs over; null: since the card was bound or unfrozen (a count on the card). */
  windowSeconds: number | null;
  threshold: number;
  action: RiskAction;
}

export const RISK_RULES = {
  binds_per_holder_hour: {
    on: 'bind',
    counts: 'cards bound to one holder account of a channel in the last hour',
    windowSeconds: 3_600,
    threshold: 10,
    action: 'flag',
  },
  binds_per_channel_day: {
    on: 'bind',
    counts: 'cards bound through one channel in the last day',
    windowSeconds: 86_400,
    threshold: 5_000,
    action: 'flag',
  },
  // The scalper (黄牛) pattern: cards of one order bought up and bound to one account within minutes.
  order_cards_to_one_holder: {
    on: 'bind',
    counts: 'cards of one order bound to one holder account of a channel in the last 10 minutes',
    windowSeconds: 600,
    threshold: 5,
    action: 'hold',
  },
  debits_per_card_minute: {
    on: 'debit',
    counts: 'debits of one card in the last minute',
    windowSeconds: 60,
    threshold: 20,
    action: 'flag',
  },
  verify_failures_per_card: {
    on: 'verify_failure',
    counts: 'wrong PINs of one card since it was bound or unfrozen',
    windowSeconds: null,
    threshold: 3,
    action: 'flag',
  },
  // IP jumps (异地IP跳转), from the end user's IP the channel sends (end_user.ip or X-End-User-IP); a bind or debit
  // without one is not counted. Mobile users change addresses often (Wi-Fi, 4G, carrier NAT): flags by default.
  end_user_ips_per_card_hour: {
    on: 'bind_or_debit',
    counts: "distinct end-user IPs of one card's binds and debits in the last hour",
    windowSeconds: 3_600,
    threshold: 5,
    action: 'flag',
  },
  debit_subnets_away_from_bind: {
    on: 'debit',
    counts: "distinct /24 (IPv6 /48) networks one card was spent from in the last day, other than its bind's network",
    windowSeconds: 86_400,
    threshold: 3,
    action: 'flag',
  },
  // The claim page (src/distribution/): the employee's browser IP as the server sees it.
  claim_reveals_per_link_hour: {
    on: 'reveal',
    counts: 'reveals of the code of one claim link in the last hour',
    windowSeconds: 3_600,
    threshold: 5,
    action: 'flag',
  },
  // Misappropriation (挪用): one address revealing many employees' cards. An office behind one NAT address opens many
  // links too, hence a flag at a threshold above a team's morning.
  claim_links_per_ip_hour: {
    on: 'reveal',
    counts: "claim links of one enterprise revealed from one IP in the last hour (this one's included)",
    windowSeconds: 3_600,
    threshold: 10,
    action: 'flag',
  },
  claim_otp_failures_per_link_day: {
    on: 'otp_failure',
    counts: 'wrong SMS one-time codes on one claim link in the last day (across codes sent)',
    windowSeconds: 86_400,
    threshold: 5,
    action: 'flag',
  },
} as const satisfies Record<string, RiskRuleDefinition>;

export type RiskRuleName = keyof typeof RISK_RULES;
export const RISK_RULE_NAMES = Object.keys(RISK_RULES) as RiskRuleName[];

export function isRiskRuleName(value: string): value is RiskRuleName {
  return Object.hasOwn(RISK_RULES, value);
}

/** A rule's setting at one scope: any of its parts, the rest from the scope below. */
export interface RiskRuleSetting {
  threshold?: number;
  action?: RiskAction;
  enabled?: boolean;
}

export type RiskRuleSettings = Partial<Record<RiskRuleName, RiskRuleSetting>>;

/** Settings by scope: every card, an enterprise's cards, a channel's binds and debits. */
export interface RiskSettingLayers {
  all: RiskRuleSettings;
  enterprises: Record<string, RiskRuleSettings>;
  channels: Record<string, RiskRuleSettings>;
}

export interface EffectiveRule {
  rule: RiskRuleName;
  threshold: number;
  action: RiskAction;
  enabled: boolean;
  windowSeconds: number | null;
}

export const emptyLayers = (): RiskSettingLayers => ({ all: {}, enterprises: {}, channels: {} });

/**
 * A rule as it applies to a card of `enterpriseId` used through channel `clientId`: the catalog's default, then
 * each layer in turn (configuration before the operator's settings at each scope), the channel's last.
 */
export function effectiveRule(
  rule: RiskRuleName,
  layers: readonly RiskSettingLayers[],
  scope: { enterpriseId: string | null; clientId: string | null },
): EffectiveRule {
  const definition: RiskRuleDefinition = RISK_RULES[rule];
  let effective: EffectiveRule = {
    rule,
    threshold: definition.threshold,
    action: definition.action,
    enabled: true,
    windowSeconds: definition.windowSeconds,
  };
  const apply = (setting: RiskRuleSetting | undefined) => {
    if (setting) effective = { ...effective, ...definedOf(setting) };
  };
  for (const layer of layers) apply(layer.all[rule]);
  for (const layer of layers) if (scope.enterpriseId) apply(layer.enterprises[scope.enterpriseId]?.[rule]);
  for (const layer of layers) if (scope.clientId) apply(layer.channels[scope.clientId]?.[rule]);
  return effective;
}

function definedOf(setting: RiskRuleSetting): RiskRuleSetting {
  return Object.fromEntries(Object.entries(setting).filter(([, value]) => value !== undefined));
}

/**
 * Whether a count crosses a rule: the event that brings the count to the threshold fires it, and so does every
 * later one while the count stays there.
 */
export function crosses(rule: EffectiveRule, count: number): boolean {
  return rule.enabled && count >= rule.threshold;
}

/** Parses and checks RISK_RULES (configuration): an Error naming the first problem. */
export function parseRiskRulesConfig(text: string | undefined): RiskSettingLayers {
  if (!text || !text.trim()) return emptyLayers();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new Error('RISK_RULES must be JSON');
  }
  if (!isObject(parsed)) throw new Error('RISK_RULES must be a JSON object');
  const { enterprises = {}, channels = {}, ...all } = parsed;
  if (!isObject(enterprises) || !isObject(channels)) {
    throw new Error('RISK_RULES: enterprises and channels must be objects keyed by id');
  }
  const settingsOf = (where: string, value: unknown): RiskRuleSettings => {
    if (!isObject(value)) throw new Error(`RISK_RULES: ${where} must be an object of rules`);
    const settings: RiskRuleSettings = {};
    for (const [rule, setting] of Object.entries(value)) {
      if (!isRiskRuleName(rule)) throw new Error(`RISK_RULES: ${where}: unknown rule '${rule}'`);
      settings[rule] = checkSetting(`${where}.${rule}`, setting);
    }
    return settings;
  };
  return {
    all: settingsOf('RISK_RULES', all),
    enterprises: Object.fromEntries(
      Object.entries(enterprises).map(([id, v]) => [id, settingsOf(`enterprises.${id}`, v)]),
    ),
    channels: Object.fromEntries(Object.entries(channels).map(([id, v]) => [id, settingsOf(`channels.${id}`, v)])),
  };
}

/** Checks one rule's setting (configuration or the operator's PUT): an Error naming the problem. */
export function checkSetting(where: string, value: unknown): RiskRuleSetting {
  if (!isObject(value)) throw new Error(`${where} must be an object`);
  const { threshold, action, enabled, ...rest } = value;
  const unknown = Object.keys(rest);
  if (unknown.length > 0) throw new Error(`${where}: unknown field '${unknown[0]}'`);
  if (threshold !== undefined && (!Number.isInteger(threshold) || (threshold as number) < 1)) {
    throw new Error(`${where}.threshold must be a whole number ≥ 1`);
  }
  if (action !== undefined && !(RISK_ACTIONS as readonly unknown[]).includes(action)) {
    throw new Error(`${where}.action must be one of ${RISK_ACTIONS.join(', ')}`);
  }
  if (enabled !== undefined && typeof enabled !== 'boolean') throw new Error(`${where}.enabled must be true or false`);
  return definedOf({
    threshold: threshold as number | undefined,
    action: action as RiskAction | undefined,
    enabled: enabled,
  });
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
