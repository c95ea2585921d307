import type { FastifyReply } from 'fastify';
import { CSV_CONTENT_TYPE, type StatementFile, XLSX_CONTENT_TYPE } from './statement.service';

/** The OpenAPI content of a response that is a CSV or an XLSX file (statements, reports, differences). */
export const SPREADSHEET_CONTENT = {
  [CSV_CONTENT_TYPE]: { schema: { type: 'string' } },
  [XLSX_CONTENT_TYPE]: { schema: { type: 'string', format: 'binary' } },
};

/** Streams a statement or report file as a download, never cached. */
export async function sendStatementFile(reply: FastifyReply, file: StatementFile): Promise<void> {
  await reply
    .header('content-type', file.contentType)
    .header('content-disposition', `attachment; filename="${file.fileName}"`)
    .header('cache-control', 'no-store')
    .send(file.body);
}
