import { createHash, createHmac } from 'node:crypto';
import { request } from 'undici';
import { errorText, type SendOutcome } from './send-outcome';

/**
 * Tencent Cloud API signature v3 (TC3-HMAC-SHA256), as "Signature v3" of the Tencent Cloud API documentation
 * specifies it (https://www.tencentcloud.com/document/product/267/37447, the same page for every product):
 *
 *   CanonicalRequest = Method \n CanonicalURI \n CanonicalQueryString \n CanonicalHeaders \n SignedHeaders \n
 *                      hex(sha256(payload))
 *   StringToSign     = "TC3-HMAC-SHA256" \n timestamp \n date/service/tc3_request \n hex(sha256(CanonicalRequest))
 *   SecretDate = HMAC("TC3" + SecretKey, date); SecretService = HMAC(SecretDate, service);
 *   SecretSigning = HMAC(SecretService, "tc3_request"); Signature = hex(HMAC(SecretSigning, StringToSign))
 *
 * Canonical headers are `name:value\n` with both lowercased and trimmed, sorted by name; the date is the UTC date of
 * the timestamp. src/distribution/channels/tencent-sms.spec.ts checks this against the documentation's worked
 * examples.
 */
export const TC3_ALGORITHM = 'TC3-HMAC-SHA256';

export interface Tc3Request {
  secretId: string;
  secretKey: string;
  /** The product, first label of its host: `sms`. */
  service: string;
  /** Unix seconds, also sent as X-TC-Timestamp. */
  timestamp: number;
  method?: 'POST' | 'GET';
  canonicalUri?: string;
  canonicalQueryString?: string;
  /** The headers that are signed (content-type and host at least), names in any case. */
  headers: Record<string, string>;
  /** The request body exactly as sent. */
  payload: string;
}

export interface Tc3Signature {
  canonicalRequest: string;
  stringToSign: string;
  credentialScope: string;
  signedHeaders: string;
  signature: string;
  authorization: string;
}

const sha256Hex = (data: string) => createHash('sha256').update(data, 'utf8').digest('hex');
const hmac = (key: Buffer | string, data: string) => createHmac('sha256', key).update(data, 'utf8').digest();

/** The UTC date (YYYY-MM-DD) of a Unix timestamp in seconds: the credential scope's date. */
export function tc3Date(timestamp: number): string {
  return new Date(timestamp * 1000).toISOString().slice(0, 10);
}

/** SecretSigning, the key derived from the SecretKey for one date and service. */
export function tc3SigningKey(secretKey: string, date: string, service: string): Buffer {
  return hmac(hmac(hmac(`TC3${secretKey}`, date), service), 'tc3_request');
}

export function tc3StringToSign(request: Pick<Tc3Request, 'service' | 'timestamp'>, canonicalRequest: string): string {
  const credentialScope = `${tc3Date(request.timestamp)}/${request.service}/tc3_request`;
  return `${TC3_ALGORITHM}\n${request.timestamp}\n${credentialScope}\n${sha256Hex(canonicalRequest)}`;
}

export function tc3CanonicalRequest(request: Tc3Request): { canonicalRequest: string; signedHeaders: string } {
  const headers = Object.entries(request.headers)
    .map(([name, value]) => [name.trim().toLowerCase(), value.trim().toLowerCase()] as const)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const canonicalHeaders = headers.map(([name, value]) => `${name}:${value}\n`).join('');
  const signedHeaders = headers.map(([name]) => name).join(';');
  const canonicalRequest = [
    request.method ?? 'POST',
    request.canonicalUri ?? '/',
    request.canonicalQueryString ?? '',
    canonicalHeaders,
    signedHeaders,
    sha256Hex(request.payload),
  ].join('\n');
  return { canonicalRequest, signedHeaders };
}

export function signTc3(request: Tc3Request): Tc3Signature {
  const { canonicalRequest, signedHeaders } = tc3CanonicalRequest(request);
  const date = tc3Date(request.timestamp);
  const credentialScope = `${date}/${request.service}/tc3_request`;
  const stringToSign = tc3StringToSign(request, canonicalRequest);
  const signature = createHmac('sha256', tc3SigningKey(request.secretKey, date, request.service))
    .update(stringToSign, 'utf8')
    .digest('hex');
  const authorization =
    `${TC3_ALGORITHM} Credential=${request.secretId}/${credentialScope}, ` +
    `SignedHeaders=${signedHeaders}, Signature=${signature}`;
  return { canonicalRequest, stringToSign, credentialScope, signedHeaders, signature, authorization };
}

/** SendSms of SMS API 2021-01-11 (https://tencentcloud.com/document/api/382/40536). */
export const TENCENT_SMS_VERSION = '2021-01-11';
export const TENCENT_SMS_SERVICE = 'sms';
const CONTENT_TYPE = 'application/json; charset=utf-8';

export interface TencentSmsSettings {
  secretId: string;
  secretKey: string;
  sdkAppId: string;
  signName: string;
  region: string;
  /** Origin of the API: https://sms.tencentcloudapi.com, or a local fake in tests. */
  endpoint: string;
  timeoutMs?: number;
  /** Clock in Unix seconds (tests). */
  now?: () => number;
}

interface SendStatus {
  SerialNo?: string;
  PhoneNumber?: string;
  Code?: string;
  Message?: string;
}

interface TencentResponse {
  Response?: { Error?: { Code?: string; Message?: string }; SendStatusSet?: SendStatus[]; RequestId?: string };
}

/**
 * Whether a Tencent error code (per number in SendStatusSet, or for the whole request) is worth a retry. Refusals of
 * the number itself are permanent (the recipient is bounced); rate limits, Tencent's internal errors and anything
 * unknown are transient and retried with backoff. Account-level problems (authentication, unapproved template or
 * signature, an empty SMS package) are also transient: they are fixed by the operator, not by the recipient, so the
 * recipient must not be marked bounced (the retries end in `failed` if nobody fixes them).
 */
export function isPermanentTencentError(code: string): boolean {
  if (code === 'FailedOperation.PhoneNumberInBlacklist' || code === 'FailedOperation.PhoneNumberParseFail') return true;
  if (
    code === 'InvalidParameterValue.IncorrectPhoneNumber' ||
    code === 'UnsupportedOperation.ContainDomesticAndInternationalPhoneNumber'
  )
    return true;
  if (code === 'UnsupportedOperation.UnsupportedRegion' || code === 'FailedOperation.ContainSensitiveWord') return true;
  if (code.startsWith('InvalidParameterValue.')) return true;
  return false;
}

/** One SendSms call for one number, signed with TC3-HMAC-SHA256, answered as a SendOutcome. */
export class TencentSmsClient {
  private readonly host: string;
  private readonly url: string;

  constructor(private readonly settings: TencentSmsSettings) {
    const origin = new URL(settings.endpoint);
    this.host = origin.host;
    this.url = `${origin.origin}/`;
  }

  async sendSms(mobile: string, templateId: string, params: string[]): Promise<SendOutcome> {
    const payload = JSON.stringify({
      PhoneNumberSet: [mobile],
      SmsSdkAppId: this.settings.sdkAppId,
      SignName: this.settings.signName,
      TemplateId: templateId,
      TemplateParamSet: params,
    });
    const timestamp = this.settings.now?.() ?? Math.floor(Date.now() / 1000);
    const action = 'SendSms';
    const signed = signTc3({
      secretId: this.settings.secretId,
      secretKey: this.settings.secretKey,
      service: TENCENT_SMS_SERVICE,
      timestamp,
      headers: { 'content-type': CONTENT_TYPE, host: this.host, 'x-tc-action': action },
      payload,
    });
    const timeout = this.settings.timeoutMs ?? 10_000;
    let status: number;
    let text: string;
    try {
      const response = await request(this.url, {
        method: 'POST',
        headers: {
          authorization: signed.authorization,
          'content-type': CONTENT_TYPE,
          'x-tc-action': action,
          'x-tc-version': TENCENT_SMS_VERSION,
          'x-tc-timestamp': String(timestamp),
          'x-tc-region': this.settings.region,
          'x-tc-requestclient': 'fuli',
        },
        body: payload,
        headersTimeout: timeout,
        bodyTimeout: timeout,
        signal: AbortSignal.timeout(timeout),
      });
      status = response.statusCode;
      text = await response.body.text();
    } catch (error) {
      // Connection refused, reset, timed out: the message may or may not have gone; SMS has no idempotency key, so
      // a retry can duplicate it, which beats never sending it.
      const name = error instanceof Error ? ((error as { code?: string }).code ?? error.name) : 'error';
      return { ok: false, permanent: false, error: errorText(`Tencent SMS request failed: ${name}`) };
    }
    if (status !== 200) return { ok: false, permanent: false, error: `Tencent SMS answered HTTP ${status}` };
    let body: TencentResponse;
    try {
      body = JSON.parse(text) as TencentResponse;
    } catch {
      return { ok: false, permanent: false, error: 'Tencent SMS answered a body that is not JSON' };
    }
    const answer = body.Response;
    if (!answer) return { ok: false, permanent: false, error: 'Tencent SMS answered without a Response' };
    if (answer.Error) {
      const code = answer.Error.Code ?? 'UnknownError';
      return {
        ok: false,
        permanent: isPermanentTencentError(code),
        error: errorText(`${code}: ${answer.Error.Message ?? ''} (RequestId ${answer.RequestId ?? '?'})`, 300, params),
      };
    }
    const result = answer.SendStatusSet?.[0];
    if (!result?.Code) return { ok: false, permanent: false, error: 'Tencent SMS answered no SendStatusSet' };
    if (result.Code === 'Ok' && result.SerialNo) return { ok: true, providerMessageId: result.SerialNo };
    return {
      ok: false,
      permanent: isPermanentTencentError(result.Code),
      error: errorText(`${result.Code}: ${result.Message ?? ''}`, 300, params),
    };
  }
}
