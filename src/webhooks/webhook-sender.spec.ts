import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AppConfig } from '../config/app-config';
import { WebhookSender } from './webhook-sender';

/** The sender against a real local HTTP server (a private address: loopback). */
describe('WebhookSender', () => {
  let server: Server;
  let port: number;
  let received = 0;

  beforeAll(async () => {
    server = createServer((request, response) => {
      received++;
      request.resume();
      request.on('end', () => {
        if (request.url === '/slow') return void setTimeout(() => response.end('late'), 500);
        response.writeHead(request.url === '/busy' ? 429 : 200, { 'retry-after': '7' }).end('internal answer');
      });
    });
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise((done) => server.close(done)));

  const sender = (allowPrivate: boolean, timeoutMs = 2_000) =>
    new WebhookSender({ webhookAllowPrivateNetworks: allowPrivate, WEBHOOK_TIMEOUT_MS: timeoutMs } as AppConfig);

  it('refuses at connect time a host name that resolves to a private address, sending nothing', async () => {
    const strict = sender(false);
    const before = received;
    const result = await strict.send(`http://localhost:${port}/hooks`, '{}', {});
    expect(result).toMatchObject({ error: 'address_blocked' });
    expect(await strict.send(`http://127.0.0.1:${port}/hooks`, '{}', {})).toMatchObject({ error: 'address_blocked' });
    expect(received).toBe(before);
    await strict.onApplicationShutdown();
  });

  it('delivers to a private receiver when allowed, without keeping its answer', async () => {
    const lenient = sender(true);
    const results = await Promise.all([1, 2, 3].map(() => lenient.send(`http://localhost:${port}/ok`, '{}', {})));
    for (const result of results) expect(result).toMatchObject({ status: 200, body: null });
    expect(await lenient.send(`http://127.0.0.1:${port}/busy`, '{}', {})).toMatchObject({
      status: 429,
      retryAfter: '7',
    });
    await lenient.onApplicationShutdown();
  });

  it('times out a receiver that does not answer in time, and says a refused connection failed', async () => {
    const impatient = sender(true, 100);
    expect(await impatient.send(`http://127.0.0.1:${port}/slow`, '{}', {})).toMatchObject({ error: 'timeout' });
    expect(await impatient.send('http://127.0.0.1:1/hooks', '{}', {})).toMatchObject({ error: 'connection_failed' });
    await impatient.onApplicationShutdown();
  });
});
