import type { Readable } from 'node:stream';
import { Injectable } from '@nestjs/common';
import type { RequestContext } from '../common/context/request-context';
import { DataCipher } from '../common/crypto/data-cipher.service';
import { ApiError } from '../common/errors/api-error';
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
import { isId, newId } from '../common/ids';
import { AppConfig } from '../config/app-config';
import { TransactionService } from '../database/transaction.service';
import type { DistributionFile } from './distribution.entity';
import { DistributionRepository, type StagedFileRow } from './distribution.repository';
import { DistributionFileDto } from './dto/distribution-file.dto';
import {
  maskRealName,
  MAX_LISTED_ROW_ERRORS,
  realNameEnvelopeContext,
  RecipientRowsChecker,
  recordToInput,
  serialiseRealName,
  type RecipientRow,
} from './recipient-rows';

/** Rows written per statement while a file streams in. */
const ROWS_PER_INSERT = 1_000;

/**
 * Recipient files: a CSV or XLSX body, streamed through the parser and the row checks (recipient-rows.ts) into
 * distribution_file_rows in chunks, never held whole. Over DISTRIBUTION_FILE_MAX_BYTES or MAX rows: 413.
 */
@Injectable()
export class DistributionFilesService {
  constructor(
    private readonly distributions: DistributionRepository,
    private readonly transactions: TransactionService,
    private readonly cipher: DataCipher,
    private readonly config: AppConfig,
  ) {}

  async upload(
    ctx: RequestContext,
    upload: { filename: string; contentType: string; body: Readable },
  ): Promise<DistributionFileDto> {
    const mediaType = upload.contentType.split(';')[0].trim().toLowerCase();
    const format = mediaType === CSV_CONTENT_TYPE ? 'csv' : mediaType === XLSX_CONTENT_TYPE ? 'xlsx' : null;
    if (!format)
      throw new ApiError(415, 'unsupported_media_type', `Send the file as ${CSV_CONTENT_TYPE} or ${XLSX_CONTENT_TYPE}`);
    const maxBytes = this.config.DISTRIBUTION_FILE_MAX_BYTES;
    const maxRows = this.config.DISTRIBUTION_FILE_MAX_ROWS;
    // Wired before anything waits: the body flows (and may overflow the limit) from here on.
    const limited = new ByteLimit(maxBytes);
    upload.body.on('error', (error) => limited.destroy(error));
    upload.body.pipe(limited);
    const records = failingWith(limited, format === 'csv' ? csvRecords(limited) : xlsxRecords(limited));
    const fileId = newId('distributionFile');
    try {
      return await this.transactions.run(ctx, async () => {
        await this.distributions.deleteExpiredFiles(ctx, ctx.enterpriseId);
        const checker = new RecipientRowsChecker();
        let rowCount = 0;
        let pending: StagedFileRow[] = [];
        for await (const record of records) {
          rowCount++;
          if (rowCount > maxRows) throw new FileTooLarge(`over ${maxRows} rows`);
          const row = checker.add(recordToInput(record), rowCount);
          // Once a row failed the file cannot be used: its rows are only checked, no longer kept.
          if (!row || checker.errorCount > 0) continue;
          pending.push(this.staged(row));
          if (pending.length >= ROWS_PER_INSERT) {
            await this.distributions.insertFileRows(ctx, fileId, pending);
            pending = [];
          }
        }
        const { errors } = checker.result();
        if (errors.length === 0) await this.distributions.insertFileRows(ctx, fileId, pending);
        else await this.distributions.deleteFileRows(ctx, fileId);
        if (rowCount === 0) {
          throw ApiError.unprocessable('file_empty', 'The file has no data rows (the first row is the header)');
        }
        const listed: unknown[] = errors.slice(0, MAX_LISTED_ROW_ERRORS);
        if (errors.length > MAX_LISTED_ROW_ERRORS) listed.push({ error_count: errors.length });
        const file: Omit<DistributionFile, 'createdAt'> = {
          id: fileId,
          enterpriseId: ctx.enterpriseId,
          filename: upload.filename,
          format,
          rowCount,
          errors: listed,
          expiresAt: new Date(Date.now() + this.config.DISTRIBUTION_FILE_TTL_HOURS * 3_600_000),
        };
        return DistributionFileDto.from(await this.distributions.insertFile(ctx, file));
      });
    } catch (error) {
      if (error instanceof FileTooLarge) {
        throw new ApiError(
          413,
          'file_too_large',
          `A recipient file may have at most ${maxRows} rows and ${maxBytes} bytes`,
          { max_rows: maxRows, max_bytes: maxBytes },
        );
      }
      if (error instanceof ApiError) throw error;
      // A parser's complaint (not CSV, not an XLSX workbook): the uploader's to fix.
      throw ApiError.unprocessable(
        'file_unreadable',
        `The file could not be read as ${format.toUpperCase()}: ${error instanceof Error ? error.message.slice(0, 200) : 'unknown error'}`,
      );
    } finally {
      // What a refusal (or the sheets after the first) left unread is read and dropped, so the answer arrives.
      drain(upload.body, maxBytes);
    }
  }

  async get(ctx: RequestContext, id: string): Promise<DistributionFileDto> {
    const file = isId('distributionFile', id) ? await this.distributions.findFile(ctx, id, ctx.enterpriseId) : null;
    if (!file) throw ApiError.notFound('distribution file', id);
    return DistributionFileDto.from(file);
  }

  /** A checked row as the file keeps it: its recipient's id made now, the real name sealed for that recipient. */
  private staged(row: RecipientRow): StagedFileRow {
    const recipientId = newId('distributionRecipient');
    return {
      rowNumber: row.rowNumber,
      recipientId,
      employeeRef: row.employeeRef,
      name: row.name,
      email: row.email,
      mobile: row.mobile,
      channel: row.channel,
      faceValue: row.faceValue,
      serial: row.serial,
      greeting: row.greeting,
      locale: row.locale,
      holderRef: row.holderRef,
      channelClientId: row.channelClientId,
      realNameSealed: row.realName
        ? this.cipher.encrypt(serialiseRealName(row.realName), realNameEnvelopeContext(recipientId))
        : null,
      realNameMasked: row.realName ? maskRealName(row.realName) : null,
    };
  }
}
