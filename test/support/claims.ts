import { randomBytes } from 'node:crypto';
import { DataCipher } from '../../src/common/crypto/data-cipher.service';
import { newId } from '../../src/common/ids';
import { newClaimToken } from '../../src/distribution/claim-token';
import { realNameEnvelopeContext } from '../../src/distribution/recipient-rows';
import type { RecipientStatus } from '../../src/distribution/distribution.entity';
import type { TestApp } from './app';
import { cardsWithSecrets, waitForIssued, type CardWithSecret } from './cards';
import { createProduct, placePaidOrder } from './fixtures';

/** An issued order of a fresh enterprise, with its cards' codes (opened from their envelopes). */
export async function issuedOrderWithCards(app: TestApp, quantity: number, faceValue = 10_000) {
  const product = await createProduct(app);
  const placed = await placePaidOrder(app, `CLAIM-${randomBytes(4).toString('hex')}`, [
    { product_id: product.id, face_value: faceValue, quantity },
  ]);
  await waitForIssued(app, placed.order.id);
  return { ...placed, cards: await cardsWithSecrets(app, placed.order.id) };
}

export interface ClaimFixture {
  token: string;
  recipientId: string;
  distributionId: string;
}

/**
 * A distribution of one card to one employee, as the create and send parts leave it: the recipient `sent` (unless
 * told otherwise) with a claim token whose hash is stored and an expiry. `mobile`: a registered card's real-name
 * data sealed as the create part seals it (the claim page then asks for an SMS one-time code).
 */
export async function insertClaimRecipient(
  app: TestApp,
  input: {
    enterpriseId: string;
    orderId: string;
    card: CardWithSecret;
    status?: RecipientStatus;
    expiresAt?: Date;
    greeting?: string | null;
    design?: string;
    locale?: 'zh-CN' | 'en';
    employeeRef?: string;
    mobile?: string;
  },
): Promise<ClaimFixture> {
  const { token, hash } = newClaimToken();
  const distributionId = newId('distribution');
  const recipientId = newId('distributionRecipient');
  const sealed = input.mobile
    ? app.app.get(DataCipher).encrypt(
        JSON.stringify({
          name: '张三',
          id_type: 'resident_id',
          id_number: '11010519491231002X',
          mobile: input.mobile,
        }),
        realNameEnvelopeContext(recipientId),
      )
    : null;
  const masked = input.mobile
    ? { name: '张*', mobile: `${input.mobile.slice(0, -8)}****${input.mobile.slice(-4)}` }
    : null;
  await app.dataSource.transaction(async (manager) => {
    await manager.query(
      `INSERT INTO distributions (id, enterprise_id, order_id, status, send_at, recipient_count, created_by_client_id, started_at)
       VALUES ($1, $2, $3, 'sending', now(), 1, 'cli_test', now())`,
      [distributionId, input.enterpriseId, input.orderId],
    );
    await manager.query(
      `INSERT INTO distribution_recipients (id, distribution_id, enterprise_id, row_number, employee_ref, email, channel,
         locale, greeting, design, face_value, card_serial, real_name_sealed, real_name_masked, status, claim_token_hash,
         claim_expires_at, sent_at)
       VALUES ($1, $2, $3, 1, $4, 'employee@example.com', 'email', $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, now())`,
      [
        recipientId,
        distributionId,
        input.enterpriseId,
        input.employeeRef ?? `E${randomBytes(3).toString('hex')}`,
        input.locale ?? 'zh-CN',
        input.greeting === undefined ? '新年快乐！' : input.greeting,
        input.design ?? 'classic',
        input.card.faceValue,
        input.card.serial,
        sealed,
        masked,
        input.status ?? 'sent',
        hash,
        input.expiresAt ?? new Date(Date.now() + 30 * 86_400_000),
      ],
    );
  });
  return { token, recipientId, distributionId };
}

export async function recipientRow(app: TestApp, id: string) {
  const [row] = await app.dataSource.query<
    Array<{ status: RecipientStatus; view_count: number; reveal_count: number; otp_failures: number }>
  >('SELECT status, view_count, reveal_count, otp_failures FROM distribution_recipients WHERE id = $1', [id]);
  return row;
}

/** The code as the cards module stores it: no separators. */
export const plainCode = (code: string) => code.replace(/-/g, '');
