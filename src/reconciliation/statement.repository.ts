import type { Readable } from 'node:stream';
import { Injectable } from '@nestjs/common';
import type { PoolClient } from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import type { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver.js';
import { statementCardMovementsSql } from '../cards/cards.repository';
import type { RequestContext } from '../common/context/request-context';
import { TransactionalConnection } from '../database/transactional-connection';
import type { SqlRows } from '../ledger/ledger-invariants';
import { orderInvoiceNumberJoinSql } from '../invoicing/invoicing.repository';
import { readStatementSums, statementEntryLinesSql, type StatementSums } from '../ledger/ledger.repository';
import { orderPoNumberJoinSql } from '../orders/orders.repository';
import { redemptionReferenceJoinSql } from '../redemption/redemption.repository';

/** One statement line as the JSON page reads it: amounts in fen, as text (bigint). */
export interface StatementLineRow {
  cursor_at: string;
  occurred_at: string;
  source: 'ledger' | 'card';
  id: string;
  kind: string;
  order_id: string | null;
  po_number: string | null;
  invoice_number: string | null;
  card_serial: string | null;
  redemption_reference: string | null;
  memo: string | null;
  prepaid_balance: string;
  credit_used: string;
  held_for_orders: string;
  card_float: string;
}

/** Where a page starts: after the line at (`at`, `source`, `id`), the statement's order. */
export interface StatementLineCursor {
  at: string;
  source: string;
  id: string;
}

/** The columns of a statement file, in order (statement-files.ts writes their header and totals). */
export const STATEMENT_FILE_COLUMNS = [
  'occurred_at',
  'source',
  'kind',
  'order_id',
  'po_number',
  'invoice_number',
  'card_serial',
  'redemption_reference',
  'memo',
  'prepaid_balance',
  'credit_used',
  'held_for_orders',
  'card_float',
  'id',
] as const;

/** Text a spreadsheet would run as a formula (= + - @, tab, CR first) gets a leading apostrophe (OWASP CSV injection). */
function spreadsheetSafe(expression: string): string {
  return `CASE WHEN ${expression} ~ '^[-=+@\t\r]' THEN '''' || ${expression} ELSE ${expression} END`;
}

/** Fen as CNY with two decimals, exact (numeric, not float). */
function yuan(expression: string): string {
  return `to_char(${expression}::numeric / 100, 'FM999999999999999990.00')`;
}

/**
 * The statement's lines of enterprise `$1` in [`$2`, `$3`), in time order: the ledger's entries that move its funds
 * or mint its cards, and its cards' movements, each owner's fragment, with the PO number (orders), the invoice number
 * (invoicing) and the redemption reference (redemption) joined through their owners' fragments.
 */
function linesSql(select: string, where = '', tail = ''): string {
  return `SELECT ${select}
    FROM (${statementEntryLinesSql()} UNION ALL ${statementCardMovementsSql()}) x
    ${orderPoNumberJoinSql('x.order_id', 'o')}
    ${orderInvoiceNumberJoinSql('x.order_id', 'inv')}
    ${redemptionReferenceJoinSql('x.redemption_id', 'r')}
    ${where}
    ORDER BY x.at, x.source, x.id ${tail}`;
}

const OCCURRED_AT = `to_char(x.at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD"T"HH24:MI:SS.US"+08:00"')`;

/** The file's SELECT: the columns of STATEMENT_FILE_COLUMNS; `escape` guards the free-text cells of a CSV. */
function fileSelect(escape: boolean): string {
  const text = (expression: string) => (escape ? spreadsheetSafe(expression) : expression);
  return [
    OCCURRED_AT,
    'x.source',
    'x.kind',
    'x.order_id',
    text('o.po_number'),
    'inv.number',
    'x.card_serial::text',
    text('r.reference'),
    text('x.memo'),
    yuan('x.prepaid_balance'),
    yuan('x.credit_used'),
    yuan('x.held_for_orders'),
    yuan('x.card_float'),
    'x.id',
  ].join(', ');
}

/** Free text as XML character data: markup escaped, characters XML forbids dropped, and backslash, tab, CR and LF as
 * character references (COPY's text format would escape them; a line of its output is then exactly one row). */
function xmlText(expression: string): string {
  let sql = `regexp_replace(${expression}, '[\x01-\x08\x0B\x0C\x0E-\x1F]', '', 'g')`;
  for (const [from, to] of [
    ['&', '&amp;'],
    ['<', '&lt;'],
    ['>', '&gt;'],
    ["E'\\\\'", '&#92;'],
    ["E'\\t'", '&#9;'],
    ["E'\\r'", '&#13;'],
    ["E'\\n'", '&#10;'],
  ]) {
    sql = `replace(${sql}, ${from.startsWith("E'") ? from : `'${from}'`}, '${to}')`;
  }
  return sql;
}

/** Sheet style ids of the statement workbook (statement-files.ts writes the matching styles.xml). */
export const SHEET_STYLE = { date: 1, cny: 2 } as const;

/**
 * One spreadsheet row of the statement's sheet XML per line (STATEMENT_FILE_COLUMNS, row 2 on), built by the
 * database: a date cell (an Excel serial of Asia/Shanghai wall time), inline text cells (absent when null), CNY
 * amounts. The XLSX streams these between its header and totals rows: no per-cell work in Node.
 */
function sheetRowSelect(): string {
  const text = (column: string, expression: string, free = false) =>
    `coalesce('<c r="${column}' || n || '" t="inlineStr"><is><t${free ? ' xml:space="preserve"' : ''}>' || ${free ? xmlText(expression) : expression} || '</t></is></c>', '')`;
  const cny = (column: string, expression: string) =>
    `'<c r="${column}' || n || '" s="${SHEET_STYLE.cny}"><v>' || round(${expression}::numeric / 100, 2) || '</v></c>'`;
  return `'<row r="' || n || '"><c r="A' || n || '" s="${SHEET_STYLE.date}"><v>' ||
      round((extract(epoch FROM at) + 28800) / 86400 + 25569, 10) || '</v></c>' ||
    ${text('B', 'source')} || ${text('C', 'kind')} || ${text('D', 'order_id')} || ${text('E', 'po_number', true)} ||
    ${text('F', 'invoice_number', true)} || ${text('G', 'card_serial')} || ${text('H', 'redemption_reference', true)} ||
    ${text('I', 'memo', true)} || ${cny('J', 'prepaid_balance')} || ${cny('K', 'credit_used')} ||
    ${cny('L', 'held_for_orders')} || ${cny('M', 'card_float')} || ${text('N', 'id')} || '</row>'`;
}

/**
 * The COPY statement of a statement's sheet rows (sheetRowSelect), in the lines' order, as COPY text (one row a line):
 * literals as in statementCopySql.
 */
export function statementSheetCopySql(
  literal: (value: string) => string,
  enterpriseId: string,
  from: Date,
  to: Date,
): string {
  const values = [enterpriseId, from.toISOString(), to.toISOString()];
  const lines = linesSql(
    `(row_number() OVER (ORDER BY x.at, x.source, x.id) + 1)::text AS n, x.at, x.source, x.kind, x.order_id,
      o.po_number, inv.number AS invoice_number, x.card_serial::text AS card_serial,
      r.reference AS redemption_reference, x.memo, x.prepaid_balance, x.credit_used, x.held_for_orders, x.card_float,
      x.id`,
  ).replace(/\$([1-3])(?!\d)/g, (_, n: string) => literal(values[Number(n) - 1]));
  return `COPY (SELECT ${sheetRowSelect()} FROM (${lines}) line) TO STDOUT`;
}

/**
 * The COPY statement of a statement file's lines (STATEMENT_FILE_COLUMNS, CSV): COPY takes no parameters, so the
 * enterprise and the bounds are written in as literals quoted by `literal` (the pg client's escapeLiteral).
 * Exported for bench:statements, which times this very statement as the limit.
 */
export function statementCopySql(
  literal: (value: string) => string,
  enterpriseId: string,
  from: Date,
  to: Date,
  { escape }: { escape: boolean },
): string {
  const values = [enterpriseId, from.toISOString(), to.toISOString()];
  const sql = linesSql(fileSelect(escape)).replace(/\$([1-3])(?!\d)/g, (_, n: string) =>
    literal(values[Number(n) - 1]),
  );
  return `COPY (${sql}) TO STDOUT WITH (FORMAT csv)`;
}

/** A statement being streamed: its figures and its lines (CSV rows, or sheet XML rows), from one snapshot. */
export interface StatementStream {
  sums: StatementSums;
  csv: Readable;
}

/**
 * Reads statements. It owns no table: it composes the fragments the ledger, cards, orders, invoicing and redemption
 * export for it (docs/architecture.md), and runs them.
 */
@Injectable()
export class StatementRepository {
  constructor(private readonly connection: TransactionalConnection) {}

  /** A page of lines after `after` (or from the start), `limit` + 1 rows so the caller knows whether more follow. */
  async page(
    ctx: RequestContext,
    enterpriseId: string,
    from: Date,
    to: Date,
    after: StatementLineCursor | null,
    limit: number,
  ): Promise<StatementLineRow[]> {
    const select = `to_char(x.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS cursor_at,
      ${OCCURRED_AT} AS occurred_at, x.source, x.id, x.kind, x.order_id, o.po_number, inv.number AS invoice_number,
      x.card_serial::text AS card_serial, r.reference AS redemption_reference, x.memo,
      x.prepaid_balance::text AS prepaid_balance, x.credit_used::text AS credit_used,
      x.held_for_orders::text AS held_for_orders, x.card_float::text AS card_float`;
    const parameters: unknown[] = [enterpriseId, from, to];
    let where = '';
    if (after) {
      parameters.push(after.at, after.source, after.id);
      where = 'WHERE (x.at, x.source, x.id) > ($4::timestamptz, $5::text, $6::text)';
    }
    parameters.push(limit + 1);
    return this.connection.query<StatementLineRow[]>(
      ctx,
      linesSql(select, where, `LIMIT $${parameters.length}`),
      parameters,
    );
  }

  /**
   * Opens a statement to stream: on a connection of its own, in a read-only REPEATABLE READ transaction (one snapshot
   * for the figures and every line), the figures, then the lines as `COPY (SELECT …) TO STDOUT` CSV, so a million
   * lines pass through in bounded memory. The connection goes back to the pool when the CSV ends, and is dropped
   * when it fails or the reader goes away mid-way (a connection inside a COPY cannot be reused).
   */
  async stream(enterpriseId: string, from: Date, to: Date, format: 'csv' | 'xlsx'): Promise<StatementStream> {
    const driver = this.connection.rawDataSource.driver as PostgresDriver;
    const [client, release] = (await driver.obtainMasterConnection()) as [PoolClient, (err?: unknown) => void];
    try {
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      const rows: SqlRows = async <T>(sql: string, parameters?: unknown[]) =>
        (await client.query(sql, parameters)).rows as T[];
      const sums = await readStatementSums(rows, enterpriseId, from, to);
      const literal = (value: string) => client.escapeLiteral(value);
      const csv = client.query(
        copyTo(
          format === 'csv'
            ? statementCopySql(literal, enterpriseId, from, to, { escape: true })
            : statementSheetCopySql(literal, enterpriseId, from, to),
        ),
      );
      let settled = false;
      const settle = (error?: unknown) => {
        if (settled) return;
        settled = true;
        if (error) release(error);
        else client.query('COMMIT').then(() => release(), release);
      };
      csv.once('end', () => settle());
      csv.once('error', (error) => settle(error));
      csv.once('close', () => settle(csv.readableEnded ? undefined : new Error('statement stream closed early')));
      return { sums, csv };
    } catch (error) {
      release(error);
      throw error;
    }
  }
}
