/**
 * `npm run bench:invoices`: renders N invoices (BENCH_N, default 10,000) through the workers and, in the same run,
 * renders the same documents with pdfkit in one plain loop (the limit).
 *
 * - Setup (not timed): the app (prepareRuntime + createHttpApp, worker off) in this process, on DATABASE_URL or an
 *   embedded Postgres in a temporary DATA_DIR; N issued invoices written as the issuing transaction writes them (one
 *   to four order lines each, amounts after a 3 % discount, 大写 totals, a buyer with a valid credit code), numbered
 *   under an issuer code of the run's own. No profile: nothing is e-mailed, rendering alone is measured.
 * - (a) the workers: a worker process (prepareRuntime + createWorkerApp, the production `start:worker`); this process
 *   enqueues one `render-invoice` job per invoice (addBulk, as many at once as the issuing transactions would), and
 *   the time runs until every invoice reads `rendered`: PDF (pdfkit, Noto Sans SC subset), XML and JSON, their SHA-256,
 *   files written to the file store (FileStorage), the row updated. The worker's RSS is sampled every 250 ms and its peak read
 *   at the end (VmHWM).
 * - (b) the limit: the same documents' PDFs rendered by renderPdf (the worker's own function: same fonts, same
 *   layout) one after the other in this process, the bytes thrown away.
 * - Verification: every invoice rendered; one PDF read back from storage has the SHA-256 its row records.
 *
 * Targets: workers' throughput ≥ 0.5 × the loop's; the worker's peak RSS ≤ 300 MB. Exit 1 on a miss.
 *
 * Environment: BENCH_N, BENCH_TIMEOUT_S (default 1,800), DATABASE_URL (default: an embedded Postgres in a temporary
 * directory, removed afterwards).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes, randomInt } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DataSource } from 'typeorm';
import { closeRuntime, createHttpApp, prepareRuntime } from '../src/bootstrap';
import { loadConfig } from '../src/config/app-config';
import { newId } from '../src/common/ids';
import { renderPdf } from '../src/invoicing/invoice-documents';
import {
  chineseCapitalAmount,
  invoiceLine,
  invoiceNumber,
  shanghaiYearMonth,
  totalsOf,
} from '../src/invoicing/invoice-policy';
import { invoiceDocumentOf } from '../src/invoicing/invoice-render.job';
import { FileStorage } from '../src/storage/file-storage';
import { Invoice } from '../src/invoicing/invoice.entity';
import { invoiceSettingsOf } from '../src/invoicing/invoicing.service';
import { JobName } from '../src/queue/queue.constants';
import { QueueService } from '../src/queue/queue.service';
import { creditCode, fullEnv, positiveInt, runBenchmark } from './support/harness';
import { nextMessage, serveWorker, type WorkerToChild } from './support/worker-child';

const N = positiveInt('BENCH_N', 10_000);
const TIMEOUT_MS = positiveInt('BENCH_TIMEOUT_S', 1_800) * 1000;
const TARGET_RATIO = 0.5;
const RSS_LIMIT_MB = 300;
const ENQUEUE_CHUNK = 1_000;

const row = (cells: string[]) =>
  cells.map((cell, index) => (index === 0 ? cell.padEnd(32) : cell.padStart(11))).join(' ');
const seconds = (since: bigint) => Number(process.hrtime.bigint() - since) / 1e9;

function procStatusMb(pid: number, field: 'VmRSS' | 'VmHWM'): number | undefined {
  try {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** N invoices as the issuing transaction writes them. */
function invoices(issuerCode: string, taxClassificationCode: string, seller: Invoice['seller']): Invoice[] {
  const issuedAt = new Date();
  const { year } = shanghaiYearMonth(issuedAt);
  const buyer = {
    title: '基准测试科技有限公司',
    taxpayer_id: creditCode(),
    address: '上海市浦东新区示例路1号',
    phone: '021-12345678',
    bank: '招商银行上海分行',
    account: '121900000010001',
  };
  return Array.from({ length: N }, (_, index) => {
    const lines = Array.from({ length: 1 + (index % 4) }, () => {
      const faceValue = 10_000 * randomInt(1, 500);
      return invoiceLine(
        { taxClassificationCode },
        {
          orderId: newId('order'),
          poNumber: `PO-${randomBytes(4).toString('hex')}`,
          faceValue,
          amount: faceValue - Math.round((faceValue * 300) / 10_000),
        },
      );
    });
    const totals = totalsOf(lines);
    return {
      id: newId('invoice'),
      enterpriseId: 'ent_BENCH',
      number: invoiceNumber(issuerCode, year, index + 1),
      issuerCode,
      year,
      sequence: index + 1,
      kind: 'blue',
      invoiceType: 'ordinary',
      reason: 'on_request',
      originalInvoiceId: null,
      period: null,
      faceValue: totals.faceValue,
      discount: totals.discount,
      amount: totals.total,
      amountInWords: chineseCapitalAmount(totals.total),
      buyer,
      seller,
      lines,
      note: null,
      issuedAt,
      renderStatus: 'pending',
      pdfPath: null,
      pdfSha256: null,
      xmlPath: null,
      xmlSha256: null,
      jsonSha256: null,
      renderedAt: null,
      emailedAt: null,
      createdAt: issuedAt,
    } satisfies Invoice;
  });
}

async function main(): Promise<number> {
  const dataDir = mkdtempSync(join(tmpdir(), 'fuli-bench-invoices-'));
  const operator = { clientId: 'cli_benchoperator', clientSecret: randomBytes(24).toString('base64url') };
  const issuerCode = String(randomInt(100_000, 999_999));
  const env = { ...fullEnv(dataDir, operator), INVOICE_ISSUER_CODE: issuerCode };
  const runtime = await prepareRuntime(loadConfig(env));
  const app = await createHttpApp(runtime, { worker: false });
  await app.init();
  let worker: ChildProcess | undefined;
  try {
    const config = runtime.config;
    const dataSource = app.get(DataSource);
    const settings = invoiceSettingsOf(config);
    const seller = {
      name: settings.sellerName,
      taxpayer_id: settings.sellerTaxId,
      address: settings.sellerAddress,
      phone: settings.sellerPhone,
      bank: settings.sellerBank,
      account: settings.sellerAccount,
    };
    const all = invoices(issuerCode, settings.taxClassificationCode, seller);
    for (let i = 0; i < all.length; i += 500) await dataSource.manager.insert(Invoice, all.slice(i, i + 500));
    console.log(`bench:invoices: ${N.toLocaleString('en')} invoices written (setup, not timed)`);

    worker = fork(__filename, ['--worker'], {
      env: { ...env, DATABASE_URL: runtime.database.url },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    await nextMessage(worker, 'ready');
    const pid = worker.pid!;
    const idleRss = procStatusMb(pid, 'VmRSS');

    // (a) the workers.
    const queues = app.get(QueueService);
    const rss: number[] = [];
    const sampler = setInterval(() => {
      const mb = procStatusMb(pid, 'VmRSS');
      if (mb !== undefined) rss.push(mb);
    }, 250);
    const started = process.hrtime.bigint();
    for (let i = 0; i < all.length; i += ENQUEUE_CHUNK) {
      await queues.addBulk(
        JobName.RenderInvoice,
        all.slice(i, i + ENQUEUE_CHUNK).map((invoice) => ({
          payload: { invoiceId: invoice.id },
          options: { jobId: `render-${invoice.id}`, forgetWhenDone: true },
        })),
      );
    }
    const deadline = Date.now() + TIMEOUT_MS;
    let rendered = 0;
    while (rendered < N) {
      if (Date.now() > deadline) throw new Error(`only ${rendered} of ${N} invoices rendered after the timeout`);
      await sleep(200);
      const [{ n }] = await dataSource.query<Array<{ n: number }>>(
        "SELECT count(*)::int AS n FROM invoices WHERE issuer_code = $1 AND render_status = 'rendered'",
        [issuerCode],
      );
      rendered = n;
    }
    const workersS = seconds(started);
    clearInterval(sampler);
    const peakRss = procStatusMb(pid, 'VmHWM');

    // (b) the plain loop over the same documents.
    const docs = all.map((invoice) => invoiceDocumentOf(invoice, null, config.INVOICE_DRAWER));
    await renderPdf(docs[0]); // the fonts are read and parsed once per process, as in the worker
    let bytes = 0;
    const loopStarted = process.hrtime.bigint();
    for (const doc of docs) bytes += (await renderPdf(doc)).length;
    const loopS = seconds(loopStarted);

    // Verification: a stored PDF has the digest its row records.
    const [sample] = await dataSource.query<Array<{ pdf_path: string; pdf_sha256: string }>>(
      'SELECT pdf_path, pdf_sha256 FROM invoices WHERE issuer_code = $1 ORDER BY id DESC LIMIT 1',
      [issuerCode],
    );
    const stored = (await app.get(FileStorage).readAll(sample.pdf_path)) ?? Buffer.alloc(0);
    const verified = createHash('sha256').update(stored).digest('hex') === sample.pdf_sha256;

    const ratio = loopS / workersS;
    const quartile = (q: number) => (rss.length ? rss[Math.min(rss.length - 1, Math.floor(rss.length * q))] : NaN);
    console.log('');
    console.log(row(['renderer', 'invoices', 'seconds', 'invoices/s', 'ms each']));
    console.log(
      row([
        'workers (PDF+XML+JSON, stored)',
        String(N),
        workersS.toFixed(1),
        (N / workersS).toFixed(0),
        ((workersS * 1000) / N).toFixed(2),
      ]),
    );
    console.log(
      row([
        'plain pdfkit loop (PDF only)',
        String(N),
        loopS.toFixed(1),
        (N / loopS).toFixed(0),
        ((loopS * 1000) / N).toFixed(2),
      ]),
    );
    console.log(
      `\nworker RSS: idle ${idleRss?.toFixed(0) ?? '?'} MB; during the run at 25/50/75/100 %: ` +
        `${[0.25, 0.5, 0.75, 0.99].map((q) => quartile(q).toFixed(0)).join(' / ')} MB; peak ${peakRss?.toFixed(0) ?? '?'} MB`,
    );
    console.log(`average PDF: ${(bytes / N / 1024).toFixed(1)} KB`);
    const targets: Array<[string, boolean]> = [
      [`workers ≥ ${TARGET_RATIO}× the plain loop's throughput: ${ratio.toFixed(2)}×`, ratio >= TARGET_RATIO],
      [
        `worker peak RSS ≤ ${RSS_LIMIT_MB} MB: ${peakRss?.toFixed(0) ?? 'unknown'} MB`,
        peakRss !== undefined && peakRss <= RSS_LIMIT_MB,
      ],
      [`a stored PDF's SHA-256 matches its row`, verified],
    ];
    console.log('');
    for (const [text, pass] of targets) console.log(`${pass ? 'PASS' : 'FAIL'}  ${text}`);
    return targets.every(([, pass]) => pass) ? 0 : 1;
  } finally {
    if (worker && worker.exitCode === null) {
      const exited = new Promise<void>((done) => worker!.once('exit', () => done()));
      worker.send({ type: 'stop' } satisfies WorkerToChild);
      const timer = setTimeout(() => worker?.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(timer);
    }
    await app.close();
    await closeRuntime(runtime);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--worker') {
  serveWorker().catch((error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : error);
    process.exit(1);
  });
} else if (require.main === module) {
  runBenchmark('bench:invoices', main);
}
