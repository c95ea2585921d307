import { crosses, effectiveRule, emptyLayers, parseRiskRulesConfig, RISK_RULES } from './risk-rules';

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
});
