import { QueueName } from '../src/queue/queue.constants';
import { startTestApp, TEST_ADMIN_CLIENT_ID, TEST_ADMIN_CLIENT_SECRET, type TestApp } from './support/app';
import { createClient, enterpriseWithClient } from './support/fixtures';
import { TEST_REDIS_URL } from './support/services';

const QUEUES = Object.values(QueueName).sort();

/** HTTP Basic with a client's id and secret, as a browser sends it after its sign-in prompt. */
const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;

function dashboardSuite(backend: 'postgres' | 'redis', env: Record<string, string>) {
  describe(`queue dashboard at /admin/queues (${backend} queues)`, () => {
    let app: TestApp;

    beforeAll(async () => {
      // HTTP only on Redis: a worker on the shared Redis's default prefix could take other runs' jobs.
      app = await startTestApp({ QUEUE_BACKEND: backend, ...env }, { worker: backend === 'postgres' });
    });
    afterAll(async () => {
      await app?.close();
    });

    it('answers 401 with a sign-in challenge without a credential, to the page and its API alike', async () => {
      for (const path of ['/admin/queues', '/admin/queues/api/queues', '/admin/queues/static/js/main.js']) {
        const response = await app.http.get(path).expect(401);
        expect(response.headers['www-authenticate']).toMatch(/^Basic realm="Fuli operator"/);
        expect(response.headers['content-type']).toMatch(/application\/problem\+json/);
        expect(response.body).toMatchObject({ status: 401, code: 'missing_token' });
      }
      const wrong = await app.http
        .get('/admin/queues/api/queues')
        .set('authorization', basic(TEST_ADMIN_CLIENT_ID, 'not-the-secret'))
        .expect(401);
      expect(wrong.body).toMatchObject({ code: 'invalid_token' });
      await app.http.get('/admin/queues').set('authorization', 'Bearer not.a.token').expect(401);
    });

    it("shows every queue to the operator's id and secret (a browser) and to its bearer token", async () => {
      const page = await app.http
        .get('/admin/queues')
        .set('authorization', basic(TEST_ADMIN_CLIENT_ID, TEST_ADMIN_CLIENT_SECRET))
        .expect(200)
        .expect('content-type', /text\/html/);
      expect(page.text).toContain('Fuli queues');
      expect(page.headers['content-security-policy']).toContain("default-src 'self'");

      for (const authorization of [
        basic(TEST_ADMIN_CLIENT_ID, TEST_ADMIN_CLIENT_SECRET),
        `Bearer ${await app.operatorToken()}`,
      ]) {
        const api = await app.http.get('/admin/queues/api/queues').set('authorization', authorization).expect(200);
        const queues = (api.body as { queues: Array<{ name: string; readOnlyMode: boolean; counts: object }> }).queues;
        expect(queues.map((queue) => queue.name).sort()).toEqual(QUEUES);
        for (const queue of queues) {
          expect(queue.readOnlyMode).toBe(true);
          expect(queue.counts).toEqual(expect.objectContaining({ waiting: expect.any(Number) }));
        }
      }
    });

    it('refuses an enterprise token, an enterprise client and an operator client without admin with 403', async () => {
      const { token, client } = await enterpriseWithClient(app, ['orders:read']);
      const byToken = await app.http
        .get('/admin/queues/api/queues')
        .set('authorization', `Bearer ${token}`)
        .expect(403);
      expect(byToken.body).toMatchObject({ code: 'insufficient_scope' });
      await app.http.get('/admin/queues').set('authorization', basic(client.id, client.client_secret)).expect(403);
      const channel = await createClient(app, { scopes: ['redemptions:write'] });
      const byChannel = await app.http
        .get('/admin/queues/api/queues')
        .set('authorization', basic(channel.id, channel.client_secret))
        .expect(403);
      expect(byChannel.body).toMatchObject({ code: 'insufficient_scope' });
    });

    it('is read-only: changing a queue through the dashboard is refused', async () => {
      const response = await app.http
        .put(`/admin/queues/api/queues/${QueueName.Maintenance}/pause`)
        .set('authorization', basic(TEST_ADMIN_CLIENT_ID, TEST_ADMIN_CLIENT_SECRET));
      expect(response.status).toBeGreaterThanOrEqual(400);
      const api = await app.http
        .get('/admin/queues/api/queues')
        .set('authorization', basic(TEST_ADMIN_CLIENT_ID, TEST_ADMIN_CLIENT_SECRET))
        .expect(200);
      const maintenance = (api.body as { queues: Array<{ name: string; isPaused: boolean }> }).queues.find(
        (queue) => queue.name === String(QueueName.Maintenance),
      );
      expect(maintenance?.isPaused).toBe(false);
    });
  });
}

dashboardSuite('postgres', {});
// Global setup probes Redis once; in CI a missing Redis fails the run there instead of skipping here.
if (process.env.TEST_REDIS_AVAILABLE === '1') {
  dashboardSuite('redis', { REDIS_URL: TEST_REDIS_URL });
} else {
  describe('queue dashboard on the redis backend', () => {
    it.skip(`skipped: Redis is not reachable at ${TEST_REDIS_URL}`, () => undefined);
  });
}
