import { Injectable } from '@nestjs/common';
import { toString as qrCodeText } from 'qrcode';
import type { RequestContext } from '../common/context/request-context';
import { ApiError } from '../common/errors/api-error';
import { CardPaymentCodes } from '../redemption/card-payment-codes';
import { groupPaymentCode } from '../redemption/payment-code';
import { ClaimsService } from './claims.service';

export interface ClaimPaymentCode {
  object: 'claim_payment_code';
  /** The 18 digits the POS reads. */
  code: string;
  /** The same, grouped for reading: `68 1234 5678 9012 3456`. */
  code_grouped: string;
  /** The QR code of the digits, an SVG document (the page puts it in as it is). */
  qr_svg: string;
  window_seconds: number;
  /** Milliseconds until the next window, by the server's clock (the page counts down from it, whatever its own). */
  refresh_in_ms: number;
  refresh_at: string;
  expires_at: string;
  /** What the card has left, fen. */
  balance: number;
}

/**
 * The QR code of a payment code: error correction M (15 %, what payment apps use for a screen), a quiet zone of
 * two modules, black on white whatever the page's colours, as SVG (crisp at any size, a few kB).
 */
export function paymentCodeQrSvg(payload: string): Promise<string> {
  return qrCodeText(payload, {
    type: 'svg',
    errorCorrectionLevel: 'M',
    margin: 2,
    color: { dark: '#000000', light: '#ffffff' },
  });
}

/**
 * The claim page's payment code (README, "The claim page"): once the employee's card is in an account at a
 * redemption channel, the page shows its rotating code and QR for the till, fetched again each window. The code is
 * the redemption module's (CardPaymentCodes: the key of the card at the channel that bound it), so the channel's POS
 * debits it with `payment_code` like any other. The link is the key here as for a reveal; a registered card's link
 * does not spend it (its reveal needs the SMS code, so its money must not be a link away): its holder pays from
 * the channel's app. Codes leave only in this answer: never in a URL, log, event or audit record.
 */
@Injectable()
export class ClaimPaymentCodes {
  constructor(
    private readonly claims: ClaimsService,
    private readonly paymentCodes: CardPaymentCodes,
  ) {}

  async paymentCode(ctx: RequestContext, token: string): Promise<ClaimPaymentCode> {
    const recipient = await this.claims.liveRecipient(ctx, token);
    if (recipient.realNameSealed !== null) {
      throw ApiError.conflict(
        'payment_code_unavailable',
        "A registered card's payment code is shown by the app of its account, not on its claim page",
      );
    }
    const answer = await this.paymentCodes.forBoundCard(ctx, recipient.cardSerial);
    return {
      object: 'claim_payment_code',
      code: answer.code,
      code_grouped: groupPaymentCode(answer.code),
      qr_svg: await paymentCodeQrSvg(answer.qr_payload),
      window_seconds: answer.window_seconds,
      refresh_in_ms: Math.max(0, Date.parse(answer.refresh_at) - Date.now()),
      refresh_at: answer.refresh_at,
      expires_at: answer.expires_at,
      balance: answer.balance,
    };
  }
}
