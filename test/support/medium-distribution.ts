import { randomBytes, randomInt } from 'node:crypto';
import { serialFromSequence } from '../../src/cards/card-code';
import type { RequestContext } from '../../src/common/context/request-context';
import { newId } from '../../src/common/ids';
import type { TransactionalConnection } from '../../src/database/transactional-connection';
import type {
  DistributionChannel,
  DistributionStatus,
  RecipientStatus,
} from '../../src/distribution/distribution.entity';
import type { StagedFileRow } from '../../src/distribution/distribution.repository';

/** A checked row of an uploaded file (DistributionRepository.insertFileRows): e-mail, 100 CNY, no real name. */
export function stagedFileRow(rowNumber: number, overrides: Partial<StagedFileRow> = {}): StagedFileRow {
  return {
    rowNumber,
    recipientId: newId('distributionRecipient'),
    employeeRef: `F${rowNumber}`,
    name: null,
    email: `f${rowNumber}@example.com`,
    mobile: null,
    channel: 'email',
    faceValue: 10_000,
    serial: null,
    greeting: null,
    locale: 'zh-CN',
    holderRef: null,
    channelClientId: null,
    realNameSealed: null,
    realNameMasked: null,
    ...overrides,
  };
}

/**
 * Distribution rows written straight into a medium test's (rolled-back) transaction: an order's cards (a batch of
 * its own), a distribution of them, and recipients in any status, as the creation part would leave them.
 */
export interface MediumDistribution {
  enterpriseId: string;
  orderId: string;
  distributionId: string;
  /** Inserts one card of the order (status issued unless said) and a recipient holding it. */
  recipient(options?: {
    status?: RecipientStatus;
    channel?: DistributionChannel;
    dueInMs?: number;
    cardStatus?: string;
    attempts?: number;
  }): Promise<{ id: string; serial: string }>;
}

export async function insertDistribution(
  connection: TransactionalConnection,
  ctx: RequestContext,
  { status = 'sending' }: { status?: DistributionStatus } = {},
): Promise<MediumDistribution> {
  const suffix = randomBytes(6).toString('hex');
  const enterpriseId = `ent_mediumdst${suffix}`;
  const orderId = `ord_mediumdst${suffix}`;
  const batchId = `bat_mediumdst${suffix}`;
  const distributionId = newId('distribution');
  await connection.query(
    ctx,
    `INSERT INTO issuance_batches (id, order_id, enterprise_id, line_no, product_id, card_type, face_value, count,
       chunk_size, serial_start, status)
     VALUES ($1, $2, $3, 1, 'prd_medium', 'anonymous', 10000, 1, 1, 1, 'completed')`,
    [batchId, orderId, enterpriseId],
  );
  await connection.query(
    ctx,
    `INSERT INTO distributions (id, enterprise_id, order_id, status, send_at, recipient_count, created_by_client_id)
     VALUES ($1, $2, $3, $4, now(), 0, 'cli_medium')`,
    [distributionId, enterpriseId, orderId, status],
  );
  let row = 0;
  return {
    enterpriseId,
    orderId,
    distributionId,
    async recipient({
      status = 'queued',
      channel = 'email',
      dueInMs = -1000,
      cardStatus = 'issued',
      attempts = 0,
    } = {}) {
      const serial = serialFromSequence(BigInt(800_000_000_000 + randomInt(1, 99_000_000_000)));
      await connection.query(
        ctx,
        `INSERT INTO cards (serial, order_id, batch_id, enterprise_id, card_type, product_id, face_value, balance,
           status, code_hash)
         VALUES ($1, $2, $3, $6, 'anonymous', 'prd_medium', 10000, 10000, $4, $5)`,
        [serial, orderId, batchId, cardStatus, randomBytes(32), enterpriseId],
      );
      const id = newId('distributionRecipient');
      row += 1;
      await connection.query(
        ctx,
        `INSERT INTO distribution_recipients (id, distribution_id, enterprise_id, row_number, employee_ref, email,
           mobile, channel, design, face_value, card_serial, channel_client_id, holder_ref, status, next_attempt_at,
           attempts)
         VALUES ($1, $2, $3, $4, $5, 'e@example.com', '+8613812345678', $6, 'classic', 10000, $7,
                 CASE WHEN $6 = 'account' THEN 'cli_medium' END, CASE WHEN $6 = 'account' THEN 'holder' END, $8,
                 CASE WHEN $8 IN ('scheduled', 'queued') THEN now() + $9 * interval '1 millisecond' END, $10)`,
        [id, distributionId, enterpriseId, row, `E${row}`, channel, serial, status, dueInMs, attempts],
      );
      return { id, serial };
    },
  };
}
