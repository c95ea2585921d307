import { Injectable } from '@nestjs/common';
import type { PoolClient } from 'pg';
import { In } from 'typeorm';
import type { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver.js';
import type { RequestContext } from '../common/context/request-context';
import { type ListQueryDto, type Page } from '../common/pagination/pagination';
import { paginate } from '../database/paginate';
import { TransactionalConnection } from '../database/transactional-connection';
import { type ColumnProgress, ReencryptionRun, type ReencryptionStatus } from './reencryption-run.entity';

/** Advisory-lock namespace of re-encryption (idempotency 7301, export builds 7302). */
const REENCRYPTION_LOCK_NAMESPACE = 7_303;
/** Key 0 of the namespace: the walk (one at a time); key 1: starting a run (only one may be queued or running). */
const WALK_LOCK_KEY = 0;
const START_LOCK_KEY = 1;

const UNFINISHED: ReencryptionStatus[] = ['queued', 'running'];

/**
 * reencryption_runs and the re-encryption locks. The walk's statements over the sealed columns are their tables'
 * owners' (SealedColumnOwners).
 */
@Injectable()
export class DataKeysRepository {
  constructor(private readonly connection: TransactionalConnection) {}

  /** Until the context's transaction ends, no other run is started. */
  async lockStart(ctx: RequestContext): Promise<void> {
    await this.connection
      .transactionManager(ctx, 'DataKeysRepository.lockStart')
      .query('SELECT pg_advisory_xact_lock($1, $2)', [REENCRYPTION_LOCK_NAMESPACE, START_LOCK_KEY]);
  }

  /** A queued or running run, if any. */
  async unfinished(ctx: RequestContext): Promise<Pick<ReencryptionRun, 'id' | 'status'> | null> {
    return this.connection
      .manager(ctx)
      .findOne(ReencryptionRun, { where: { status: In(UNFINISHED) }, select: { id: true, status: true } });
  }

  /** Every queued or running run's id. */
  async unfinishedIds(ctx: RequestContext): Promise<string[]> {
    const runs = await this.connection
      .manager(ctx)
      .find(ReencryptionRun, { where: { status: In(UNFINISHED) }, select: { id: true } });
    return runs.map((run) => run.id);
  }

  /** Inserts the run and returns it as stored (with its timestamps). */
  async insert(ctx: RequestContext, run: Omit<ReencryptionRun, 'createdAt' | 'updatedAt'>): Promise<ReencryptionRun> {
    const manager = this.connection.manager(ctx);
    return manager.save(manager.create(ReencryptionRun, run));
  }

  async find(ctx: RequestContext, id: string): Promise<ReencryptionRun | null> {
    return this.connection.manager(ctx).findOneBy(ReencryptionRun, { id });
  }

  async list(ctx: RequestContext, page: ListQueryDto): Promise<Page<ReencryptionRun>> {
    return paginate(this.connection.manager(ctx).createQueryBuilder(ReencryptionRun, 'run'), page, (run) => run);
  }

  /** Moves the run from `from` to `changes.status` (with the other changes); whether it did. */
  async transition(
    ctx: RequestContext,
    id: string,
    from: ReencryptionStatus[],
    changes: Partial<Pick<ReencryptionRun, 'status' | 'startedAt' | 'completedAt' | 'failureReason'>>,
  ): Promise<boolean> {
    const result = await this.connection.manager(ctx).update(ReencryptionRun, { id, status: In(from) }, changes);
    return (result.affected ?? 0) > 0;
  }

  /** Merges the columns' progress into the run's, if it is still running; whether it was. */
  async saveProgress(ctx: RequestContext, id: string, progress: Record<string, ColumnProgress>): Promise<boolean> {
    const [, affected] = await this.connection.query<[unknown, number]>(
      ctx,
      "UPDATE reencryption_runs SET progress = progress || $2::jsonb, updated_at = now() WHERE id = $1 AND status = 'running'",
      [id, JSON.stringify(progress)],
    );
    return affected === 1;
  }

  /** Stores one column's progress, if the run is still running; whether it was. */
  async saveColumn(ctx: RequestContext, id: string, column: string, progress: ColumnProgress): Promise<boolean> {
    const [, affected] = await this.connection.query<[unknown, number]>(
      ctx,
      "UPDATE reencryption_runs SET progress = progress || jsonb_build_object($2::text, $3::jsonb), updated_at = now() WHERE id = $1 AND status = 'running'",
      [id, column, JSON.stringify(progress)],
    );
    return affected === 1;
  }

  /**
   * Runs `work` holding the walk lock, a session advisory lock on a connection of its own (a stalled job's
   * duplicate finds it taken). `{ locked: false }` when another process holds it. A connection whose unlock
   * failed is dropped, which drops its lock too.
   */
  async withWalkLock<T>(work: () => Promise<T>): Promise<{ locked: true; result: T } | { locked: false }> {
    const driver = this.connection.rawDataSource.driver as PostgresDriver;
    const [client, release] = (await driver.obtainMasterConnection()) as [PoolClient, (err?: unknown) => void];
    let releaseError: unknown;
    try {
      const { rows } = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1, $2) AS locked', [
        REENCRYPTION_LOCK_NAMESPACE,
        WALK_LOCK_KEY,
      ]);
      if (!rows[0].locked) return { locked: false };
      try {
        return { locked: true, result: await work() };
      } finally {
        await client
          .query('SELECT pg_advisory_unlock($1, $2)', [REENCRYPTION_LOCK_NAMESPACE, WALK_LOCK_KEY])
          .catch((error: unknown) => {
            releaseError = error;
          });
      }
    } finally {
      release(releaseError);
    }
  }
}
