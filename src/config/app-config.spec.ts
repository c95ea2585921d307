import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultNodeEnv, describeConfig, loadConfig, parseTrustProxy } from './app-config';

const tempDir = () => mkdtempSync(join(tmpdir(), 'fuli-config-'));
/** A development environment in a fresh DATA_DIR, as `npm start` runs. */
const dev = (env: Record<string, string> = {}) => loadConfig({ NODE_ENV: 'development', DATA_DIR: tempDir(), ...env });

describe('loadConfig', () => {
  it('generates development keys once and keeps them under DATA_DIR', () => {
    const dir = tempDir();
    const first = loadConfig({ NODE_ENV: 'development', DATA_DIR: dir });
    const second = loadConfig({ NODE_ENV: 'development', DATA_DIR: dir });
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

  it('takes an unset NODE_ENV as production: no generated keys, no demo', () => {
    expect(() => loadConfig({ DATA_DIR: tempDir() })).toThrow(/CODE_PEPPER is missing/);
    const config = loadConfig({ DATA_DIR: tempDir() }, { defaultNodeEnv: 'development' });
    expect(config.NODE_ENV).toBe('development');
    expect(config.seedDemo).toBe(true);
    // What the environment says wins over the process's default.
    expect(() =>
      loadConfig({ NODE_ENV: 'production', DATA_DIR: tempDir() }, { defaultNodeEnv: 'development' }),
    ).toThrow(/CODE_PEPPER is missing/);
  });

  it('defaults to development only for a process started with --development (npm start)', () => {
    expect(defaultNodeEnv(['node', 'dist/src/main.js', '--development'])).toBe('development');
    expect(defaultNodeEnv(['node', 'dist/src/main.js', '--api-only'])).toBe('production');
    expect(defaultNodeEnv(['node', 'dist/src/worker.js'])).toBe('production');
  });

  it('trusts the proxies TRUST_PROXY lists, no one when unset, and refuses true or a hop count', () => {
    expect(dev().trustProxy).toBe(false);
    expect(dev({ TRUST_PROXY: '10.0.0.0/8, 192.0.2.7,loopback' }).trustProxy).toEqual([
      '10.0.0.0/8',
      '192.0.2.7',
      'loopback',
    ]);
    expect(dev({ TRUST_PROXY: 'fd00::/8' }).trustProxy).toEqual(['fd00::/8']);
    for (const value of ['true', '1', '2', '10.0.0.0/33', 'proxy.internal', '10.0.0.1,']) {
      expect(parseTrustProxy(value)).toBeNull();
      expect(() => dev({ TRUST_PROXY: value })).toThrow(
        /TRUST_PROXY is invalid: TRUST_PROXY must list the trusted proxies/,
      );
    }
  });

  it('names an invalid variable', () => {
    expect(() => dev({ PORT: 'eighty' })).toThrow(/PORT is invalid/);
    expect(() => dev({ DATABASE_URL: 'mysql://x' })).toThrow(/DATABASE_URL must be a postgres/);
    expect(() => dev({ QUEUE_BACKEND: 'redis' })).toThrow(/QUEUE_BACKEND=redis needs REDIS_URL/);
  });

  it('picks the queue backend from REDIS_URL unless told', () => {
    expect(dev().QUEUE_BACKEND).toBe('postgres');
    expect(dev({ REDIS_URL: 'redis://127.0.0.1:6379' }).QUEUE_BACKEND).toBe('redis');
    expect(dev({ REDIS_URL: 'redis://127.0.0.1:6379', QUEUE_BACKEND: 'postgres' }).QUEUE_BACKEND).toBe('postgres');
  });

  it('converts numbers and applies defaults', () => {
    const config = dev({ PORT: '8080' });
    expect(config.PORT).toBe(8080);
    expect(config.ACCESS_TOKEN_TTL_SECONDS).toBe(900);
    expect(config.seedDemo).toBe(true);
  });

  it('reads only the variables it declares', () => {
    const config = dev({ AWS_SECRET_ACCESS_KEY: 'not-ours', PORT: '8081' });
    expect(config).not.toHaveProperty('AWS_SECRET_ACCESS_KEY');
    expect(JSON.stringify(describeConfig(config))).not.toContain('not-ours');
    expect(config.PORT).toBe(8081);
  });
});

describe('audit chain and database role settings', () => {
  it('requires AUDIT_HMAC_KEYS in production, generates it in development, validates and masks it, and takes an owner URL for migrations', () => {
    const key = Buffer.alloc(32, 7).toString('base64');
    const config = dev({
      AUDIT_HMAC_KEYS: `a1:${key}`,
      MIGRATION_DATABASE_URL: 'postgres://owner:hunter2@db:5432/fuli',
    });
    expect(config.AUDIT_HMAC_KEYS).toBe(`a1:${key}`);
    expect(config.AUDIT_CHECKPOINT_INTERVAL_SECONDS).toBe(300);
    const shown = JSON.stringify(describeConfig(config));
    expect(shown).not.toContain(key);
    expect(shown).not.toContain('hunter2');
    expect(dev({}).AUDIT_HMAC_KEYS).toMatch(/^a1:[A-Za-z0-9+/]{43}=$/);
    expect(() => loadConfig({ NODE_ENV: 'production', DATA_DIR: tempDir() })).toThrow(/AUDIT_HMAC_KEYS is missing/);
    expect(() => dev({ AUDIT_HMAC_KEYS: 'a1:short' })).toThrow(/AUDIT_HMAC_KEYS/);
    expect(() => dev({ MIGRATION_DATABASE_URL: 'mysql://x' })).toThrow(/MIGRATION_DATABASE_URL must be a postgres/);
  });
});

describe('describeConfig', () => {
  it('masks secrets and URL passwords', () => {
    const config = dev({ DATABASE_URL: 'postgres://fuli:s3cret@db:5432/fuli' });
    const shown = JSON.stringify(describeConfig(config));
    expect(shown).not.toContain(config.ADMIN_CLIENT_SECRET);
    expect(shown).not.toContain(config.CODE_PEPPER);
    expect(shown).not.toContain('BEGIN PRIVATE KEY');
    expect(shown).not.toContain('s3cret');
    expect(shown).toContain('postgres://fuli:********@db:5432/fuli');
  });
});

describe('distribution channel settings', () => {
  const tencent = {
    SMS_PROVIDER: 'tencent',
    TENCENT_SMS_SECRET_ID: 'AKIDexample',
    TENCENT_SMS_SECRET_KEY: 'sms-secret-key-value',
    TENCENT_SMS_SDK_APP_ID: '1400123456',
    TENCENT_SMS_SIGN_NAME: '福利卡',
    TENCENT_SMS_TEMPLATE_CLAIM: '2001',
    TENCENT_SMS_TEMPLATE_OTP: '2002',
  };

  it('defaults to .eml files and the log-only SMS sender, and validates SMTP_URL', () => {
    const config = dev();
    expect(config.SMTP_URL).toBeUndefined();
    expect(config.SMTP_POOL_SIZE).toBe(5);
    expect(config.MAIL_FROM_ADDRESS).toBe('no-reply@fuli.example');
    expect(config.SMS_PROVIDER).toBe('log');
    expect(config.SMS_QPS).toBe(20);
    expect(config.TENCENT_SMS_REGION).toBe('ap-guangzhou');
    expect(config.TENCENT_SMS_ENDPOINT).toBe('https://sms.tencentcloudapi.com');
    expect(dev({ SMTP_URL: 'smtps://u:p@smtp.example:465', SMTP_POOL_SIZE: '3' }).SMTP_POOL_SIZE).toBe(3);
    expect(() => dev({ SMTP_URL: 'http://smtp.example' })).toThrow(/SMTP_URL must be an smtp:\/\/ or smtps:\/\/ URL/);
    expect(() => dev({ MAIL_FROM_ADDRESS: 'nobody' })).toThrow(/MAIL_FROM_ADDRESS/);
    expect(() => dev({ SMS_PROVIDER: 'aliyun' })).toThrow(/SMS_PROVIDER/);
  });

  it('needs every Tencent variable when SMS_PROVIDER=tencent, naming the missing ones', () => {
    expect(dev(tencent).TENCENT_SMS_SDK_APP_ID).toBe('1400123456');
    const { TENCENT_SMS_SECRET_KEY: _key, TENCENT_SMS_TEMPLATE_OTP: _otp, ...partial } = tencent;
    expect(() => dev(partial)).toThrow('SMS_PROVIDER=tencent needs TENCENT_SMS_SECRET_KEY, TENCENT_SMS_TEMPLATE_OTP');
  });

  it('never shows the SMS secret key or the SMTP password', () => {
    const config = dev({ ...tencent, SMTP_URL: 'smtp://mailer:mail-pass-123@smtp.example:587' });
    const shown = JSON.stringify(describeConfig(config));
    expect(shown).not.toContain('sms-secret-key-value');
    expect(shown).not.toContain('mail-pass-123');
    expect(shown).toContain('smtp://mailer:********@smtp.example:587');
  });
});

describe('distribution sending settings', () => {
  it('defaults the retry schedule, reminders and batches, and never prints the receipt token', () => {
    const config = dev({ SMS_RECEIPT_TOKEN: 'receipt-token-not-for-logs' });
    expect(config.distributionRetrySchedule).toEqual([60_000, 300_000, 1_800_000, 7_200_000]);
    expect(config.DISTRIBUTION_REMINDER_DAYS_BEFORE).toBe(3);
    expect(config.DISTRIBUTION_SEND_BATCH).toBe(100);
    expect(JSON.stringify(describeConfig(config))).not.toContain('receipt-token-not-for-logs');
  });

  it('refuses a malformed retry schedule and a short receipt token', () => {
    expect(() => dev({ DISTRIBUTION_RETRY_SCHEDULE_SECONDS: '60,,300' })).toThrow(
      /DISTRIBUTION_RETRY_SCHEDULE_SECONDS/,
    );
    expect(() => dev({ SMS_RECEIPT_TOKEN: 'short' })).toThrow(/SMS_RECEIPT_TOKEN/);
  });
});

describe('S3 settings of the file store', () => {
  const s3 = {
    S3_BUCKET: 'fuli-files',
    S3_REGION: 'cn-north-1',
    S3_ACCESS_KEY_ID: 'AKIAEXAMPLE',
    S3_SECRET_ACCESS_KEY: 's3-secret-not-for-logs',
  };

  it('keeps file content in PostgreSQL when no S3 variable is set', () => {
    expect(dev().s3).toBeNull();
  });

  it('takes the four required variables, with AWS endpoint, host-style addressing and no prefix by default', () => {
    expect(dev(s3).s3).toEqual({
      bucket: 'fuli-files',
      region: 'cn-north-1',
      endpoint: null,
      forcePathStyle: false,
      accessKeyId: 'AKIAEXAMPLE',
      secretAccessKey: 's3-secret-not-for-logs',
      prefix: '',
    });
    const compatible = dev({
      ...s3,
      S3_ENDPOINT: 'https://minio.internal:9000',
      S3_FORCE_PATH_STYLE: 'true',
      S3_PREFIX: 'prod/fuli/',
    }).s3;
    expect(compatible).toMatchObject({
      endpoint: 'https://minio.internal:9000',
      forcePathStyle: true,
      prefix: 'prod/fuli/',
    });
  });

  it('is all or nothing: any S3 variable without the required ones names the missing ones', () => {
    expect(() => dev({ S3_BUCKET: 'fuli-files' })).toThrow(
      /^Invalid configuration: S3_BUCKET is set but S3_REGION, S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY are not: /,
    );
    expect(() => dev({ S3_ENDPOINT: 'http://127.0.0.1:9000' })).toThrow(
      /S3_ENDPOINT is set but S3_BUCKET, S3_REGION, S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY are not/,
    );
    const { S3_SECRET_ACCESS_KEY: _secret, ...withoutSecret } = s3;
    expect(() => dev(withoutSecret)).toThrow(/S3_SECRET_ACCESS_KEY is not: files go to S3 only with all of/);
  });

  it('validates the bucket, endpoint and prefix', () => {
    expect(() => dev({ ...s3, S3_BUCKET: 'Not_A_Bucket' })).toThrow(
      /S3_BUCKET is invalid: S3_BUCKET must be a bucket name/,
    );
    expect(() => dev({ ...s3, S3_ENDPOINT: 'minio:9000' })).toThrow(/S3_ENDPOINT must be an http\(s\) origin/);
    expect(() => dev({ ...s3, S3_PREFIX: 'fuli' })).toThrow(/S3_PREFIX must be path segments ending with a slash/);
    expect(() => dev({ ...s3, S3_PREFIX: '/fuli/' })).toThrow(/S3_PREFIX must be path segments ending with a slash/);
  });

  it('never shows the secret access key', () => {
    const shown = JSON.stringify(describeConfig(dev(s3)));
    expect(shown).toContain('fuli-files');
    expect(shown).not.toContain('s3-secret-not-for-logs');
  });
});
