import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { DataCipher } from '../common/crypto/data-cipher.service';
import type { AppConfig } from '../config/app-config';
import { formatCode, generateCodes, generatePins, serialFromSequence } from '../cards/card-code';
import { CardSecrets } from '../cards/card-secrets';
import {
  chunkConverterFor,
  InlineConverter,
  PARALLEL_MIN_ROWS,
  WorkerDecryptPool,
  type DecryptWorkerData,
} from './decrypt-pool';
import { ExportBuildError } from './export-csv';

const keys = {
  CODE_PEPPER: randomBytes(32).toString('base64'),
  DATA_ENCRYPTION_KEYS: `k2:${randomBytes(32).toString('base64')},k1:${randomBytes(32).toString('base64')}`,
};
const secrets = new CardSecrets(keys as AppConfig, new DataCipher(keys as AppConfig));

/**
 * Jest runs TypeScript sources, and a worker thread is a fresh Node context without Jest's transform: this
 * bootstrap compiles the worker and what it imports with swc (as jest.config.js does) before loading it.
 * Production starts the compiled card-decrypt.worker.js instead.
 */
const BOOTSTRAP = `
const { readFileSync } = require('node:fs');
const { transformSync } = require('@swc/core');
require.extensions['.ts'] = (module, filename) => {
  const { code } = transformSync(readFileSync(filename, 'utf8'), {
    filename,
    jsc: {
      parser: { syntax: 'typescript', decorators: true },
      transform: { legacyDecorator: true, decoratorMetadata: true },
      target: 'es2022',
    },
    module: { type: 'commonjs' },
  });
  module._compile(code, filename);
};
require(${JSON.stringify(join(__dirname, 'card-decrypt.worker.ts'))});
`;
const spawnFromSources = (workerData: DecryptWorkerData) => new Worker(BOOTSTRAP, { eval: true, workerData });

function copyLines(count: number, firstSequence: number) {
  const codes = generateCodes(count);
  const pins = generatePins(count);
  let lines = '';
  let csv = '';
  for (let i = 0; i < count; i++) {
    const serial = serialFromSequence(firstSequence + i);
    lines += `${serial}\t${secrets.seal(serial, codes[i], pins[i])}\t50000\t2030-01-31 16:00:00+00\n`;
    csv += `${serial},${formatCode(codes[i])},${pins[i]},50000,2030-01-31T16:00:00.000Z\n`;
  }
  return { lines: Buffer.from(lines, 'latin1'), csv };
}

describe('WorkerDecryptPool', () => {
  let pool: WorkerDecryptPool;

  beforeAll(() => {
    pool = new WorkerDecryptPool(2, () => spawnFromSources({ keys }));
  });
  afterAll(async () => {
    await pool.close();
  });

  it('opens envelopes in worker threads, in order, like the inline converter', async () => {
    const chunks = Array.from({ length: 6 }, (_, i) => copyLines(150, 10_000_000_000 + i * 150));
    const converted = await Promise.all(chunks.map((chunk) => pool.convert(chunk.lines)));
    expect(converted.map((chunk) => chunk.csv.toString('latin1'))).toEqual(chunks.map((chunk) => chunk.csv));
    expect(converted.map((chunk) => chunk.rows)).toEqual([150, 150, 150, 150, 150, 150]);
    const inline = await new InlineConverter(secrets.reader()).convert(chunks[0].lines);
    expect(inline.csv.equals(converted[0].csv)).toBe(true);
  }, 30_000);

  it("reports a chunk's ExportBuildError with its code, and goes on working", async () => {
    const { lines } = copyLines(3, 11_000_000_000);
    const serial = serialFromSequence(11_000_000_000);
    const moved = lines.toString('latin1').replace(serial, serialFromSequence(11_000_000_100));
    await expect(pool.convert(Buffer.from(moved, 'latin1'))).rejects.toMatchObject({
      name: 'ExportBuildError',
      code: 'card_secret_unreadable',
    });
    const purged = Buffer.from(`${serial}\t\\N\t100\t\\N\n`, 'latin1');
    const failure = pool.convert(purged);
    await expect(failure).rejects.toBeInstanceOf(ExportBuildError);
    await expect(failure).rejects.toMatchObject({ code: 'card_secrets_purged' });
    const next = copyLines(2, 12_000_000_000);
    expect((await pool.convert(next.lines)).csv.toString('latin1')).toBe(next.csv);
  }, 30_000);
});

describe('chunkConverterFor', () => {
  const reader = secrets.reader();

  it('keeps small exports, single cores and missing worker files on the calling thread', async () => {
    const small = chunkConverterFor({ expectedRows: PARALLEL_MIN_ROWS - 1, secrets: reader, keys, threads: 4 });
    expect(small).toBeInstanceOf(InlineConverter);
    const single = chunkConverterFor({ expectedRows: 1e6, secrets: reader, keys, threads: 1 });
    expect(single).toBeInstanceOf(InlineConverter);
    // EXPORT_DECRYPT_THREADS = 0, the default: no pool even when workers could start.
    const off = chunkConverterFor({ expectedRows: 1e6, secrets: reader, keys, threads: 0, spawn: spawnFromSources });
    expect(off).toBeInstanceOf(InlineConverter);
    // Under Jest there is no compiled card-decrypt.worker.js beside the sources.
    const fromSources = chunkConverterFor({ expectedRows: 1e6, secrets: reader, keys, threads: 4 });
    expect(fromSources).toBeInstanceOf(InlineConverter);
  });

  it('uses a pool of one worker per thread for a large export', async () => {
    const spawned: DecryptWorkerData[] = [];
    const pool = chunkConverterFor({
      expectedRows: 1e6,
      secrets: reader,
      keys: { ...keys, JWT_SIGNING_KEY: 'not for workers' } as typeof keys,
      threads: 3,
      spawn: (data) => {
        spawned.push(data);
        return spawnFromSources(data);
      },
    });
    try {
      expect(pool).toBeInstanceOf(WorkerDecryptPool);
      expect(pool.parallelism).toBe(6);
      // Only the two settings the workers need cross over.
      expect(spawned).toEqual([{ keys }, { keys }, { keys }]);
      const { lines, csv } = copyLines(10, 13_000_000_000);
      expect((await pool.convert(lines)).csv.toString('latin1')).toBe(csv);
    } finally {
      await pool.close();
    }
  }, 30_000);
});
