import {
  crosses,
  effectiveRule,
  emptyLayers,
  parseRiskRulesConfig,
  RISK_ACTIONS,
  RISK_RULE_NAMES,
  RISK_RULES,
  RISK_TRIGGERS,
} from './risk-rules';

describe('risk rules', () => {
  const scope = { enterpriseId: 'ent_A', clientId: 'cli_A' };

  it('a rule fires at its threshold and past it, never below, and never when disabled', () => {
    const rule = effectiveRule('binds_per_holder_hour', [], scope);
    expect(rule.threshold).toBe(RISK_RULES.binds_per_holder_hour.threshold);
    expect(crosses(rule, rule.threshold - 1)).toBe(false);
    expect(crosses(rule, rule.threshold)).toBe(true);
    expect(crosses(rule, rule.threshold + 1)).toBe(true);
    expect(crosses({ ...rule, enabled: false }, rule.threshold)).toBe(false);
  });

  it('the most specific scope wins, and the operator wins over configuration at each scope', () => {
    const configured = parseRiskRulesConfig(
      JSON.stringify({
        debits_per_card_minute: { threshold: 50 },
        enterprises: { ent_A: { debits_per_card_minute: { threshold: 40, action: 'hold' } } },
        channels: { cli_B: { debits_per_card_minute: { action: 'block' } } },
      }),
    );
    const stored = emptyLayers();
    stored.enterprises.ent_A = { debits_per_card_minute: { threshold: 30 } };
    const layers = [configured, stored];
    expect(effectiveRule('debits_per_card_minute', layers, { enterpriseId: 'ent_Z', clientId: null })).toMatchObject({
      threshold: 50,
      action: 'flag',
    });
    expect(effectiveRule('debits_per_card_minute', layers, scope)).toMatchObject({ threshold: 30, action: 'hold' });
    expect(effectiveRule('debits_per_card_minute', layers, { ...scope, clientId: 'cli_B' })).toMatchObject({
      threshold: 30,
      action: 'block',
    });
  });

  it('refuses configuration it cannot apply, naming the problem', () => {
    expect(() => parseRiskRulesConfig('[]')).toThrow(/JSON object/);
    expect(() => parseRiskRulesConfig('{"nope":{}}')).toThrow(/unknown rule 'nope'/);
    expect(() => parseRiskRulesConfig('{"binds_per_holder_hour":{"threshold":0}}')).toThrow(/threshold/);
    expect(() => parseRiskRulesConfig('{"binds_per_holder_hour":{"action":"shout"}}')).toThrow(/action/);
    expect(() => parseRiskRulesConfig('{"binds_per_holder_hour":{"limit":3}}')).toThrow(/unknown field 'limit'/);
    expect(() => parseRiskRulesConfig('{"channels":{"cli_A":{"x":{}}}}')).toThrow(/channels.cli_A: unknown rule/);
    expect(parseRiskRulesConfig(undefined)).toEqual(emptyLayers());
  });

  it('every rule has a trigger, a window, a threshold and an action; the IP and claim rules only flag by default', () => {
    for (const name of RISK_RULE_NAMES) {
      const definition: { on: string; windowSeconds: number | null; threshold: number; action: string } =
        RISK_RULES[name];
      expect(RISK_TRIGGERS).toContain(definition.on);
      expect(RISK_ACTIONS).toContain(definition.action);
      expect(definition.threshold).toBeGreaterThanOrEqual(1);
    }
    // Mobile users change addresses and an office shares one: a default that freezes or refuses would hit them.
    for (const name of [
      'end_user_ips_per_card_hour',
      'debit_subnets_away_from_bind',
      'claim_reveals_per_link_hour',
      'claim_links_per_ip_hour',
      'claim_otp_failures_per_link_day',
    ] as const) {
      expect(RISK_RULES[name].action).toBe('flag');
      expect(RISK_RULES[name].windowSeconds).toBeGreaterThan(0);
      expect(RISK_RULES[name].threshold).toBeGreaterThan(1);
    }
  });

  it('the IP and claim rules are set like the others, per enterprise for the claim page (no channel there)', () => {
    const configured = parseRiskRulesConfig(
      JSON.stringify({
        claim_links_per_ip_hour: { threshold: 4, action: 'hold' },
        enterprises: { ent_A: { claim_links_per_ip_hour: { action: 'block' } } },
        channels: { cli_A: { end_user_ips_per_card_hour: { threshold: 2, action: 'block' } } },
      }),
    );
    expect(effectiveRule('claim_links_per_ip_hour', [configured], { enterpriseId: 'ent_A', clientId: null })).toEqual({
      rule: 'claim_links_per_ip_hour',
      threshold: 4,
      action: 'block',
      enabled: true,
      windowSeconds: 3_600,
    });
    expect(
      effectiveRule('claim_links_per_ip_hour', [configured], { enterpriseId: 'ent_B', clientId: null }),
    ).toMatchObject({ threshold: 4, action: 'hold' });
    const ips = effectiveRule('end_user_ips_per_card_hour', [configured], scope);
    expect(ips).toMatchObject({ threshold: 2, action: 'block' });
    expect(crosses(ips, 1)).toBe(false);
    expect(crosses(ips, 2)).toBe(true);
  });
});
