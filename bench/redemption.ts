/**
 * `npm run bench:redemption`: card debits per second and p99 latency at 64 concurrent clients over HTTP, against
 * pgbench running, on the same Postgres in the same run, (a) the app's own statements for a debit and (b) the old
 * design's 8-statement transaction (the database's limit for each).
 *
 * - HTTP: the full app (bench:http's: worker off, LOG_LEVEL=warn, rate limit far out of reach; the order's cards are
 *   minted beforehand by a worker in the benchmark's process, stopped before measuring) answering
 *   `POST /v1/redemptions/debit` from a redemption-channel client. Each autocannon connection spends 1 fen per request
 *   from a card of its own (so that connections do not queue behind one card's row lock), every request with its own
 *   reference. That is the whole debit path: bearer token, scope and rate-limit guards, validation, ONE statement
 *   (docs/architecture.md: the card's conditional update and movement, the ledger entry and lines, the card.debited
 *   event, the audit record and the redemption row in one data-modifying CTE, committed on its own), then the audit
 *   seal (is the record still pending; if so BEGIN, the head's lock, the link, COMMIT).
 * - pgbench "app statements": `pgbench -n -M extended -c 64 -j 2` running that same statement (its text built by the
 *   app's own code: serialDebitStatement + serialDebitSql, values of the same shape and size) and the seal, each client
 *   on a card of its own (a second set of cards), with the same warm-up and duration.
 * - pgbench "old transaction": the debit as it was before issue 11, captured from that code: BEGIN, the claim of the
 *   reference, the conditional UPDATE of the card, the ledger entry with its lines, the card_transactions row, the
 *   event, the audit record, the redemption's answer, COMMIT (8 statements and BEGIN), then the seal.
 *   p99s come from pgbench's per-transaction log (--log).
 * - Two more pgbench rows, for the explanation only (no target): each of those without the audit seal after the
 *   commit (every debit seals its record into the chain under the head's lock: under load that lock is the queue).
 *
 * - HTTP "payment code" (issue 17): the same debits on a third set of cards, each by a dynamic payment code instead
 *   of serial + holder (`{"payment_code": …, "amount": 1, …}`), in the same run. Each card's code is the one its
 *   holder's screen would show: derived by the app's own function (paymentCodeOf) from the card's key, whose secret
 *   the benchmark opens with the same DATA_DIR keys, and its count of uses as the benchmark has seen it spent. The
 *   fraud rules are on in both HTTP runs and in pgbench's statement (each debit counts its card's recent debits), the
 *   debit rule's threshold raised for the channel so that this load is not flagged on every debit.
 *
 * Targets (issue 11): app ≥ 0.5 × pgbench of its own statements; app ≥ 1.0 × pgbench of the old transaction; app p99
 * ≤ 2 × pgbench's p99 of its own statements; (issue 17) debits by payment code ≥ 0.8 × debits by serial. Exit 1 if one is missed or a check fails: every HTTP answer 200; as
 * many debit redemptions in the database as 200s (plus at most the requests in flight when autocannon stopped); every
 * card's balance equal to its face value less its debits (never below zero); `GET /v1/admin/ledger/verify` ok.
 *
 * Cards are bound by SQL at setup (binding is not what is measured). Environment: BENCH_DURATION (seconds measured,
 * default 10), BENCH_CONNECTIONS (default 64: HTTP connections and pgbench clients), DATABASE_URL (default: an
 * embedded Postgres in a temporary directory), PGBENCH (default `pgbench` on the PATH), BENCH_PROFILE=1.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type autocannon from 'autocannon';
import { Client } from 'pg';
import { type AuditRepository, SEAL_BATCH, SEAL_SQL } from '../src/audit/audit.repository';
import { AuditService } from '../src/audit/audit.service';
import { closeRuntime, createWorkerApp, prepareRuntime } from '../src/bootstrap';
import { RequestContext } from '../src/common/context/request-context';
import { type AppConfig, loadConfig } from '../src/config/app-config';
import type { TransactionService } from '../src/database/transaction.service';
import type { QueueService } from '../src/queue/queue.service';
import { DataCipher } from '../src/common/crypto/data-cipher.service';
import { parsePaymentCode, paymentCodeOf, paymentCodeStep } from '../src/redemption/payment-code';
import { paymentCodeSecretContext } from '../src/redemption/payment-code-keys';
import { serialDebitSql } from '../src/redemption/redemption.repository';
import { serialDebitStatement } from '../src/redemption/redemption.service';
import {
  api,
  BENCH_PURCHASER,
  HEADER_ROW,
  loadSettings,
  measureRun,
  measuredRow,
  payOrderByTransfer,
  row,
  runBenchmark,
  tenantToken,
  token,
  withFullServer,
  type Measured,
} from './support/harness';

const SETTINGS = loadSettings(64);
const CARDS_PER_SIDE = SETTINGS.connections;
/** 1,000 CNY: the anonymous single-card limit, enough for any run (1 fen per debit). */
const FACE_VALUE = 100_000;
/** app ≥ this × pgbench of the app's own statements. */
const TARGET_OWN_RATIO = 0.5;
/** app ≥ this × pgbench of the old 8-statement transaction. */
const TARGET_OLD_RATIO = 1.0;
/** Debits by payment code ≥ this × debits by serial (HTTP, the same run). */
const TARGET_CODE_RATIO = 0.8;
/** app p99 ≤ this × pgbench's p99 of the app's own statements. */
const TARGET_P99_FACTOR = 2;
const ISSUE_TIMEOUT_MS = 120_000;
const PGBENCH = process.env.PGBENCH ?? 'pgbench';

/**
 * The seal after a debit's commit, as the app runs it: is the record still pending (a concurrent seal may have
 * linked it already), and only then BEGIN, the head's lock, the link, COMMIT.
 */
function sealScript(auditId: string): string[] {
  return [
    `SELECT count(*) AS pending FROM audit_pending WHERE id = ${auditId} \\gset`,
    '\\if :pending',
    'BEGIN;',
    'SELECT 1 FROM audit_chain_head WHERE id = 1 FOR UPDATE;',
    `${SEAL_SQL.trim().replace('$1', String(SEAL_BATCH))};`,
    'END;',
    '\\endif',
  ];
}

/**
 * The debit transaction of RedemptionService.debit as it was before issue 11 (captured from that code), as pgbench
 * runs it: the same statements, in the same order, with values of the same shape.
 */
function oldTransactionScript(cards: readonly string[], { seal = true } = {}): string {
  const ref = `'pgb-' || :client_id || '-' || :r`;
  const id = (prefix: string) => `'${prefix}_PGB' || lpad(:client_id::text, 4, '0') || lpad(:r::text, 19, '0')`;
  // Client n spends cards[n]: chosen by pgbench itself (no round trip), as the API's caller names its card.
  const choose = cards.map((serial, n) => `when :client_id = ${n} then ${serial}`).join(' ');
  return [
    `\\set card case ${choose} end`,
    '\\set r random(1, 999999999999999999)',
    'BEGIN;',
    `WITH c AS (
       INSERT INTO redemptions (id, client_id, reference, kind, fingerprint, enterprise_id, amount, response)
       VALUES (${id('rdm')}, 'cli_pgbench', ${ref}, 'debit', md5(${ref}) || md5(${ref}), '', 0, '{}')
       ON CONFLICT (client_id, reference) DO NOTHING RETURNING id)
     SELECT id FROM c;`,
    `WITH u AS (UPDATE cards c SET balance = c.balance - 1,
         status = CASE WHEN c.balance = 1 THEN 'exhausted' ELSE c.status END
       FROM issuance_batches b
       WHERE c.serial = :card AND b.id = c.batch_id AND c.status = 'active' AND c.balance >= 1
         AND (c.expires_at IS NULL OR c.expires_at > now()) AND c.bound_client_id = 'cli_pgbench'
         AND c.holder_ref = 'bench-holder-' || :card
       RETURNING c.balance, c.status, c.holder_ref, b.enterprise_id)
     SELECT balance::text AS balance, status, holder_ref, enterprise_id FROM u;`,
    `WITH e AS (
       INSERT INTO ledger_entries (id, kind, memo, enterprise_id, order_id, payment_id, request_id)
       VALUES (${id('jrn')}, 'card_debit',
               'Redemption rdm_01KAXXXXXXXXXXXXXXXXXXXXXX: 1 fen spent (reference ' || ${ref} || ')', :ent, NULL, NULL,
               'req_pgbench')
       RETURNING created_at),
     l AS (INSERT INTO ledger_lines (entry_id, account, enterprise_id, amount)
           VALUES (${id('jrn')}, 'card_float', NULL, 1), (${id('jrn')}, 'revenue_redeemed', NULL, -1))
     SELECT created_at FROM e;`,
    `INSERT INTO card_transactions
       (serial, enterprise_id, kind, amount, balance_after, redemption_id, holder_ref, client_id, related_serial)
       VALUES (:card, :ent, 'debit', -1, 99999, ${id('rdm')}, 'bench-holder', 'cli_pgbench', NULL);`,
    `INSERT INTO events (id, enterprise_id, type, schema_version, data, relayed_at)
       VALUES (${id('evt')}, :ent, 'card.debited', 1, jsonb_build_object('serial', :card::text, 'amount', -1,
               'balance_after', 99999, 'currency', 'CNY', 'holder_ref', 'bench-holder', 'redemption_id', ${id('rdm')},
               'reference', ${ref}), NULL)
       RETURNING created_at;`,
    // The audit record (AuditService.append): one INSERT into audit_pending, no lock; sealed after the commit.
    `INSERT INTO audit_pending (id, occurred_at, actor_client_id, enterprise_id, action, object_type, object_id,
       request_id, data, key_id, mac)
     VALUES (${id('aud')}, now(), 'cli_pgbench', :ent, 'card.debited', 'redemption', ${id('rdm')},
       'req_pgbench', jsonb_build_object('before_sha256', NULL, 'after_sha256', NULL, 'summary',
         jsonb_build_object('cards', 1, 'movements', jsonb_build_array(jsonb_build_object('serial', :card::text,
           'kind', 'debit', 'amount', -1, 'balance_after', 99999)), 'amount', -1, 'ledger_entry_id', ${id('jrn')},
           'ledger_kind', 'card_debit', 'order_id', NULL, 'redemption_id', ${id('rdm')}, 'reason', NULL)),
       'pgbench', md5(${ref}) || md5(${ref}));`,
    `UPDATE redemptions SET enterprise_id = :ent, holder_ref = 'bench-holder-' || :card, amount = 1, reverses_id = NULL,
       response = jsonb_build_object('object', 'redemption', 'id', ${id('rdm')}, 'kind', 'debit', 'reference', ${ref},
                 'holder_ref', 'bench-holder', 'amount', 1, 'reversed_amount', 0, 'reverses_id', NULL,
                 'cards', jsonb_build_array(jsonb_build_object('serial', :card::text, 'amount', -1,
                   'balance_after', 99999, 'status', 'active')),
                 'created_at', now())
     WHERE id = ${id('rdm')};`,
    'END;',
    // The seal after the commit (AuditService.sealThrough, then seal): is the record still pending, then link it.
    ...(seal ? sealScript(id('aud')) : []),
    '',
  ].join('\n');
}

/** pgbench expressions for the values that differ per transaction, by the placeholder the app's code is given. */
const PER_TRANSACTION: Record<string, string> = {
  '@@card@@': ':card',
  '@@ref@@': `:client_id || '-' || :r`,
  '@@uid@@': `'PGB' || lpad(:client_id::text, 4, '0') || lpad(:r::text, 19, '0')`,
};

/**
 * A parameter of the app's statement as a SQL literal for pgbench: placeholders become pgbench expressions, and
 * colons chr(58) (pgbench would take `:name` inside a literal for a variable).
 */
function literal(value: unknown): string {
  if (value === null || value === undefined) return 'NULL';
  if (typeof value === 'number') return String(value);
  const text = value instanceof Date ? value.toISOString() : typeof value === 'string' ? value : JSON.stringify(value);
  let sql = `'${text.replace(/'/g, "''").split(':').join("' || chr(58) || '")}'`;
  for (const [placeholder, expression] of Object.entries(PER_TRANSACTION)) {
    sql = sql.split(placeholder).join(`' || (${expression})::text || '`);
  }
  return `(${sql})`;
}

/**
 * The app's own statements for a debit by serial, as pgbench runs them: the one statement, its text built by the
 * app's code (serialDebitStatement, serialDebitSql, the audit fragment), with per-transaction values; then the audit
 * seal the app runs after it.
 */
function appStatementScript(
  cards: readonly string[],
  enterpriseId: string,
  config: AppConfig,
  { seal = true } = {},
): string {
  const statement = serialDebitStatement({
    serial: '@@card@@',
    clientId: 'cli_pgbench',
    holderRef: 'bench-holder-@@card@@',
    amount: 1,
    reference: 'pgb-@@ref@@',
    fingerprint: 'f'.repeat(64),
    enterpriseId,
    id: 'rdm_@@uid@@',
    entryId: 'jrn_@@uid@@',
    requestId: 'req_pgbench',
    createdAt: new Date(),
    endUserIp: null,
  });
  // The fraud rule's count of the card's recent debits, as the app's statement has it (RedemptionService).
  statement.recentDebits = { windowSeconds: 60, refuseFrom: null };
  // The audit fragment needs the signing key only (appendSql sends nothing).
  const audit = new AuditService(
    undefined as unknown as TransactionService,
    undefined as unknown as AuditRepository,
    config,
    undefined as unknown as QueueService,
  );
  let auditId = '';
  const composed = serialDebitSql(statement, (firstParam) => {
    const fragment = audit.appendSql(RequestContext.system(), statement.audit, { source: 'card_debit', firstParam });
    auditId = fragment.id;
    return fragment;
  });
  const eventIds = composed.params.filter((value) => typeof value === 'string' && value.startsWith('evt_'));
  const params = composed.params.map((value) =>
    value === auditId ? 'aud_@@uid@@' : eventIds.includes(value) ? 'evt_@@uid@@' : value,
  );
  const sql = composed.sql.replace(/\$(\d+)/g, (_, n: string) => literal(params[Number(n) - 1]));
  const choose = cards.map((serial, n) => `when :client_id = ${n} then ${serial}`).join(' ');
  return [
    `\\set card case ${choose} end`,
    '\\set r random(1, 999999999999999999)',
    `${sql};`,
    // The seal after the commit (RedemptionService.sealAudit, then AuditService.seal).
    ...(seal ? sealScript(literal('aud_@@uid@@')) : []),
    '',
  ].join('\n');
}

interface PgbenchResult {
  tps: number;
  p50: number;
  p99: number;
  transactions: number;
  failed: number;
  databaseCpu?: number;
}

/** Runs pgbench for `seconds`; with `logDir`, reads the per-transaction log for the latency percentiles. */
function runPgbench(databaseUrl: string, scriptFile: string, enterpriseId: string, seconds: number, logDir?: string) {
  const args = [
    '-n',
    '-M',
    'extended',
    '-c',
    String(SETTINGS.connections),
    '-j',
    '2',
    '-T',
    String(seconds),
    '-D',
    `ent=${enterpriseId}`,
    '-f',
    scriptFile,
    ...(logDir ? ['--log', `--log-prefix=${join(logDir, 'pgbench')}`] : []),
    databaseUrl,
  ];
  const run = spawnSync(PGBENCH, args, { encoding: 'utf8', cwd: logDir ?? tmpdir(), maxBuffer: 64 * 1024 * 1024 });
  if (run.error) throw new Error(`pgbench could not start (${PGBENCH}): ${run.error.message}`);
  if (run.status !== 0) throw new Error(`pgbench exited ${run.status}: ${run.stderr || run.stdout}`);
  const tps = /tps = ([\d.]+) \(without initial connection time\)/.exec(run.stdout);
  const processed = /number of transactions actually processed: (\d+)/.exec(run.stdout);
  const failed = /number of failed transactions: (\d+)/.exec(run.stdout);
  if (!tps || !processed) throw new Error(`unexpected pgbench output:\n${run.stdout}`);
  let p50 = NaN;
  let p99 = NaN;
  if (logDir) {
    const latencies: number[] = [];
    for (const file of readdirSync(logDir).filter((name) => name.startsWith('pgbench.'))) {
      for (const line of readFileSync(join(logDir, file), 'utf8').split('\n')) {
        const fields = line.split(' ');
        if (fields.length >= 6) latencies.push(Number(fields[2]) / 1000);
      }
    }
    latencies.sort((a, b) => a - b);
    const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))];
    p50 = at(0.5);
    p99 = at(0.99);
  }
  return {
    tps: Number(tps[1]),
    p50,
    p99,
    transactions: Number(processed[1]),
    failed: failed ? Number(failed[1]) : 0,
  };
}

/** The machine's 1, 5 and 15 minute load averages (it may be shared: figures are only comparable within a run). */
function loadAverage(): string {
  return loadavg()
    .map((value) => value.toFixed(2))
    .join(' / ');
}

interface SentContext {
  card?: string;
}

/** A card's payment-code key as the benchmark tracks it: the count of uses is what it has seen spent. */
interface CodeKey {
  number: number;
  secret: Buffer;
  uses: number;
}

interface CodeContext {
  key?: CodeKey;
}

async function main(): Promise<number> {
  return withFullServer(async (server, operatorClient, env) => {
    const databaseUrl = server.databaseUrl ?? process.env.DATABASE_URL;
    if (!databaseUrl) throw new Error('the full server did not say which database it uses');
    const db = new Client({ connectionString: databaseUrl });
    await db.connect();
    const work = mkdtempSync(join(tmpdir(), 'fuli-bench-redemption-'));
    try {
      // ---- setup: an order of 2 × connections cards, minted by the worker, bound by SQL.
      const tenant = await tenantToken(server.url, operatorClient, {
        name: 'bench:redemption HR',
        scopes: ['orders:write', 'orders:read'],
      });
      const product = await tenant.operator.post<{ id: string }>('/v1/admin/products', {
        name: 'Bench redemption card',
        card_type: 'anonymous',
        face_values: [FACE_VALUE],
        validity_months: 36,
        designs: ['classic'],
        greeting_allowed: false,
      });
      const hr = api(server.url, tenant.token);
      const order = await hr.post<{ id: string; payable: number }>('/v1/orders', {
        po_number: `BENCH-REDEEM-${randomBytes(4).toString('hex')}`,
        payment_method: 'bank_transfer',
        purchaser: BENCH_PURCHASER,
        lines: [{ product_id: product.id, face_value: FACE_VALUE, quantity: 3 * CARDS_PER_SIDE }],
      });
      const enterprise = await tenant.operator.get<{ id: string; name: string }>(
        `/v1/admin/enterprises/${tenant.enterpriseId}`,
      );
      await payOrderByTransfer(tenant.operator, enterprise, order);
      // The cards are minted by a worker in this process (same DATA_DIR, so the same keys), stopped before any
      // measurement: the measured server runs no jobs.
      const runtime = await prepareRuntime(loadConfig({ ...env, DATABASE_URL: databaseUrl }));
      try {
        const worker = await createWorkerApp(runtime);
        try {
          const deadline = Date.now() + ISSUE_TIMEOUT_MS;
          for (;;) {
            const { rows } = await db.query<{ status: string }>('SELECT status FROM orders WHERE id = $1', [order.id]);
            if (rows[0].status === 'issued') break;
            if (Date.now() > deadline) throw new Error(`order not issued after ${ISSUE_TIMEOUT_MS / 1000} s`);
            await sleep(50);
          }
        } finally {
          await worker.close();
        }
      } finally {
        await closeRuntime(runtime);
      }
      const channelClient = await tenant.operator.post<{ id: string; client_secret: string }>('/v1/admin/api-clients', {
        name: 'bench:redemption channel',
        scopes: ['redemptions:write'],
      });
      const channelToken = await token(server.url, channelClient.id, channelClient.client_secret);
      // The fraud rules stay on (each debit counts its card's recent debits in its statement, as in production), but
      // one card spent hundreds of times a minute is this benchmark's load, not fraud to raise on every debit.
      await tenant.operator.put('/v1/admin/risk-rules', {
        client_id: channelClient.id,
        rules: [{ rule: 'debits_per_card_minute', threshold: 1_000_000, action: 'flag' }],
      });
      // Each card bound to a holder of its own, through the channel that spends it (pgbench's cards: 'cli_pgbench').
      const { rows: cards } = await db.query<{ serial: string }>(
        `UPDATE cards SET status = 'active', holder_ref = 'bench-holder-' || serial, bound_client_id = $2,
           bound_at = now()
           WHERE order_id = $1 RETURNING serial::text AS serial`,
        [order.id, channelClient.id],
      );
      cards.sort((a, b) => (BigInt(a.serial) < BigInt(b.serial) ? -1 : 1));
      const httpCards = cards.slice(0, CARDS_PER_SIDE).map((card) => card.serial);
      const pgbenchCards = cards.slice(CARDS_PER_SIDE, 2 * CARDS_PER_SIDE).map((card) => card.serial);
      const codeCards = cards.slice(2 * CARDS_PER_SIDE).map((card) => card.serial);
      await db.query("UPDATE cards SET bound_client_id = 'cli_pgbench' WHERE serial = ANY($1::bigint[])", [
        pgbenchCards,
      ]);

      // ---- HTTP: each connection spends 1 fen at a time from its own card.
      const runId = randomBytes(4).toString('hex');
      let sent = 0;
      let nextCard = 0;
      let ok = 0;
      const failures = new Map<string, { count: number; sample: string }>();
      const load: Omit<autocannon.Options, 'connections' | 'duration' | 'amount'> = {
        url: new URL('/v1/redemptions/debit', server.url).toString(),
        method: 'POST',
        headers: { authorization: `Bearer ${channelToken}`, 'content-type': 'application/json' },
        requests: [
          {
            setupRequest: (request, context) => {
              const sentContext = context as SentContext;
              sentContext.card ??= httpCards[nextCard++ % httpCards.length];
              return {
                ...request,
                body: `{"serial":"${sentContext.card}","holder_ref":"bench-holder-${sentContext.card}","amount":1,"reference":"bench-${runId}-${sent++}"}`,
              };
            },
            onResponse: (status, body) => {
              if (status === 200) ok++;
              else {
                const failure = failures.get(String(status)) ?? { count: 0, sample: body.slice(0, 300) };
                failure.count++;
                failures.set(String(status), failure);
              }
            },
          },
        ],
      };
      // What the app's database sessions are doing during the runs, sampled every 50 ms (where the time goes).
      const waits = new Map<string, number>();
      const sampler = new Client({ connectionString: databaseUrl });
      await sampler.connect();
      let sampling = true;
      const sampled = (async () => {
        while (sampling) {
          const { rows } = await sampler.query<{ what: string; n: number }>(
            `SELECT COALESCE(wait_event_type || ':' || wait_event, 'on CPU') || ' (' || state || ')' AS what,
                    count(*)::int AS n
             FROM pg_stat_activity WHERE application_name = 'fuli' AND pid <> pg_backend_pid() GROUP BY 1`,
          );
          for (const { what, n } of rows) waits.set(what, (waits.get(what) ?? 0) + n);
          await sleep(50);
        }
      })();
      const { measured, result, database } = await measureRun(server, SETTINGS, 'redemption', load);
      sampling = false;
      await sampled;
      await sampler.end();
      // autocannon does not wait for answers in flight: let the server finish them before counting.
      await sleep(2_000);
      const http: Measured = measured;

      // ---- HTTP by payment code: each connection pays with its card's current code, 1 fen at a time.
      const channel = api(server.url, channelToken);
      const config = loadConfig({ ...env, DATABASE_URL: databaseUrl });
      const cipher = new DataCipher(config);
      const windowSeconds = config.PAYMENT_CODE_WINDOW_SECONDS;
      const codeKeys: CodeKey[] = [];
      for (const serial of codeCards) {
        const issued = await channel.post<{ code: string }>('/v1/redemptions/payment-codes', {
          serial,
          holder_ref: `bench-holder-${serial}`,
        });
        const number = parsePaymentCode(issued.code)!.keyNumber;
        const {
          rows: [key],
        } = await db.query<{ secret_sealed: string }>('SELECT secret_sealed FROM payment_code_keys WHERE number = $1', [
          number,
        ]);
        const secret = Buffer.from(cipher.decrypt(key.secret_sealed, paymentCodeSecretContext(number)), 'base64');
        codeKeys.push({ number, secret, uses: 0 });
      }
      // Keys not in flight: a request takes one and gives it back with its answer. autocannon starts each request
      // of a connection with a fresh context, so a card cannot stay with a connection; no two requests in flight
      // share a card, as no two holders share one.
      let freeKeys = [...codeKeys];
      // A debit in flight when a run stopped may have spent a code the benchmark did not see answered.
      const resyncUses = async () => {
        await sleep(2_000);
        const { rows } = await db.query<{ number: string; uses: string }>(
          'SELECT number::text AS number, uses::text AS uses FROM payment_code_keys WHERE number = ANY($1::bigint[])',
          [codeKeys.map((key) => key.number)],
        );
        const uses = new Map(rows.map((row) => [Number(row.number), Number(row.uses)]));
        for (const key of codeKeys) key.uses = uses.get(key.number) ?? key.uses;
        freeKeys = [...codeKeys];
      };
      let codeOk = 0;
      const codeFailures = new Map<string, { count: number; sample: string }>();
      const codeLoad: Omit<autocannon.Options, 'connections' | 'duration' | 'amount'> = {
        ...load,
        requests: [
          {
            setupRequest: (request, context) => {
              const key = freeKeys.pop();
              if (!key) throw new Error('more payment-code requests in flight than cards');
              (context as CodeContext).key = key;
              const code = paymentCodeOf(key.number, key.secret, paymentCodeStep(Date.now(), windowSeconds), key.uses);
              return {
                ...request,
                body: `{"payment_code":"${code}","amount":1,"reference":"bench-code-${runId}-${sent++}"}`,
              };
            },
            onResponse: (status, body, context) => {
              const key = (context as CodeContext).key!;
              freeKeys.push(key);
              if (status === 200) {
                codeOk++;
                key.uses++;
              } else {
                const failure = codeFailures.get(String(status)) ?? { count: 0, sample: body.slice(0, 300) };
                failure.count++;
                codeFailures.set(String(status), failure);
              }
            },
          },
        ],
      };
      const codeRun = await measureRun(server, SETTINGS, 'redemption-payment-code', codeLoad, resyncUses);
      await sleep(2_000);
      const byCode: Measured = codeRun.measured;

      // ---- pgbench: the app's own statements, then the old transaction, on the other cards.
      const runScript = (name: string, script: string): PgbenchResult => {
        const scriptFile = join(work, `${name}.sql`);
        writeFileSync(scriptFile, script);
        runPgbench(databaseUrl, scriptFile, tenant.enterpriseId, SETTINGS.warmupS);
        const logDir = mkdtempSync(join(work, `log-${name}-`));
        const cpuBefore = server.databaseCpuMicros?.();
        const measuredRun: PgbenchResult = runPgbench(
          databaseUrl,
          scriptFile,
          tenant.enterpriseId,
          SETTINGS.durationS,
          logDir,
        );
        const cpuAfter = server.databaseCpuMicros?.();
        if (cpuBefore !== undefined && cpuAfter !== undefined) {
          measuredRun.databaseCpu = (cpuAfter - cpuBefore) / (SETTINGS.durationS * 1e6);
        }
        return measuredRun;
      };
      const own = runScript('app-statements', appStatementScript(pgbenchCards, tenant.enterpriseId, config));
      const old = runScript('old-transaction', oldTransactionScript(pgbenchCards));
      // For the explanation only (no target): the same without the audit seal after the commit, which every debit
      // runs and which queues on the chain head's lock (AuditService.seal).
      const ownUnsealed = runScript(
        'app-statements-unsealed',
        appStatementScript(pgbenchCards, tenant.enterpriseId, config, { seal: false }),
      );
      const oldUnsealed = runScript('old-transaction-unsealed', oldTransactionScript(pgbenchCards, { seal: false }));
      const machineLoad = loadAverage();

      // ---- checks
      const problems: string[] = [];
      for (const [status, failure] of failures) {
        problems.push(`${failure.count} HTTP answers ${status}, e.g. ${failure.sample}`);
      }
      for (const [status, failure] of codeFailures) {
        problems.push(`${failure.count} HTTP answers ${status} to debits by payment code, e.g. ${failure.sample}`);
      }
      if (codeRun.result.errors > 0 || codeRun.result.timeouts > 0) {
        problems.push(`payment codes: ${codeRun.result.errors} connection errors, ${codeRun.result.timeouts} timeouts`);
      }
      if (result.errors > 0 || result.timeouts > 0) {
        problems.push(`${result.errors} connection errors, ${result.timeouts} timeouts`);
      }
      for (const [name, run] of [
        ['app statements', own],
        ['old transaction', old],
      ] as const) {
        if (run.failed > 0) problems.push(`${run.failed} pgbench transactions (${name}) failed`);
      }
      const {
        rows: [counted],
      } = await db.query<{ debits: number }>(
        "SELECT count(*)::int AS debits FROM redemptions WHERE client_id = $1 AND kind = 'debit'",
        [channelClient.id],
      );
      // Warm-up and measured runs: at most one request per connection in flight at each stop.
      if (counted.debits < ok + codeOk || counted.debits > ok + codeOk + 4 * SETTINGS.connections) {
        problems.push(`${ok + codeOk} debits answered 200 but ${counted.debits} in the database`);
      }
      const {
        rows: [drift],
      } = await db.query<{ n: number; negative: number }>(
        `SELECT count(*) FILTER (WHERE c.balance <> c.face_value + COALESCE(t.moved, 0))::int AS n,
                  count(*) FILTER (WHERE c.balance < 0)::int AS negative
           FROM cards c LEFT JOIN (SELECT serial, SUM(amount) AS moved FROM card_transactions GROUP BY serial) t
             ON t.serial = c.serial
           WHERE c.order_id = $1`,
        [order.id],
      );
      if (drift.n > 0 || drift.negative > 0) {
        problems.push(`${drift.n} cards whose balance is not face value less their debits (${drift.negative} < 0)`);
      }
      const verification = await tenant.operator.get<{ ok: boolean; first_violation: unknown }>(
        '/v1/admin/ledger/verify',
      );
      if (!verification.ok) problems.push(`ledger verify: ${JSON.stringify(verification.first_violation)}`);

      // ---- report
      const pgbenchRow = (label: string, run: PgbenchResult) =>
        row([
          label,
          run.tps.toFixed(0),
          run.p50.toFixed(1),
          run.p99.toFixed(1),
          run.databaseCpu === undefined ? '' : `${Math.round(run.databaseCpu * 100)} % pg`,
          '',
        ]);
      console.log(
        `bench:redemption: ${SETTINGS.connections} concurrent clients, ${SETTINGS.durationS} s measured after ${SETTINGS.warmupS} s warm-up, 1 fen per debit, one card per client; load average ${machineLoad}`,
      );
      console.log(HEADER_ROW);
      console.log(measuredRow('http (app)', http));
      console.log(measuredRow('http (app), by payment code', byCode));
      console.log(pgbenchRow('pgbench: app statements', own));
      console.log(pgbenchRow('pgbench: old transaction', old));
      console.log(pgbenchRow('(pgbench: app statement, no seal)', ownUnsealed));
      console.log(pgbenchRow('(pgbench: old transaction, no seal)', oldUnsealed));
      if (database) {
        console.log(
          `Postgres CPU during the HTTP run: ${Math.round(database.cpu * 100)} % (${database.cpuPerRequest.toFixed(0)} µs per debit)`,
        );
      }
      const sampledTotal = [...waits.values()].reduce((sum, n) => sum + n, 0);
      console.log(
        `app's database sessions during the HTTP runs: ${[...waits]
          .sort((a, b) => b[1] - a[1])
          .slice(0, 6)
          .map(([what, n]) => `${what} ${Math.round((100 * n) / sampledTotal)} %`)
          .join(', ')}`,
      );
      console.log(
        `checks: ${ok} + ${codeOk} (by payment code) HTTP debits answered 200, ${counted.debits} in the database; pgbench ${own.transactions} + ${old.transactions} + ${ownUnsealed.transactions} + ${oldUnsealed.transactions} transactions; balances = face − debits on all ${cards.length} cards; ledger verify ${verification.ok ? 'ok' : 'FAILED'}`,
      );
      const verdicts = [
        {
          what: `debits by payment code / by serial = ${byCode.rps.toFixed(0)} / ${http.rps.toFixed(0)} = ${(byCode.rps / http.rps).toFixed(2)}`,
          target: `≥ ${TARGET_CODE_RATIO}`,
          met: byCode.rps >= TARGET_CODE_RATIO * http.rps,
        },
        {
          what: `app / pgbench of its own statements = ${(http.rps / own.tps).toFixed(2)}`,
          target: `≥ ${TARGET_OWN_RATIO}`,
          met: http.rps >= TARGET_OWN_RATIO * own.tps,
        },
        {
          what: `app / pgbench of the old transaction = ${(http.rps / old.tps).toFixed(2)}`,
          target: `≥ ${TARGET_OLD_RATIO}`,
          met: http.rps >= TARGET_OLD_RATIO * old.tps,
        },
        {
          what: `app p99 / pgbench p99 of its own statements = ${http.p99} / ${own.p99.toFixed(1)} ms = ${(http.p99 / own.p99).toFixed(2)}`,
          target: `≤ ${TARGET_P99_FACTOR}`,
          met: http.p99 <= TARGET_P99_FACTOR * own.p99,
        },
      ];
      for (const verdict of verdicts) {
        console.log(`${verdict.what} (target ${verdict.target}): ${verdict.met ? 'met' : 'MISSED'}`);
      }
      for (const problem of problems) console.log(`problem: ${problem}`);
      return problems.length === 0 && verdicts.every((verdict) => verdict.met) ? 0 : 1;
    } finally {
      await db.end();
      rmSync(work, { recursive: true, force: true });
    }
  });
}

runBenchmark('bench:redemption', main);
