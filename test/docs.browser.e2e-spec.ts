import { existsSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { DemoSeedService, type DemoCredentials } from '../src/demo/demo-seed.service';
import { showDemoInDocs } from '../src/docs/openapi';
import { startTestApp, type TestApp } from './support/app';
import { IN_CI } from './support/services';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARTIFACTS = join(__dirname, '..', 'test-artifacts');
const available = existsSync(CHROMIUM);
if (!available && !IN_CI) {
  console.warn(`/docs browser test skipped: no Chromium at ${CHROMIUM} (apt-get install -y chromium)`);
}

/** A port free right now: the app must listen where PUBLIC_URL (the server /docs names) says. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

/**
 * /docs in a real browser (headless Chromium through playwright-core), as an integrator tries the API: "Authorize"
 * with the demo HR client's id and secret (the OAuth 2.0 client-credentials flow of the document, which Swagger UI
 * runs against POST /v1/oauth/token), then "Try it out" on GET /v1/products, which answers 200 with the demo
 * catalog. In CI a missing Chromium fails the suite; elsewhere it is skipped with a warning.
 */
(available || IN_CI ? describe : describe.skip)('/docs in Chromium', () => {
  let app: TestApp;
  let browser: Browser;
  let demo: DemoCredentials;
  let publicUrl: string;

  beforeAll(async () => {
    if (!available)
      throw new Error(`Chromium is missing at ${CHROMIUM}: CI installs it (.ci/run, apt-get install -y chromium)`);
    const port = await freePort();
    publicUrl = `http://127.0.0.1:${port}`;
    app = await startTestApp({ PUBLIC_URL: publicUrl, RATE_LIMIT_REQUESTS: '100000' }, { port });
    // What `npm start` does outside production: the demo tenant, its catalog and its clients.
    demo = await app.app.get(DemoSeedService).seed();
    showDemoInDocs(app.app, {
      enterprise_id: demo.enterprise_id,
      product_ids: demo.product_ids,
      hr_client_id: demo.hr.client_id,
    });
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true });
  });
  afterAll(async () => {
    await browser?.close();
    await app?.close();
  });

  it('authorizes with the demo client id and secret and lists the products from the page', async () => {
    const page = await browser.newPage();
    const tokenRequests: { status: number; contentType: string | undefined }[] = [];
    page.on('response', (response) => {
      if (new URL(response.url()).pathname === '/v1/oauth/token')
        tokenRequests.push({ status: response.status(), contentType: response.headers()['content-type'] });
    });
    try {
      await page.goto(`${publicUrl}/docs`);
      // The demo's ids are in the description, for try-it-out.
      await page.locator('.info .description').getByText(demo.product_ids[0]).first().waitFor();
      await page.locator('.btn.authorize').first().click();
      const oauth = page.locator('.auth-container').filter({ hasText: 'clientCredentials' });
      await oauth.locator('input[id^="client_id"]').fill(demo.hr.client_id);
      await oauth.locator('input[id^="client_secret"]').fill(demo.hr.client_secret);
      await oauth.locator('button.authorize').click();
      await oauth.locator('button[aria-label="Remove authorization"]').waitFor();
      expect(tokenRequests).toEqual([{ status: 200, contentType: expect.stringMatching(/^application\/json/) }]);
      await page.locator('.dialog-ux button.close-modal').click();

      const operation = page.locator('#operations-products-listCatalogProducts');
      await operation.locator('.opblock-summary').click();
      await operation.locator('button.try-out__btn').click();
      await operation.locator('button.execute').click();
      const status = operation.locator('.live-responses-table .response .response-col_status').first();
      await status.waitFor();
      expect((await status.textContent())?.trim()).toBe('200');
      const body = await operation.locator('.live-responses-table .response-col_description pre').first().textContent();
      const list = JSON.parse(body ?? '') as { object: string; data: { id: string; name: string }[] };
      expect(list.object).toBe('list');
      expect(list.data.map((product) => product.id)).toEqual(expect.arrayContaining(demo.product_ids));
    } finally {
      mkdirSync(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: join(ARTIFACTS, 'docs-try-it-out.png'), fullPage: false });
      await page.close();
    }
  });
});
