import { deliveryEvent, sendOutcome } from './distribution-sender.service';
import { readTencentReceipts } from './sms-receipts';

const SCHEDULE = [60_000, 300_000];
const hash = Buffer.alloc(32, 1);
const recipient = (attempt: number, channel: 'email' | 'sms' = 'email') => ({ id: 'drc_1', attempt, channel });

describe('sendOutcome', () => {
  it('delivers an e-mail the server accepted, with the new token; an SMS is sent', () => {
    const mailed = sendOutcome(recipient(1), hash, { ok: true, providerMessageId: '<m@x>' }, SCHEDULE, 30);
    expect(mailed).toMatchObject({ status: 'delivered', tokenHash: hash, delayMs: null });
    expect(mailed.message).toMatchObject({ status: 'delivered', providerMessageId: '<m@x>', kind: 'initial' });
    const texted = sendOutcome(recipient(1, 'sms'), hash, { ok: true, providerMessageId: 'sid' }, SCHEDULE, 30);
    expect(texted).toMatchObject({ status: 'sent', message: { status: 'sent', channel: 'sms' } });
  });

  it('retries a transient failure on the schedule, then fails; a permanent one bounces at once', () => {
    const transient = { ok: false as const, permanent: false, error: 'SMTP 451' };
    expect(sendOutcome(recipient(1), hash, transient, SCHEDULE, 30)).toMatchObject({
      status: 'queued',
      delayMs: 60_000,
      tokenHash: null,
    });
    expect(sendOutcome(recipient(2), hash, transient, SCHEDULE, 30)).toMatchObject({
      status: 'queued',
      delayMs: 300_000,
    });
    expect(sendOutcome(recipient(3), hash, transient, SCHEDULE, 30)).toMatchObject({ status: 'failed', delayMs: null });
    const permanent = { ok: false as const, permanent: true, error: 'SMTP 550' };
    expect(sendOutcome(recipient(1), hash, permanent, SCHEDULE, 30)).toMatchObject({
      status: 'bounced',
      message: { status: 'bounced', error: 'SMTP 550' },
    });
  });
});

describe('deliveryEvent', () => {
  it('names the card and the employee reference, never a contact', () => {
    const event = deliveryEvent(
      {
        id: 'drc_1',
        distributionId: 'dst_1',
        enterpriseId: 'ent_1',
        cardSerial: '123',
        employeeRef: 'E1',
        channel: 'email',
      },
      'card.delivered',
      'delivered',
    );
    expect(event).toEqual({
      enterpriseId: 'ent_1',
      type: 'card.delivered',
      data: {
        serial: '123',
        distribution_id: 'dst_1',
        recipient_id: 'drc_1',
        employee_ref: 'E1',
        channel: 'email',
        status: 'delivered',
      },
    });
  });
});

describe('readTencentReceipts', () => {
  const at = '2026-12-06 10:03:04';
  it('reads SUCCESS and FAIL reports, tells dead numbers apart, and leaves malformed entries out', () => {
    expect(
      readTencentReceipts([
        {
          report_status: 'SUCCESS',
          errmsg: 'DELIVRD',
          description: '用户短信送达成功',
          sid: 's1',
          user_receive_time: at,
        },
        { report_status: 'FAIL', errmsg: 'MK:0001', description: '空号', sid: 's2', user_receive_time: at },
        { report_status: 'FAIL', errmsg: 'MK:0100', description: '网关繁忙', sid: 's3', user_receive_time: at },
        { report_status: 'MAYBE', sid: 's4', user_receive_time: at },
        { report_status: 'SUCCESS', user_receive_time: at },
        42,
      ]),
    ).toEqual({
      receipts: [
        { sid: 's1', delivered: true, error: null, permanent: false },
        { sid: 's2', delivered: false, error: 'MK:0001: 空号', permanent: true },
        { sid: 's3', delivered: false, error: 'MK:0100: 网关繁忙', permanent: false },
      ],
      malformed: 3,
    });
    expect(readTencentReceipts({ not: 'an array' })).toEqual({ receipts: [], malformed: 1 });
  });
});
