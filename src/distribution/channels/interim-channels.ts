import { Injectable, Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import {
  ClaimMessages,
  MailSender,
  SmsSender,
  type ClaimMailInput,
  type OutgoingMail,
  type OutgoingSms,
  type RenderedMail,
  type SendOutcome,
} from './channel-types';

/**
 * Stand-ins until the channels part's adapters are wired (distribution.module.ts): accept every message and log
 * only its kind and a masked recipient, never its body (the claim link is in it). Delete this file then.
 */
@Injectable()
export class InterimMailSender extends MailSender {
  private readonly logger = new Logger('MailSender');

  send(mail: OutgoingMail): Promise<SendOutcome> {
    this.logger.log({ msg: 'mail not sent (no mail adapter wired)', to: mail.to.replace(/^[^@]+/, '***') });
    return Promise.resolve({ ok: true, providerMessageId: `<${randomUUID()}@interim>` });
  }
}

@Injectable()
export class InterimSmsSender extends SmsSender {
  private readonly logger = new Logger('SmsSender');

  send(sms: OutgoingSms): Promise<SendOutcome> {
    this.logger.log({ msg: 'SMS not sent (no SMS adapter wired)', mobile: `${sms.mobile.slice(0, 6)}****` });
    return Promise.resolve({ ok: true, providerMessageId: randomUUID() });
  }
}

@Injectable()
export class InterimClaimMessages extends ClaimMessages {
  renderClaimMail(input: ClaimMailInput): RenderedMail {
    const secret = input.code ? `\n${input.code} / ${input.pin ?? ''}` : '';
    const text = `${input.greeting ?? ''}\n${input.fromName}: ${input.faceValueFen / 100} CNY\n${input.claimUrl}${secret}`;
    return { subject: `${input.fromName}`, html: `<p>${text.replace(/[<>&"]/g, '')}</p>`, text };
  }

  claimSmsParams(input: { fromName: string; faceValueFen: number; claimUrl: string }): string[] {
    return [input.fromName, (input.faceValueFen / 100).toFixed(2), input.claimUrl];
  }
}
