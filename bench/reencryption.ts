/**
 * `npm run bench:reencryption`: the data-key rotation job on N cards (BENCH_N, default 100,000), moving them from
 * the old envelope format to the new one.
 *
 * N cards are sealed under `k1` in the v1 format (AES-256-GCM, as the issuance worker sealed them before envelope
 * format v2) and COPYed into `cards`; that COPY of the pre-generated rows is timed as the reference (raw COPY of the
 * same rows: no target, the ratio is quoted). Then the real worker (prepareRuntime + createWorkerApp, keys `k2,k1`)
 * runs a re-encryption started through DataKeysService, timed from the start request to the run's `completed`,
 * once per batch size in BENCH_BATCHES (default "1000,5000,10000"; the cards are sealed as v1 under k1 again before
 * each): every envelope moves to v2 (XChaCha20-Poly1305) under k2. Then it times a second run (nothing left to
 * move) and, for reference, the crypto alone (open v1 + seal v2 of N envelopes in one thread, no database).
 *
 * Each line gives the wall time and, besides, the CPU time of this process (the worker) and, on the embedded
 * Postgres, of the database: on a busy machine the CPU times say more than the wall time.
 *
 * Checks: every envelope is under k2 afterwards, the run counted exactly N re-encrypted and nothing else, and a
 * sample of 1,000 cards opens under k2 alone to the codes and PINs they were sealed with; exit 1 otherwise.
 *
 * Environment: BENCH_N, BENCH_BATCHES, DATABASE_URL (a scratch database is created on that server and dropped
 * afterwards; default: an embedded Postgres in a temporary directory, removed afterwards).
 */
import { randomBytes, randomInt } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { closeRuntime, createWorkerApp, prepareRuntime } from '../src/bootstrap';
import { RequestContext } from '../src/common/context/request-context';
import { DataCipher } from '../src/common/crypto/data-cipher.service';
import { AppConfig, loadConfig } from '../src/config/app-config';
import { DataKeysService } from '../src/data-keys/data-keys.service';
import { ReencryptionDto } from '../src/data-keys/dto/reencryption.dto';
import { generateCodes, generatePins, serialFromSequence } from '../src/cards/card-code';
import { CardSecrets } from '../src/cards/card-secrets';
import { sealV1 } from '../test/support/v1-envelope';
import { positiveInt, postgresCpuMicros } from './support/harness';

const N = positiveInt('BENCH_N', 100_000);
const BATCHES = (process.env.BENCH_BATCHES ?? '1000,5000,10000').split(',').map((size) => {
  const value = Number(size);
  if (!Number.isInteger(value) || value < 100 || value > 10_000) {
    throw new Error(`BENCH_BATCHES: '${size}' is not a batch size of 100 to 10,000`);
  }
  return value;
});
/** Rows per COPY text block while seeding. */
const BLOCK = 10_000;
const SAMPLE = 1_000;

interface SeededCards {
  serials: string[];
  codes: string[];
  pins: string[];
}

/**
 * N cards sealed under k1 in the v1 format, written with COPY as the issuance worker wrote them before v2. The
 * rows are generated first; the COPY alone is timed (`copyS`).
 */
async function seed(
  url: string,
  pepper: string,
  k1: string,
  cards: SeededCards | null,
): Promise<SeededCards & { copyS: number }> {
  const config = Object.assign(new AppConfig(), { CODE_PEPPER: pepper, DATA_ENCRYPTION_KEYS: k1 });
  const secrets = new CardSecrets(config, new DataCipher(config));
  const [k1Id, k1Key] = k1.split(':');
  const serials = cards?.serials ?? Array.from({ length: N }, (_, i) => serialFromSequence(30_000_000_000 + i));
  const codes = cards?.codes ?? generateCodes(N);
  const pins = cards?.pins ?? generatePins(N);
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query('TRUNCATE cards');
    const expires = new Date(Date.now() + 3 * 365 * 86_400_000).toISOString();
    // Indexed under the current pepper, as issuance does: the run re-seals these envelopes and re-indexes nothing.
    const fixed = `\tord_bench\tbat_bench\tent_bench\tanonymous\tprd_bench\t10000\t10000\tissued\t${expires}\t${secrets.blindIndexKeyId}\t`;
    const blocks: string[] = [];
    for (let start = 0; start < N; start += BLOCK) {
      const lines: string[] = [];
      for (let i = start; i < Math.min(N, start + BLOCK); i++) {
        const hash = secrets.blindIndex(codes[i]).toString('hex');
        const envelope = sealV1(k1Id, k1Key, `${codes[i]}|${pins[i]}`, `cards.code:${serials[i]}`);
        lines.push(`${serials[i]}${fixed}\\\\x${hash}\t${envelope}\n`);
      }
      blocks.push(lines.join(''));
    }
    await client.query('CHECKPOINT');
    const copyStarted = process.hrtime.bigint();
    await pipeline(
      Readable.from(blocks),
      client.query(
        copyFrom(
          'COPY cards (serial, order_id, batch_id, enterprise_id, card_type, product_id, face_value, balance, status, expires_at, code_key_id, code_hash, secret_ciphertext) FROM STDIN',
        ),
      ),
    );
    const copyS = Number(process.hrtime.bigint() - copyStarted) / 1e9;
    await client.query('VACUUM ANALYZE cards');
    return { serials, codes, pins, copyS };
  } finally {
    await client.end();
  }
}

async function keyCounts(url: string): Promise<Record<string, number>> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ key_id: string; rows: number }>(
      "SELECT split_part(secret_ciphertext, '.', 1) || '.' || split_part(secret_ciphertext, '.', 2) AS key_id, count(*)::int AS rows FROM cards GROUP BY 1",
    );
    return Object.fromEntries(rows.map((row) => [row.key_id, row.rows]));
  } finally {
    await client.end();
  }
}

async function main(): Promise<number> {
  const dataDir = mkdtempSync(join(tmpdir(), 'fuli-bench-rekey-'));
  chmodSync(dataDir, 0o755);
  const pepper = randomBytes(32).toString('base64');
  const k1 = `k1:${randomBytes(32).toString('base64')}`;
  const k2 = `k2:${randomBytes(32).toString('base64')}`;
  let scratch: { admin: pg.Client; name: string } | undefined;
  let databaseUrl = '';
  if (process.env.DATABASE_URL) {
    const admin = new pg.Client({ connectionString: process.env.DATABASE_URL });
    await admin.connect();
    const name = `fuli_bench_rekey_${process.pid}`;
    await admin.query(`CREATE DATABASE "${name}"`);
    scratch = { admin, name };
    const url = new URL(process.env.DATABASE_URL);
    url.pathname = `/${name}`;
    databaseUrl = url.toString();
  }
  const config = loadConfig({
    NODE_ENV: 'development',
    DATA_DIR: dataDir,
    DATABASE_URL: databaseUrl,
    // Not the default port: other embedded Postgres instances may be running on this machine.
    EMBEDDED_POSTGRES_PORT: String(randomInt(20_000, 60_000)),
    QUEUE_BACKEND: 'postgres',
    CODE_PEPPER: pepper,
    DATA_ENCRYPTION_KEYS: `${k2},${k1}`,
    LOG_LEVEL: 'warn',
    SEED_DEMO: 'false',
  });
  const runtime = await prepareRuntime(config);
  const url = runtime.database.url;
  const app = await createWorkerApp(runtime);
  const problems: string[] = [];
  const lines: string[] = [];
  try {
    const service = app.get(DataKeysService);
    const pgDir = process.env.DATABASE_URL ? undefined : join(dataDir, 'postgres');
    const runOnce = async (batchSize: number) => {
      const started = process.hrtime.bigint();
      const cpuBefore = process.cpuUsage();
      const pgBefore = pgDir ? postgresCpuMicros(pgDir) : undefined;
      const { id } = await service.start(RequestContext.system(), { batch_size: batchSize });
      for (;;) {
        const current = await service.get(RequestContext.system(), id);
        if (current.status === 'completed' || current.status === 'failed') {
          const cpu = process.cpuUsage(cpuBefore);
          const pgAfter = pgDir ? postgresCpuMicros(pgDir) : undefined;
          return {
            run: current,
            seconds: Number(process.hrtime.bigint() - started) / 1e9,
            nodeCpuS: (cpu.user + cpu.system) / 1e6,
            postgresCpuS: pgBefore !== undefined && pgAfter !== undefined ? (pgAfter - pgBefore) / 1e6 : undefined,
          };
        }
        await sleep(20);
      }
    };

    let cards: SeededCards | null = null;
    for (const batchSize of BATCHES) {
      const seeded = await seed(url, pepper, k1, cards);
      cards = seeded;
      const { run, seconds, nodeCpuS, postgresCpuS } = await runOnce(batchSize);
      const counts = await keyCounts(url);
      check(run, counts, problems, `batch ${batchSize}`);
      const pgCpu = postgresCpuS === undefined ? 'n/a (DATABASE_URL)' : `${postgresCpuS.toFixed(1)} s`;
      lines.push(
        `  batch ${String(batchSize).padStart(6)}: ${seconds.toFixed(2)} s, ${Math.round(N / seconds).toLocaleString('en')} cards/s` +
          ` (CPU: Node ${nodeCpuS.toFixed(1)} s, Postgres ${pgCpu});` +
          ` raw COPY of the same rows ${seeded.copyS.toFixed(2)} s: ${(seconds / seeded.copyS).toFixed(2)}× COPY`,
      );
    }

    const second = await runOnce(BATCHES[BATCHES.length - 1]);
    if (second.run.rows_reencrypted !== 0) problems.push(`second run re-encrypted ${second.run.rows_reencrypted}`);
    lines.push(`  second run (nothing left to move): ${second.seconds.toFixed(2)} s`);

    // The sample opens under k2 alone, to what was sealed.
    const k2Config = Object.assign(new AppConfig(), { CODE_PEPPER: pepper, DATA_ENCRYPTION_KEYS: k2 });
    const k2Secrets = new CardSecrets(k2Config, new DataCipher(k2Config));
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    const picks = Array.from({ length: Math.min(SAMPLE, N) }, () => randomInt(N));
    const { rows } = await client.query<{ serial: string; envelope: string }>(
      'SELECT serial::text AS serial, secret_ciphertext AS envelope FROM cards WHERE serial = ANY($1::bigint[])',
      [picks.map((i) => cards!.serials[i])],
    );
    await client.end();
    const index = new Map(cards!.serials.map((serial, i) => [serial, i]));
    for (const row of rows) {
      const i = index.get(row.serial)!;
      const opened = k2Secrets.open(row.serial, row.envelope);
      if (opened.code !== cards!.codes[i] || opened.pin !== cards!.pins[i]) problems.push(`card ${row.serial} changed`);
    }

    // The crypto alone: what one thread spends to open a v1 envelope and seal it as v2, N times.
    const both = new CardSecrets(
      Object.assign(new AppConfig(), { CODE_PEPPER: pepper, DATA_ENCRYPTION_KEYS: `${k2},${k1}` }),
      new DataCipher(Object.assign(new AppConfig(), { DATA_ENCRYPTION_KEYS: `${k2},${k1}` })),
    );
    const [k1Id, k1Key] = k1.split(':');
    const sealed = cards!.serials
      .slice(0, Math.min(N, 100_000))
      .map((serial, i) => sealV1(k1Id, k1Key, `${cards!.codes[i]}|${cards!.pins[i]}`, `cards.code:${serial}`));
    const cryptoStart = process.hrtime.bigint();
    sealed.forEach((envelope, i) => both.reseal(cards!.serials[i], envelope));
    const cryptoS = (Number(process.hrtime.bigint() - cryptoStart) / 1e9) * (N / sealed.length);
    lines.push(`  crypto alone (open + seal, one thread): ${cryptoS.toFixed(2)} s`);
  } finally {
    await app.close();
    await closeRuntime(runtime);
    if (scratch) {
      // The queue's connections finish closing in the background; dropping under them only makes noise.
      await sleep(1_000);
      await scratch.admin.query(`DROP DATABASE IF EXISTS "${scratch.name}" WITH (FORCE)`);
      await scratch.admin.end();
    }
    rmSync(dataDir, { recursive: true, force: true });
  }
  console.log(
    `bench:reencryption: ${N.toLocaleString('en')} cards, ${process.env.DATABASE_URL ? 'DATABASE_URL' : 'embedded Postgres'}`,
  );
  for (const line of lines) console.log(line);
  console.log(`  peak RSS of this process (seeding included): ${Math.round(process.resourceUsage().maxRSS / 1024)} MB`);
  for (const problem of problems) console.error(`  FAILED: ${problem}`);
  return problems.length === 0 ? 0 : 1;
}

function check(run: ReencryptionDto, counts: Record<string, number>, problems: string[], label: string): void {
  if (run.status !== 'completed') problems.push(`${label}: run ${run.status} (${run.failure_reason})`);
  if (run.rows_reencrypted !== N) problems.push(`${label}: re-encrypted ${run.rows_reencrypted}, expected ${N}`);
  if (run.rows_unreadable + run.rows_changed_concurrently !== 0) problems.push(`${label}: unreadable or changed rows`);
  if (counts['v2.k2'] !== N || Object.keys(counts).length !== 1)
    problems.push(`${label}: keys in use ${JSON.stringify(counts)}`);
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
