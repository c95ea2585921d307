import { Injectable, Logger } from '@nestjs/common';

/**
 * The SMS adapter as the claim page uses it, until the channel adapters (src/distribution/channels/sms.sender.ts of
 * the channels part) are wired in: same names and outcome, so the integrator swaps the provider, not the callers.
 */
export type SmsTemplate = 'claim' | 'otp';

export interface OutgoingSms {
  /** Mainland mobile in E.164: +86 and 11 digits. */
  mobile: string;
  template: SmsTemplate;
  /** The template's parameters, in order (for `otp`: the code, then its validity in minutes). */
  params: string[];
}

export type SendOutcome = { ok: true; providerMessageId: string } | { ok: false; permanent: boolean; error: string };

/** Sends one SMS from an approved template; inject `SmsSender`. */
export abstract class SmsSender {
  abstract send(sms: OutgoingSms): Promise<SendOutcome>;
}

/**
 * Stand-in until the real adapters land: logs that a message would go out, with the mobile masked and never the
 * parameters (a one-time code is one of them).
 */
@Injectable()
export class LogOnlySmsSender extends SmsSender {
  private readonly logger = new Logger('SmsSender');
  private sent = 0;

  send(sms: OutgoingSms): Promise<SendOutcome> {
    this.sent += 1;
    this.logger.log({
      msg: 'SMS not sent (no provider configured)',
      template: sms.template,
      mobile: maskMobile(sms.mobile),
    });
    return Promise.resolve({ ok: true, providerMessageId: `log-${this.sent}` });
  }
}

/** +8613812345678 → +86138****5678. */
export function maskMobile(mobile: string): string {
  return mobile.length > 9 ? `${mobile.slice(0, -8)}****${mobile.slice(-4)}` : '****';
}
