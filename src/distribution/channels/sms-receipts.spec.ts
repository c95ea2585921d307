import { parseTencentSmsReceipts, SmsReceiptFormatError, TENCENT_RECEIPT_ACK } from './sms-receipts';

describe('parseTencentSmsReceipts', () => {
  it("reads Tencent's documented callback body, times in Beijing time", () => {
    const body = JSON.stringify([
      {
        user_receive_time: '2015-10-17 08:03:04',
        nationcode: '86',
        mobile: '13800000000',
        report_status: 'SUCCESS',
        errmsg: 'DELIVRD',
        description: '用户短信送达成功',
        sid: '2433:0001',
      },
      {
        user_receive_time: '2015-10-17 23:59:59',
        nationcode: '86',
        mobile: '13900000000',
        report_status: 'FAIL',
        errmsg: 'MK:0001',
        description: '用户关机',
        sid: '2433:0002',
      },
    ]);
    expect(parseTencentSmsReceipts(body)).toEqual([
      { providerMessageId: '2433:0001', delivered: true, at: new Date('2015-10-17T00:03:04Z') },
      {
        providerMessageId: '2433:0002',
        delivered: false,
        error: 'MK:0001: 用户关机',
        at: new Date('2015-10-17T15:59:59Z'),
      },
    ]);
    expect(parseTencentSmsReceipts(Buffer.from(body))).toHaveLength(2);
    expect(parseTencentSmsReceipts(JSON.parse(body))).toHaveLength(2);
    expect(TENCENT_RECEIPT_ACK).toEqual({ result: 0, errmsg: 'OK' });
  });

  it('refuses a malformed body, saying which receipt and field', () => {
    const good = { user_receive_time: '2015-10-17 08:03:04', report_status: 'SUCCESS', sid: 's1' };
    const cases: Array<[unknown, RegExp]> = [
      ['{not json', /not JSON/],
      [{ sid: 's1' }, /must be a JSON array/],
      [[good, 'x'], /receipt 2 must be an object/],
      [[{ ...good, sid: undefined }], /receipt 1: sid is missing/],
      [[{ ...good, sid: 42 }], /sid must be a string/],
      [[{ ...good, report_status: 'DELIVERED' }], /report_status must be SUCCESS or FAIL/],
      [[{ ...good, user_receive_time: '2015-10-17T08:03:04Z' }], /user_receive_time must be/],
      [[{ ...good, user_receive_time: '2015-13-45 08:03:04' }], /user_receive_time must be/],
    ];
    for (const [body, message] of cases) {
      expect(() => parseTencentSmsReceipts(body)).toThrow(SmsReceiptFormatError);
      expect(() => parseTencentSmsReceipts(body)).toThrow(message);
    }
  });
});
