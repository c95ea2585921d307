import { isId, newId } from './ids';

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
