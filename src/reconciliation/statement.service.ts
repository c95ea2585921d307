import type { Readable } from 'node:stream';
import { Injectable } from '@nestjs/common';
import type { RequestContext } from '../common/context/request-context';
import { ApiError } from '../common/errors/api-error';
import type { Page } from '../common/pagination/pagination';
import type { StatementBalanceRow, StatementSums } from '../ledger/ledger.repository';
import { LedgerService } from '../ledger/ledger.service';
import {
  type StatementBalancesDto,
  type StatementDto,
  type StatementFormat,
  type StatementLineDto,
  type StatementLinesQueryDto,
  type StatementQueryDto,
} from './dto/statement.dto';
import { csvStatement, xlsxStatement } from './statement-files';
import { parseStatementPeriod, shanghaiDay, type StatementPeriod } from './statement-period';
import { type StatementLineCursor, StatementRepository } from './statement.repository';

export const CSV_CONTENT_TYPE = 'text/csv; charset=utf-8';
export const XLSX_CONTENT_TYPE = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet';

/** A statement file on its way out. */
export interface StatementFile {
  contentType: string;
  fileName: string;
  body: Readable;
}

/** Σ in SQL comes back as text; fen stay safe integers (−0 is 0). */
function fen(text: string): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value)) throw new RangeError(`statement figure ${text} is not a safe integer of fen`);
  return value === 0 ? 0 : value;
}

function balances(row: StatementBalanceRow): StatementBalancesDto {
  return {
    prepaid_balance: fen(row.prepaid_balance),
    credit_used: fen(row.credit_used),
    held_for_orders: fen(row.held_for_orders),
    card_float: fen(row.card_float),
  };
}

/**
 * The format a statement request asks for: `?format=` wins; else the first of JSON, CSV, XLSX its Accept header
 * admits (none, or any type, is JSON); 406 not_acceptable when it admits none of them.
 */
export function statementFormat(format: StatementFormat | undefined, accept: string | undefined): StatementFormat {
  if (format) return format;
  const types = (accept ?? '')
    .split(',')
    .map((part) => part.split(';')[0].trim().toLowerCase())
    .filter((type) => type !== '');
  if (types.length === 0 || types.some((type) => type === '*/*' || type === 'application/*')) return 'json';
  if (types.some((type) => type === 'application/json' || type === 'application/problem+json')) return 'json';
  if (types.some((type) => type === 'text/csv' || type === 'text/*')) return 'csv';
  if (types.includes(XLSX_CONTENT_TYPE)) return 'xlsx';
  throw new ApiError(
    406,
    'not_acceptable',
    `A statement is application/json, text/csv or ${XLSX_CONTENT_TYPE}; the Accept header admits none of them`,
  );
}

function encodeCursor(cursor: StatementLineCursor): string {
  return Buffer.from(JSON.stringify([cursor.at, cursor.source, cursor.id])).toString('base64url');
}

function decodeCursor(text: string): StatementLineCursor {
  try {
    const [at, source, id] = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as unknown[];
    if (typeof at === 'string' && typeof source === 'string' && typeof id === 'string' && !Number.isNaN(Date.parse(at)))
      return { at, source, id };
  } catch {
    // Falls through to the 400 below.
  }
  throw ApiError.validation([
    { field: 'starting_after', message: 'starting_after must be a next_cursor of this list', code: 'invalid_cursor' },
  ]);
}

/**
 * Statements (README "Finance: statements and redemption summary"): an enterprise's opening positions, its movements
 * by kind and its closing positions, every figure a sum over the ledger's lines; and its lines, every movement of its
 * funds and cards, as pages or as one streamed CSV or XLSX file.
 */
@Injectable()
export class StatementService {
  constructor(
    private readonly ledger: LedgerService,
    private readonly statements: StatementRepository,
  ) {}

  /** The period of a request, parsed (400 invalid_date, invalid_period). */
  period(query: { from: string; to: string }): StatementPeriod {
    return parseStatementPeriod(query.from, query.to);
  }

  /** GET /v1/statements as JSON: the figures. */
  async statement(ctx: RequestContext, query: StatementQueryDto): Promise<StatementDto> {
    const { from, to } = this.period(query);
    const sums = await this.ledger.statementSums(ctx, ctx.enterpriseId, from, to);
    return statementOf(ctx.enterpriseId, from, to, sums);
  }

  /** GET /v1/statements/lines: a page of the lines, in time order. */
  async lines(ctx: RequestContext, query: StatementLinesQueryDto): Promise<Page<StatementLineDto>> {
    const { from, to } = this.period(query);
    const limit = query.limit ?? 20;
    const after = query.starting_after ? decodeCursor(query.starting_after) : null;
    const rows = await this.statements.page(ctx, ctx.enterpriseId, from, to, after, limit);
    const data = rows.slice(0, limit);
    const last = data[data.length - 1];
    return {
      object: 'list',
      data: data.map((row) => ({
        occurred_at: row.occurred_at,
        source: row.source,
        id: row.id.replace(/^0+(?=\d)/, ''),
        kind: row.kind,
        order_id: row.order_id,
        po_number: row.po_number,
        invoice_number: row.invoice_number,
        card_serial: row.card_serial,
        redemption_reference: row.redemption_reference,
        memo: row.memo,
        prepaid_balance: fen(row.prepaid_balance),
        credit_used: fen(row.credit_used),
        held_for_orders: fen(row.held_for_orders),
        card_float: fen(row.card_float),
      })),
      has_more: rows.length > limit,
      next_cursor:
        rows.length > limit && last ? encodeCursor({ at: last.cursor_at, source: last.source, id: last.id }) : null,
    };
  }

  /** GET /v1/statements as CSV or XLSX: every line, streamed from one snapshot, and the totals row. */
  async file(ctx: RequestContext, query: StatementQueryDto, format: 'csv' | 'xlsx'): Promise<StatementFile> {
    const { from, to } = this.period(query);
    return this.fileOf(ctx.enterpriseId, from, to, format);
  }

  /** The statement file of `enterpriseId` for [from, to): the request's, or a statement run's on the worker. */
  async fileOf(enterpriseId: string, from: Date, to: Date, format: 'csv' | 'xlsx'): Promise<StatementFile> {
    const { sums, csv } = await this.statements.stream(enterpriseId, from, to, format);
    const totals = statementOf(enterpriseId, from, to, sums).total_movements;
    const name = `fuli-statement-${shanghaiDay(from)}-${shanghaiDay(new Date(to.getTime() - 1))}`;
    return format === 'csv'
      ? { contentType: CSV_CONTENT_TYPE, fileName: `${name}.csv`, body: csvStatement(csv, totals) }
      : { contentType: XLSX_CONTENT_TYPE, fileName: `${name}.xlsx`, body: xlsxStatement(csv, totals) };
  }
}

/** The JSON statement of ledger sums: total movements are closing − opening, and equal the Σ of the kinds. */
export function statementOf(enterpriseId: string, from: Date, to: Date, sums: StatementSums): StatementDto {
  const opening = balances(sums.opening);
  const closing = balances(sums.closing);
  const movements = sums.kinds.map((row) => ({ kind: row.kind, entries: fen(row.entries), ...balances(row) }));
  const keys = ['prepaid_balance', 'credit_used', 'held_for_orders', 'card_float'] as const;
  const total = Object.fromEntries(
    keys.map((key) => [key, movements.reduce((sum, movement) => sum + movement[key], 0)]),
  ) as unknown as StatementBalancesDto;
  for (const key of keys) {
    // The same snapshot's sums: a mismatch is a defect in the SQL, never a client's fault.
    if (opening[key] + total[key] !== closing[key]) throw new Error(`statement ${key}: opening + movements ≠ closing`);
  }
  return {
    object: 'statement',
    currency: 'CNY',
    enterprise_id: enterpriseId,
    from: from.toISOString(),
    to: to.toISOString(),
    opening,
    movements,
    total_movements: total,
    closing,
  };
}
