/**
 * Tencent Cloud SMS delivery receipts (短信下发状态回调): Tencent POSTs a JSON array, one object per message, and
 * expects TENCENT_RECEIPT_ACK back. `sid` is the SerialNo SendSms answered (distribution_messages.provider_message_id).
 *
 *   [{ "user_receive_time": "2015-10-17 08:03:04", "nationcode": "86", "mobile": "13xxxxxxxxx",
 *      "report_status": "SUCCESS", "errmsg": "DELIVRD", "description": "用户短信送达成功", "sid": "xxxxxxx" }]
 *
 * The channels part ships the full parser (src/distribution/channels/sms-receipts.ts, parseTencentSmsReceipts); this
 * is the sending part's reading of the same format until that is wired.
 */
export interface TencentReceipt {
  sid: string;
  delivered: boolean;
  /** The carrier's status and description of a failure (no number in it). */
  error: string | null;
  /** The number does not exist or cannot take messages: retrying will not help (bounced, not failed). */
  permanent: boolean;
}

export const TENCENT_RECEIPT_ACK = { result: 0, errmsg: 'OK' } as const;

/** Carrier answers that mean the number is dead (空号, 停机, unknown subscriber); anything else is a failure. */
const PERMANENT_FAILURE = /空号|停机|销号|UNDELIV|MK:0001|MK:0005|UNKNOWN|invalid|not exist/i;

/** The receipts of a callback body; malformed entries are left out (the callback is acknowledged whatever it holds). */
export function readTencentReceipts(body: unknown): TencentReceipt[] {
  if (!Array.isArray(body)) return [];
  const receipts: TencentReceipt[] = [];
  for (const item of body.slice(0, 10_000)) {
    if (typeof item !== 'object' || item === null) continue;
    const entry = item as Record<string, unknown>;
    const sid = typeof entry.sid === 'string' ? entry.sid.trim() : '';
    const status = entry.report_status;
    if (!sid || sid.length > 200 || (status !== 'SUCCESS' && status !== 'FAIL')) continue;
    const errmsg = typeof entry.errmsg === 'string' ? entry.errmsg : '';
    const description = typeof entry.description === 'string' ? entry.description : '';
    const error = status === 'FAIL' ? `${errmsg} ${description}`.trim().slice(0, 300) || 'FAIL' : null;
    receipts.push({
      sid,
      delivered: status === 'SUCCESS',
      error,
      permanent: error !== null && PERMANENT_FAILURE.test(error),
    });
  }
  return receipts;
}
