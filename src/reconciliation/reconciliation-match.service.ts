import type { Readable } from 'node:stream';
import { Injectable } from '@nestjs/common';
import type { RequestContext } from '../common/context/request-context';
import { ApiError } from '../common/errors/api-error';
import { isId, newId } from '../common/ids';
import type { Page } from '../common/pagination/pagination';
import {
  ByteLimit,
  CSV_CONTENT_TYPE,
  csvRecords,
  drain,
  failingWith,
  FileTooLarge,
  XLSX_CONTENT_TYPE,
  xlsxRecords,
} from '../common/uploads/tabular-file';
import { AppConfig } from '../config/app-config';
import { TransactionService } from '../database/transaction.service';
import { JobName } from '../queue/queue.constants';
import { QueueService } from '../queue/queue.service';
import {
  ListDifferencesQueryDto,
  ListReconciliationsQueryDto,
  ReconciliationDifferenceDto,
  ReconciliationDto,
  UploadReconciliationQueryDto,
} from './dto/reconciliation-match.dto';
import { ReconciliationRowsChecker, type ErpRow } from './reconciliation-match-rows';
import { ReconciliationMatchRepository } from './reconciliation-match.repository';
import {
  DIFFERENCE_KINDS,
  type Reconciliation,
  type ReconciliationDifference,
  type ReconciliationFormat,
} from './reconciliation.entity';

const JSON_CONTENT_TYPE = 'application/json';
/** Checked rows COPYed per statement while an upload streams in. */
const ROWS_PER_COPY = 5_000;
/** Differences read per query while a download streams out. */
const DOWNLOAD_PAGE = 2_000;

/**
 * Upload and match (README, "Reconciling against your ERP"): an upload is checked row by row as it streams in and
 * its rows are COPYed into reconciliation_rows, all in the request's transaction (any bad row: 422 and nothing
 * stored); a worker job then matches them in one statement (ReconciliationMatchJob).
 */
@Injectable()
export class ReconciliationMatchService {
  constructor(
    private readonly repository: ReconciliationMatchRepository,
    private readonly transactions: TransactionService,
    private readonly queues: QueueService,
    private readonly config: AppConfig,
  ) {}

  async upload(
    ctx: RequestContext,
    upload: { contentType: string | undefined; body: unknown; query: UploadReconciliationQueryDto },
  ): Promise<ReconciliationDto> {
    const enterpriseId = ctx.enterpriseId;
    const mediaType = (upload.contentType ?? '').split(';')[0].trim().toLowerCase();
    const format: ReconciliationFormat | null =
      mediaType === CSV_CONTENT_TYPE
        ? 'csv'
        : mediaType === XLSX_CONTENT_TYPE
          ? 'xlsx'
          : mediaType === JSON_CONTENT_TYPE
            ? 'json'
            : null;
    if (!format) {
      throw new ApiError(
        415,
        'unsupported_media_type',
        `Send the records as ${CSV_CONTENT_TYPE}, ${XLSX_CONTENT_TYPE} or ${JSON_CONTENT_TYPE}`,
      );
    }
    const period = givenPeriod(upload.query);
    const maxBytes = this.config.RECONCILIATION_FILE_MAX_BYTES;
    const maxRows = this.config.RECONCILIATION_MAX_ROWS;
    let records: AsyncIterable<unknown>;
    let file: Readable | null = null;
    if (format === 'json') {
      records = jsonRecords(upload.body);
    } else {
      file = upload.body as Readable;
      // Wired before anything waits: the body flows (and may overflow the limit) from here on.
      const limited = new ByteLimit(maxBytes);
      file.on('error', (error) => limited.destroy(error));
      file.pipe(limited);
      records = failingWith(limited, format === 'csv' ? csvRecords(limited) : xlsxRecords(limited));
    }
    const id = newId('reconciliation');
    try {
      return await this.transactions.run(ctx, async () => {
        const checker = new ReconciliationRowsChecker();
        let rowCount = 0;
        let pending: ErpRow[] = [];
        for await (const record of records) {
          rowCount++;
          if (rowCount > maxRows) throw new FileTooLarge(`over ${maxRows} rows`);
          const row = checker.add(isRecord(record) ? record : {}, rowCount);
          // Once a row failed nothing will be stored: the rest is only checked.
          if (!row || checker.errorCount > 0) continue;
          pending.push(row);
          if (pending.length >= ROWS_PER_COPY) {
            await this.repository.copyRows(ctx, id, pending);
            pending = [];
          }
        }
        if (rowCount === 0) {
          throw ApiError.unprocessable('file_empty', 'The upload has no rows (a file: no data rows under the header)');
        }
        const missing = checker.missingColumns();
        if (missing.length > 0) {
          throw ApiError.unprocessable('missing_columns', `No row gives ${missing.join(', ')}`, { columns: missing });
        }
        if (checker.errorCount > 0) {
          // Thrown: the transaction rolls back the rows COPYed so far.
          throw ApiError.unprocessable(
            'invalid_rows',
            `${checker.errorCount} ${checker.errorCount === 1 ? 'error' : 'errors'} in the rows; nothing was stored`,
            { error_count: checker.errorCount, errors: checker.errors },
          );
        }
        await this.repository.copyRows(ctx, id, pending);
        const reconciliation: Reconciliation = {
          id,
          enterpriseId,
          status: 'processing',
          format,
          filename: upload.query.filename ?? null,
          rowCount,
          periodFrom: period?.from ?? checker.earliest!,
          periodTo: period?.to ?? checker.latest!,
          periodGiven: period !== null,
          counts: null,
          failureReason: null,
          createdByClientId: ctx.clientId!,
          createdAt: new Date(),
          completedAt: null,
        };
        await this.repository.insert(ctx, reconciliation);
        await this.transactions.afterCommit(ctx, () => this.enqueue(id));
        return ReconciliationDto.from(reconciliation);
      });
    } catch (error) {
      if (error instanceof FileTooLarge) {
        throw new ApiError(
          413,
          'file_too_large',
          `A reconciliation upload may have at most ${maxRows} rows and ${maxBytes} bytes`,
          { max_rows: maxRows, max_bytes: maxBytes },
        );
      }
      if (error instanceof ApiError || !file) throw error;
      // A parser's complaint (not CSV, not an XLSX workbook): the uploader's to fix.
      throw ApiError.unprocessable(
        'file_unreadable',
        `The file could not be read as ${format.toUpperCase()}: ${error instanceof Error ? error.message.slice(0, 200) : 'unknown error'}`,
      );
    } finally {
      // What a refusal (or the sheets after the first) left unread is read and dropped, so the answer arrives.
      if (file) drain(file, maxBytes);
    }
  }

  /** Enqueued after commit under the reconciliation's id: a second enqueue of the same id does nothing. */
  async enqueue(reconciliationId: string): Promise<void> {
    await this.queues.add(JobName.MatchReconciliation, { reconciliationId }, { jobId: reconciliationId });
  }

  async get(ctx: RequestContext, id: string): Promise<ReconciliationDto> {
    return ReconciliationDto.from(await this.find(ctx, id));
  }

  async list(ctx: RequestContext, query: ListReconciliationsQueryDto): Promise<Page<ReconciliationDto>> {
    const limit = query.limit ?? 20;
    const rows = await this.repository.page(ctx, ctx.enterpriseId, {
      startingAfter: query.starting_after,
      limit: limit + 1,
    });
    const data = rows.slice(0, limit);
    const hasMore = rows.length > limit;
    return {
      object: 'list',
      data: data.map((row) => ReconciliationDto.from(row)),
      has_more: hasMore,
      next_cursor: hasMore ? data[data.length - 1].id : null,
    };
  }

  async differences(
    ctx: RequestContext,
    id: string,
    query: ListDifferencesQueryDto,
  ): Promise<Page<ReconciliationDifferenceDto>> {
    await this.find(ctx, id);
    const limit = query.limit ?? 20;
    const rows = await this.repository.differences(ctx, id, {
      afterPosition: Number(query.starting_after ?? 0),
      limit: limit + 1,
      kinds: query.kind ? [query.kind] : DIFFERENCE_KINDS,
    });
    const data = rows.slice(0, limit);
    const hasMore = rows.length > limit;
    return {
      object: 'list',
      data: data.map((row) => ReconciliationDifferenceDto.from(row)),
      has_more: hasMore,
      next_cursor: hasMore ? String(data[data.length - 1].position) : null,
    };
  }

  /** Every difference (of `kind`, when given) in position order, page by page: for the downloads. */
  async allDifferences(
    ctx: RequestContext,
    id: string,
    kind: ListDifferencesQueryDto['kind'],
  ): Promise<AsyncIterable<ReconciliationDifference[]>> {
    await this.find(ctx, id);
    const repository = this.repository;
    return (async function* () {
      let after = 0;
      for (;;) {
        const page = await repository.differences(ctx, id, {
          afterPosition: after,
          limit: DOWNLOAD_PAGE,
          kinds: kind ? [kind] : DIFFERENCE_KINDS,
        });
        if (page.length > 0) yield page;
        if (page.length < DOWNLOAD_PAGE) return;
        after = page[page.length - 1].position;
      }
    })();
  }

  private async find(ctx: RequestContext, id: string): Promise<Reconciliation> {
    const found = isId('reconciliation', id)
      ? await this.repository.find(ctx, id, { enterpriseId: ctx.enterpriseId })
      : null;
    if (!found) throw ApiError.notFound('reconciliation', id);
    return found;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The period given with the upload (both days or neither), or null. */
function givenPeriod(query: UploadReconciliationQueryDto): { from: string; to: string } | null {
  const { period_from: from, period_to: to } = query;
  if (from === undefined && to === undefined) return null;
  if (from === undefined || to === undefined) {
    throw ApiError.validation([
      {
        field: from === undefined ? 'period_from' : 'period_to',
        code: 'invalid_period',
        message: 'Give both period_from and period_to, or neither',
      },
    ]);
  }
  if (!isDay(from) || !isDay(to) || from > to) {
    throw ApiError.validation([
      {
        field: 'period_to',
        code: 'invalid_period',
        message: 'The period must be real days with period_from <= period_to',
      },
    ]);
  }
  return { from, to };
}

function isDay(value: string): boolean {
  const date = new Date(`${value}T00:00:00Z`);
  return !Number.isNaN(date.getTime()) && date.toISOString().startsWith(value);
}

/** The `records` of a JSON body (`{"records": [...]}`), as an iterable the upload loop reads like a file. */
function jsonRecords(body: unknown): AsyncIterable<unknown> {
  if (!isRecord(body) || !Array.isArray(body.records)) {
    throw ApiError.validation([
      { field: 'records', message: 'The JSON body is {"records": [...]}, one object per ERP record' },
    ]);
  }
  const extra = Object.keys(body).filter((key) => key !== 'records');
  if (extra.length > 0) {
    throw ApiError.validation(
      extra.map((field) => ({ field, code: 'unknown_field', message: `${field} is not a field of the body` })),
    );
  }
  const records = body.records as unknown[];
  return (async function* () {
    yield* records;
  })();
}
