import { randomBytes } from 'node:crypto';
import { CardSecrets } from '../../src/cards/card-secrets';
import type { TestApp } from './app';
import { createProduct, placePaidOrder } from './fixtures';

export interface CardWithSecret {
  serial: string;
  code: string;
  pin: string;
  cardType: 'anonymous' | 'registered';
  faceValue: number;
}

/** Waits until the order is issued. */
export async function waitForIssued(app: TestApp, orderId: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const [order] = await app.dataSource.query<Array<{ status: string }>>('SELECT status FROM orders WHERE id = $1', [
      orderId,
    ]);
    if (order?.status === 'issued') return;
    if (Date.now() > deadline) throw new Error(`order ${orderId} is still ${order?.status}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The order's cards with their codes and PINs, opened from the sealed envelopes as the holder would get them. */
export async function cardsWithSecrets(app: TestApp, orderId: string): Promise<CardWithSecret[]> {
  const secrets = app.app.get(CardSecrets);
  const rows = await app.dataSource.query<
    Array<{ serial: string; secret_ciphertext: string; card_type: 'anonymous' | 'registered'; face_value: number }>
  >(
    `SELECT c.serial::text AS serial, c.secret_ciphertext, b.card_type, c.face_value
     FROM cards c JOIN issuance_batches b ON b.id = c.batch_id WHERE c.order_id = $1 ORDER BY c.serial`,
    [orderId],
  );
  return rows.map((row) => ({
    serial: row.serial,
    ...secrets.open(row.serial, row.secret_ciphertext),
    cardType: row.card_type,
    faceValue: row.face_value,
  }));
}

/** A well-formed PIN that is not `pin`. */
export function wrongPin(pin: string): string {
  return pin === '000000' ? '000001' : '000000';
}

/**
 * An enterprise's paid order of `anonymous` anonymous and `registered` registered ¥100 cards (the registered ones
 * never expire), issued and opened: what the redemption suites spend, bind and void. `token` is the enterprise's
 * client, which may also read and manage its cards.
 */
export async function issuedCardsOfBothKinds(
  app: TestApp,
  poPrefix: string,
  quantities: { anonymous: number; registered: number },
): Promise<{ enterpriseId: string; token: string; anonymous: CardWithSecret[]; registered: CardWithSecret[] }> {
  const anonymousProduct = await createProduct(app);
  const registeredProduct = await createProduct(app, { card_type: 'registered', validity_months: null });
  const placed = await placePaidOrder(
    app,
    `${poPrefix}-${randomBytes(4).toString('hex')}`,
    [
      { product_id: anonymousProduct.id, face_value: 10_000, quantity: quantities.anonymous },
      { product_id: registeredProduct.id, face_value: 10_000, quantity: quantities.registered },
    ],
    ['orders:write', 'orders:read', 'cards:read', 'cards:write'],
  );
  await waitForIssued(app, placed.order.id);
  const cards = await cardsWithSecrets(app, placed.order.id);
  return {
    enterpriseId: placed.enterprise.id,
    token: placed.token,
    anonymous: cards.filter((card) => card.cardType === 'anonymous'),
    registered: cards.filter((card) => card.cardType === 'registered'),
  };
}
