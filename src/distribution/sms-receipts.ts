import { parseTencentSmsReceipts, SmsReceiptFormatError, type SmsReceipt } from './channels/sms-receipts';

/** A receipt as the sending part applies it: the channels part's parse, and whether a failure is a dead number. */
export interface TencentReceipt {
  sid: string;
  delivered: boolean;
  /** The carrier's status and description of a failure (no number in it). */
  error: string | null;
  /** The number does not exist or cannot take messages: retrying will not help (bounced, not failed). */
  permanent: boolean;
}

/** Carrier answers that mean the number is dead (空号, 停机, unknown subscriber); anything else is a failure. */
const PERMANENT_FAILURE = /空号|停机|销号|号码不存在|not exist|invalid number|unknown subscriber/i;

/**
 * The receipts of a callback body (parseTencentSmsReceipts, src/distribution/channels/sms-receipts.ts), entry by
 * entry: a malformed entry is left out rather than losing the good ones beside it (the callback is acknowledged
 * whatever it holds, or Tencent would send it again and again).
 */
export function readTencentReceipts(body: unknown): { receipts: TencentReceipt[]; malformed: number } {
  if (!Array.isArray(body)) return { receipts: [], malformed: 1 };
  const receipts: TencentReceipt[] = [];
  let malformed = 0;
  for (const item of body.slice(0, 10_000)) {
    let parsed: SmsReceipt;
    try {
      [parsed] = parseTencentSmsReceipts([item]);
    } catch (error) {
      if (!(error instanceof SmsReceiptFormatError)) throw error;
      malformed += 1;
      continue;
    }
    const error = parsed.delivered ? null : (parsed.error ?? 'FAIL');
    receipts.push({
      sid: parsed.providerMessageId,
      delivered: parsed.delivered,
      error,
      permanent: error !== null && PERMANENT_FAILURE.test(error),
    });
  }
  return { receipts, malformed };
}
