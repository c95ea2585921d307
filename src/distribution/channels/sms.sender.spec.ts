import { Logger } from '@nestjs/common';
import { createServer, type Server } from 'node:http';
import { mkdtempSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { startFakeTencentSms, type FakeTencentSms } from '../../../test/support/fake-tencent-sms';
import { loadConfig } from '../../config/app-config';
import { claimSmsParams, otpSmsParams } from './message-templates';
import { parseTencentSmsReceipts, TENCENT_RECEIPT_ACK, type SmsReceipt } from './sms-receipts';
import { createSmsSender, LogSmsSender, maskMobile, maskUrl, TencentSmsSender } from './sms.sender';
import { signTc3 } from './tencent-sms';

const secretId = 'AKIDfulitest000000000000000000000000';
const secretKey = 'fuli-test-secret-key-000000000000';

function config(env: Record<string, string>) {
  return loadConfig({ NODE_ENV: 'development', DATA_DIR: mkdtempSync(join(tmpdir(), 'fuli-sms-')), ...env });
}

const tencentEnv = (endpoint: string) => ({
  SMS_PROVIDER: 'tencent',
  TENCENT_SMS_SECRET_ID: secretId,
  TENCENT_SMS_SECRET_KEY: secretKey,
  TENCENT_SMS_SDK_APP_ID: '1400123456',
  TENCENT_SMS_SIGN_NAME: '福利卡',
  TENCENT_SMS_TEMPLATE_CLAIM: '2001',
  TENCENT_SMS_TEMPLATE_OTP: '2002',
  TENCENT_SMS_ENDPOINT: endpoint,
});

const CLAIM_URL = 'https://fuli.example/claim/Zq3TtokenTOKENtoken123456';

describe('TencentSmsSender', () => {
  let fake: FakeTencentSms;
  let receiver: Server;
  let receiverUrl: string;
  const receipts: SmsReceipt[] = [];

  beforeAll(async () => {
    fake = await startFakeTencentSms({ secretId, secretKey });
    // Stands in for the callback endpoint the distribution module mounts: parse, then acknowledge as Tencent expects.
    receiver = createServer((incoming, response) => {
      const chunks: Buffer[] = [];
      incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
      incoming.on('end', () => {
        receipts.push(...parseTencentSmsReceipts(Buffer.concat(chunks)));
        response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(TENCENT_RECEIPT_ACK));
      });
    });
    await new Promise<void>((done) => receiver.listen(0, '127.0.0.1', done));
    receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/sms-receipts`;
  });
  afterAll(async () => {
    await fake.close();
    await new Promise((done) => receiver.close(done));
  });

  it('is the sender SMS_PROVIDER=tencent picks, and sends the claim template with its parameters', async () => {
    const sender = createSmsSender(config(tencentEnv(fake.endpoint)));
    expect(sender).toBeInstanceOf(TencentSmsSender);
    expect(sender.describe()).toContain('Tencent Cloud SMS');
    const params = claimSmsParams({ fromName: '腾飞科技', faceValueFen: 50_000, claimUrl: CLAIM_URL });
    const outcome = await sender.send({ mobile: '+8613812345678', template: 'claim', params });
    const sent = fake.requests.at(-1)!;
    expect(sent.signatureValid).toBe(true);
    expect(sent.body).toMatchObject({ TemplateId: '2001', SmsSdkAppId: '1400123456', TemplateParamSet: params });
    expect(outcome).toEqual({ ok: true, providerMessageId: sent.serialNos['+8613812345678'] });

    const otp = await sender.send({
      mobile: '+8613812345678',
      template: 'otp',
      params: otpSmsParams({ code: '135790', ttlMinutes: 5 }),
    });
    expect(otp.ok).toBe(true);
    expect(fake.requests.at(-1)!.body).toMatchObject({ TemplateId: '2002' });
  });

  it('refuses a number that is not a mainland mobile as permanent, without calling the provider', async () => {
    const sender = createSmsSender(config(tencentEnv(fake.endpoint)));
    const before = fake.requests.length;
    for (const mobile of ['13812345678', '+14155550100', '+86138123456789', '+8612812345678']) {
      expect(await sender.send({ mobile, template: 'claim', params: [] })).toMatchObject({
        ok: false,
        permanent: true,
      });
    }
    expect(fake.requests.length).toBe(before);
  });

  it('fails against the fake when the key is wrong: the fake really checks the signature', async () => {
    const sender = createSmsSender(config({ ...tencentEnv(fake.endpoint), TENCENT_SMS_SECRET_KEY: 'a-different-key' }));
    const outcome = await sender.send({ mobile: '+8613812345678', template: 'claim', params: [] });
    expect(outcome).toMatchObject({
      ok: false,
      permanent: false,
      error: expect.stringContaining('AuthFailure.SignatureFailure'),
    });
  });

  it('is refused by the fake when the body is changed after signing (the payload hash is signed)', async () => {
    const timestamp = Math.floor(Date.now() / 1000);
    const host = new URL(fake.endpoint).host;
    const body = JSON.stringify({ PhoneNumberSet: ['+8613812345678'], SmsSdkAppId: '1', TemplateId: '1' });
    const signed = signTc3({
      secretId,
      secretKey,
      service: 'sms',
      timestamp,
      headers: { 'content-type': 'application/json; charset=utf-8', host, 'x-tc-action': 'SendSms' },
      payload: body,
    });
    const send = async (payload: string) => {
      const response = await request(`${fake.endpoint}/`, {
        method: 'POST',
        headers: {
          authorization: signed.authorization,
          'content-type': 'application/json; charset=utf-8',
          'x-tc-action': 'SendSms',
          'x-tc-version': '2021-01-11',
          'x-tc-timestamp': String(timestamp),
          'x-tc-region': 'ap-guangzhou',
        },
        body: payload,
      });
      return (await response.body.json()) as { Response: { Error?: { Code: string }; SendStatusSet?: unknown[] } };
    };
    expect((await send(body)).Response.SendStatusSet).toHaveLength(1);
    const tampered = body.replace('+8613812345678', '+8613812345679');
    expect((await send(tampered)).Response.Error?.Code).toBe('AuthFailure.SignatureFailure');
  });

  it('takes the delivery receipts the provider posts back, matched by SerialNo', async () => {
    const sender = createSmsSender(config(tencentEnv(fake.endpoint)));
    const first = await sender.send({ mobile: '+8613700000001', template: 'claim', params: [] });
    const second = await sender.send({ mobile: '+8613700000002', template: 'claim', params: [] });
    if (!first.ok || !second.ok) throw new Error('sends failed');
    const at = new Date('2026-12-06T08:00:00Z');
    const answer = await fake.sendReceipts(receiverUrl, [
      { serialNo: first.providerMessageId, delivered: true, at },
      { serialNo: second.providerMessageId, delivered: false, at },
    ]);
    expect(answer).toEqual({ status: 200, body: JSON.stringify(TENCENT_RECEIPT_ACK) });
    expect(receipts).toEqual([
      { providerMessageId: first.providerMessageId, delivered: true, at },
      { providerMessageId: second.providerMessageId, delivered: false, error: expect.any(String), at },
    ]);
  });
});

describe('LogSmsSender', () => {
  afterEach(() => jest.restoreAllMocks());

  it('is the default, and logs the masked number and template but never the claim token or a code', async () => {
    const sender = createSmsSender(config({}));
    expect(sender).toBeInstanceOf(LogSmsSender);
    expect(sender.describe()).toMatch(/log only/);
    const log = jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
    const claim = await sender.send({
      mobile: '+8613812345678',
      template: 'claim',
      params: claimSmsParams({ fromName: '腾飞科技', faceValueFen: 50_000, claimUrl: CLAIM_URL }),
    });
    const bareToken = await sender.send({
      mobile: '+8613812345678',
      template: 'claim',
      params: ['Zq3TtokenTOKENtoken123456'],
    });
    const otp = await sender.send({ mobile: '+8613812345678', template: 'otp', params: ['864209', '5'] });
    expect(claim).toMatchObject({ ok: true, providerMessageId: expect.stringMatching(/^log-/) });
    expect(bareToken.ok && otp.ok).toBe(true);
    const written = JSON.stringify(log.mock.calls);
    expect(written).toContain('+86138****5678');
    expect(written).toContain('Zq3T');
    expect(written).toContain('"template":"claim"');
    expect(written).toContain('"template":"otp"');
    expect(written).not.toContain('Zq3Tt');
    expect(written).not.toContain('13812345678');
    expect(written).not.toContain('864209');
  });

  it('masks numbers and links', () => {
    expect(maskMobile('+8613812345678')).toBe('+86138****5678');
    expect(maskUrl('https://fuli.example/claim/abcdefghijkl?x=secret')).toBe('https://fuli.example/claim/abcd…?…');
  });
});
