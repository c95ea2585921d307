import { isId, newId, pooledRandom } from './ids';

describe('ids', () => {
  it('are prefixed ULIDs that sort by creation', () => {
    const ids = Array.from({ length: 1000 }, () => newId('enterprise'));
    expect(ids.every((id) => isId('enterprise', id))).toBe(true);
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('tell kinds apart', () => {
    expect(isId('order', newId('enterprise'))).toBe(false);
    expect(newId('apiClient')).toMatch(/^cli_/);
  });
});

describe('pooledRandom', () => {
  it('maps evenly onto the 32-letter ULID alphabet (chi-square, 31 dof, p = 0.001)', () => {
    const samples = 64_000;
    const counts = new Array<number>(32).fill(0);
    let [min, max] = [1, 0];
    for (let i = 0; i < samples; i++) {
      const value = pooledRandom();
      [min, max] = [Math.min(min, value), Math.max(max, value)];
      counts[Math.floor(value * 32)]++;
    }
    expect(min).toBeGreaterThanOrEqual(0);
    expect(max).toBeLessThan(1);
    const expected = samples / 32;
    const chi = counts.reduce((sum, count) => sum + (count - expected) ** 2 / expected, 0);
    expect(chi).toBeLessThan(61.1);
  });
});
