import { ReencryptionDto } from './dto/reencryption.dto';
import {
  applyBatch,
  fromCensus,
  keyIdsOf,
  MAX_UNREADABLE_SAMPLES,
  pendingProgress,
  remainingFor,
  staleCount,
} from './reencryption-progress';
import type { ColumnProgress, ReencryptionRun } from './reencryption-run.entity';
import { SEALED_COLUMN_NAMES } from './sealed-columns';

describe('re-encryption progress', () => {
  it('reads a census: rows without an envelope count in the total only', () => {
    const census = fromCensus([
      { key_id: 'k1', rows: '700' },
      { key_id: null, rows: '100' },
      { key_id: 'k2', rows: 200 },
    ]);
    expect(census).toEqual({ rows: 1000, keys: { k1: 700, k2: 200 } });
    expect(staleCount(census.keys, 'k2')).toBe(700);
    expect(staleCount(census.keys, 'k3')).toBe(900);
    expect(staleCount({ k2: 5 }, 'k2')).toBe(0);
  });

  it('adds batches up, moves the cursor and keeps at most a few samples', () => {
    let progress: ColumnProgress = {
      ...pendingProgress(),
      state: 'running' as const,
      rowsAtStart: 1000,
      keysAtStart: { k1: 700, k0: 50 },
    };
    const sample = (n: number) => Array.from({ length: n }, (_, i) => `1000000000${i}`);
    progress = applyBatch(progress, {
      scanned: 500,
      cursor: ['100000000500'],
      reencrypted: { k1: 300 },
      unreadable: { k0: 8 },
      changed: { k1: 2 },
      unreadableSamples: sample(8),
    });
    progress = applyBatch(progress, {
      scanned: 500,
      cursor: ['100000001000'],
      reencrypted: { k1: 398 },
      unreadable: { k0: 42 },
      changed: {},
      unreadableSamples: sample(10),
    });
    expect(progress).toMatchObject({
      cursor: ['100000001000'],
      scanned: 1000,
      reencrypted: { k1: 698 },
      unreadable: { k0: 50 },
      changed: { k1: 2 },
    });
    expect(progress.unreadableSamples).toHaveLength(MAX_UNREADABLE_SAMPLES);
    expect(remainingFor(progress, 'k1', 'k2')).toBe(0);
    expect(remainingFor(progress, 'k0', 'k2')).toBe(0);
    expect(keyIdsOf(progress, 'k2')).toEqual(['k2', 'k0', 'k1']);
  });

  it('estimates what is left while running, and reports exact counts once done', () => {
    const running = {
      ...pendingProgress(),
      state: 'running' as const,
      keysAtStart: { k1: 1000, k2: 10 },
      reencrypted: { k1: 400 },
      unreadable: { k1: 1 },
      changed: { k1: 4 },
    };
    expect(remainingFor(running, 'k1', 'k2')).toBe(595);
    expect(remainingFor(running, 'k2', 'k2')).toBe(0);
    // Rows purged meanwhile can make the handled count pass the census: never negative.
    expect(remainingFor({ ...running, reencrypted: { k1: 2000 } }, 'k1', 'k2')).toBe(0);
    expect(remainingFor({ ...running, state: 'done', keysAfter: { k1: 1, k2: 1409 } }, 'k1', 'k2')).toBe(0);
  });

  it('shows a run per column in walking order, with totals', () => {
    const run = {
      id: 'rek_01JDQ6ZK6Y8V3N2M4T5R7W9XAB',
      status: 'running',
      targetKeyId: 'k2',
      targetCodeKeyId: 'p1',
      batchSize: 5000,
      requestedByClientId: 'cli_operator',
      failureReason: null,
      createdAt: new Date('2026-01-01T00:00:00Z'),
      startedAt: new Date('2026-01-01T00:00:01Z'),
      completedAt: null,
      updatedAt: new Date('2026-01-01T00:00:02Z'),
      progress: {
        'orders.purchaser_ciphertext': {
          ...pendingProgress(),
          state: 'done',
          rowsAtStart: 3,
          keysAtStart: { k1: 2 },
          scanned: 3,
          reencrypted: { k1: 2 },
          keysAfter: { k2: 2 },
        },
        'cards.secret_ciphertext': {
          ...pendingProgress(),
          state: 'running',
          rowsAtStart: 100,
          keysAtStart: { k1: 90, k2: 5 },
          scanned: 40,
          reencrypted: { k1: 35 },
        },
      },
    } as ReencryptionRun;
    const dto = ReencryptionDto.from(run);
    expect(dto.columns.map((column) => column.column)).toEqual([...SEALED_COLUMN_NAMES]);
    expect(dto.columns[0]).toMatchObject({
      state: 'running',
      rows_total: 100,
      rows_scanned: 40,
      rows_reencrypted: 35,
      rows_remaining: 55,
      keys: [
        { key_id: 'k2', rows_at_start: 5, reencrypted: 0, remaining: 0, rows_after: null },
        { key_id: 'k1', rows_at_start: 90, reencrypted: 35, remaining: 55, rows_after: null },
      ],
    });
    expect(dto.columns[1].keys).toEqual([
      {
        key_id: 'k2',
        rows_at_start: 0,
        reencrypted: 0,
        unreadable: 0,
        changed_concurrently: 0,
        remaining: 0,
        rows_after: 2,
      },
      {
        key_id: 'k1',
        rows_at_start: 2,
        reencrypted: 2,
        unreadable: 0,
        changed_concurrently: 0,
        remaining: 0,
        rows_after: 0,
      },
    ]);
    // A column the run has not counted yet (absent from older runs too) shows as pending.
    expect(dto.columns[2]).toMatchObject({ state: 'pending', rows_total: 0, keys: [{ key_id: 'k2' }] });
    expect(dto).toMatchObject({ rows_scanned: 43, rows_reencrypted: 37, rows_remaining: 55, status: 'running' });
  });
});
