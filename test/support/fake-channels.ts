import { randomUUID } from 'node:crypto';
import type {
  MailSender,
  OutgoingMail,
  OutgoingSms,
  SendOutcome,
  SmsSender,
} from '../../src/distribution/channels/channel-types';

/**
 * In-process stand-ins for the mail and SMS adapters, installed over the app's own (their `send` replaced), until the
 * e2e suite runs against smtp-sink and fake-tencent-sms. Every message is kept; `failWith` scripts failures by
 * address (a transient one any number of times, a permanent one).
 */
export class FakeChannels {
  readonly mails: OutgoingMail[] = [];
  readonly sms: Array<OutgoingSms & { sid: string }> = [];
  /** Address or mobile → the failure it gets on every attempt. */
  private readonly failures = new Map<string, { permanent: boolean; error: string }>();

  install(mail: MailSender, sms: SmsSender): this {
    mail.send = (message) => Promise.resolve(this.sendMail(message));
    sms.send = (message) => Promise.resolve(this.sendSms(message));
    return this;
  }

  failWith(address: string, permanent: boolean): void {
    this.failures.set(address, { permanent, error: permanent ? 'SMTP 550 5.1.1 no such user' : 'SMTP 451 try later' });
  }

  mailsTo(address: string): OutgoingMail[] {
    return this.mails.filter((mail) => mail.to === address);
  }

  smsTo(mobile: string): Array<OutgoingSms & { sid: string }> {
    return this.sms.filter((sms) => sms.mobile === mobile);
  }

  /** Attempts made to an address, failed ones included. */
  attempts(address: string): number {
    return this.attemptCounts.get(address) ?? 0;
  }

  private readonly attemptCounts = new Map<string, number>();

  private sendMail(mail: OutgoingMail): SendOutcome {
    this.attemptCounts.set(mail.to, this.attempts(mail.to) + 1);
    const failure = this.failures.get(mail.to);
    if (failure) return { ok: false, ...failure };
    this.mails.push(mail);
    return { ok: true, providerMessageId: `<${randomUUID()}@fake>` };
  }

  private sendSms(sms: OutgoingSms): SendOutcome {
    this.attemptCounts.set(sms.mobile, this.attempts(sms.mobile) + 1);
    const failure = this.failures.get(sms.mobile);
    if (failure) return { ok: false, ...failure };
    const sid = randomUUID();
    this.sms.push({ ...sms, sid });
    return { ok: true, providerMessageId: sid };
  }
}
