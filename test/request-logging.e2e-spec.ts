import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TEST_AUDIT_HMAC_KEYS } from './support/app';
import { startSourceProcess, type WorkerProcess } from './support/worker-process';

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** The real API process (src/main.ts), its JSON log lines read from its stdout, as an operator's collector reads them. */
describe('request id on every log line of a request', () => {
  let child: WorkerProcess;
  let url: string;
  let output = '';
  const lines = () =>
    output
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);

  beforeAll(async () => {
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    child = startSourceProcess(
      'main.ts',
      ['--api-only'],
      {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        NODE_ENV: 'development',
        SEED_DEMO: 'false',
        DATA_DIR: mkdtempSync(join(tmpdir(), 'fuli-request-log-')),
        DATABASE_URL: process.env.TEST_DATABASE_URL,
        AUDIT_HMAC_KEYS: TEST_AUDIT_HMAC_KEYS,
        HOST: '127.0.0.1',
        PORT: String(port),
        METRICS_PORT: '0',
        LOG_LEVEL: 'info',
        // The first failed token request of a client id writes a warning from inside the request.
        TOKEN_FAILURE_LIMIT: '1',
      },
      'pipe',
    );
    child.child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const deadline = Date.now() + 50_000;
    while (!output.includes('Fuli API listening')) {
      if (child.child.exitCode !== null || Date.now() > deadline) throw new Error(`the API did not start:\n${output}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }, 60_000);
  afterAll(async () => {
    await child?.stop();
  });

  it('joins a line written deep inside a request (after its body was read and the database answered) to the access line', async () => {
    const failed = await fetch(`${url}/v1/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': 'log-join-test-1' },
      body: JSON.stringify({
        grant_type: 'client_credentials',
        client_id: 'cli_nosuchclient01',
        client_secret: 'wrong-secret-0123456789abcdef',
      }),
    });
    expect(failed.status).toBe(401);
    const other = await fetch(`${url}/health/live`, { headers: { 'x-request-id': 'log-join-test-2' } });
    expect(other.status).toBe(200);

    await new Promise((resolve) => setTimeout(resolve, 300));
    const warning = lines().find((line) => line.msg === 'token requests locked out after repeated failures');
    expect(warning).toMatchObject({ reqId: 'log-join-test-1', context: 'TokenFailures', level: 'warn' });
    const ofRequest = lines().filter((line) => line.reqId === 'log-join-test-1');
    expect(ofRequest.map((line) => line.msg)).toEqual(['token requests locked out after repeated failures', 'request']);
    expect(
      lines()
        .filter((line) => line.reqId === 'log-join-test-2')
        .map((line) => line.msg),
    ).toEqual(['request']);
    // Lines written outside any request carry no request id.
    const listening = lines().find((line) => line.msg === 'Fuli API listening');
    expect(listening).toBeDefined();
    expect(listening).not.toHaveProperty('reqId');
  });
});
