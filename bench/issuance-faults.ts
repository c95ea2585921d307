/**
 * `npm run bench:issuance-faults`: the issue's fault scenarios at full size. Two orders of N cards each (BENCH_N,
 * default 1,000,000), each minted by the real worker (prepareRuntime + createWorkerApp, default chunk size and
 * concurrency, in a child process) while faults strike:
 *
 * 1. worker kills: the worker is SIGKILLed once a quarter and again once 60 % of the cards are minted, and a new
 *    one started each time (as a supervisor would);
 * 2. database restarts: PostgreSQL is stopped with a fast shutdown once a quarter is minted and stopped immediately
 *    (no checkpoint: crash recovery at the start) at 60 %, each time kept down BENCH_DOWN_MS (default 3,000 ms)
 *    and started again; the worker and the API must ride it out by themselves.
 *
 * Then every invariant is checked (test/support/issuance-faults.ts, the same code as the e2e fault tests): exactly
 * N cards with N distinct codes and envelopes, the serials exactly the batch's range in order, every chunk
 * checkpointed once with one ledger entry each and the card float equal to the order's value, one batch.completed
 * and one order.issued, the ledger verify endpoint ok, the API answering, and no worker that exited by itself.
 *
 * Everything runs on a private PostgreSQL in a temporary directory (test/support/private-postgres.ts; the shared
 * server must not be restarted), removed afterwards. The API runs in this process (worker off). Prints each
 * scenario's time from the first worker's start to the order turning `issued` (kills and restarts included), its
 * timeline and its checks; exits 1 if any check fails.
 *
 * Environment: BENCH_N, BENCH_DOWN_MS, BENCH_TIMEOUT_S (per scenario, default 1,800), BENCH_LOG_LEVEL (the workers'
 * LOG_LEVEL, default fatal: the connection errors of a restart are expected and would flood the output).
 */
import { fork } from 'node:child_process';
import { closeRuntime, createWorkerApp, prepareRuntime } from '../src/bootstrap';
import { loadConfig } from '../src/config/app-config';
import { onShutdown } from '../src/shutdown';
import { startTestApp, type TestApp } from '../test/support/app';
import { runIssuanceWithFaults, type Fault, type FaultRunResult } from '../test/support/issuance-faults';
import { startPrivatePostgres, type PrivatePostgres } from '../test/support/private-postgres';
import { asWorkerProcess, workerEnv } from '../test/support/worker-process';
import { positiveInt, runBenchmark } from './support/harness';

const N = positiveInt('BENCH_N', 1_000_000);
const DOWN_MS = positiveInt('BENCH_DOWN_MS', 3_000);
const TIMEOUT_MS = positiveInt('BENCH_TIMEOUT_S', 1_800) * 1000;
const WORKER_LOG_LEVEL = process.env.BENCH_LOG_LEVEL ?? 'fatal';

const SCENARIOS: Array<{ name: string; faults: Fault[] }> = [
  {
    name: 'worker SIGKILLed twice',
    faults: [
      { kind: 'kill-worker', at: 0.25 },
      { kind: 'kill-worker', at: 0.6 },
    ],
  },
  {
    name: 'database restarted twice (fast, then immediate)',
    faults: [
      { kind: 'restart-database', at: 0.25, mode: 'fast' },
      { kind: 'restart-database', at: 0.6, mode: 'immediate' },
    ],
  },
];

/** Child: the worker, as src/worker.ts runs it (SIGTERM drains it; the benchmark SIGKILLs it for the faults). */
async function serveWorker(): Promise<void> {
  const runtime = await prepareRuntime(loadConfig(process.env));
  const app = await createWorkerApp(runtime);
  onShutdown(runtime.logger, async () => {
    await app.close();
    await closeRuntime(runtime);
  });
}

async function main(): Promise<number> {
  console.log(
    `bench:issuance-faults: N = ${N.toLocaleString('en')} cards per scenario, database down ${DOWN_MS} ms per restart`,
  );
  let database: PrivatePostgres | undefined;
  let app: TestApp | undefined;
  const results: Array<{ name: string; run: FaultRunResult }> = [];
  try {
    database = await startPrivatePostgres();
    const url = await database.createDatabase('fuli_bench_faults');
    app = await startTestApp({ DATABASE_URL: url, LOG_LEVEL: 'fatal' }, { worker: false });
    const env = workerEnv(app.runtime.config, { LOG_LEVEL: WORKER_LOG_LEVEL });
    console.log(
      `private PostgreSQL on port ${database.port}; chunk size ${app.runtime.config.ISSUANCE_CHUNK_SIZE.toLocaleString('en')}`,
    );
    for (const scenario of SCENARIOS) {
      console.log(`\n${scenario.name}:`);
      const run = await runIssuanceWithFaults({
        app,
        n: N,
        faults: scenario.faults,
        database,
        downMs: DOWN_MS,
        timeoutMs: TIMEOUT_MS,
        startWorker: () =>
          asWorkerProcess(fork(__filename, ['--worker'], { env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })),
        progress: (line) => console.log(line),
      });
      results.push({ name: scenario.name, run });
      console.log(
        `  issued in ${run.seconds.toFixed(1)} s (${Math.round(N / run.seconds).toLocaleString('en')} cards/s overall, faults and recovery included)`,
      );
      for (const check of run.checks) console.log(`  ${check}`);
      for (const problem of run.problems) console.log(`  problem: ${problem}`);
    }
  } finally {
    await app?.close();
    await database?.destroy();
  }

  console.log('');
  for (const { name, run } of results) {
    console.log(`${run.problems.length === 0 ? 'PASS' : 'FAIL'}  ${name}: ${run.seconds.toFixed(1)} s`);
  }
  return results.length === SCENARIOS.length && results.every(({ run }) => run.problems.length === 0) ? 0 : 1;
}

if (process.argv[2] === '--worker') {
  serveWorker().catch((error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : error);
    process.exit(1);
  });
} else if (require.main === module) {
  runBenchmark('bench:issuance-faults', main);
}
