import { Logger } from '@nestjs/common';
import { startTestApp, type TestApp } from './support/app';
import { createProduct, placePaidOrder } from './support/fixtures';
import { createScratchDatabase, type ScratchDatabase } from './support/scratch-database';

/** The value of one sample of the Prometheus text exposition, or undefined when the series is absent. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

/**
 * What an operator sees of issuance: a log line when a batch starts and when it ends, and the counters in /metrics.
 * A database of its own, so that only this app's worker mints (metrics are per process).
 */
describe('issuance in the log and in /metrics', () => {
  let database: ScratchDatabase;
  let app: TestApp;
  const logged: Array<Record<string, unknown>> = [];

  beforeAll(async () => {
    database = await createScratchDatabase('issuance_observability');
    app = await startTestApp({ DATABASE_URL: database.url, ISSUANCE_CHUNK_SIZE: '100' });
    const capture = (message: unknown) => {
      if (typeof message === 'object' && message !== null) logged.push(message as Record<string, unknown>);
    };
    jest.spyOn(Logger.prototype, 'log').mockImplementation(capture);
    jest.spyOn(Logger.prototype, 'warn').mockImplementation(capture);
  });
  afterAll(async () => {
    jest.restoreAllMocks();
    await app?.close();
    await database?.drop();
  });

  it('logs each batch starting and completing, and counts the cards and batches once each', async () => {
    const before = (await app.metrics.get('/metrics').expect(200)).text;
    expect(sample(before, 'cards_issued_total')).toBe(0);
    for (const status of ['running', 'completed', 'failed'])
      expect(sample(before, `batches_total{status="${status}"}`)).toBe(0);

    const product = await createProduct(app);
    const { token, order } = await placePaidOrder(app, 'OBSERVE-1', [
      { product_id: product.id, face_value: 10_000, quantity: 250 },
      { product_id: product.id, face_value: 50_000, quantity: 30 },
    ]);
    const deadline = Date.now() + 30_000;
    let issued: { status: string; issuance: Array<{ id: string; count: number }> };
    do {
      await new Promise((resolve) => setTimeout(resolve, 100));
      issued = (await app.http.get(`/v1/orders/${order.id}`).auth(token, { type: 'bearer' }).expect(200)).body;
    } while (issued.status !== 'issued' && Date.now() < deadline);
    expect(issued.status).toBe('issued');

    const after = (await app.metrics.get('/metrics').expect(200)).text;
    expect(sample(after, 'cards_issued_total')).toBe(280);
    expect(sample(after, 'batches_total{status="running"}')).toBe(2);
    expect(sample(after, 'batches_total{status="completed"}')).toBe(2);
    expect(sample(after, 'batches_total{status="failed"}')).toBe(0);

    for (const batch of issued.issuance) {
      const lines = logged.filter((line) => line.batchId === batch.id);
      expect(lines.map((line) => line.msg)).toEqual(['batch started', 'batch completed']);
      expect(lines[0]).toMatchObject({ orderId: order.id, cards: batch.count });
      expect(lines[1]).toMatchObject({ orderId: order.id, cards: batch.count, seconds: expect.any(Number) });
    }
  });
});
