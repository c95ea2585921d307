import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { MetricsService } from './metrics.service';

/**
 * `GET /metrics` (Prometheus) on a listener of its own, apart from the public API port: METRICS_HOST (loopback by
 * default) and METRICS_PORT. The scrape is unauthenticated and unthrottled, and it names every route and queue, so
 * it is meant for the monitoring network only. A process serves it once `listen` is called (the API entry does).
 */
@Injectable()
export class MetricsServer implements OnApplicationShutdown {
  private readonly logger = new Logger(MetricsServer.name);
  private server: Server | null = null;

  constructor(private readonly metrics: MetricsService) {}

  /** Starts the listener; resolves with its base URL (`http://host:port`). */
  async listen(host: string, port: number): Promise<string> {
    const server = createServer((request, response) => {
      const path = (request.url ?? '/').split('?')[0];
      if (path !== '/metrics' || (request.method !== 'GET' && request.method !== 'HEAD')) {
        response.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
        return;
      }
      this.metrics.render().then(
        (body) =>
          response
            .writeHead(200, { 'content-type': this.metrics.contentType, 'cache-control': 'no-store' })
            .end(request.method === 'HEAD' ? undefined : body),
        (error: unknown) => {
          this.logger.error({ err: error }, 'metrics scrape failed');
          response.writeHead(500, { 'content-type': 'text/plain' }).end('metrics unavailable\n');
        },
      );
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    const address = server.address() as AddressInfo;
    const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    return `http://${shownHost}:${address.port}`;
  }

  async onApplicationShutdown(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
