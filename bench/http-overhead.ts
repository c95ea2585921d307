/**
 * `npm run bench:http`: what the full stack costs per request, against bare Fastify on the same machine in the same
 * run. Bare: one GET route returning a small JSON object. Full: prepareRuntime + createHttpApp (worker off,
 * LOG_LEVEL=warn, rate limit far out of reach) serving `GET /v1/me` with a client's bearer token, i.e. security
 * headers, request id and metrics hooks, bearer-token check, actor lookup, scope and rate-limit guards and the
 * response: the HTTP stack's own cost, the target (full/bare requests per second ≥ 0.5). For scale it also measures
 * `GET /v1/enterprises/{id}`, the same plus one Postgres read through TypeORM, which has no target: a database
 * round trip costs more than a whole bare-Fastify request.
 *
 * Fairness: each server runs alone in a child process (one event loop, so at most one core); both stay up, idle
 * while the other is measured, and are measured back to back in each round; autocannon runs in this process. Sharing one event loop with the load generator would
 * charge autocannon's own work to both servers and flatten the difference; on a 2-core machine the split
 * "one core serves, one core loads" is the same for both runs. Postgres (embedded or DATABASE_URL) takes CPU from
 * the same two cores during the full run, as it would on a single-machine deployment. Each run reports the
 * server's CPU use, so a load generator that could not saturate the server shows up as < 100 %.
 *
 * Environment: BENCH_DURATION (seconds measured per server and round, default 10), BENCH_ROUNDS (default 3),
 * BENCH_CONNECTIONS (default 50),
 * DATABASE_URL (default: an embedded Postgres in a temporary directory, removed afterwards; with DATABASE_URL the
 * run leaves one enterprise and two API clients behind), BENCH_PROFILE=1 (write a V8 CPU profile of each
 * measured run to $TMPDIR/fuli-bench-profiles/{bare,full,full-db}.cpuprofile; read it with
 * `node dist/scripts/cpuprofile.js <file>`). The harness (servers, measurement, setup) is bench/support/harness.ts.
 */
import {
  HEADER_ROW,
  loadSettings,
  measure,
  measuredRow,
  median,
  positiveInt,
  runBenchmark,
  tenantToken,
  withBareServer,
  withFullServer,
  type Measured,
} from './support/harness';

const TARGET_RATIO = 0.5;
const SETTINGS = loadSettings(50);
const ROUNDS = positiveInt('BENCH_ROUNDS', 3);

async function main(): Promise<number> {
  console.log(
    `bench:http: ${SETTINGS.connections} connections, ${ROUNDS} rounds of bare then full, ${SETTINGS.warmupS} s ` +
      `warm-up + ${SETTINGS.durationS} s measured per server and round; database: ` +
      `${process.env.DATABASE_URL ? 'DATABASE_URL' : 'embedded Postgres'}`,
  );
  // Both servers stay up and are measured back to back in each round, so a slow spell of the shared machine
  // lands on one round's pair, not on one side of the ratio; the verdict is the median round's ratio.
  const rounds: Array<{ bare: Measured; full: Measured }> = [];
  const withDb = await withBareServer((bareServer) =>
    withFullServer(async (server, operator): Promise<Measured> => {
      const tenant = await tenantToken(server.url, operator, { name: 'bench:http client', scopes: ['products:read'] });
      const headers = { authorization: `Bearer ${tenant.token}` };
      for (let round = 1; round <= ROUNDS; round++) {
        const bare = await measure(bareServer, SETTINGS, `bare-${round}`, '/ping');
        const full = await measure(server, SETTINGS, `full-${round}`, '/v1/me', headers);
        rounds.push({ bare, full });
      }
      return measure(server, SETTINGS, 'full-db', `/v1/enterprises/${tenant.enterpriseId}`, headers);
    }),
  );

  console.log(`\n${HEADER_ROW}`);
  rounds.forEach(({ bare, full }, index) => {
    console.log(measuredRow(`bare #${index + 1}`, bare));
    console.log(`${measuredRow(`full #${index + 1}`, full)}   ratio ${(full.rps / bare.rps).toFixed(3)}`);
  });
  console.log(measuredRow('+db', withDb));
  const ratios = rounds.map(({ bare, full }) => full.rps / bare.rps);
  const ratio = median(ratios);
  const bareRps = median(rounds.map(({ bare }) => bare.rps));
  console.log(
    `\n+db (GET /v1/enterprises/{id}, one Postgres read)/bare: ${(withDb.rps / bareRps).toFixed(3)} (no target)`,
  );
  const verdict = ratio >= TARGET_RATIO ? 'ok' : 'BELOW TARGET';
  console.log(
    `full (GET /v1/me)/bare requests per second, median of ${ROUNDS} rounds: ${ratio.toFixed(3)} ` +
      `(rounds ${ratios.map((r) => r.toFixed(3)).join(', ')}; target ≥ ${TARGET_RATIO}): ${verdict}`,
  );
  return ratio >= TARGET_RATIO ? 0 : 1;
}

runBenchmark('bench:http', main);
