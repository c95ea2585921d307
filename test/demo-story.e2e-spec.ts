import { runDemo, type DemoReporter } from '../scripts/demo/story';
import { DemoSeedService } from '../src/demo/demo-seed.service';
import { startTestApp, TEST_ADMIN_CLIENT_ID, TEST_ADMIN_CLIENT_SECRET, type TestApp } from './support/app';

/** `npm run demo` at small N against a test server: the story it tells is checked by its facts. */
describe('npm run demo', () => {
  let app: TestApp;

  beforeAll(async () => {
    app = await startTestApp({ RATE_LIMIT_REQUESTS: '100000' });
  });
  afterAll(async () => {
    await app?.close();
  });

  it('tells the whole story: deposit, order, approval, payment, minting, export, redemptions, distribution, webhooks', async () => {
    const demo = await app.app.get(DemoSeedService).seed();
    const steps: string[] = [];
    const bars: Array<{ label: string; total: number; last: number; stopped: boolean }> = [];
    const reporter: DemoReporter = {
      step: (line) => steps.push(line),
      progress(label, total) {
        const bar = { label, total, last: 0, stopped: false };
        bars.push(bar);
        return { update: (value) => (bar.last = value), stop: () => (bar.stopped = true) };
      },
    };
    const cards = 600; // 600 × 100 CNY is above the demo tenant's 50,000 CNY approval threshold
    const summary = await runDemo(
      {
        baseUrl: app.url,
        metricsUrl: 'http://127.0.0.1:9464',
        demo,
        operator: { client_id: TEST_ADMIN_CLIENT_ID, client_secret: TEST_ADMIN_CLIENT_SECRET },
        cards,
        redemptions: 5,
        employees: 8,
      },
      reporter,
    );

    expect(summary.approval_required).toBe(true);
    expect(summary.cards_minted).toBe(cards);
    // Exported (every card handed over), so completed; spent cards do not change that.
    expect(summary.order_status).toBe('completed');
    expect(summary.export).toMatchObject({ rows: cards, sha256_verified: true });
    expect(summary.redemptions).toEqual({ cards: 5, spent: 5 * 2_599 });
    expect(summary.distribution).toMatchObject({ recipients: 8, links_opened: 8 });
    expect(summary.distribution.counts.viewed).toBe(8);

    expect(summary.webhooks.rejected).toBe(0);
    expect(summary.webhooks.verified).toBeGreaterThan(0);
    expect(summary.webhooks.by_type).toMatchObject({
      'payment.received': 1,
      'order.approval_required': 1,
      'order.approved': 1,
      'order.paid': 2,
      'order.issued': 2,
      'card.bound': 5,
      'card.debited': 5,
      'distribution.created': 1,
    });
    expect(summary.links.order).toBe(`${app.url}/v1/orders/${summary.order_id}`);

    // What the demo's own database shows agrees with the summary.
    const [row] = await app.dataSource.query<Array<{ minted: string; spent: string }>>(
      `SELECT count(*) AS minted, sum(face_value - balance) AS spent FROM cards WHERE order_id = $1`,
      [summary.order_id],
    );
    expect({ minted: Number(row.minted), spent: Number(row.spent) }).toEqual({ minted: cards, spent: 5 * 2_599 });
    // Progress bars ran to their end, and the clients, key and endpoint it made were put away.
    for (const bar of bars) expect(bar).toMatchObject({ stopped: true, last: bar.total });
    const [left] = await app.dataSource.query<Array<{ endpoints: string; clients: string }>>(
      `SELECT (SELECT count(*) FROM webhook_endpoints WHERE enterprise_id = $1 AND deleted_at IS NULL) AS endpoints,
              (SELECT count(*) FROM api_clients WHERE name LIKE 'Demo %' AND status = 'active'
                 AND name NOT IN ('Demo HR system', 'Demo finance system')) AS clients`,
      [demo.enterprise_id],
    );
    expect(left).toEqual({ endpoints: '0', clients: '0' });
    expect(steps.join('\n')).toContain('webhook events verified');
  });
});
