/**
 * Verifying Fuli webhook deliveries on the receiving side: the Standard Webhooks signature checked by the
 * `standardwebhooks` package, the payload typed from the OpenAPI document.
 */
import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import type { components } from './schema.js';

/** An event as delivered (and as `GET /v1/events/{id}` returns it). */
export type FuliEvent = components['schemas']['EventDto'];

export { WebhookVerificationError };

/** Request headers as Node (`IncomingHttpHeaders`), Fastify, Express or the Fetch API (`Headers`) give them. */
export type WebhookHeaders = Headers | Record<string, string | string[] | undefined>;

function header(headers: WebhookHeaders, name: string): string {
  const value = headers instanceof Headers ? headers.get(name) : headers[name];
  return (Array.isArray(value) ? value[0] : value) ?? '';
}

/**
 * Checks that a delivery was signed with the endpoint's `whsec_…` secret (any one of the signatures, so rotations
 * need no special care) and that its timestamp is within 5 minutes of now; returns the event, or throws
 * WebhookVerificationError. Pass the raw body exactly as received: re-serialised JSON does not verify.
 * Deduplicate by `event.id` (the `webhook-id` header): a delivery can arrive more than once.
 */
export function verifyWebhook(secret: string, rawBody: string | Uint8Array, headers: WebhookHeaders): FuliEvent {
  // A Buffer is a Uint8Array: typed as the latter so that the SDK's types need no @types/node.
  const body = typeof rawBody === 'string' ? rawBody : new TextDecoder().decode(rawBody);
  return new Webhook(secret).verify(body, {
    'webhook-id': header(headers, 'webhook-id'),
    'webhook-timestamp': header(headers, 'webhook-timestamp'),
    'webhook-signature': header(headers, 'webhook-signature'),
  }) as FuliEvent;
}
