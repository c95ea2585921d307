import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { TEST_AUDIT_HMAC_KEYS } from './support/app';
import { createScratchDatabase, type ScratchDatabase } from './support/scratch-database';
import { startSourceProcess, type WorkerProcess } from './support/worker-process';

const README = readFileSync(resolve(__dirname, '..', 'README.md'), 'utf8');
/** The first line of a shell block the test does not run, followed by the reason. */
const NOT_RUN = '# Not run by the README test (test/readme.e2e-spec.ts): ';

interface ShellBlock {
  section: string;
  line: number;
  code: string;
}

/** Every ```bash block of the README, with the `##` section it is in. */
function shellBlocks(markdown: string): ShellBlock[] {
  const blocks: ShellBlock[] = [];
  let section = '';
  let open: ShellBlock | null = null;
  let fenced = false;
  markdown.split('\n').forEach((text, index) => {
    if (text.startsWith('```')) {
      if (!fenced && /^```(bash|sh|shell)\s*$/.test(text)) open = { section, line: index + 1, code: '' };
      else if (fenced && open) {
        blocks.push(open);
        open = null;
      }
      fenced = !fenced;
    } else if (open) open.code += `${text}\n`;
    else if (!fenced && text.startsWith('## ')) section = text.slice(3);
  });
  return blocks;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as { port: number };
  await new Promise((done) => server.close(done));
  return port;
}

/**
 * The README's shell snippets, run as a reader runs them: against a fresh `npm start`-style server (development, demo
 * seeded, its own database), from a directory whose `.data` is the server's, with PORT set as `npm start` was, one
 * shell session for all of them in order (a later section continues an earlier one). A block the test does not run
 * says so in its first line; none is skipped silently.
 */
/** Whether `tool` is on the PATH. */
function onPath(tool: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;
}

/**
 * The tools beyond Node, bash and curl that some walk-throughs use (the export one: jq, and gpg to make a key and
 * decrypt). .ci/run installs them; on a machine without them (outside CI, where they are required) the blocks using
 * one are left out with a warning, with the rest of their section, which continues them.
 */
const OPTIONAL_TOOLS = ['jq', 'gpg'];
/** Sections whose blocks go on from another section's results (the redemption one binds a card of the export's file). */
const CONTINUES: Record<string, string> = {
  'Redemption and the card lifecycle': 'Issuance: from a paid order to cards',
};

function runnable(blocks: ShellBlock[]): ShellBlock[] {
  const missing = OPTIONAL_TOOLS.filter((tool) => !onPath(tool));
  if (missing.length > 0 && process.env.CI === 'true') {
    throw new Error(`the README test needs ${missing.join(', ')} (.ci/run installs them)`);
  }
  const leftOut = new Set<string>();
  return blocks.filter((block) => {
    const needs = missing.filter((tool) => new RegExp(`(^|[\\s|$(])${tool} `, 'm').test(block.code));
    const continued = CONTINUES[block.section];
    if (continued && leftOut.has(continued) && !leftOut.has(block.section)) {
      leftOut.add(block.section);
      console.warn(`README test: the blocks of "${block.section}" are left out: they go on from "${continued}"`);
    }
    if (needs.length > 0 && !leftOut.has(block.section)) {
      leftOut.add(block.section);
      console.warn(
        `README test: the blocks of "${block.section}" from line ${block.line} are left out: no ${needs.join(', ')}`,
      );
    }
    return !leftOut.has(block.section);
  });
}

describe('README shell snippets', () => {
  const blocks = shellBlocks(README);
  const marked = blocks.filter((block) => !block.code.startsWith(NOT_RUN));
  const run = runnable(marked);
  const operator = { id: 'cli_readmeoperator', secret: 'readme-operator-secret-0123456789' };
  let database: ScratchDatabase;
  let server: WorkerProcess;
  let home: string;
  let port: number;
  let banner = '';

  beforeAll(async () => {
    database = await createScratchDatabase('readme');
    home = mkdtempSync(join(tmpdir(), 'fuli-readme-'));
    mkdirSync(join(home, '.data'));
    port = await freePort();
    server = startSourceProcess(
      'main.ts',
      ['--development'],
      {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        DATA_DIR: join(home, '.data'),
        DATABASE_URL: database.url,
        HOST: '127.0.0.1',
        PORT: String(port),
        METRICS_PORT: '0',
        LOG_LEVEL: 'warn',
        AUDIT_HMAC_KEYS: TEST_AUDIT_HMAC_KEYS,
        ADMIN_CLIENT_ID: operator.id,
        ADMIN_CLIENT_SECRET: operator.secret,
      },
      'pipe',
    );
    server.child.stdout?.on('data', (chunk: Buffer) => (banner += chunk.toString()));
    server.child.stderr?.on('data', (chunk: Buffer) => (banner += chunk.toString()));
    const deadline = Date.now() + 80_000;
    while (!banner.includes('All of these:')) {
      if (server.child.exitCode !== null || Date.now() > deadline) throw new Error(`no server:\n${banner}`);
      await new Promise((done) => setTimeout(done, 100));
    }
  }, 90_000);
  afterAll(async () => {
    await server?.stop();
    await database?.drop();
  });

  it('finds the README’s shell blocks, each run here or marked with the reason it is not', () => {
    expect(blocks.length).toBeGreaterThanOrEqual(17);
    for (const block of blocks.filter((candidate) => candidate.code.startsWith(NOT_RUN))) {
      expect(block.code.split('\n')[0].slice(NOT_RUN.length)).toMatch(/^it .{10,}\.$/);
    }
    expect(marked.map((block) => block.section)).toEqual([
      'A first call',
      'Buying cards: the HR walk-through',
      ...Array<string>(7).fill('Issuance: from a paid order to cards'),
      'Distributing cards to employees',
      'Distribution: sending, statuses and control',
      'Invoices: the finance walk-through',
      'Finance: statements and redemption summary',
      'Finance: operator reports',
      'Reconciling against your ERP',
      ...Array<string>(3).fill('Redemption and the card lifecycle'),
    ]);
  });

  it('names the operator client the environment set, in the banner', () => {
    expect(banner).toContain(`Operator client:     client_id=${operator.id} (secret: the ADMIN_CLIENT_SECRET you set)`);
    expect(banner).toContain(`Fuli is running at http://localhost:${port}`);
  });

  it('runs every unmarked block, in order, in one shell, without an error', async () => {
    const script = ['set -eo pipefail', ...run.map((block) => `# README line ${block.line}\n${block.code}`)].join('\n');
    const outcome = await new Promise<{ code: number | null; stdout: string; stderr: string }>((done) => {
      const shell = spawn('bash', ['-c', script], {
        cwd: home,
        // The reader's shell: the PORT and operator credentials npm start was given, nothing of the test's own.
        env: {
          PATH: process.env.PATH,
          HOME: home,
          PORT: String(port),
          ADMIN_CLIENT_ID: operator.id,
          ADMIN_CLIENT_SECRET: operator.secret,
        },
      });
      let stdout = '';
      let stderr = '';
      shell.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      shell.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      shell.once('exit', (code) => done({ code, stdout, stderr }));
    });
    expect({ code: outcome.code, stderr: outcome.code === 0 ? '' : outcome.stderr }).toEqual({ code: 0, stderr: '' });
    // What the walk-throughs say each call answers.
    expect(outcome.stdout).toContain('"token_type":"Bearer"');
    expect(outcome.stdout).toContain('"code":"insufficient_scope"');
    expect(outcome.stdout).toContain('"object":"payment"');
    expect(outcome.stdout).toMatch(/"object":"order","id":"ord_[^"]+",[^{}]*"status":"pending_payment"/);
    expect(outcome.stdout).toMatch(/"object":"order","id":"ord_[^"]+",[^{}]*"status":"paid"/);
    expect(outcome.stdout).toContain('"object":"balance"');
    expect(outcome.stdout).toContain('"object":"invoice"');
    expect(outcome.stdout).toContain('"kind":"red"');
    if (run.length === marked.length) {
      // The export walk-through: a key confirmed, a file decrypted by gpg whose SHA-256 is the manifest's.
      expect(outcome.stdout).toMatch(/"object":"export_key","id":"xpk_[^"]+",[^{}]*"status":"confirmed"/);
      expect(outcome.stdout).toContain('cards.csv: OK');
      // The distribution walk-through: three recipients, one by link; the scheduled one cancelled.
      expect(outcome.stdout).toMatch(/"object":"distribution","id":"dst_[^"]+",[^{}]*"recipient_count":3/);
      expect(outcome.stdout).toContain('"status":"cancelled","revoked":2');
      // The redemption walk-through: an exported card bound, spent by serial-less debit, then by payment code.
      expect(outcome.stdout).toMatch(/"kind":"bind","reference":"bind-7781"/);
      expect(outcome.stdout).toMatch(/"reference":"order-2024-0042"[^\n]*"balance_after":7401/);
      expect(outcome.stdout).toMatch(/"object":"payment_code","serial":"\d+"/);
      expect(outcome.stdout).toMatch(/"reference":"pos-0042-20261206-0017"[^\n]*"balance_after":6401/);
      expect(outcome.stdout).toMatch(/"rule":"debits_per_card_minute"[^\n]*"threshold":10/);
      // The code itself is never printed by the walk-through (jq keeps it in the file).
      expect(outcome.stdout).not.toMatch(/"code":"68\d{16}"/);
    }
  }, 120_000);
});
