import { embeddedPostgresBinaries } from '../src/database/embedded-postgres';
import { startTestApp, type TestApp } from './support/app';
import { runIssuanceWithFaults } from './support/issuance-faults';
import { createScratchDatabase, type ScratchDatabase } from './support/scratch-database';
import { startPrivatePostgres, type PrivatePostgres } from './support/private-postgres';
import { IN_CI } from './support/services';
import { startWorkerProcess, workerEnv } from './support/worker-process';

/** Cards in each order: 20,000 by default (40 chunks of 500); FAULT_N raises it (bench:issuance-faults runs 1,000,000). */
const N = Number(process.env.FAULT_N ?? 20_000);
const CHUNK_SIZE = 500;
/** From payment to 'issued', faults and restarts included. */
const ISSUE_TIMEOUT_MS = Number(process.env.FAULT_TIMEOUT_MS ?? 150_000);

/**
 * The issue's fault tests: the API runs here (no in-process worker), the real worker (src/worker.ts) in a child
 * process. Each test mints one order of N cards on a database of its own (so that no other e2e file's in-process
 * worker consumes, and thereby rescues, its jobs) and then checks every invariant (test/support/issuance-faults.ts):
 * exactly N cards, the serials exactly the batch's range, every chunk once with one ledger entry, one
 * batch.completed and one order.issued, a ledger that verifies, and the API answering.
 */
describe('card issuance under worker crashes', () => {
  let app: TestApp;
  let database: ScratchDatabase;

  beforeAll(async () => {
    database = await createScratchDatabase('faults');
    app = await startTestApp(
      { DATABASE_URL: database.url, ISSUANCE_CHUNK_SIZE: String(CHUNK_SIZE) },
      { worker: false },
    );
  });

  afterAll(async () => {
    await app?.close();
    await database?.drop();
  });

  it(
    'mints exactly N cards with contiguous serials when the worker is SIGKILLed twice mid-batch',
    async () => {
      const env = workerEnv(app.runtime.config);
      const run = await runIssuanceWithFaults({
        app,
        n: N,
        faults: [
          { kind: 'kill-worker', at: 0.25 },
          { kind: 'kill-worker', at: 0.6 },
        ],
        timeoutMs: ISSUE_TIMEOUT_MS,
        startWorker: () => startWorkerProcess(env),
      });
      console.log(`issuance under worker kills (N=${N}): ${run.timeline.join('; ')}\n${run.checks.join('\n')}`);
      expect(run.problems).toEqual([]);
      expect(run.workers.slice(0, 2).map((worker) => worker.child.signalCode)).toEqual(['SIGKILL', 'SIGKILL']);
      expect(run.workers).toHaveLength(3);
    },
    ISSUE_TIMEOUT_MS + 60_000,
  );
});

/** The private server's binaries come from the optional embedded-postgres package; CI must have it. */
const embeddedPostgresInstalled = (() => {
  try {
    return embeddedPostgresBinaries() !== '';
  } catch {
    return false;
  }
})();
if (!embeddedPostgresInstalled && !IN_CI) {
  console.warn('embedded-postgres is not installed: the database-restart fault test is skipped');
}

/**
 * A database restart mid-batch: the worker and the API must ride it out by themselves, without a process restart
 * or an operator. The database is a private PostgreSQL server (the shared one serves the other tests), stopped
 * twice while the batch is minted — once with a fast shutdown, once immediately (crash recovery at the next start)
 * — and each time kept down for a while, as a real restart or failover would be.
 */
(embeddedPostgresInstalled || IN_CI ? describe : describe.skip)('card issuance across database restarts', () => {
  let server: PrivatePostgres;
  let app: TestApp;

  beforeAll(async () => {
    server = await startPrivatePostgres();
    const url = await server.createDatabase('fuli_faults');
    app = await startTestApp({ DATABASE_URL: url, ISSUANCE_CHUNK_SIZE: String(CHUNK_SIZE) }, { worker: false });
  }, 120_000);

  afterAll(async () => {
    await app?.close();
    await server?.destroy();
  });

  it(
    'mints exactly N cards with contiguous serials when the database restarts twice mid-batch',
    async () => {
      const env = workerEnv(app.runtime.config);
      const run = await runIssuanceWithFaults({
        app,
        n: N,
        faults: [
          { kind: 'restart-database', at: 0.25, mode: 'fast' },
          { kind: 'restart-database', at: 0.6, mode: 'immediate' },
        ],
        database: server,
        downMs: 3_000,
        timeoutMs: ISSUE_TIMEOUT_MS,
        startWorker: () => startWorkerProcess(env),
      });
      console.log(`issuance across database restarts (N=${N}): ${run.timeline.join('; ')}\n${run.checks.join('\n')}`);
      expect(run.problems).toEqual([]);
      // One worker did it all: it was neither killed nor did it exit and need a restart.
      expect(run.workers).toHaveLength(1);
    },
    ISSUE_TIMEOUT_MS + 60_000,
  );
});
