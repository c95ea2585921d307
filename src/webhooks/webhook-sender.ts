import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { setMaxListeners } from 'node:events';
import { isIP, type LookupFunction } from 'node:net';
import { Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { buildConnector, Pool, type Dispatcher } from 'undici';
import { AppConfig } from '../config/app-config';
import { isAllowedAddress } from './webhook-url.policy';

/** What is kept of a response body: the first 1 KB, for the attempt log. */
export const RESPONSE_EXCERPT_BYTES = 1024;
/** Bytes read (and thrown away) after the excerpt so that the connection can be reused; more and it is cut. */
const DRAIN_LIMIT_BYTES = 64 * 1024;
/** Connections per receiver origin: a batch sending to it (DELIVERY_BATCH deliveries) gets one per delivery. */
export const MAX_CONNECTIONS_PER_ORIGIN = 128;
/** Origins with a pool kept open; past this the least recently used pool is closed. */
const MAX_POOLS = 500;
/** An idle keep-alive connection is closed after this long (receivers usually close theirs after 5 s or more). */
const KEEP_ALIVE_MS = 4_000;
const BLOCKED_MESSAGE = 'the receiver address is not allowed (private, loopback or metadata)';

export type SendError = 'timeout' | 'address_blocked' | 'connection_failed';

export type SendResult =
  /** `body` is null when the receiver sits on a private network: its answer is not shown to the tenant. */
  | { status: number; body: string | null; retryAfter: string | undefined; latencyMs: number }
  | { error: SendError; message: string; latencyMs: number };

class AddressBlockedError extends Error {
  readonly code = 'ERR_WEBHOOK_ADDRESS_BLOCKED';
}

/**
 * dns.lookup that fails when any address of the host is one isAllowedAddress refuses: the registration rule again at
 * connect time, CIDR ranges and their IPv4-mapped forms included.
 */
function guardedLookup(allowPrivate: boolean): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (error, addresses: LookupAddress[]) => {
      if (error) return callback(error, '');
      const refused = addresses.find((entry) => !isAllowedAddress(entry.address, allowPrivate));
      if (refused) return callback(new AddressBlockedError(`${hostname} resolves to ${refused.address}`), '');
      if (options.all) return callback(null, addresses);
      callback(null, addresses[0].address, addresses[0].family);
    });
  };
}

/** One origin's keep-alive pool, and whether every peer it connected to was on a public address. */
interface OriginPool {
  pool: Pool;
  publicPeers: boolean;
}

/**
 * The one way out to a client's receiver: a POST with a total timeout (waiting for a free connection included), no
 * redirects followed (a 3xx is a failed attempt), and a keep-alive connection pool per origin (undici `Pool`),
 * so a batch of deliveries to one endpoint goes out concurrently over connections already open.
 *
 * SSRF at connect time: every new connection resolves its host through guardedLookup (every address DNS returns
 * must be allowed) and then checks the address it actually connected to, so that a host re-pointed at a private
 * address after registration is refused and nothing is sent. An address in the URL is checked before any pool
 * exists. The body a receiver on a private network answers is not kept: the attempts API would otherwise read
 * internal services back to the tenant.
 */
@Injectable()
export class WebhookSender implements OnApplicationShutdown {
  private readonly pools = new Map<string, OriginPool>();
  private readonly lookup: LookupFunction;

  constructor(private readonly config: AppConfig) {
    this.lookup = guardedLookup(config.webhookAllowPrivateNetworks);
  }

  send(url: string, body: string, headers: Record<string, string>): Promise<SendResult> {
    return this.sendBatch(url, [{ body, headers }]).then(([result]) => result);
  }

  /**
   * POSTs every request to `url` at once; each result in the order given. They share one timer and one abort
   * signal (the timeout runs from now for all of them), which is what a batch costs instead of one per request.
   */
  async sendBatch(
    url: string,
    requests: ReadonlyArray<{ body: string; headers: Record<string, string> }>,
  ): Promise<SendResult[]> {
    const started = performance.now();
    const latency = () => Math.round(performance.now() - started);
    const target = new URL(url);
    const literal = target.hostname.replace(/^\[(.*)\]$/, '$1');
    if (isIP(literal) && !isAllowedAddress(literal, this.config.webhookAllowPrivateNetworks)) {
      const latencyMs = latency();
      return requests.map(() => ({ error: 'address_blocked', message: BLOCKED_MESSAGE, latencyMs }));
    }
    const origin = this.poolFor(target.origin);
    const path = `${target.pathname}${target.search}`;
    const abort = new AbortController();
    // Every request of the batch listens to the one signal: not a leak.
    setMaxListeners(0, abort.signal);
    const timer = setTimeout(() => abort.abort(), this.config.WEBHOOK_TIMEOUT_MS);
    try {
      return await Promise.all(
        requests.map(({ body, headers }) => this.post(origin, path, body, headers, abort.signal, latency)),
      );
    } finally {
      clearTimeout(timer);
    }
  }

  private async post(
    origin: OriginPool,
    path: string,
    body: string,
    headers: Record<string, string>,
    signal: AbortSignal,
    latency: () => number,
  ): Promise<SendResult> {
    try {
      const response = await origin.pool.request({
        method: 'POST',
        path,
        headers: {
          ...headers,
          'content-type': 'application/json',
          'content-length': String(Buffer.byteLength(body)),
          'user-agent': 'Fuli-Webhooks/1',
        },
        body,
        signal,
      });
      const excerpt = await readExcerpt(response.body);
      const retryAfter = response.headers['retry-after'];
      return {
        status: response.statusCode,
        body: origin.publicPeers ? excerpt : null,
        retryAfter: Array.isArray(retryAfter) ? retryAfter[0] : retryAfter,
        latencyMs: latency(),
      };
    } catch (err) {
      if (signal.aborted) {
        return {
          error: 'timeout',
          message: `no response within ${this.config.WEBHOOK_TIMEOUT_MS} ms`,
          latencyMs: latency(),
        };
      }
      const blocked = isBlocked(err);
      return {
        error: blocked ? 'address_blocked' : 'connection_failed',
        message: blocked ? BLOCKED_MESSAGE : err instanceof Error ? err.message : String(err),
        latencyMs: latency(),
      };
    }
  }

  private poolFor(originUrl: string): OriginPool {
    const existing = this.pools.get(originUrl);
    if (existing) {
      // Most recently used last: the first entry is the one to close when there are too many.
      this.pools.delete(originUrl);
      this.pools.set(originUrl, existing);
      return existing;
    }
    if (this.pools.size >= MAX_POOLS) {
      const [oldest, stale] = this.pools.entries().next().value as [string, OriginPool];
      this.pools.delete(oldest);
      void stale.pool.close().catch(() => undefined);
    }
    const allowPrivate = this.config.webhookAllowPrivateNetworks;
    const base = buildConnector({ lookup: this.lookup });
    const entry: OriginPool = { pool: undefined as unknown as Pool, publicPeers: true };
    const connect: buildConnector.connector = (options, callback) =>
      base(options, (error, socket) => {
        if (error) return callback(error, null);
        // The address actually connected to, whatever resolved it: the last word on SSRF.
        const peer = socket.remoteAddress;
        if (peer === undefined || !isAllowedAddress(peer, allowPrivate)) {
          socket.destroy();
          return callback(new AddressBlockedError(`connected to ${peer ?? 'an unknown address'}`), null);
        }
        if (!isAllowedAddress(peer, false)) entry.publicPeers = false;
        callback(null, socket);
      });
    entry.pool = new Pool(originUrl, {
      connections: MAX_CONNECTIONS_PER_ORIGIN,
      connect,
      keepAliveTimeout: KEEP_ALIVE_MS,
      keepAliveMaxTimeout: KEEP_ALIVE_MS,
      headersTimeout: 0,
      bodyTimeout: 0,
    });
    this.pools.set(originUrl, entry);
    return entry;
  }

  async onApplicationShutdown(): Promise<void> {
    const pools = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(pools.map((entry) => entry.pool.destroy().catch(() => undefined)));
  }
}

function isBlocked(err: unknown): boolean {
  for (let cause = err; cause instanceof Error; cause = cause.cause) {
    if (cause instanceof AddressBlockedError) return true;
  }
  return false;
}

/** The first RESPONSE_EXCERPT_BYTES of the body as text; drains a little more so the connection can be reused. */
async function readExcerpt(body: Dispatcher.ResponseData['body']): Promise<string> {
  const chunks: Buffer[] = [];
  let kept = 0;
  let read = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    read += chunk.length;
    if (kept < RESPONSE_EXCERPT_BYTES) {
      const part = chunk.subarray(0, RESPONSE_EXCERPT_BYTES - kept);
      chunks.push(part);
      kept += part.length;
    }
    // A receiver streaming a large body gets cut off: the excerpt is all that is kept anyway.
    if (read > DRAIN_LIMIT_BYTES) {
      body.destroy();
      break;
    }
  }
  return Buffer.concat(chunks).toString('utf8');
}
