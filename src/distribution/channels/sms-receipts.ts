/**
 * Tencent Cloud SMS delivery receipts ("SMS Sending Status Notification",
 * https://www.tencentcloud.com/document/api/382/43547): Tencent POSTs a JSON array, one object per message, to the
 * callback URL configured in its console, and expects TENCENT_RECEIPT_ACK back.
 *
 *   [{ "user_receive_time": "2015-10-17 08:03:04", "nationcode": "86", "mobile": "13xxxxxxxxx",
 *      "report_status": "SUCCESS", "errmsg": "DELIVRD", "description": "用户短信送达成功", "sid": "xxxxxxx" }]
 *
 * `sid` is the SerialNo SendSms answered (our providerMessageId); times are Beijing time (UTC+8) without a zone.
 */

export interface SmsReceipt {
  providerMessageId: string;
  delivered: boolean;
  /** The carrier's status and description, for a failed delivery. */
  error?: string;
  at: Date;
}

/** What the callback answers Tencent when the receipts were taken. */
export const TENCENT_RECEIPT_ACK = { result: 0, errmsg: 'OK' } as const;

export class SmsReceiptFormatError extends Error {}

const TIME = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})$/;

/** "2015-10-17 08:03:04" in Beijing time as a Date; null when it is not one. */
function beijingTime(value: string): Date | null {
  const match = TIME.exec(value);
  if (!match) return null;
  const date = new Date(`${match[1]}-${match[2]}-${match[3]}T${match[4]}:${match[5]}:${match[6]}+08:00`);
  return Number.isNaN(date.getTime()) ? null : date;
}

const MAX_RECEIPTS = 10_000;

/** Parses a callback body (its text, or the JSON already parsed) into receipts; throws SmsReceiptFormatError. */
export function parseTencentSmsReceipts(body: unknown): SmsReceipt[] {
  let value = body;
  if (typeof body === 'string' || Buffer.isBuffer(body)) {
    try {
      value = JSON.parse(body.toString()) as unknown;
    } catch {
      throw new SmsReceiptFormatError('SMS receipt callback body is not JSON');
    }
  }
  if (!Array.isArray(value)) throw new SmsReceiptFormatError('SMS receipt callback body must be a JSON array');
  if (value.length > MAX_RECEIPTS)
    throw new SmsReceiptFormatError(`SMS receipt callback holds over ${MAX_RECEIPTS} receipts`);
  return value.map((item: unknown, index) => {
    const where = `SMS receipt ${index + 1}`;
    if (typeof item !== 'object' || item === null || Array.isArray(item)) {
      throw new SmsReceiptFormatError(`${where} must be an object`);
    }
    const entry = item as Record<string, unknown>;
    const text = (field: string, required: boolean): string | undefined => {
      const found = entry[field];
      if (found === undefined || found === null) {
        if (required) throw new SmsReceiptFormatError(`${where}: ${field} is missing`);
        return undefined;
      }
      if (typeof found !== 'string') throw new SmsReceiptFormatError(`${where}: ${field} must be a string`);
      return found;
    };
    const sid = text('sid', true) ?? '';
    if (sid.trim() === '' || sid.length > 128) throw new SmsReceiptFormatError(`${where}: sid must be a SerialNo`);
    const status = text('report_status', true);
    if (status !== 'SUCCESS' && status !== 'FAIL') {
      throw new SmsReceiptFormatError(`${where}: report_status must be SUCCESS or FAIL`);
    }
    const time = text('user_receive_time', true) ?? '';
    const at = beijingTime(time);
    if (!at) throw new SmsReceiptFormatError(`${where}: user_receive_time must be "YYYY-MM-DD HH:MM:SS"`);
    const receipt: SmsReceipt = { providerMessageId: sid, delivered: status === 'SUCCESS', at };
    if (!receipt.delivered) {
      const detail = [text('errmsg', false), text('description', false)].filter((part) => part && part.trim());
      receipt.error = (detail.length > 0 ? detail.join(': ') : 'delivery failed').slice(0, 300);
    }
    return receipt;
  });
}
