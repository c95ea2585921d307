import { Injectable, Logger } from '@nestjs/common';
import { AuditService } from '../audit/audit.service';
import type { RequestContext } from '../common/context/request-context';
import { DataCipher } from '../common/crypto/data-cipher.service';
import { ApiError } from '../common/errors/api-error';
import { isId, newId } from '../common/ids';
import type { Page } from '../common/pagination/pagination';
import { TransactionService } from '../database/transaction.service';
import { JobName, QueueName } from '../queue/queue.constants';
import { QueueService } from '../queue/queue.service';
import { CardSecrets, LEGACY_CODE_KEY_ID, BARE_PEPPER_ID, pepperIdOf } from '../cards/card-secrets';
import type { CodePepperDto, DataKeyDto, DataKeysDto } from './dto/data-keys.dto';
import {
  DEFAULT_REENCRYPTION_BATCH,
  type ListReencryptionsQueryDto,
  ReencryptionDto,
  type StartReencryptionDto,
} from './dto/reencryption.dto';
import { DataKeysRepository } from './data-keys.repository';
import { fromCensus, pendingProgress } from './reencryption-progress';
import type { ReencryptionRun } from './reencryption-run.entity';
import { SealedColumnOwners } from './sealed-column-owners';
import { dataKeyIdOf, SealedColumns } from './sealed-columns';

/** Census counts by label folded into counts by data key (`v1:k1` and `k1` are the key `k1`). */
function byDataKey(labels: Record<string, number>): Record<string, number> {
  const keys: Record<string, number> = {};
  for (const [label, rows] of Object.entries(labels)) keys[dataKeyIdOf(label)] = (keys[dataKeyIdOf(label)] ?? 0) + rows;
  return keys;
}

/** A queued or running run whose progress has not moved for this long is enqueued again when read. */
const RELAY_AFTER_MS = 60_000;

/**
 * Data-key and code-pepper rotation for operators: which key ids the encrypted data and the cards' blind indexes
 * use, and re-encryption runs (started here, carried out by ReencryptionJob) that move every envelope under the
 * active key and re-index every card under the current pepper.
 */
@Injectable()
export class DataKeysService {
  private readonly logger = new Logger(DataKeysService.name);

  constructor(
    private readonly runs: DataKeysRepository,
    private readonly owners: SealedColumnOwners,
    private readonly transactions: TransactionService,
    private readonly audit: AuditService,
    private readonly queues: QueueService,
    private readonly cipher: DataCipher,
    private readonly columns: SealedColumns,
    private readonly secrets: CardSecrets,
  ) {}

  /**
   * Envelopes per key id and column, counted now (one aggregate pass per encrypted table), beside the
   * configured keys: a key may leave DATA_ENCRYPTION_KEYS once no row uses it.
   */
  async usage(ctx: RequestContext): Promise<DataKeysDto> {
    const perColumn: Array<{ column: string; keys: Record<string, number> }> = [];
    let cardsByPepper: Record<string, number> = {};
    for (const column of this.columns.all) {
      const census = fromCensus(await this.owners.of(column).census(ctx, column));
      if (column.keys === 'code_pepper') cardsByPepper = census.keys;
      // Envelopes of both formats under a key count for it (v1 ones are labelled `v1:<key id>`).
      else perColumn.push({ column: column.name, keys: byDataKey(census.keys) });
    }
    const configured = this.cipher.keyIds;
    const found = perColumn.flatMap(({ keys }) => Object.keys(keys)).filter((id) => !configured.includes(id));
    const keys = [...configured, ...[...new Set(found)].sort()].map((keyId): DataKeyDto => {
      const columns = perColumn.map(({ column, keys: counts }) => ({ column, rows: counts[keyId] ?? 0 }));
      const rows = columns.reduce((total, column) => total + column.rows, 0);
      const active = keyId === this.cipher.activeKeyId;
      const isConfigured = configured.includes(keyId);
      return {
        key_id: keyId,
        active,
        configured: isConfigured,
        rows,
        columns,
        removable: isConfigured && !active && rows === 0,
      };
    });
    return {
      object: 'data_keys',
      active_key_id: this.cipher.activeKeyId,
      keys,
      code_peppers: this.pepperUsage(cardsByPepper),
      counted_at: new Date().toISOString(),
    };
  }

  /**
   * Cards per CODE_PEPPER id (`legacy`: indexed with the raw pepper p0, before pepper ids), both index schemes of a
   * pepper counted together (`p1.b2` and the earlier HMAC `p1`): the pepper stays until no card uses it.
   */
  private pepperUsage(byIndexKey: Record<string, number>): CodePepperDto[] {
    const cards: Record<string, number> = {};
    for (const [indexKeyId, rows] of Object.entries(byIndexKey)) {
      const pepperId = pepperIdOf(indexKeyId);
      cards[pepperId] = (cards[pepperId] ?? 0) + rows;
    }
    const configured = this.secrets.pepperIds;
    const ids = [
      ...configured,
      ...Object.keys(cards)
        .filter((id) => !configured.includes(id))
        .sort(),
    ];
    return ids.map((keyId) => {
      const active = keyId === this.secrets.currentPepperId;
      const isConfigured =
        keyId === LEGACY_CODE_KEY_ID ? configured.includes(BARE_PEPPER_ID) : configured.includes(keyId);
      const rows = cards[keyId] ?? 0;
      // p0 also finds the legacy cards: it stays until they are re-indexed too.
      const needed = rows + (keyId === BARE_PEPPER_ID ? (cards[LEGACY_CODE_KEY_ID] ?? 0) : 0);
      return {
        key_id: keyId,
        active,
        configured: isConfigured,
        cards: rows,
        removable: isConfigured && !active && keyId !== LEGACY_CODE_KEY_ID && needed === 0,
      };
    });
  }

  /** Queues a run that moves every envelope under this process's active key; 409 while another is unfinished. */
  async start(ctx: RequestContext, dto: StartReencryptionDto): Promise<ReencryptionDto> {
    return this.transactions.run(ctx, async () => {
      await this.runs.lockStart(ctx);
      const unfinished = await this.runs.unfinished(ctx);
      if (unfinished) {
        throw ApiError.conflict(
          'reencryption_in_progress',
          `Re-encryption '${unfinished.id}' is ${unfinished.status}; wait for it to finish`,
          { reencryption_id: unfinished.id },
        );
      }
      const run = await this.runs.insert(ctx, {
        id: newId('reencryption'),
        status: 'queued',
        targetKeyId: this.cipher.activeKeyId,
        targetCodeKeyId: this.secrets.blindIndexKeyId,
        batchSize: dto.batch_size ?? DEFAULT_REENCRYPTION_BATCH,
        progress: Object.fromEntries(this.columns.all.map((column) => [column.name, pendingProgress()])),
        requestedByClientId: ctx.clientId,
        failureReason: null,
        startedAt: null,
        completedAt: null,
      });
      await this.audit.record(ctx, {
        action: 'data_keys.reencryption_requested',
        objectType: 'reencryption',
        objectId: run.id,
        summary: {
          target_key_id: run.targetKeyId,
          target_code_key_id: run.targetCodeKeyId,
          configured_key_ids: this.cipher.keyIds,
          batch_size: run.batchSize,
        },
      });
      await this.transactions.afterCommit(ctx, () => this.enqueue(run.id));
      return ReencryptionDto.from(run);
    });
  }

  async get(ctx: RequestContext, id: string): Promise<ReencryptionDto> {
    const run = isId('reencryption', id) ? await this.runs.find(ctx, id) : null;
    if (!run) throw ApiError.notFound('re-encryption', id);
    await this.relay(run);
    return ReencryptionDto.from(run);
  }

  async list(ctx: RequestContext, query: ListReencryptionsQueryDto): Promise<Page<ReencryptionDto>> {
    const page = await this.runs.list(ctx, query);
    return { ...page, data: page.data.map((run) => ReencryptionDto.from(run)) };
  }

  /**
   * The relay from committed state to the queue: a run is enqueued after its commit, so a crash in between (or
   * a job that died without marking it) would leave it waiting; a read of a run that has not moved for a minute
   * enqueues it again (a no-op while its job exists) or retries its failed job.
   */
  private async relay(run: ReencryptionRun): Promise<void> {
    if (run.status !== 'queued' && run.status !== 'running') return;
    if (Date.now() - run.updatedAt.getTime() < RELAY_AFTER_MS) return;
    try {
      const job = await this.queues.queue(QueueName.DataKeys).getJob(run.id);
      if (!job) await this.enqueue(run.id);
      else if (await job.isFailed()) await job.retry('failed', { resetAttemptsMade: true });
    } catch (err) {
      this.logger.warn({ msg: 'could not re-enqueue a re-encryption', runId: run.id, err });
    }
  }

  private async enqueue(runId: string): Promise<void> {
    await this.queues.add(JobName.ReencryptData, { runId }, { jobId: runId });
  }
}
