import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AppConfig } from './app-config';
import { envValue, renderEnvExample } from './env-example';

const root = join(__dirname, '..', '..');
const source = readFileSync(join(__dirname, 'app-config.ts'), 'utf8');

describe('.env.example', () => {
  const committed = readFileSync(join(root, '.env.example'), 'utf8');
  const assignments = new Map(
    committed
      .split('\n')
      .filter((line) => /^[A-Z][A-Z0-9_]*=/.test(line))
      .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
  );

  it('lists every variable AppConfig reads, once, with its default', () => {
    const defaults = new AppConfig() as unknown as Record<string, unknown>;
    expect([...assignments.keys()]).toEqual(Object.keys(defaults));
    for (const [name, value] of Object.entries(defaults)) {
      expect([name, assignments.get(name)]).toEqual([name, envValue(value)]);
    }
    expect(assignments.get('PORT')).toBe('3000');
    expect(assignments.get('CODE_PEPPER')).toBe('');
  });

  it('documents each variable with the comment above its field, across multi-line decorators', () => {
    expect(committed).toContain(
      '# Public base URL, used in printed links and the OpenAPI servers list.\nPUBLIC_URL=\n',
    );
    expect(committed).toMatch(
      /# .*`cli_` and 6-64 letters or digits,\n.*\n# Required in production.*\nADMIN_CLIENT_ID=\n/,
    );
    expect(committed).toMatch(/# then pick its own address with one header\.\nTRUST_PROXY=\n/);
    expect(committed).toMatch(/# Required in production.*\nCODE_PEPPER=\n/);
    expect(committed).not.toMatch(/# Required in production.*\nSMS_RECEIPT_TOKEN=/);
  });

  it('is what `npm run env:example` writes from the class (regenerate it after changing a setting)', () => {
    expect(committed).toBe(renderEnvExample(source));
  });
});
