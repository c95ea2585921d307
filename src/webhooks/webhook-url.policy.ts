import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { Injectable } from '@nestjs/common';
import ipaddr from 'ipaddr.js';
import { ApiError } from '../common/errors/api-error';
import { AppConfig } from '../config/app-config';

export const MAX_URL_LENGTH = 2048;

/**
 * Ranges no webhook may reach, even where private networks are allowed (a test receiver on 127.0.0.1 is fine; a
 * webhook that reads the host's cloud credentials never is): IPv4 link-local (the metadata services of AWS, GCP and
 * Azure at 169.254.169.254), Alibaba Cloud's metadata address, AWS's IPv6 metadata prefix, and NAT64 prefixes,
 * through which an IPv6 address reaches any IPv4 one.
 */
const ALWAYS_DENIED = ['169.254.0.0/16', '100.100.100.200/32', 'fd00:ec2::/32', '64:ff9b::/96', '64:ff9b:1::/48'];

/** The IPv4 blocks again in their IPv4-mapped IPv6 form (::ffff:169.254.0.0/112): the same hosts, spelt as IPv6. */
export const DENIED_RANGES: readonly string[] = [
  ...ALWAYS_DENIED,
  ...ALWAYS_DENIED.filter((cidr) => ipaddr.IPv4.isValidCIDR(cidr)).map((cidr) => {
    const [address, bits] = ipaddr.IPv4.parseCIDR(cidr);
    return `${address.toIPv4MappedAddress().toRFC5952String()}/${96 + bits}`;
  }),
];

const DENIED = DENIED_RANGES.map((cidr) => ipaddr.parseCIDR(cidr));

/** Whether the address (as written, before any unmapping) lies in a range that is never reachable. */
function alwaysDenied(address: ipaddr.IPv4 | ipaddr.IPv6): boolean {
  return DENIED.some(([range, bits]) => range.kind() === address.kind() && address.match(range, bits));
}

/** Whether an address is one a webhook may reach: public unicast, or any non-denied one when private is allowed. */
export function isAllowedAddress(address: string, allowPrivate: boolean): boolean {
  if (!ipaddr.isValid(address)) return false;
  if (alwaysDenied(ipaddr.parse(address))) return false;
  // process(): an IPv4-mapped IPv6 address (::ffff:127.0.0.1) is judged as the IPv4 address it is.
  const parsed = ipaddr.process(address);
  if (allowPrivate) return parsed.range() !== 'unspecified' && parsed.range() !== 'multicast';
  return parsed.range() === 'unicast';
}

/**
 * Where a webhook may point (SSRF protection, first line): http(s) only, https in production, no credentials in
 * the URL, and a host whose every address is allowed. The sender checks the address again when it connects
 * (WebhookSender's connector), because DNS may answer differently then (rebinding).
 */
@Injectable()
export class WebhookUrlPolicy {
  constructor(private readonly config: AppConfig) {}

  /** The URL as it will be stored (normalised by the WHATWG parser), or a 422 naming what is wrong. */
  async check(raw: string): Promise<string> {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw invalid('invalid_webhook_url', 'url is not an absolute URL');
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') {
      throw invalid('invalid_webhook_url', 'url must use https (or http outside production)');
    }
    if (url.protocol === 'http:' && this.config.webhookRequireHttps) {
      throw invalid('webhook_url_not_https', 'Webhook URLs must use https');
    }
    if (url.username || url.password) {
      throw invalid(
        'invalid_webhook_url',
        'url must not carry credentials; authenticate deliveries by their signature',
      );
    }
    if (url.hash) throw invalid('invalid_webhook_url', 'url must not have a #fragment');
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
    const addresses = isIP(host) ? [host] : await this.resolve(host);
    const allowPrivate = this.config.webhookAllowPrivateNetworks;
    if (!addresses.every((address) => isAllowedAddress(address, allowPrivate))) {
      throw invalid(
        'webhook_url_private_address',
        'url resolves to a private, loopback, link-local or metadata address; webhooks go to public addresses only',
      );
    }
    return url.toString();
  }

  private async resolve(host: string): Promise<string[]> {
    try {
      const found = await lookup(host, { all: true, verbatim: true });
      return found.map((entry) => entry.address);
    } catch {
      throw invalid('webhook_url_unresolvable', `The host ${host} of url does not resolve`);
    }
  }
}

function invalid(
  code: 'invalid_webhook_url' | 'webhook_url_not_https' | 'webhook_url_unresolvable' | 'webhook_url_private_address',
  detail: string,
): ApiError {
  return ApiError.unprocessable(code, detail);
}
