import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';

/** A delivered event whose signature checked out. */
export interface VerifiedEvent {
  id: string;
  type: string;
  data: Record<string, unknown>;
}

/**
 * The enterprise's ERP, as far as webhooks go: a local HTTP receiver that checks every delivery's Standard Webhooks
 * signature with the endpoint's secret (the `standardwebhooks` package), keeps the events that verify, deduplicated
 * by id as the README asks, and answers 401 to anything else.
 */
export class ErpReceiver {
  readonly events = new Map<string, VerifiedEvent>();
  /** Deliveries received (a delivery may carry one event; retries count again). */
  deliveries = 0;
  rejected = 0;
  private verifier: Webhook | undefined;
  private listeners: Array<() => void> = [];

  private constructor(private readonly server: Server) {}

  static async start(): Promise<ErpReceiver> {
    const server = createServer();
    const receiver = new ErpReceiver(server);
    server.on('request', (request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        receiver.deliveries++;
        const header = (name: string) => String(request.headers[name] ?? '');
        try {
          if (!receiver.verifier) throw new Error('no secret yet');
          const event = receiver.verifier.verify(Buffer.concat(chunks).toString('utf8'), {
            'webhook-id': header('webhook-id'),
            'webhook-timestamp': header('webhook-timestamp'),
            'webhook-signature': header('webhook-signature'),
          }) as VerifiedEvent;
          receiver.events.set(event.id, event);
          response.writeHead(204).end();
        } catch {
          receiver.rejected++;
          response.writeHead(401).end();
        }
        for (const listener of receiver.listeners) listener();
      });
    });
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    return receiver;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/fuli/webhooks`;
  }

  /** The endpoint's `whsec_…` secret, shown once when the endpoint is registered. */
  trust(secret: string): void {
    this.verifier = new Webhook(secret);
  }

  ofType(type: string): VerifiedEvent[] {
    return [...this.events.values()].filter((event) => event.type === type);
  }

  /** Resolves when `done` holds after a delivery, or after `timeoutMs` (false). */
  async until(done: () => boolean, timeoutMs: number): Promise<boolean> {
    if (done()) return true;
    return new Promise<boolean>((resolve) => {
      const finish = (result: boolean) => {
        clearTimeout(timer);
        this.listeners = this.listeners.filter((listener) => listener !== check);
        resolve(result);
      };
      const check = () => {
        if (done()) finish(true);
      };
      const timer = setTimeout(() => finish(false), timeoutMs);
      this.listeners.push(check);
    });
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((done) => this.server.close(() => done()));
  }
}
