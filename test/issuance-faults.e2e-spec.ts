import pg from 'pg';
import { serialFromSequence } from '../src/issuance/card-code';
import { startTestApp, type TestApp } from './support/app';
import { createProduct, placePaidOrder } from './support/fixtures';
import { startWorkerProcess, workerEnv, type WorkerProcess } from './support/worker-process';

/** Cards in the order: 20,000 by default (40 chunks of 500); FAULT_N raises it. */
const N = Number(process.env.FAULT_N ?? 20_000);
const CHUNK_SIZE = 500;
/** Kill the worker once issued_count has passed each of these fractions of N. */
const KILL_AT = [0.25, 0.6];
/** From payment to 'issued', kills and restarts included. */
const ISSUE_TIMEOUT_MS = Number(process.env.FAULT_TIMEOUT_MS ?? 150_000);

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

/**
 * The issue's fault test: the API runs here (no in-process worker), the real worker (src/worker.ts) in a child
 * process, SIGKILLed twice mid-batch and restarted each time; afterwards exactly N cards, contiguous serials, every
 * chunk once, one order.issued and a ledger that verifies. On a database of its own, so that no other e2e file's
 * in-process worker consumes (and thereby rescues) its jobs.
 */
describe('card issuance under worker crashes', () => {
  let app: TestApp;
  let admin: pg.Client;
  let databaseName: string;
  const workers: WorkerProcess[] = [];

  beforeAll(async () => {
    const serverUrl = process.env.TEST_SERVER_URL;
    if (!serverUrl) throw new Error('TEST_SERVER_URL is not set: run the e2e tests through jest (global setup)');
    databaseName = `${process.env.TEST_DATABASE_NAME ?? 'fuli_test'}_faults`;
    admin = new pg.Client({ connectionString: serverUrl });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS "${databaseName}" WITH (FORCE)`);
    await admin.query(`CREATE DATABASE "${databaseName}"`);
    const url = new URL(serverUrl);
    url.pathname = `/${databaseName}`;
    app = await startTestApp(
      { DATABASE_URL: url.toString(), ISSUANCE_CHUNK_SIZE: String(CHUNK_SIZE) },
      { worker: false },
    );
  });

  afterAll(async () => {
    await Promise.all(workers.map((worker) => worker.kill()));
    await app?.close();
    if (admin && process.env.KEEP_TEST_DATABASE !== '1') {
      await admin.query(`DROP DATABASE IF EXISTS "${databaseName}" WITH (FORCE)`);
    }
    await admin?.end();
  });

  it(
    'mints exactly N cards with contiguous serials when the worker is SIGKILLed twice mid-batch',
    async () => {
      const product = await createProduct(app);
      const { enterprise, order } = await placePaidOrder(app, 'FAULT-1', [
        { product_id: product.id, face_value: 10_000, quantity: N },
      ]);
      const orderId = order.id;

      const issued = async () => {
        const [row] = await app.dataSource.query<Array<{ issued: number; status: string }>>(
          'SELECT b.issued_count AS issued, o.status FROM issuance_batches b JOIN orders o ON o.id = b.order_id WHERE b.order_id = $1',
          [orderId],
        );
        return row;
      };
      const deadline = Date.now() + ISSUE_TIMEOUT_MS;
      const env = workerEnv(app.runtime.config);
      const log: string[] = [];
      const started = Date.now();
      const at = () => `${((Date.now() - started) / 1000).toFixed(1)} s`;

      workers.push(startWorkerProcess(env));
      for (const fraction of KILL_AT) {
        for (;;) {
          const { issued: count } = await issued();
          if (count >= fraction * N) break;
          if (Date.now() > deadline)
            throw new Error(`never reached ${fraction * N} cards (${count}); ${log.join('; ')}`);
          await sleep(20);
        }
        const worker = workers[workers.length - 1];
        await worker.kill();
        const { issued: count } = await issued();
        log.push(`${at()}: SIGKILL pid ${worker.pid} at ${count}/${N}`);
        expect(count).toBeLessThan(N);
        workers.push(startWorkerProcess(env));
      }
      let last = await issued();
      while (last.status !== 'issued') {
        if (Date.now() > deadline) {
          const jobs = await app.dataSource.query(
            "SELECT state, count(*)::int AS n FROM bullmq.job WHERE queue = 'issuance' GROUP BY state",
          );
          throw new Error(
            `order still ${last.status} with ${last.issued}/${N} after ${at()}; ${log.join('; ')}; ` +
              `issuance jobs by state: ${JSON.stringify(jobs)}`,
          );
        }
        await sleep(100);
        last = await issued();
      }
      log.push(`${at()}: issued`);
      console.log(`issuance fault test (N=${N}): ${log.join('; ')}`);
      expect(workers.slice(0, 2).map((worker) => worker.child.signalCode)).toEqual(['SIGKILL', 'SIGKILL']);

      // Exactly N cards: N distinct serials, N distinct codes, and the serials are the batch's range, no gaps.
      const [batch] = await app.dataSource.query<
        Array<{ id: string; serial_start: string; count: number; issued_count: number; status: string }>
      >('SELECT id, serial_start, count, issued_count, status FROM issuance_batches WHERE order_id = $1', [orderId]);
      expect(batch).toMatchObject({ count: N, issued_count: N, status: 'completed' });
      const [counts] = await app.dataSource.query<
        Array<{ cards: number; serials: number; codes: number; secrets: number }>
      >(
        `SELECT count(*)::int AS cards, count(DISTINCT serial)::int AS serials, count(DISTINCT code_hash)::int AS codes,
                count(DISTINCT secret_ciphertext)::int AS secrets
           FROM cards WHERE order_id = $1`,
        [orderId],
      );
      expect(counts).toEqual({ cards: N, serials: N, codes: N, secrets: N });
      const start = Number(batch.serial_start);
      const expected = Array.from({ length: N }, (_, i) => serialFromSequence(start + i));
      const [mismatch] = await app.dataSource.query<Array<{ missing: number; extra: number }>>(
        `WITH expected AS (SELECT unnest($2::bigint[]) AS serial),
              actual AS (SELECT serial FROM cards WHERE order_id = $1)
         SELECT (SELECT count(*)::int FROM expected e WHERE NOT EXISTS (SELECT 1 FROM actual a WHERE a.serial = e.serial)) AS missing,
                (SELECT count(*)::int FROM actual a WHERE NOT EXISTS (SELECT 1 FROM expected e WHERE e.serial = a.serial)) AS extra`,
        [orderId, expected],
      );
      expect(mismatch).toEqual({ missing: 0, extra: 0 });

      // Every chunk done once: all checkpointed, one cards_issued entry each, summing to the order's value.
      const [chunks] = await app.dataSource.query<Array<{ chunks: number; done: number }>>(
        'SELECT count(*)::int AS chunks, count(done_at)::int AS done FROM issuance_chunks WHERE batch_id = $1',
        [batch.id],
      );
      expect(chunks).toEqual({ chunks: Math.ceil(N / CHUNK_SIZE), done: Math.ceil(N / CHUNK_SIZE) });
      const [entries] = await app.dataSource.query<Array<{ entries: number; memos: number; float: string }>>(
        `SELECT count(DISTINCT e.id)::int AS entries, count(DISTINCT e.memo)::int AS memos,
                (-COALESCE(SUM(l.amount) FILTER (WHERE l.account = 'card_float'), 0))::bigint AS float
           FROM ledger_entries e JOIN ledger_lines l ON l.entry_id = e.id
          WHERE e.order_id = $1 AND e.kind = 'cards_issued'`,
        [orderId],
      );
      expect(entries).toEqual({
        entries: Math.ceil(N / CHUNK_SIZE),
        memos: Math.ceil(N / CHUNK_SIZE),
        float: String(N * 10_000),
      });

      const events = await app.dataSource.query<Array<{ type: string }>>(
        "SELECT type FROM events WHERE enterprise_id = $1 AND type IN ('batch.completed', 'order.issued')",
        [enterprise.id],
      );
      expect(events.map((event) => event.type).sort()).toEqual(['batch.completed', 'order.issued']);
      const verify = await app.http
        .get('/v1/admin/ledger/verify')
        .auth(await app.operatorToken(), { type: 'bearer' })
        .expect(200);
      expect(verify.body.ok).toBe(true);
    },
    ISSUE_TIMEOUT_MS + 30_000,
  );
});
