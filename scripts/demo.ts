// `npm run demo`: the whole story against a running Fuli (FULI, else http://localhost:$PORT, default 3000), or
// against one it starts with `npm start` when none answers. README, "Demo".
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { MultiBar, Presets } from 'cli-progress';
import { runDemo, type DemoOptions, type DemoReporter, type DemoSummary } from './demo/story';

const env = process.env;
const baseUrl = (env.FULI ?? `http://localhost:${env.PORT ?? '3000'}`).replace(/\/+$/, '');
const dataDir = resolve(env.DATA_DIR ?? '.data');

function positive(name: string, fallback: number): number {
  const value = env[name] === undefined ? fallback : Number(env[name]);
  if (!Number.isInteger(value) || value < 1 || value > 1_000_000) {
    throw new Error(`${name} must be a whole number from 1 to 1,000,000 (got ${env[name]})`);
  }
  return value;
}

async function answers(path: string): Promise<boolean> {
  try {
    return (await fetch(`${baseUrl}${path}`, { signal: AbortSignal.timeout(2_000) })).ok;
  } catch {
    return false;
  }
}

/** `npm start` in its own process group (so that stopping it stops the server it runs), logging to a file. */
async function startServer(): Promise<ChildProcess> {
  const log = join(dataDir, 'demo-server.log');
  process.stdout.write(`No Fuli answers at ${baseUrl}: starting one with \`npm start\` (log: ${log})\n`);
  mkdirSync(dataDir, { recursive: true });
  const out = openSync(log, 'a');
  const logged = statSync(log).size;
  const child = spawn('npm', ['start'], { stdio: ['ignore', out, out], detached: true });
  const deadline = Date.now() + 180_000;
  // Ready, and the demo tenant seeded: its banner comes after the seed, which follows the listener.
  const seeded = () => readFileSync(log).subarray(logged).includes('Fuli is running at');
  while (!(await answers('/health/ready')) || !seeded()) {
    if (child.exitCode !== null) throw new Error(`npm start exited with ${child.exitCode}; see ${log}`);
    if (Date.now() > deadline) throw new Error(`Fuli did not become ready within 180 s; see ${log}`);
    await new Promise((done) => setTimeout(done, 1_000));
  }
  return child;
}

function readJson<T>(file: string, what: string): T {
  if (!existsSync(file)) throw new Error(`${file} is missing: ${what}`);
  return JSON.parse(readFileSync(file, 'utf8')) as T;
}

function credentials(): Pick<DemoOptions, 'demo' | 'operator'> {
  const demo = readJson<DemoOptions['demo']>(
    join(dataDir, 'demo-credentials.json'),
    '`npm start` writes it when it seeds the demo tenant (SEED_DEMO); set DATA_DIR to the server’s',
  );
  const secret =
    env.ADMIN_CLIENT_SECRET ??
    readJson<{ ADMIN_CLIENT_SECRET: string }>(join(dataDir, 'secrets.json'), 'or set ADMIN_CLIENT_SECRET')
      .ADMIN_CLIENT_SECRET;
  return { demo, operator: { client_id: env.ADMIN_CLIENT_ID ?? 'cli_operator', client_secret: secret } };
}

/** Progress bars on a terminal; piped into a file or CI log, one line per finished bar instead. */
function terminalReporter(): DemoReporter & { stop(): void } {
  if (!process.stdout.isTTY) {
    return {
      step: (line) => process.stdout.write(`✓ ${line}\n`),
      progress(label, total) {
        let last = 0;
        return {
          update: (value) => (last = value),
          stop: () =>
            process.stdout.write(`  ${label}: ${last.toLocaleString('en-US')}/${total.toLocaleString('en-US')}\n`),
        };
      },
      stop: () => undefined,
    };
  }
  const bars = new MultiBar(
    { format: ' {bar} {percentage}% | {value}/{total} {label} | {duration_formatted}', hideCursor: true },
    Presets.shades_classic,
  );
  return {
    step: (line) => bars.log(`✓ ${line}\n`),
    progress(label, total) {
      const bar = bars.create(total, 0, { label });
      return { update: (value) => bar.update(Math.min(value, total)), stop: () => bar.stop() };
    },
    stop: () => bars.stop(),
  };
}

function printSummary(summary: DemoSummary): void {
  const lines = [
    '',
    'The story, end to end:',
    `  Order          ${summary.order_id} (${summary.order_status}${summary.approval_required ? ', approved by finance' : ''})`,
    `  Cards minted   ${summary.cards_minted.toLocaleString('en-US')} in ${summary.minting_seconds} s`,
    `  Export         ${summary.export.id}: ${summary.export.rows} rows, SHA-256 ${summary.export.sha256_verified ? 'verified' : 'MISMATCH'}`,
    `  Redemptions    ${summary.redemptions.cards} cards bound and spent (${(summary.redemptions.spent / 100).toFixed(2)} CNY)`,
    `  Distribution   ${summary.distribution.id}: ${summary.distribution.recipients} employees, ${JSON.stringify(summary.distribution.counts)}`,
    `  Webhooks       ${summary.webhooks.verified} events verified (${summary.webhooks.deliveries} deliveries, ${summary.webhooks.rejected} rejected)`,
    ...Object.entries(summary.webhooks.by_type)
      .sort()
      .map(([type, count]) => `                   ${type} × ${count}`),
    '',
    `  The order:     ${summary.links.order}`,
    `  Its batches:   ${summary.links.batches}`,
    `  API docs:      ${summary.links.docs}`,
    `  Metrics:       ${summary.links.metrics}`,
    `  Queues:        ${summary.links.queues} (operator client id and secret)`,
    '',
  ];
  process.stdout.write(lines.join('\n'));
}

async function main(): Promise<void> {
  const cards = positive('DEMO_CARDS', 10_000);
  const server = (await answers('/health/live')) ? null : await startServer();
  const reporter = terminalReporter();
  try {
    const summary = await runDemo(
      {
        baseUrl,
        metricsUrl: `http://${env.METRICS_HOST ?? '127.0.0.1'}:${env.METRICS_PORT ?? '9464'}`,
        ...credentials(),
        cards,
        redemptions: Math.min(cards, positive('DEMO_REDEMPTIONS', 100)),
        employees: Math.min(cards, positive('DEMO_EMPLOYEES', 100)),
      },
      reporter,
    );
    reporter.stop();
    printSummary(summary);
  } finally {
    reporter.stop();
    if (server?.pid) process.kill(-server.pid, 'SIGTERM');
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`demo failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
