import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeConfig, loadConfig } from './app-config';

const tempDir = () => mkdtempSync(join(tmpdir(), 'fuli-config-'));

describe('loadConfig', () => {
  it('generates development keys once and keeps them under DATA_DIR', () => {
    const dir = tempDir();
    const first = loadConfig({ DATA_DIR: dir });
    const second = loadConfig({ DATA_DIR: dir });
    expect(second.JWT_SIGNING_KEY).toBe(first.JWT_SIGNING_KEY);
    expect(second.CODE_PEPPER).toBe(first.CODE_PEPPER);
    expect(first.DATA_ENCRYPTION_KEYS).toMatch(/^k1:/);
    expect(statSync(join(dir, 'secrets.json')).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(join(dir, 'secrets.json'), 'utf8')).ADMIN_CLIENT_ID).toBe(first.ADMIN_CLIENT_ID);
  });

  it('requires every key in production, naming each missing variable', () => {
    expect(() => loadConfig({ NODE_ENV: 'production', DATA_DIR: tempDir() })).toThrow(
      /CODE_PEPPER is missing[\s\S]*DATA_ENCRYPTION_KEYS is missing[\s\S]*JWT_SIGNING_KEY is missing[\s\S]*ADMIN_CLIENT_ID is missing[\s\S]*ADMIN_CLIENT_SECRET is missing/,
    );
  });

  it('names an invalid variable', () => {
    expect(() => loadConfig({ DATA_DIR: tempDir(), PORT: 'eighty' })).toThrow(/PORT is invalid/);
    expect(() => loadConfig({ DATA_DIR: tempDir(), DATABASE_URL: 'mysql://x' })).toThrow(
      /DATABASE_URL must be a postgres/,
    );
    expect(() => loadConfig({ DATA_DIR: tempDir(), QUEUE_BACKEND: 'redis' })).toThrow(
      /QUEUE_BACKEND=redis needs REDIS_URL/,
    );
  });

  it('picks the queue backend from REDIS_URL unless told', () => {
    expect(loadConfig({ DATA_DIR: tempDir() }).QUEUE_BACKEND).toBe('postgres');
    expect(loadConfig({ DATA_DIR: tempDir(), REDIS_URL: 'redis://127.0.0.1:6379' }).QUEUE_BACKEND).toBe('redis');
    expect(
      loadConfig({ DATA_DIR: tempDir(), REDIS_URL: 'redis://127.0.0.1:6379', QUEUE_BACKEND: 'postgres' }).QUEUE_BACKEND,
    ).toBe('postgres');
  });

  it('converts numbers and applies defaults', () => {
    const config = loadConfig({ DATA_DIR: tempDir(), PORT: '8080' });
    expect(config.PORT).toBe(8080);
    expect(config.ACCESS_TOKEN_TTL_SECONDS).toBe(900);
    expect(config.seedDemo).toBe(true);
  });

  it('reads only the variables it declares', () => {
    const config = loadConfig({ DATA_DIR: tempDir(), AWS_SECRET_ACCESS_KEY: 'not-ours', PORT: '8081' });
    expect(config).not.toHaveProperty('AWS_SECRET_ACCESS_KEY');
    expect(JSON.stringify(describeConfig(config))).not.toContain('not-ours');
    expect(config.PORT).toBe(8081);
  });
});

describe('audit chain and database role settings', () => {
  it('keeps AUDIT_HMAC_KEYS optional, validates and masks it, and takes an owner URL for migrations', () => {
    const key = Buffer.alloc(32, 7).toString('base64');
    const config = loadConfig({
      DATA_DIR: tempDir(),
      AUDIT_HMAC_KEYS: `a1:${key}`,
      MIGRATION_DATABASE_URL: 'postgres://owner:hunter2@db:5432/fuli',
    });
    expect(config.AUDIT_HMAC_KEYS).toBe(`a1:${key}`);
    expect(config.AUDIT_CHECKPOINT_INTERVAL_SECONDS).toBe(300);
    const shown = JSON.stringify(describeConfig(config));
    expect(shown).not.toContain(key);
    expect(shown).not.toContain('hunter2');
    expect(loadConfig({ DATA_DIR: tempDir() }).AUDIT_HMAC_KEYS).toBeUndefined();
    expect(() => loadConfig({ DATA_DIR: tempDir(), AUDIT_HMAC_KEYS: 'a1:short' })).toThrow(/AUDIT_HMAC_KEYS/);
    expect(() => loadConfig({ DATA_DIR: tempDir(), MIGRATION_DATABASE_URL: 'mysql://x' })).toThrow(
      /MIGRATION_DATABASE_URL must be a postgres/,
    );
  });
});

describe('describeConfig', () => {
  it('masks secrets and URL passwords', () => {
    const config = loadConfig({ DATA_DIR: tempDir(), DATABASE_URL: 'postgres://fuli:s3cret@db:5432/fuli' });
    const shown = JSON.stringify(describeConfig(config));
    expect(shown).not.toContain(config.ADMIN_CLIENT_SECRET);
    expect(shown).not.toContain(config.CODE_PEPPER);
    expect(shown).not.toContain('BEGIN PRIVATE KEY');
    expect(shown).not.toContain('s3cret');
    expect(shown).toContain('postgres://fuli:********@db:5432/fuli');
  });
});
