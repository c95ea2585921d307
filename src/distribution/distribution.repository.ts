import { Injectable } from '@nestjs/common';
import { TransactionalConnection } from '../database/transactional-connection';

/**
 * distribution_settings, distribution_files, distribution_file_rows, distributions, distribution_recipients and
 * distribution_messages: every statement on them is here (docs/architecture.md, one owner per table).
 */
@Injectable()
export class DistributionRepository {
  constructor(private readonly connection: TransactionalConnection) {}

  // ── settings, files, creation and reservation, reads and reports ──

  // ── sending: due recipients, message outcomes, receipts, expiry and reminders ──

  // ── claim page: token lookup, views, reveals, one-time codes ──
}
