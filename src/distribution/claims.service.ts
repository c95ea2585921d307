import { OrderCompletionService } from './order-completion.service';
import { createHash, randomBytes, randomInt, timingSafeEqual } from 'node:crypto';
import { HttpStatus, Injectable, Logger } from '@nestjs/common';
import { AuditService } from '../audit/audit.service';
import { ApiClientsService } from '../auth/api-clients.service';
import { formatCode } from '../cards/card-code';
import { CardMovements, isPastExpiry } from '../cards/card-movements';
import { CardSecrets } from '../cards/card-secrets';
import type { CardStatus } from '../cards/card.entity';
import { CardsRepository } from '../cards/cards.repository';
import type { RequestContext } from '../common/context/request-context';
import { DataCipher } from '../common/crypto/data-cipher.service';
import { ApiError } from '../common/errors/api-error';
import { AppConfig } from '../config/app-config';
import { TransactionService } from '../database/transaction.service';
import { EnterprisesRepository } from '../enterprises/enterprises.repository';
import { EventsService } from '../events/events.service';
import type { EffectiveRule } from '../risk/risk-rules';
import { RiskService, type RiskHit, type RiskSubject } from '../risk/risk.service';
import { otpSmsParams } from './channels/message-templates';
import { maskMobile, SmsSender } from './channels/sms.sender';
import type { ClaimErrorKind, ClaimLocale, ClaimPageModel } from './claim-page';
import { claimTokenHash, isClaimTokenShape } from './claim-token';
import { parseRealName, realNameEnvelopeContext } from './recipient-rows';
import type { RecipientStatus } from './distribution.entity';
import { DistributionRepository, type ClaimRecipient } from './distribution.repository';

/** Statuses whose link shows the card (a view counts); the others are not live yet, or no more. */
const SHOWN: readonly RecipientStatus[] = ['sent', 'delivered', 'viewed', 'claimed', 'bound'];
/** Statuses whose code may be revealed. */
const REVEALABLE: readonly RecipientStatus[] = ['sent', 'delivered', 'viewed', 'claimed'];
/** Cards that are gone: nothing to reveal or bind. */
const GONE: readonly CardStatus[] = ['lost', 'replaced', 'voided', 'refunded', 'expired'];

export type ClaimView =
  | { kind: 'page'; recipientLocale: ClaimLocale; model: Omit<ClaimPageModel, 'locale'> }
  | { kind: 'error'; error: ClaimErrorKind; recipientLocale: ClaimLocale | null };

export interface ClaimSecret {
  object: 'claim_secret';
  serial: string;
  /** Formatted XXXX-XXXX-XXXX-XXXX. */
  code: string;
  pin: string;
  face_value: number;
  reveals_left: number;
}

export interface ClaimOtpSent {
  object: 'claim_otp';
  mobile: string;
  expires_in: number;
  resend_after: number;
}

export interface ClaimBindTicket {
  object: 'claim_bind_ticket';
  url: string;
  expires_at: string;
}

export interface ClaimBound {
  object: 'claim_bind';
  serial: string;
  holder_ref: string;
  face_value: number;
  balance: number;
  status: CardStatus;
  expires_at: string | null;
}

const ClaimErrors = {
  notFound: () => new ApiError(HttpStatus.NOT_FOUND, 'claim_link_not_found', 'No claim link with this token'),
  revoked: () => new ApiError(HttpStatus.GONE, 'claim_link_revoked', 'This claim link was revoked'),
  expired: () => new ApiError(HttpStatus.GONE, 'claim_link_expired', 'This claim link has expired'),
  codeUnavailable: () =>
    new ApiError(HttpStatus.GONE, 'code_unavailable', "The card's code is no longer kept and cannot be shown"),
  cardUnavailable: (status: CardStatus) =>
    new ApiError(HttpStatus.GONE, 'card_unavailable', 'The card can no longer be used', { card_status: status }),
  alreadyBound: () => ApiError.conflict('card_already_bound', 'The card was added to an account already'),
  revealLimit: (limit: number) =>
    new ApiError(HttpStatus.TOO_MANY_REQUESTS, 'reveal_limit_reached', `The code may be shown ${limit} times`),
  otpRequired: () =>
    ApiError.unprocessable('otp_required', 'A registered card is revealed with the SMS one-time code (otp)'),
  otpInvalid: () => ApiError.unprocessable('otp_invalid', 'The one-time code is wrong or has expired'),
  otpLocked: () =>
    new ApiError(HttpStatus.TOO_MANY_REQUESTS, 'otp_locked', 'Too many wrong one-time codes: ask for a new one'),
  crossOrigin: () =>
    ApiError.forbidden('cross_origin_request', 'Claim actions are accepted only from the claim page itself'),
};

/**
 * Why a transaction that must commit (a counted wrong code) still fails the request, with the fraud rules that fired
 * (raised after the commit).
 */
class Refusal {
  constructor(
    readonly error: ApiError,
    readonly hits: readonly RiskHit[] = [],
  ) {}
}

/** A reveal's answer with the fraud rules it fired (raised after the commit), or its refusal. */
type RevealOutcome = { secret: ClaimSecret; hits: RiskHit[] } | Refusal;

const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest();
const otpHash = (recipientId: string, code: string) => sha256(`claim-otp\n${recipientId}\n${code}`);

/**
 * The claim page's rules (README, "The claim page"): what a link shows, views and reveals recorded with their
 * events and audit records, the SMS one-time code of registered cards, reveal limits, and "add to my account"
 * through a redemption channel. Every change of a recipient happens under its row lock, in one transaction with
 * its event and audit record. Codes and PINs leave only in the reveal's answer: never in a log, event or audit.
 */
@Injectable()
export class ClaimsService {
  private readonly logger = new Logger(ClaimsService.name);

  constructor(
    private readonly transactions: TransactionService,
    private readonly recipients: DistributionRepository,
    private readonly cards: CardsRepository,
    private readonly movements: CardMovements,
    private readonly secrets: CardSecrets,
    private readonly cipher: DataCipher,
    private readonly events: EventsService,
    private readonly audit: AuditService,
    private readonly enterprises: EnterprisesRepository,
    private readonly clients: ApiClientsService,
    private readonly sms: SmsSender,
    private readonly config: AppConfig,
    private readonly completion: OrderCompletionService,
    private readonly risk: RiskService,
  ) {}

  /**
   * A request from the claim page itself, not another site: the browser's Sec-Fetch-Site when it sends one, else
   * an Origin equal to PUBLIC_URL's. A request with neither is refused (the page's script always sends one).
   */
  assertSameOrigin(headers: { origin?: string; 'sec-fetch-site'?: string }): void {
    const site = headers['sec-fetch-site'];
    if (site !== undefined) {
      if (site === 'same-origin') return;
      throw ClaimErrors.crossOrigin();
    }
    let expected: string | null;
    try {
      expected = new URL(this.config.publicUrl).origin;
    } catch {
      expected = null;
    }
    if (headers.origin && expected && headers.origin === expected) return;
    throw ClaimErrors.crossOrigin();
  }

  /**
   * Opens the page of a link: counts the view (the first one moves the recipient to viewed, with card.viewed), unless
   * `record` is false (a HEAD request).
   */
  async view(ctx: RequestContext, token: string, { record = true } = {}): Promise<ClaimView> {
    if (!isClaimTokenShape(token)) return { kind: 'error', error: 'not_found', recipientLocale: null };
    const found = await this.transactions.run(ctx, async () => {
      const recipient = await this.recipients.claimRecipientByTokenHash(ctx, claimTokenHash(token), true);
      if (!recipient) return { error: 'not_found' as const, recipient: null };
      const refusal = this.linkRefusal(recipient);
      if (refusal) return { error: refusal, recipient };
      const moved = record && (await this.recipients.recordClaimView(ctx, recipient.id));
      if (moved) {
        await this.events.record(ctx, {
          enterpriseId: recipient.enterpriseId,
          type: 'card.viewed',
          data: this.eventData(recipient, 'viewed'),
        });
        await this.audit.append(ctx, {
          action: 'card.viewed',
          objectType: 'card',
          objectId: recipient.cardSerial,
          enterpriseId: recipient.enterpriseId,
          summary: this.auditSummary(recipient, { view_count: recipient.viewCount + 1 }),
        });
        // An SMS recipient counts as handed over from its first view (README, "When is an order completed").
        await this.completion.check(ctx, recipient.orderId);
      }
      return { error: null, recipient: { ...recipient, status: moved ? ('viewed' as const) : recipient.status } };
    });
    const recipient = found.recipient;
    if (found.error !== null || recipient === null) {
      return { kind: 'error', error: found.error ?? 'not_found', recipientLocale: recipient?.locale ?? null };
    }
    const registered = recipient.realNameSealed !== null;
    const canBind = !registered && recipient.status !== 'bound';
    const channels = canBind ? await this.clients.claimBindChannels(ctx) : [];
    return {
      kind: 'page',
      recipientLocale: recipient.locale,
      model: {
        design: recipient.design,
        greeting: recipient.greeting,
        faceValue: recipient.faceValue,
        sender: await this.senderOf(ctx, recipient),
        expiresAt: recipient.claimExpiresAt,
        status: recipient.status,
        registered,
        maskedMobile: registered ? (recipient.realNameMasked?.mobile ?? null) : null,
        revealsLeft: Math.max(0, this.config.CLAIM_REVEAL_LIMIT - recipient.revealCount),
        payWithCode: await this.paysWithCode(ctx, recipient),
        channels: channels.map((channel) => ({ id: channel.id, name: channel.name })),
      },
    };
  }

  /**
   * The card's code and PIN, opened through the cards module. The first reveal claims the card (card.claimed);
   * every one is counted, limited and audited. A registered card's needs the SMS one-time code.
   */
  async reveal(ctx: RequestContext, token: string, otp: string | undefined): Promise<ClaimSecret> {
    if (!isClaimTokenShape(token)) throw ClaimErrors.notFound();
    const limit = this.config.CLAIM_REVEAL_LIMIT;
    // The visitor's address as this server sees it (the page is opened by the employee's browser, not a channel).
    const endUserIp = ctx.ip;
    let subject: RiskSubject | null = null;
    const outcome = await this.transactions.run(ctx, async (): Promise<RevealOutcome> => {
      const recipient = await this.lockLive(ctx, token);
      if (recipient.status === 'bound') throw ClaimErrors.alreadyBound();
      if (!REVEALABLE.includes(recipient.status)) throw ClaimErrors.notFound();
      if (recipient.revealCount >= limit) throw ClaimErrors.revealLimit(limit);
      subject = {
        serial: recipient.cardSerial,
        enterpriseId: recipient.enterpriseId,
        orderId: recipient.orderId,
        holderRef: null,
        clientId: null,
        recipientId: recipient.id,
        endUserIp,
      };
      // The claim page's fraud rules, counted before this reveal (src/risk/): a block refuses it, nothing revealed.
      const risk = await this.claimRisk(ctx, recipient, endUserIp);
      const blocking = risk.revealHits.find((hit) => hit.rule.action === 'block') ?? risk.otpBlock;
      if (blocking) {
        const hits = risk.otpBlock ? [...risk.revealHits, risk.otpBlock] : risk.revealHits;
        return new Refusal(RiskService.blocked(blocking), hits);
      }
      if (recipient.realNameSealed !== null) {
        const refused = await this.checkOtp(ctx, recipient, otp);
        if (refused) {
          if (!refused.counted) return new Refusal(refused.error);
          await this.recipients.recordClaimAction(ctx, {
            recipientId: recipient.id,
            enterpriseId: recipient.enterpriseId,
            kind: 'otp_failure',
            endUserIp,
          });
          const otpHits = this.risk.hits([{ rule: risk.otpRule, count: risk.otpFailures + 1 }]);
          const otpBlocking = otpHits.find((hit) => hit.rule.action === 'block');
          return new Refusal(otpBlocking ? RiskService.blocked(otpBlocking) : refused.error, otpHits);
        }
      }
      const card = await this.cards.bySerial(ctx, recipient.cardSerial);
      if (!card) throw ClaimErrors.codeUnavailable();
      if (GONE.includes(card.status)) throw ClaimErrors.cardUnavailable(card.status);
      // Past its expiry the code buys nothing (the expiry job has not marked it yet): no reason to show it.
      if (isPastExpiry(card)) throw ClaimErrors.cardUnavailable('expired');
      if (!card.secretCiphertext) throw ClaimErrors.codeUnavailable();
      const secret = this.secrets.open(card.serial, card.secretCiphertext);
      const counted = await this.recipients.recordClaimReveal(ctx, recipient.id, limit);
      if (!counted) throw ClaimErrors.revealLimit(limit);
      await this.recipients.recordClaimAction(ctx, {
        recipientId: recipient.id,
        enterpriseId: recipient.enterpriseId,
        kind: 'reveal',
        endUserIp,
      });
      if (counted.claimed) {
        await this.events.record(ctx, {
          enterpriseId: recipient.enterpriseId,
          type: 'card.claimed',
          data: this.eventData(recipient, 'claimed'),
        });
      }
      // Who revealed which card, each time: the recipient's employee reference and the serial, never the code.
      await this.audit.append(ctx, {
        action: 'card.revealed',
        objectType: 'card',
        objectId: recipient.cardSerial,
        enterpriseId: recipient.enterpriseId,
        summary: this.auditSummary(recipient, { reveal_count: counted.revealCount, first: counted.claimed }),
      });
      return {
        secret: {
          object: 'claim_secret',
          serial: card.serial,
          code: formatCode(secret.code),
          pin: secret.pin,
          face_value: card.faceValue,
          reveals_left: Math.max(0, limit - counted.revealCount),
        },
        hits: risk.revealHits,
      };
    });
    // Alerts (and a hold's freeze) in a transaction of their own, after the reveal or refusal committed.
    if (subject) await this.risk.raise(ctx, subject, outcome.hits);
    if (outcome instanceof Refusal) throw outcome.error;
    return outcome.secret;
  }

  /**
   * The claim page's fraud rules before a reveal, as they apply to the link's enterprise: the hits of the reveal
   * rules (this reveal counted), and the one-time-code rule when it blocks at the link's failures so far (a link
   * refused while its wrong codes in the window are at the threshold); the rule itself, for a wrong code now.
   */
  private async claimRisk(
    ctx: RequestContext,
    recipient: ClaimRecipient,
    endUserIp: string | null,
  ): Promise<{ revealHits: RiskHit[]; otpBlock: RiskHit | null; otpRule: EffectiveRule; otpFailures: number }> {
    const scope = { enterpriseId: recipient.enterpriseId, clientId: null };
    const [reveals, links, otpRule] = await Promise.all([
      this.risk.rule(ctx, 'claim_reveals_per_link_hour', scope),
      this.risk.rule(ctx, 'claim_links_per_ip_hour', scope),
      this.risk.rule(ctx, 'claim_otp_failures_per_link_day', scope),
    ]);
    const figures = await this.recipients.claimRiskFigures(
      ctx,
      { recipientId: recipient.id, enterpriseId: recipient.enterpriseId, endUserIp: links.enabled ? endUserIp : null },
      {
        revealsWindowS: reveals.windowSeconds!,
        linksWindowS: links.windowSeconds!,
        otpWindowS: otpRule.windowSeconds!,
      },
    );
    const revealHits = this.risk.hits([
      { rule: reveals, count: figures.linkReveals + 1 },
      ...(figures.ipLinks === null ? [] : [{ rule: links, count: figures.ipLinks }]),
    ]);
    const [otpBlock] =
      recipient.realNameSealed !== null && otpRule.action === 'block'
        ? this.risk.hits([{ rule: otpRule, count: figures.otpFailures }])
        : [];
    return { revealHits, otpBlock: otpBlock ?? null, otpRule, otpFailures: figures.otpFailures };
  }

  /**
   * Sends a registered card's recipient a 6-digit one-time code to the registered mobile: only its hash is kept,
   * valid CLAIM_OTP_TTL_SECONDS, one per CLAIM_OTP_RESEND_SECONDS, CLAIM_OTP_SEND_LIMIT per link.
   */
  async sendOtp(ctx: RequestContext, token: string): Promise<ClaimOtpSent> {
    if (!isClaimTokenShape(token)) throw ClaimErrors.notFound();
    const ttl = this.config.CLAIM_OTP_TTL_SECONDS;
    const resend = this.config.CLAIM_OTP_RESEND_SECONDS;
    const prepared = await this.transactions.run(ctx, async () => {
      const recipient = await this.lockLive(ctx, token);
      if (recipient.status === 'bound') throw ClaimErrors.alreadyBound();
      if (!REVEALABLE.includes(recipient.status)) throw ClaimErrors.notFound();
      if (recipient.realNameSealed === null) {
        throw ApiError.conflict('otp_not_required', 'This card is anonymous: it is revealed without a one-time code');
      }
      if (recipient.revealCount >= this.config.CLAIM_REVEAL_LIMIT) {
        throw ClaimErrors.revealLimit(this.config.CLAIM_REVEAL_LIMIT);
      }
      if (recipient.otpExpiresAt) {
        const sentAt = recipient.otpExpiresAt.getTime() - ttl * 1000;
        const wait = Math.ceil((sentAt + resend * 1000 - Date.now()) / 1000);
        if (wait > 0) {
          throw new ApiError(
            HttpStatus.TOO_MANY_REQUESTS,
            'otp_too_soon',
            `One code per ${resend} seconds: try again in ${wait} s`,
            { retry_after: wait },
            { 'retry-after': String(wait) },
          );
        }
      }
      if ((await this.recipients.countClaimOtpMessages(ctx, recipient.id)) >= this.config.CLAIM_OTP_SEND_LIMIT) {
        throw new ApiError(HttpStatus.TOO_MANY_REQUESTS, 'otp_send_limit', 'No more one-time codes for this link');
      }
      const mobile = this.registeredMobile(recipient);
      const code = String(randomInt(0, 1_000_000)).padStart(6, '0');
      const hash = otpHash(recipient.id, code);
      await this.recipients.storeClaimOtp(ctx, recipient.id, hash, new Date(Date.now() + ttl * 1000));
      const messageId = await this.recipients.insertClaimOtpMessage(ctx, recipient.id);
      return { recipient, mobile, code, hash, messageId };
    });
    const { recipient, mobile, code, hash, messageId } = prepared;
    let outcome;
    try {
      outcome = await this.sms.send({
        mobile,
        template: 'otp',
        params: otpSmsParams({ code, ttlMinutes: Math.ceil(ttl / 60) }),
      });
    } catch (error) {
      outcome = { ok: false as const, permanent: false, error: error instanceof Error ? error.name : 'send failed' };
    }
    await this.transactions.run(ctx, async () => {
      if (outcome.ok) {
        await this.recipients.finishClaimOtpMessage(ctx, messageId, {
          status: 'sent',
          providerMessageId: outcome.providerMessageId,
        });
      } else {
        await this.recipients.finishClaimOtpMessage(ctx, messageId, { status: 'failed', error: outcome.error });
        // A code that never left must not hold the next one back.
        await this.recipients.clearClaimOtp(ctx, recipient.id, hash);
      }
    });
    if (!outcome.ok) {
      this.logger.warn({ msg: 'one-time code SMS failed', recipientId: recipient.id, error: outcome.error });
      throw new ApiError(HttpStatus.SERVICE_UNAVAILABLE, 'otp_send_failed', 'The SMS could not be sent; try again');
    }
    return {
      object: 'claim_otp',
      mobile: recipient.realNameMasked?.mobile ?? maskMobile(mobile),
      expires_in: ttl,
      resend_after: resend,
    };
  }

  /**
   * "Add to my account": a single-use ticket (random, stored hashed, CLAIM_BIND_TICKET_TTL_SECONDS) for one
   * redemption channel that set a claim_bind_url, and the URL of that channel's page to send the employee to.
   */
  async bindTicket(ctx: RequestContext, token: string, channelId: string): Promise<ClaimBindTicket> {
    if (!isClaimTokenShape(token)) throw ClaimErrors.notFound();
    return this.transactions.run(ctx, async () => {
      const recipient = await this.lockLive(ctx, token);
      if (recipient.status === 'bound') throw ClaimErrors.alreadyBound();
      if (!REVEALABLE.includes(recipient.status)) throw ClaimErrors.notFound();
      if (recipient.realNameSealed !== null) {
        throw ApiError.conflict('bind_not_available', 'Registered cards are added to an account with their code');
      }
      const channel = (await this.clients.claimBindChannels(ctx)).find((candidate) => candidate.id === channelId);
      if (!channel?.claimBindUrl) {
        throw ApiError.unprocessable('unknown_channel', 'No redemption channel with this id takes distributed cards');
      }
      const ticket = randomBytes(32).toString('base64url');
      const expiresAt = new Date(Date.now() + this.config.CLAIM_BIND_TICKET_TTL_SECONDS * 1000);
      await this.recipients.storeClaimBindTicket(ctx, recipient.id, {
        hash: sha256(ticket),
        clientId: channel.id,
        expiresAt,
      });
      await this.audit.append(ctx, {
        action: 'card.bind_ticket_issued',
        objectType: 'card',
        objectId: recipient.cardSerial,
        enterpriseId: recipient.enterpriseId,
        summary: this.auditSummary(recipient, { channel_client_id: channel.id }),
      });
      const url = new URL(channel.claimBindUrl);
      url.searchParams.set('ticket', ticket);
      return { object: 'claim_bind_ticket', url: url.toString(), expires_at: expiresAt.toISOString() };
    });
  }

  /**
   * The redemption channel redeems a ticket for its holder: the card is bound to that holder through the cards
   * module's bind (first bind wins), card.bound is announced, the recipient is `bound`. Only the channel the ticket
   * was made for sees it; its retry with the same holder gets the same answer.
   */
  async redeemBindTicket(ctx: RequestContext, ticket: string, holderRef: string): Promise<ClaimBound> {
    const clientId = ctx.clientId;
    const notFound = () =>
      new ApiError(HttpStatus.NOT_FOUND, 'claim_ticket_not_found', 'No claim ticket with this value for this channel');
    if (!clientId || !isClaimTokenShape(ticket)) throw notFound();
    return this.transactions.run(ctx, async () => {
      const recipient = await this.recipients.claimRecipientByBindTicket(ctx, sha256(ticket), true);
      if (!recipient || recipient.bindTicketClientId !== clientId) throw notFound();
      if (recipient.status === 'bound') {
        const card = await this.cards.bySerial(ctx, recipient.cardSerial);
        if (card && recipient.channelClientId === clientId && recipient.holderRef === holderRef) {
          return this.boundAnswer(card, holderRef);
        }
        throw ApiError.conflict('claim_ticket_used', 'This ticket has been used');
      }
      if (recipient.status === 'revoked') throw ClaimErrors.revoked();
      if (!REVEALABLE.includes(recipient.status)) throw notFound();
      if (this.isExpired(recipient)) throw ClaimErrors.expired();
      if (!recipient.bindTicketExpiresAt || recipient.bindTicketExpiresAt.getTime() <= Date.now()) {
        throw new ApiError(HttpStatus.GONE, 'claim_ticket_expired', 'This ticket has expired');
      }
      const card = await this.cards.bySerial(ctx, recipient.cardSerial, true);
      if (!card) throw notFound();
      if (GONE.includes(card.status)) throw ClaimErrors.cardUnavailable(card.status);
      const balance = await this.cards.bind(ctx, card.serial, holderRef, clientId);
      if (balance === null) {
        // The card is locked: what it is now says why it did not bind.
        if (card.holderRef !== null || card.boundClientId !== null) throw ClaimErrors.alreadyBound();
        throw ClaimErrors.cardUnavailable(isPastExpiry(card) ? 'expired' : card.status);
      }
      const bound = { ...card, holderRef, boundClientId: clientId, status: 'active' as const, balance };
      await this.movements.record(ctx, [
        {
          card: bound,
          kind: 'bind',
          amount: 0,
          balanceAfter: balance,
          event: {
            type: 'card.bound',
            data: {
              distribution_id: recipient.distributionId,
              recipient_id: recipient.id,
              employee_ref: recipient.employeeRef,
            },
          },
        },
      ]);
      if (!(await this.recipients.markClaimBound(ctx, recipient.id, { clientId, holderRef }))) {
        throw new Error(`recipient ${recipient.id} could not move to bound`);
      }
      await this.completion.check(ctx, recipient.orderId);
      return this.boundAnswer(bound, holderRef);
    });
  }

  private boundAnswer(
    card: { serial: string; faceValue: number; balance: number; status: CardStatus; expiresAt: Date | null },
    holderRef: string,
  ): ClaimBound {
    return {
      object: 'claim_bind',
      serial: card.serial,
      holder_ref: holderRef,
      face_value: card.faceValue,
      balance: card.balance,
      status: card.status,
      expires_at: card.expiresAt?.toISOString() ?? null,
    };
  }

  /**
   * The recipient of a live link, not locked (for what changes nothing of it: the payment code); 404 / 410 for a link
   * that is unknown, revoked or expired.
   */
  async liveRecipient(ctx: RequestContext, token: string): Promise<ClaimRecipient> {
    if (!isClaimTokenShape(token)) throw ClaimErrors.notFound();
    return this.lockLive(ctx, token, false);
  }

  /** The recipient of a live link, locked; 404 / 410 for a link that is unknown, revoked or expired. */
  private async lockLive(ctx: RequestContext, token: string, lock = true): Promise<ClaimRecipient> {
    const recipient = await this.recipients.claimRecipientByTokenHash(ctx, claimTokenHash(token), lock);
    if (!recipient) throw ClaimErrors.notFound();
    const refusal = this.linkRefusal(recipient);
    if (refusal === 'revoked') throw ClaimErrors.revoked();
    if (refusal === 'expired') throw ClaimErrors.expired();
    if (refusal === 'not_found') throw ClaimErrors.notFound();
    return recipient;
  }

  /** Why a link shows no card, or null. A bound card's link keeps working (it says so) even past expiry. */
  private linkRefusal(recipient: ClaimRecipient): ClaimErrorKind | null {
    if (recipient.status === 'revoked') return 'revoked';
    if (recipient.status === 'bound') return null;
    if (recipient.status === 'expired' || this.isExpired(recipient)) return 'expired';
    if (!SHOWN.includes(recipient.status)) return 'not_found';
    return null;
  }

  /**
   * Whether the page shows the card's payment code: an anonymous card in a holder's account, added through the page
   * (bound) or with its code at the channel. A registered card's link does not spend it (see ClaimPaymentCodes).
   */
  private async paysWithCode(ctx: RequestContext, recipient: ClaimRecipient): Promise<boolean> {
    if (recipient.realNameSealed !== null) return false;
    if (recipient.status === 'bound') return true;
    const card = await this.cards.bySerial(ctx, recipient.cardSerial);
    return card !== null && card.boundClientId !== null;
  }

  private isExpired(recipient: ClaimRecipient): boolean {
    return recipient.claimExpiresAt !== null && recipient.claimExpiresAt.getTime() <= Date.now();
  }

  /**
   * Checks the one-time code of a registered card's reveal: a wrong one is counted (and committed: the refusal is
   * returned, not thrown, `counted` when a live code was guessed wrong), the limit locks the code until a new one is
   * sent.
   */
  private async checkOtp(
    ctx: RequestContext,
    recipient: ClaimRecipient,
    otp: string | undefined,
  ): Promise<{ error: ApiError; counted: boolean } | null> {
    if (otp === undefined || otp === '') throw ClaimErrors.otpRequired();
    if (recipient.otpFailures >= this.config.CLAIM_OTP_FAILURE_LIMIT) throw ClaimErrors.otpLocked();
    const live =
      recipient.otpHash !== null && recipient.otpExpiresAt !== null && recipient.otpExpiresAt.getTime() > Date.now();
    const given = otpHash(recipient.id, otp);
    if (live && /^\d{6}$/.test(otp) && timingSafeEqual(given, recipient.otpHash!)) return null;
    if (!live) return { error: ClaimErrors.otpInvalid(), counted: false };
    await this.recipients.countClaimOtpFailure(ctx, recipient.id);
    return { error: ClaimErrors.otpInvalid(), counted: true };
  }

  private registeredMobile(recipient: ClaimRecipient): string {
    return parseRealName(this.cipher.decrypt(recipient.realNameSealed!, realNameEnvelopeContext(recipient.id))).mobile;
  }

  private async senderOf(ctx: RequestContext, recipient: ClaimRecipient): Promise<string> {
    if (recipient.fromName) return recipient.fromName;
    const enterprise = await this.enterprises.findById(ctx, recipient.enterpriseId);
    return enterprise?.name ?? '';
  }

  /** Events carry ids, the serial, the employee reference and the status: never a code, PIN or claim link. */
  private eventData(recipient: ClaimRecipient, status: RecipientStatus): Record<string, unknown> {
    return {
      serial: recipient.cardSerial,
      distribution_id: recipient.distributionId,
      recipient_id: recipient.id,
      employee_ref: recipient.employeeRef,
      status,
    };
  }

  private auditSummary(recipient: ClaimRecipient, extra: Record<string, unknown>): Record<string, unknown> {
    return {
      distribution_id: recipient.distributionId,
      recipient_id: recipient.id,
      employee_ref: recipient.employeeRef,
      serial: recipient.cardSerial,
      ...extra,
    };
  }
}
