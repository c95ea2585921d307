import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { RequestFilteringHttpAgent, RequestFilteringHttpsAgent } from 'request-filtering-agent';
import { AppConfig } from '../config/app-config';
import { isAllowedAddress } from './webhook-url.policy';

/** What is kept of a response body: the first 1 KB, for the attempt log. */
export const RESPONSE_EXCERPT_BYTES = 1024;
/** Bytes read (and thrown away) after the excerpt so that the connection can be reused; more and it is cut. */
const DRAIN_LIMIT_BYTES = 64 * 1024;
/** Connections per receiver host: deliveries to one endpoint run this many at a time at most. */
const MAX_SOCKETS_PER_HOST = 32;
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
 * connect time, CIDR ranges and their IPv4-mapped forms included (request-filtering-agent compares its deny list
 * as exact strings, so ::ffff:169.254.169.254 would pass a deny of 169.254.169.254).
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

/**
 * The one way out to a client's receiver: a POST with a total timeout, no redirects followed (a 3xx is a failed
 * attempt), keep-alive connections, and an SSRF check at connect time on every address DNS returns (our lookup
 * and request-filtering-agent), so that a host re-pointed at a private address after registration is refused.
 * The body a receiver on a private network answers is not kept: the attempts API would otherwise read internal
 * services back to the tenant.
 */
@Injectable()
export class WebhookSender implements OnApplicationShutdown {
  private readonly httpAgent: RequestFilteringHttpAgent;
  private readonly httpsAgent: RequestFilteringHttpsAgent;
  private readonly lookup: LookupFunction;

  constructor(private readonly config: AppConfig) {
    const options = {
      keepAlive: true,
      maxSockets: MAX_SOCKETS_PER_HOST,
      allowPrivateIPAddress: config.webhookAllowPrivateNetworks,
      allowMetaIPAddress: false,
    };
    this.lookup = guardedLookup(config.webhookAllowPrivateNetworks);
    this.httpAgent = new RequestFilteringHttpAgent(options);
    this.httpsAgent = new RequestFilteringHttpsAgent(options);
  }

  send(url: string, body: string, headers: Record<string, string>): Promise<SendResult> {
    const started = performance.now();
    const latency = () => Math.round(performance.now() - started);
    const target = new URL(url);
    const https = target.protocol === 'https:';
    // An address in the URL is connected to without a lookup.
    const literal = target.hostname.replace(/^\[(.*)\]$/, '$1');
    if (isIP(literal) && !isAllowedAddress(literal, this.config.webhookAllowPrivateNetworks)) {
      return Promise.resolve({ error: 'address_blocked', message: BLOCKED_MESSAGE, latencyMs: latency() });
    }
    return new Promise<SendResult>((resolve) => {
      let settled = false;
      const finish = (result: SendResult) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(result);
      };
      const request = (https ? httpsRequest : httpRequest)(target, {
        method: 'POST',
        agent: https ? this.httpsAgent : this.httpAgent,
        lookup: this.lookup,
        headers: {
          ...headers,
          'content-type': 'application/json',
          'content-length': String(Buffer.byteLength(body)),
          'user-agent': 'Fuli-Webhooks/1',
        },
      });
      const timer = setTimeout(() => {
        request.destroy(new Error('timeout'));
        finish({
          error: 'timeout',
          message: `no response within ${this.config.WEBHOOK_TIMEOUT_MS} ms`,
          latencyMs: latency(),
        });
      }, this.config.WEBHOOK_TIMEOUT_MS);
      request.on('error', (err: Error) => {
        const blocked = err instanceof AddressBlockedError || /is not allowed/.test(err.message);
        finish({
          error: blocked ? 'address_blocked' : 'connection_failed',
          message: blocked ? BLOCKED_MESSAGE : err.message,
          latencyMs: latency(),
        });
      });
      request.on('response', (response: IncomingMessage) => {
        const peer = response.socket?.remoteAddress;
        const publicPeer = peer !== undefined && isAllowedAddress(peer, false);
        void readExcerpt(response).then(
          (excerpt) =>
            finish({
              status: response.statusCode ?? 0,
              body: publicPeer ? excerpt : null,
              retryAfter: response.headers['retry-after'],
              latencyMs: latency(),
            }),
          (err: Error) => finish({ error: 'connection_failed', message: err.message, latencyMs: latency() }),
        );
      });
      request.end(body);
    });
  }

  onApplicationShutdown(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }
}

/** The first RESPONSE_EXCERPT_BYTES of the body as text; drains a little more so the socket can be reused. */
function readExcerpt(response: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let kept = 0;
    let read = 0;
    response.on('data', (chunk: Buffer) => {
      read += chunk.length;
      if (kept < RESPONSE_EXCERPT_BYTES) {
        const part = chunk.subarray(0, RESPONSE_EXCERPT_BYTES - kept);
        chunks.push(part);
        kept += part.length;
      }
      // A receiver streaming a large body gets cut off: the excerpt is all that is kept anyway.
      if (read > DRAIN_LIMIT_BYTES) {
        response.destroy();
        resolve(Buffer.concat(chunks).toString('utf8'));
      }
    });
    response.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    response.on('error', reject);
  });
}
