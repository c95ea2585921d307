import { applyDecorators, type Type } from '@nestjs/common';
import { ApiNotAcceptableResponse, ApiOkResponse, ApiProduces, getSchemaPath } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { Problem } from '../common/errors/problem';
import type { StatementFormat } from './dto/statement.dto';
import { CSV_CONTENT_TYPE, type StatementFile, statementFormat, XLSX_CONTENT_TYPE } from './statement.service';

/** The OpenAPI content of a response that is a CSV or an XLSX file (statements, reports, differences). */
export const SPREADSHEET_CONTENT = {
  [CSV_CONTENT_TYPE]: { schema: { type: 'string' } },
  [XLSX_CONTENT_TYPE]: { schema: { type: 'string', format: 'binary' } },
};

/**
 * The OpenAPI of an endpoint answered by sendJsonOrSpreadsheet: `type` as JSON, or the same figures as a CSV or
 * XLSX file, and 406 when the Accept header admits none of the three.
 */
export function ApiJsonOrSpreadsheet(type: Type<unknown>): MethodDecorator {
  return applyDecorators(
    ApiProduces('application/json', CSV_CONTENT_TYPE, XLSX_CONTENT_TYPE, 'application/problem+json'),
    ApiOkResponse({
      type,
      content: { 'application/json': { schema: { $ref: getSchemaPath(type) } }, ...SPREADSHEET_CONTENT },
    }),
    ApiNotAcceptableResponse({ type: Problem, description: 'not_acceptable: the Accept header admits no format' }),
  );
}

/** Streams a statement or report file as a download, never cached. */
export async function sendStatementFile(reply: FastifyReply, file: StatementFile): Promise<void> {
  await reply
    .header('content-type', file.contentType)
    .header('content-disposition', `attachment; filename="${file.fileName}"`)
    .header('cache-control', 'no-store')
    .send(file.body);
}

/**
 * Answers in the format the request asks for (statementFormat: `?format=`, else its Accept header): the JSON body,
 * or the CSV or XLSX file. Only the answer asked for is read.
 */
export async function sendJsonOrSpreadsheet(
  reply: FastifyReply,
  asked: { format: StatementFormat | undefined; accept: string | undefined },
  answer: { json: () => Promise<unknown>; file: (format: Exclude<StatementFormat, 'json'>) => Promise<StatementFile> },
): Promise<void> {
  const format = statementFormat(asked.format, asked.accept);
  if (format === 'json') {
    await reply.header('content-type', 'application/json; charset=utf-8').send(await answer.json());
    return;
  }
  await sendStatementFile(reply, await answer.file(format));
}
