import { startFakeTencentSms, type FakeTencentSms } from '../../../test/support/fake-tencent-sms';
import {
  isPermanentTencentError,
  signTc3,
  tc3CanonicalRequest,
  tc3Date,
  tc3StringToSign,
  TencentSmsClient,
} from './tencent-sms';
import { createHmac } from 'node:crypto';

/**
 * The worked example of Tencent Cloud's "Signature v3" page (https://www.tencentcloud.com/document/product/267/37447):
 * DescribeInstances of CVM at 1551113065 with the example key pair. The payload keeps its \u escapes: the example
 * signs the JSON exactly as it goes on the wire.
 */
const DOC_PAYLOAD = String.raw`{"Limit": 1, "Filters": [{"Values": ["\u672a\u547d\u540d"], "Name": "instance-name"}]}`;
const DOC_REQUEST = {
  secretId: 'AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE',
  secretKey: 'Gu5t9xGARNpq86cd98joQYCN3EXAMPLE',
  service: 'cvm',
  timestamp: 1551113065,
  payload: DOC_PAYLOAD,
};

describe('TC3-HMAC-SHA256 signer', () => {
  it("reproduces the documentation's example: canonical request, string to sign, signature, Authorization", () => {
    const signed = signTc3({
      ...DOC_REQUEST,
      headers: { 'Content-Type': 'application/json; charset=utf-8', Host: 'cvm.tencentcloudapi.com' },
    });
    expect(signed.canonicalRequest).toBe(
      'POST\n/\n\ncontent-type:application/json; charset=utf-8\nhost:cvm.tencentcloudapi.com\n\ncontent-type;host\n' +
        '35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064',
    );
    expect(signed.stringToSign).toBe(
      'TC3-HMAC-SHA256\n1551113065\n2019-02-25/cvm/tc3_request\n' +
        '5ffe6a04c0664d6b969fab9a13bdab201d63ee709638e2749d62a09ca18d7031',
    );
    expect(signed.signature).toBe('72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168');
    expect(signed.authorization).toBe(
      'TC3-HMAC-SHA256 Credential=AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE/2019-02-25/cvm/tc3_request, ' +
        'SignedHeaders=content-type;host, Signature=72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168',
    );
  });

  it("reproduces the current page's example, which also signs x-tc-action (lowercased, like every value)", () => {
    // That version of the page masks its SecretKey but publishes the derived SecretSigning key and the signature:
    // the canonical request, string to sign and final HMAC are checked against them.
    const { canonicalRequest, signedHeaders } = tc3CanonicalRequest({
      ...DOC_REQUEST,
      headers: {
        'content-type': 'application/json; charset=utf-8',
        host: 'cvm.tencentcloudapi.com',
        'x-tc-action': 'DescribeInstances',
      },
    });
    expect(signedHeaders).toBe('content-type;host;x-tc-action');
    expect(canonicalRequest).toContain('x-tc-action:describeinstances\n');
    const stringToSign = tc3StringToSign(DOC_REQUEST, canonicalRequest);
    expect(stringToSign).toBe(
      'TC3-HMAC-SHA256\n1551113065\n2019-02-25/cvm/tc3_request\n' +
        '7019a55be8395899b900fb5564e4200d984910f34794a27cb3fb7d10ff6a1e84',
    );
    const secretSigning = Buffer.from('b596b923aad85185e2d1f6659d2a062e0a86731226e021e61bfe06f7ed05f5af', 'hex');
    expect(createHmac('sha256', secretSigning).update(stringToSign).digest('hex')).toBe(
      '10b1a37a7301a02ca19a647ad722d5e43b4b3cff309d421d85b46093f6ab6c4f',
    );
  });

  it('dates the credential in UTC, not local time (00:44 in Beijing is still the day before)', () => {
    expect(tc3Date(1551113065)).toBe('2019-02-25');
  });
});

describe('Tencent error codes', () => {
  it('bounces on refusals of the number, retries limits, internal errors and account problems', () => {
    for (const code of [
      'FailedOperation.PhoneNumberInBlacklist',
      'InvalidParameterValue.IncorrectPhoneNumber',
      'InvalidParameterValue.TemplateParameterFormatError',
      'FailedOperation.PhoneNumberParseFail',
    ]) {
      expect([code, isPermanentTencentError(code)]).toEqual([code, true]);
    }
    for (const code of [
      'LimitExceeded.PhoneNumberDailyLimit',
      'LimitExceeded.PhoneNumberThirtySecondLimit',
      'LimitExceeded.DeliveryFrequencyLimit',
      'InternalError.Timeout',
      'RequestLimitExceeded',
      'AuthFailure.SignatureFailure',
      'FailedOperation.InsufficientBalanceInSmsPackage',
      'FailedOperation.TemplateIncorrectOrUnapproved',
      'SomethingNew',
    ]) {
      expect([code, isPermanentTencentError(code)]).toEqual([code, false]);
    }
  });
});

describe('TencentSmsClient against a fake that verifies signatures', () => {
  const secretId = 'AKIDtestsecretid0000000000000000000';
  const secretKey = 'test-secret-key-0000000000000000';
  let fake: FakeTencentSms;
  beforeAll(async () => {
    fake = await startFakeTencentSms({ secretId, secretKey });
  });
  afterAll(() => fake.close());

  const client = (key = secretKey, timeoutMs = 2_000) =>
    new TencentSmsClient({
      secretId,
      secretKey: key,
      sdkAppId: '1400000000',
      signName: '福利卡',
      region: 'ap-guangzhou',
      endpoint: fake.endpoint,
      timeoutMs,
    });

  it('sends SendSms, signed, and answers the SerialNo', async () => {
    const outcome = await client().sendSms('+8613812345678', '1234567', ['腾飞科技', '500.00']);
    const request = fake.requests.at(-1)!;
    expect(request.signatureValid).toBe(true);
    expect(outcome).toEqual({ ok: true, providerMessageId: request.serialNos['+8613812345678'] });
    expect(request.body).toEqual({
      PhoneNumberSet: ['+8613812345678'],
      SmsSdkAppId: '1400000000',
      SignName: '福利卡',
      TemplateId: '1234567',
      TemplateParamSet: ['腾飞科技', '500.00'],
    });
    expect(request.headers).toMatchObject({ 'x-tc-version': '2021-01-11', 'x-tc-region': 'ap-guangzhou' });
  });

  it('is refused with AuthFailure.SignatureFailure when signed with another key, and retries that', async () => {
    const outcome = await client('not-the-key').sendSms('+8613812345678', '1234567', []);
    expect(fake.requests.at(-1)).toMatchObject({ signatureValid: false, error: 'AuthFailure.SignatureFailure' });
    expect(outcome).toMatchObject({
      ok: false,
      permanent: false,
      error: expect.stringMatching(/^AuthFailure.SignatureFailure/),
    });
  });

  it('maps per-number codes: a blacklisted number bounces, a daily limit is retried', async () => {
    fake.failNumber('+8613900000001', 'FailedOperation.PhoneNumberInBlacklist');
    fake.failNumber('+8613900000002', 'LimitExceeded.PhoneNumberDailyLimit');
    expect(await client().sendSms('+8613900000001', '1', [])).toMatchObject({ ok: false, permanent: true });
    expect(await client().sendSms('+8613900000002', '1', [])).toMatchObject({ ok: false, permanent: false });
  });

  it('keeps the message parameters out of the error, should the provider echo them', async () => {
    const link = 'https://fuli.example/claim/Zq3TtokenTOKENtoken123456';
    fake.failNumber(
      '+8613900000003',
      'FailedOperation.ContainSensitiveWord',
      `parameter 腾飞科技 or ${link} or 135790 refused`,
    );
    const outcome = await client().sendSms('+8613900000003', '1', ['腾飞科技', '135790', link]);
    expect(outcome).toMatchObject({ ok: false, permanent: true });
    if (outcome.ok) return;
    expect(outcome.error).toMatch(/^FailedOperation.ContainSensitiveWord: parameter/);
    for (const secret of ['Zq3T', '135790', '腾飞科技']) expect(outcome.error).not.toContain(secret);
  });

  it('calls an endpoint that does not answer a transient failure', async () => {
    const dead = new TencentSmsClient({
      secretId,
      secretKey,
      sdkAppId: '1',
      signName: 's',
      region: 'ap-guangzhou',
      endpoint: 'http://127.0.0.1:1',
      timeoutMs: 1_000,
    });
    expect(await dead.sendSms('+8613812345678', '1', [])).toMatchObject({ ok: false, permanent: false });
  });
});
