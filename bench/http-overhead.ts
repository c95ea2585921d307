/**
 * `npm run bench:http`: what the full stack costs per request, against bare Fastify on the same machine in the same
 * run. Bare: one GET route returning a small JSON object. Full: prepareRuntime + createHttpApp (worker off,
 * LOG_LEVEL=warn, rate limit far out of reach) serving `GET /v1/me` with a client's bearer token, i.e. helmet,
 * request id and metrics hooks, bearer-token check, actor lookup, scope and rate-limit guards, interceptors and the
 * response: the HTTP stack's own cost, the target (full/bare requests per second ≥ 0.5). For scale it also measures
 * `GET /v1/enterprises/{id}`, the same plus one Postgres read through TypeORM, which has no target: a database
 * round trip costs more than a whole bare-Fastify request.
 *
 * Fairness: each server runs alone in a child process (one event loop, so at most one core), started, measured and
 * stopped before the other; autocannon runs in this process. Sharing one event loop with the load generator would
 * charge autocannon's own work to both servers and flatten the difference; on a 2-core machine the split
 * "one core serves, one core loads" is the same for both runs. Postgres (embedded or DATABASE_URL) takes CPU from
 * the same two cores during the full run, as it would on a single-machine deployment. Each run reports the
 * server's CPU use, so a load generator that could not saturate the server shows up as < 100 %.
 *
 * Environment: BENCH_DURATION (seconds measured per server, default 10), BENCH_CONNECTIONS (default 50),
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
  runBenchmark,
  tenantToken,
  withBareServer,
  withFullServer,
  type Measured,
} from './support/harness';

const TARGET_RATIO = 0.5;
const SETTINGS = loadSettings(50);

async function main(): Promise<number> {
  console.log(
    `bench:http: ${SETTINGS.connections} connections, ${SETTINGS.warmupS} s warm-up + ${SETTINGS.durationS} s ` +
      `measured per server; database: ${process.env.DATABASE_URL ? 'DATABASE_URL' : 'embedded Postgres'}`,
  );
  const bare = await withBareServer((server) => measure(server, SETTINGS, 'bare', '/ping'));
  const [full, withDb] = await withFullServer(async (server, operator): Promise<[Measured, Measured]> => {
    const tenant = await tenantToken(server.url, operator, { name: 'bench:http client', scopes: ['products:read'] });
    const headers = { authorization: `Bearer ${tenant.token}` };
    return [
      await measure(server, SETTINGS, 'full', '/v1/me', headers),
      await measure(server, SETTINGS, 'full-db', `/v1/enterprises/${tenant.enterpriseId}`, headers),
    ];
  });

  const ratio = full.rps / bare.rps;
  console.log(`\n${HEADER_ROW}`);
  console.log(measuredRow('bare', bare));
  console.log(measuredRow('full', full));
  console.log(measuredRow('+db', withDb));
  console.log(
    `\n+db (GET /v1/enterprises/{id}, one Postgres read)/bare: ${(withDb.rps / bare.rps).toFixed(3)} (no target)`,
  );
  const verdict = ratio >= TARGET_RATIO ? 'ok' : 'BELOW TARGET';
  console.log(`full (GET /v1/me)/bare requests per second: ${ratio.toFixed(3)} (target ≥ ${TARGET_RATIO}): ${verdict}`);
  return ratio >= TARGET_RATIO ? 0 : 1;
}

runBenchmark('bench:http', main);
