import { createHash, createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';

/** One SendSms call the fake received. */
export interface FakeSmsRequest {
  action: string | undefined;
  headers: IncomingMessage['headers'];
  /** The parsed JSON body (PhoneNumberSet, SmsSdkAppId, SignName, TemplateId, TemplateParamSet). */
  body: Record<string, unknown> | undefined;
  /** Whether the TC3-HMAC-SHA256 signature verified; the error code answered otherwise. */
  signatureValid: boolean;
  error?: string;
  /** SerialNo per number answered Ok. */
  serialNos: Record<string, string>;
}

export interface FakeTencentSmsOptions {
  secretId: string;
  secretKey: string;
  /** Refuse a request whose X-TC-Timestamp is further than this from now (Tencent: 5 minutes). */
  maxClockSkewSeconds?: number;
}

export interface FakeTencentSms {
  /** http://127.0.0.1:<port>, for TENCENT_SMS_ENDPOINT. */
  endpoint: string;
  /** The configuration that sends an app's SMS through this fake (claim template 100001, OTP template 100002). */
  env(): Record<string, string>;
  requests: FakeSmsRequest[];
  /** Answer this per-number Code (e.g. LimitExceeded.PhoneNumberDailyLimit) and Message instead of Ok for a number. */
  failNumber(mobile: string, code: string, message?: string): void;
  /**
   * POSTs a delivery receipt in Tencent's callback format (a JSON array) for messages it answered Ok; returns the
   * callback's HTTP status and body.
   */
  sendReceipts(
    url: string,
    receipts: Array<{ serialNo: string; delivered: boolean; at?: Date }>,
  ): Promise<{ status: number; body: string }>;
  close(): Promise<void>;
}

/*
 * Verification written from Tencent's "Signature v3" page on its own, not with the signer under test
 * (src/distribution/channels/tencent-sms.ts), so that a wrong signer fails against this fake.
 */
const AUTHORIZATION =
  /^TC3-HMAC-SHA256 Credential=([^/\s]+)\/(\d{4}-\d{2}-\d{2})\/([a-z]+)\/tc3_request, SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$/;

function hex(data: string): string {
  return createHash('sha256').update(data, 'utf8').digest('hex');
}

function hmac(key: string | Buffer, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

function verify(
  options: FakeTencentSmsOptions,
  request: IncomingMessage,
  rawBody: string,
): { ok: true } | { ok: false; code: string; message: string } {
  const fail = (code: string, message: string) => ({ ok: false as const, code, message });
  const header = (name: string) => {
    const value = request.headers[name];
    return Array.isArray(value) ? value.join(',') : value;
  };
  const match = AUTHORIZATION.exec(header('authorization') ?? '');
  if (!match) return fail('AuthFailure.SignatureFailure', 'The Authorization header is malformed.');
  const [, secretId, date, service, signedHeaders, signature] = match;
  if (secretId !== options.secretId) return fail('AuthFailure.SecretIdNotFound', 'The SecretId is not found.');
  const timestamp = Number(header('x-tc-timestamp'));
  if (!Number.isInteger(timestamp)) return fail('MissingParameter', 'X-TC-Timestamp is missing.');
  const skew = options.maxClockSkewSeconds ?? 300;
  if (Math.abs(Date.now() / 1000 - timestamp) > skew) {
    return fail('AuthFailure.SignatureExpire', 'The request timestamp is out of range.');
  }
  if (new Date(timestamp * 1000).toISOString().slice(0, 10) !== date) {
    return fail('AuthFailure.SignatureFailure', 'The credential date is not the date of X-TC-Timestamp.');
  }
  if (service !== 'sms') return fail('AuthFailure.SignatureFailure', 'The credential service is not sms.');
  const names = signedHeaders.split(';');
  if (!names.includes('content-type') || !names.includes('host')) {
    return fail('AuthFailure.SignatureFailure', 'content-type and host must be signed.');
  }
  if ([...names].sort().join(';') !== signedHeaders) {
    return fail('AuthFailure.SignatureFailure', 'SignedHeaders are not sorted.');
  }
  let canonicalHeaders = '';
  for (const name of names) {
    const value = header(name);
    if (value === undefined) return fail('AuthFailure.SignatureFailure', `Signed header ${name} is missing.`);
    canonicalHeaders += `${name}:${value.trim().toLowerCase()}\n`;
  }
  const canonicalRequest = `${request.method}\n/\n\n${canonicalHeaders}\n${signedHeaders}\n${hex(rawBody)}`;
  const stringToSign = `TC3-HMAC-SHA256\n${timestamp}\n${date}/${service}/tc3_request\n${hex(canonicalRequest)}`;
  const secretDate = hmac(`TC3${options.secretKey}`, date);
  const secretSigning = hmac(hmac(secretDate, service), 'tc3_request');
  const expected = createHmac('sha256', secretSigning).update(stringToSign, 'utf8').digest();
  if (!timingSafeEqual(expected, Buffer.from(signature, 'hex'))) {
    return fail('AuthFailure.SignatureFailure', 'The provided credentials could not be validated.');
  }
  return { ok: true };
}

/** A local stand-in for sms.tencentcloudapi.com: checks each request's signature as Tencent does, answers SendSms. */
export async function startFakeTencentSms(options: FakeTencentSmsOptions): Promise<FakeTencentSms> {
  const requests: FakeSmsRequest[] = [];
  const failures = new Map<string, { code: string; message: string }>();
  const sent = new Map<string, string>();
  let serial = 0;

  const answer = (response: ServerResponse, body: unknown) => {
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end(JSON.stringify(body));
  };

  const server = createServer((incoming, response) => {
    const chunks: Buffer[] = [];
    incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
    incoming.on('end', () => {
      const rawBody = Buffer.concat(chunks).toString('utf8');
      const requestId = randomUUID();
      const action = incoming.headers['x-tc-action'] as string | undefined;
      let body: Record<string, unknown> | undefined;
      try {
        body = JSON.parse(rawBody) as Record<string, unknown>;
      } catch {
        body = undefined;
      }
      const record: FakeSmsRequest = { action, headers: incoming.headers, body, signatureValid: false, serialNos: {} };
      requests.push(record);
      const error = (code: string, message: string) => {
        record.error = code;
        answer(response, { Response: { Error: { Code: code, Message: message }, RequestId: requestId } });
      };
      // Tencent answers API errors with HTTP 200 and Response.Error.
      if (incoming.method !== 'POST') return error('InvalidParameter', 'Only POST is served by this fake.');
      const verdict = verify(options, incoming, rawBody);
      if (!verdict.ok) return error(verdict.code, verdict.message);
      record.signatureValid = true;
      if (action !== 'SendSms') return error('InvalidAction', `The action ${action ?? ''} is not found.`);
      if (incoming.headers['x-tc-version'] !== '2021-01-11')
        return error('InvalidParameter', 'X-TC-Version must be 2021-01-11.');
      if (!incoming.headers['x-tc-region']) return error('MissingParameter', 'X-TC-Region is missing.');
      if (!body) return error('InvalidParameter', 'The body is not JSON.');
      const numbers = body.PhoneNumberSet;
      if (!Array.isArray(numbers) || numbers.length === 0)
        return error('MissingParameter', 'PhoneNumberSet is missing.');
      for (const field of ['SmsSdkAppId', 'TemplateId']) {
        if (typeof body[field] !== 'string') return error('MissingParameter', `${field} is missing.`);
      }
      const statuses = (numbers as string[]).map((number) => {
        const code =
          failures.get(number)?.code ??
          (/^\+861[3-9]\d{9}$/.test(number) ? 'Ok' : 'InvalidParameterValue.IncorrectPhoneNumber');
        if (code !== 'Ok')
          return {
            SerialNo: '',
            PhoneNumber: number,
            Fee: 0,
            SessionContext: '',
            Code: code,
            Message: failures.get(number)?.message ?? code,
            IsoCode: 'CN',
          };
        serial += 1;
        const serialNo = `2433:${String(serial).padStart(28, '0')}`;
        record.serialNos[number] = serialNo;
        sent.set(serialNo, number);
        return {
          SerialNo: serialNo,
          PhoneNumber: number,
          Fee: 1,
          SessionContext: '',
          Code: 'Ok',
          Message: 'send success',
          IsoCode: 'CN',
        };
      });
      answer(response, { Response: { SendStatusSet: statuses, RequestId: requestId } });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as AddressInfo).port;

  /** Beijing time without a zone, as the callback writes it. */
  const beijing = (at: Date) => new Date(at.getTime() + 8 * 3600_000).toISOString().slice(0, 19).replace('T', ' ');

  const endpoint = `http://127.0.0.1:${port}`;
  return {
    endpoint,
    env: () => ({
      SMS_PROVIDER: 'tencent',
      TENCENT_SMS_SECRET_ID: options.secretId,
      TENCENT_SMS_SECRET_KEY: options.secretKey,
      TENCENT_SMS_SDK_APP_ID: '1400000001',
      TENCENT_SMS_SIGN_NAME: 'Fuli',
      TENCENT_SMS_TEMPLATE_CLAIM: '100001',
      TENCENT_SMS_TEMPLATE_OTP: '100002',
      TENCENT_SMS_ENDPOINT: endpoint,
    }),
    requests,
    failNumber: (mobile, code, message) => void failures.set(mobile, { code, message: message ?? code }),
    async sendReceipts(url, receipts) {
      const body = receipts.map(({ serialNo, delivered, at }) => {
        const mobile = sent.get(serialNo);
        if (!mobile) throw new Error(`fake-tencent-sms: no message was sent with SerialNo ${serialNo}`);
        return {
          user_receive_time: beijing(at ?? new Date()),
          nationcode: '86',
          mobile: mobile.replace(/^\+86/, ''),
          report_status: delivered ? 'SUCCESS' : 'FAIL',
          errmsg: delivered ? 'DELIVRD' : 'MK:0001',
          description: delivered ? '用户短信送达成功' : '用户关机或不在服务区',
          sid: serialNo,
        };
      });
      const response = await request(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      return { status: response.statusCode, body: await response.body.text() };
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
