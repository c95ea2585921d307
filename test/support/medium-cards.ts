import { randomBytes, randomInt } from 'node:crypto';
import type { RequestContext } from '../../src/common/context/request-context';
import type { TransactionalConnection } from '../../src/database/transactional-connection';
import { serialFromSequence } from '../../src/cards/card-code';

/**
 * A batch and a card written straight into the medium test's (rolled-back) transaction: what the repositories of
 * cards and redemption read and change. Serials far above any minted by the e2e tests sharing the database.
 */
export async function insertCard(
  connection: TransactionalConnection,
  ctx: RequestContext,
  card: { status?: string; balance?: number; holderRef?: string | null; clientId?: string | null } = {},
): Promise<{ serial: string; enterpriseId: string; batchId: string }> {
  const suffix = randomBytes(6).toString('hex');
  const enterpriseId = `ent_medium${suffix}`;
  const batchId = `bat_medium${suffix}`;
  const serial = serialFromSequence(BigInt(900_000_000_000 + randomInt(1, 99_000_000_000)));
  await connection.query(
    ctx,
    `INSERT INTO issuance_batches (id, order_id, enterprise_id, line_no, product_id, card_type, face_value, count,
       chunk_size, serial_start, status)
     VALUES ($1, 'ord_medium', $2, 1, 'prd_medium', 'anonymous', 10000, 1, 1, 1, 'completed')`,
    [batchId, enterpriseId],
  );
  await connection.query(
    ctx,
    `INSERT INTO cards (serial, order_id, batch_id, enterprise_id, card_type, product_id, face_value, balance, status,
       code_hash, holder_ref, bound_client_id)
     VALUES ($1, 'ord_medium', $2, $8, 'anonymous', 'prd_medium', 10000, $3, $4, $5, $6, $7)`,
    [
      serial,
      batchId,
      card.balance ?? 10_000,
      card.status ?? 'active',
      randomBytes(32),
      card.holderRef === undefined ? 'holder' : card.holderRef,
      card.clientId === undefined ? 'cli_medium' : card.clientId,
      enterpriseId,
    ],
  );
  return { serial, enterpriseId, batchId };
}
