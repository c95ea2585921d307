/**
 * The channel adapters' contract as the sending part codes against it (the channels part owns the real ones in this
 * folder: mail.sender.ts, sms.sender.ts, message-templates.ts). Same names and shapes, so that wiring the real
 * adapters is a change of imports and providers in distribution.module.ts.
 */

/** What an adapter answers for one message; `permanent` failures are not retried (the recipient is `bounced`). */
export type SendOutcome = { ok: true; providerMessageId: string } | { ok: false; permanent: boolean; error: string };

export interface OutgoingMail {
  to: string;
  /** Display name of the sender (the enterprise). */
  fromName: string;
  subject: string;
  html: string;
  text: string;
  headers?: Record<string, string>;
}

export type SmsTemplate = 'claim' | 'otp';

export interface OutgoingSms {
  /** Mainland mobile in E.164 (+86…). */
  mobile: string;
  template: SmsTemplate;
  params: string[];
}

/** Sends one e-mail over the pooled SMTP transport; SMTP accepting it is `ok`. */
export abstract class MailSender {
  abstract send(mail: OutgoingMail): Promise<SendOutcome>;
}

/** Sends one SMS from an approved template, paced to SMS_QPS by the adapter. */
export abstract class SmsSender {
  abstract send(sms: OutgoingSms): Promise<SendOutcome>;
}

export type MessageLocale = 'zh-CN' | 'en';

export interface ClaimMailInput {
  locale: MessageLocale;
  recipientName?: string;
  fromName: string;
  faceValueFen: number;
  greeting?: string;
  claimUrl: string;
  designImageUrl: string;
  /** Only when the enterprise put codes in messages, for anonymous cards. */
  code?: string;
  pin?: string;
}

export interface RenderedMail {
  subject: string;
  html: string;
  text: string;
}

/** The pure templates (renderClaimMail, claimSmsParams of message-templates.ts), injectable. */
export abstract class ClaimMessages {
  abstract renderClaimMail(input: ClaimMailInput): RenderedMail;
  abstract claimSmsParams(input: { fromName: string; faceValueFen: number; claimUrl: string }): string[];
}
