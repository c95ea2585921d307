/**
 * Arithmetic of a re-encryption run's progress (ColumnProgress): pure functions, so that what the job commits
 * and what the API shows follow the same rules.
 */
import type { ColumnProgress, CountsByKeyId, ReencryptionRun } from './reencryption-run.entity';
import { CODE_PEPPER_COLUMN } from './sealed-columns';

/** How many unreadable rows a column names in its samples. */
export const MAX_UNREADABLE_SAMPLES = 10;

export function pendingProgress(): ColumnProgress {
  return {
    state: 'pending',
    cursor: null,
    rowsAtStart: 0,
    keysAtStart: {},
    scanned: 0,
    reencrypted: {},
    unreadable: {},
    changed: {},
    unreadableSamples: [],
    keysAfter: null,
  };
}

/** A census (rows per key id; the `null` key id: rows without an envelope) as total rows and envelopes per key. */
export function fromCensus(rows: ReadonlyArray<{ key_id: string | null; rows: string | number }>): {
  rows: number;
  keys: CountsByKeyId;
} {
  let total = 0;
  const keys: CountsByKeyId = {};
  for (const row of rows) {
    const count = Number(row.rows);
    total += count;
    if (row.key_id !== null) keys[row.key_id] = (keys[row.key_id] ?? 0) + count;
  }
  return { rows: total, keys };
}

export const sum = (counts: CountsByKeyId): number => Object.values(counts).reduce((a, b) => a + b, 0);

/** Envelopes under any key but `target`. */
export function staleCount(counts: CountsByKeyId, target: string): number {
  return Object.entries(counts).reduce((total, [keyId, count]) => (keyId === target ? total : total + count), 0);
}

export function addCounts(into: CountsByKeyId, from: CountsByKeyId): CountsByKeyId {
  const result = { ...into };
  for (const [keyId, count] of Object.entries(from)) if (count) result[keyId] = (result[keyId] ?? 0) + count;
  return result;
}

/** What one committed batch adds to a column's progress. */
export interface BatchOutcome {
  /** Rows walked. */
  scanned: number;
  /** Primary key of the last row walked. */
  cursor: string[];
  reencrypted: CountsByKeyId;
  unreadable: CountsByKeyId;
  changed: CountsByKeyId;
  unreadableSamples: string[];
}

export function applyBatch(progress: ColumnProgress, batch: BatchOutcome): ColumnProgress {
  return {
    ...progress,
    cursor: batch.cursor,
    scanned: progress.scanned + batch.scanned,
    reencrypted: addCounts(progress.reencrypted, batch.reencrypted),
    unreadable: addCounts(progress.unreadable, batch.unreadable),
    changed: addCounts(progress.changed, batch.changed),
    unreadableSamples: [...progress.unreadableSamples, ...batch.unreadableSamples].slice(0, MAX_UNREADABLE_SAMPLES),
  };
}

/**
 * Envelopes under `keyId` the run has still to reach: 0 once the column is done (what is left then is in
 * keysAfter), else those counted at the start less those already handled (an estimate: rows written or purged
 * meanwhile are not in it).
 */
export function remainingFor(progress: ColumnProgress, keyId: string, target: string): number {
  if (keyId === target || progress.state === 'done') return 0;
  const handled =
    (progress.reencrypted[keyId] ?? 0) + (progress.unreadable[keyId] ?? 0) + (progress.changed[keyId] ?? 0);
  return Math.max(0, (progress.keysAtStart[keyId] ?? 0) - handled);
}

/** Every key id a column's progress mentions, the target first, then by name. */
export function keyIdsOf(progress: ColumnProgress, target: string): string[] {
  const ids = new Set<string>([
    ...Object.keys(progress.keysAtStart),
    ...Object.keys(progress.reencrypted),
    ...Object.keys(progress.unreadable),
    ...Object.keys(progress.changed),
    ...Object.keys(progress.keysAfter ?? {}),
  ]);
  ids.delete(target);
  return [target, ...[...ids].sort()];
}

/** The key a column's rows move to in `run`: the run's data key, or for cards.code_hash its CODE_PEPPER id. */
export function targetKeyIdOf(run: Pick<ReencryptionRun, 'targetKeyId' | 'targetCodeKeyId'>, column: string): string {
  return column === CODE_PEPPER_COLUMN ? (run.targetCodeKeyId ?? run.targetKeyId) : run.targetKeyId;
}
