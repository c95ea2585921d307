import { mkdtempSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TEST_AUDIT_HMAC_KEYS } from './support/app';
import { startTestS3, type TestS3 } from './support/s3-server';
import { startSourceProcess, type WorkerProcess } from './support/worker-process';

/** A port nothing listens on: taken from the kernel, then let go. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

interface Outcome {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** An entry point of src/ in a bare environment plus `env`, run to its exit. */
async function boot(entry: 'main.ts' | 'worker.ts', env: Record<string, string>): Promise<Outcome> {
  const started = Date.now();
  const child: WorkerProcess = startSourceProcess(
    entry,
    entry === 'main.ts' ? ['--api-only'] : [],
    { PATH: process.env.PATH, HOME: process.env.HOME, DATA_DIR: mkdtempSync(join(tmpdir(), 'fuli-boot-')), ...env },
    'pipe',
  );
  let stdout = '';
  let stderr = '';
  child.child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  // A boot that hangs is the failure this file guards against: stop it rather than wait for Jest's timeout.
  const guard = setTimeout(() => void child.kill(), 20_000);
  const { code } = await child.exited;
  clearTimeout(guard);
  return { code, stdout, stderr, ms: Date.now() - started };
}

/** Exits 1 within five seconds, having printed one line and no stack trace. */
function expectOneLineFailure(outcome: Outcome, line: RegExp): void {
  expect(outcome.code).toBe(1);
  expect(outcome.stderr.endsWith('\n')).toBe(true);
  const lines = outcome.stderr.trimEnd().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(line);
  expect(outcome.stderr).not.toMatch(/^\s+at /m);
  expect(outcome.stdout).toBe('');
  expect(outcome.ms).toBeLessThan(5_000);
}

/** A development boot (keys generated under DATA_DIR) against the given services. */
const development = (env: Record<string, string>) => ({
  NODE_ENV: 'development',
  SEED_DEMO: 'false',
  AUDIT_HMAC_KEYS: TEST_AUDIT_HMAC_KEYS,
  PORT: '0',
  METRICS_PORT: '0',
  DATABASE_URL: process.env.TEST_DATABASE_URL!,
  ...env,
});

describe('boot errors: one line naming the variable, within five seconds', () => {
  it('lists every missing production variable at once', async () => {
    const outcome = await boot('main.ts', {});
    expectOneLineFailure(outcome, /^Invalid configuration: DATABASE_URL is missing, CODE_PEPPER is missing, /);
    for (const name of [
      'DATA_ENCRYPTION_KEYS',
      'AUDIT_HMAC_KEYS',
      'JWT_SIGNING_KEY',
      'ADMIN_CLIENT_ID',
      'ADMIN_CLIENT_SECRET',
      'CLIENT_SECRET_KEY',
    ])
      expect(outcome.stderr).toContain(`${name} is missing`);
    expect(outcome.stderr).toContain('.env.example');
  });

  it('names an invalid value and what it must be', async () => {
    const outcome = await boot('main.ts', development({ PORT: 'eighty', REDIS_PREFIX: 'not a prefix' }));
    expectOneLineFailure(outcome, /^Invalid configuration: PORT is invalid: .*PORT must be an integer number/);
    expect(outcome.stderr).toContain('REDIS_PREFIX is invalid: REDIS_PREFIX must be 1-64 letters');
  });

  it('says a closed DATABASE_URL refuses connections, with the password masked', async () => {
    const url = `postgres://fuli:hunter2-secret@127.0.0.1:${await closedPort()}/fuli`;
    for (const entry of ['main.ts', 'worker.ts'] as const) {
      const outcome = await boot(entry, development({ DATABASE_URL: url }));
      expectOneLineFailure(
        outcome,
        /^DATABASE_URL postgres:\/\/fuli:\*{8}@127\.0\.0\.1:\d+\/fuli: connection refused — is PostgreSQL running\?$/,
      );
      expect(outcome.stderr).not.toContain('hunter2');
    }
  });

  it('says an unreachable REDIS_URL is unreachable instead of hanging', async () => {
    const port = await closedPort();
    for (const entry of ['main.ts', 'worker.ts'] as const) {
      const outcome = await boot(entry, development({ REDIS_URL: `redis://127.0.0.1:${port}` }));
      expectOneLineFailure(
        outcome,
        new RegExp(
          `^REDIS_URL redis://127\\.0\\.0\\.1:${port} is unreachable: .*ECONNREFUSED.* — is Redis running\\?$`,
        ),
      );
    }
  });

  describe('S3 settings', () => {
    let s3: TestS3;
    beforeAll(async () => (s3 = await startTestS3()));
    afterAll(() => s3?.close());
    /**
     * This machine runs Node 20, for which the AWS SDK warns (once, on stderr) that its releases after January 2027
     * need Node 22; the image runs Node 24. The warning is not the boot's line, so these runs turn it off.
     */
    const withS3 = (env: Record<string, string>) =>
      development({ AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', ...env });

    it('are all or nothing', async () => {
      const outcome = await boot('main.ts', withS3({ S3_BUCKET: s3.bucket, S3_ENDPOINT: s3.endpoint }));
      expectOneLineFailure(
        outcome,
        /^Invalid configuration: S3_BUCKET, S3_ENDPOINT are set but S3_REGION, S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY are not: /,
      );
    });

    it('name an S3_ENDPOINT nothing answers on', async () => {
      const endpoint = `http://127.0.0.1:${await closedPort()}`;
      for (const entry of ['main.ts', 'worker.ts'] as const) {
        const outcome = await boot(entry, withS3({ ...s3.env(), S3_ENDPOINT: endpoint }));
        expectOneLineFailure(
          outcome,
          new RegExp(
            `^S3_ENDPOINT ${endpoint} is unreachable: .*ECONNREFUSED.* — is the S3-compatible store running\\?$`,
          ),
        );
      }
    });

    it('name a bucket that does not exist, without printing the secret key', async () => {
      const outcome = await boot(
        'worker.ts',
        withS3({ ...s3.env(), S3_BUCKET: 'no-such-bucket', S3_SECRET_ACCESS_KEY: 'hunter2-s3-secret' }),
      );
      expectOneLineFailure(
        outcome,
        new RegExp(`^S3_BUCKET no-such-bucket does not exist \\(S3_ENDPOINT ${s3.endpoint}\\): create it `),
      );
      expect(outcome.stderr).not.toContain('hunter2');
    });

    it('name keys the store refuses', async () => {
      const outcome = await boot('main.ts', withS3({ ...s3.env(), S3_ACCESS_KEY_ID: 'NOT-A-KNOWN-KEY' }));
      expectOneLineFailure(
        outcome,
        /^S3_ACCESS_KEY_ID may not use S3_BUCKET fuli-test \(S3_ENDPOINT http:\/\/127\.0\.0\.1:\d+ answered 403\): check /,
      );
    });
  });

  describe('a port in use', () => {
    let holder: Server;
    let port: number;
    beforeAll(async () => {
      holder = createServer();
      await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
      port = (holder.address() as { port: number }).port;
    });
    afterAll(() => new Promise((resolve) => holder.close(resolve)));

    it('is named before anything else starts (even before an unreachable database is tried)', async () => {
      const database = `postgres://postgres@127.0.0.1:${await closedPort()}/postgres`;
      const outcome = await boot(
        'main.ts',
        development({ HOST: '127.0.0.1', PORT: String(port), DATABASE_URL: database }),
      );
      expectOneLineFailure(outcome, new RegExp(`^PORT ${port} is in use \\(on 127\\.0\\.0\\.1\\): `));
    });

    it('covers the metrics port too', async () => {
      const outcome = await boot('main.ts', development({ METRICS_HOST: '127.0.0.1', METRICS_PORT: String(port) }));
      expectOneLineFailure(outcome, new RegExp(`^METRICS_PORT ${port} is in use`));
    });
  });
});
