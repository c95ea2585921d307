import { HttpStatus, Injectable } from '@nestjs/common';
import { AuditService } from '../audit/audit.service';
import { CardsRepository } from '../cards/cards.repository';
import type { RequestContext } from '../common/context/request-context';
import { ApiError } from '../common/errors/api-error';
import { isId, newId } from '../common/ids';
import { AppConfig } from '../config/app-config';
import { TransactionService } from '../database/transaction.service';
import { EventsService } from '../events/events.service';
import { claimUrl, newClaimToken } from './claim-token';
import type { Distribution, DistributionRecipient } from './distribution.entity';
import { DistributionRepository } from './distribution.repository';
import { DistributionSenderService } from './distribution-sender.service';
import type {
  ChangeRecipientContactDto,
  DistributionCancelledDto,
  RecipientControlDto,
} from './dto/distribution-control.dto';

/** Resends per recipient in any rolling 24 hours. */
export const RESENDS_PER_DAY = 3;
const DAY_MS = 24 * 60 * 60_000;

/**
 * Control of a distribution under way (README, "Controlling a distribution"): resend, change of contact, revocation
 * of one assignment, cancellation of a scheduled distribution. Each change, its audit record and its events commit in
 * one transaction; the send job is woken after the commit. A claimed or bound card is the employee's: nothing
 * touches it any more (409 already_claimed).
 */
@Injectable()
export class DistributionControlService {
  constructor(
    private readonly repository: DistributionRepository,
    private readonly cards: CardsRepository,
    private readonly transactions: TransactionService,
    private readonly events: EventsService,
    private readonly audit: AuditService,
    private readonly sender: DistributionSenderService,
    private readonly config: AppConfig,
  ) {}

  /**
   * Sends the recipient's message again with a new link (the old one dies): at most RESENDS_PER_DAY per recipient
   * per rolling day (429 resend_limit_reached). Channel `link`: the new claim URL is in the answer, and only there.
   */
  async resend(ctx: RequestContext, distributionId: string, recipientId: string): Promise<RecipientControlDto> {
    const result = await this.transactions.run(ctx, async () => {
      const { distribution, recipient } = await this.find(ctx, distributionId, recipientId);
      assertNotClaimed(recipient);
      if (recipient.channel === 'account') {
        throw ApiError.conflict('not_resendable', 'A bulk-bound recipient gets no message to resend', {
          recipient_id: recipient.id,
        });
      }
      if (recipient.status === 'scheduled' || recipient.status === 'queued') {
        throw ApiError.conflict('not_sent_yet', `Recipient '${recipient.id}' has not been sent to yet`, {
          recipient_id: recipient.id,
          recipient_status: recipient.status,
        });
      }
      const resends = await this.repository.resendsSince(ctx, recipient.id, new Date(Date.now() - DAY_MS));
      if (resends >= RESENDS_PER_DAY) {
        throw new ApiError(
          HttpStatus.TOO_MANY_REQUESTS,
          'resend_limit_reached',
          `Recipient '${recipient.id}' was resent ${RESENDS_PER_DAY} times in the last 24 hours`,
          { recipient_id: recipient.id, limit: RESENDS_PER_DAY },
        );
      }
      const link = await this.requeue(ctx, distribution, recipient, {});
      await this.repository.insertMessage(ctx, {
        id: newId('distributionMessage'),
        recipientId: recipient.id,
        channel: recipient.channel,
        kind: 'resend',
        status: recipient.channel === 'link' ? 'sent' : 'sending',
      });
      await this.audit.append(ctx, {
        action: 'distribution_recipient.resent',
        objectType: 'distribution_recipient',
        objectId: recipient.id,
        enterpriseId: distribution.enterpriseId,
        summary: {
          distribution_id: distribution.id,
          serial: String(recipient.cardSerial),
          employee_ref: recipient.employeeRef,
          channel: recipient.channel,
        },
      });
      return { distribution, recipient, link };
    });
    await this.sender.wake(distributionId);
    return dto(result.recipient, 'queued', result.link);
  }

  /**
   * A new e-mail, mobile or channel before the card is claimed: the old link dies and a new message goes out (not yet
   * sent: the first message simply goes to the new contact).
   */
  async changeContact(
    ctx: RequestContext,
    distributionId: string,
    recipientId: string,
    change: ChangeRecipientContactDto,
  ): Promise<RecipientControlDto> {
    if (change.email === undefined && change.mobile === undefined && change.channel === undefined) {
      throw ApiError.validation([
        { field: 'email', message: 'Give an email, a mobile or a channel', code: 'contact_required' },
      ]);
    }
    const result = await this.transactions.run(ctx, async () => {
      const { distribution, recipient } = await this.find(ctx, distributionId, recipientId);
      assertNotClaimed(recipient);
      if (recipient.channel === 'account') {
        throw ApiError.conflict('not_changeable', 'A bulk-bound recipient has no contact to change', {
          recipient_id: recipient.id,
        });
      }
      const channel = change.channel ?? recipient.channel;
      const email = change.email ?? recipient.email;
      const mobile = change.mobile ?? recipient.mobile;
      if ((channel === 'email' && !email) || (channel === 'sms' && !mobile)) {
        throw ApiError.validation([
          {
            field: channel === 'email' ? 'email' : 'mobile',
            message: `Channel ${channel} needs ${channel === 'email' ? 'an e-mail address' : 'a mobile number'}`,
            code: 'contact_required',
          },
        ]);
      }
      const changes = {
        ...(change.email !== undefined ? { email: change.email } : {}),
        ...(change.mobile !== undefined ? { mobile: change.mobile } : {}),
        ...(change.channel !== undefined ? { channel: change.channel } : {}),
      };
      let link: string | undefined;
      let status = recipient.status;
      if (recipient.status === 'scheduled' || recipient.status === 'queued') {
        if (!(await this.repository.updateUnsentContact(ctx, recipient.id, changes))) throw staleState(recipient);
      } else {
        link = await this.requeue(ctx, distribution, { ...recipient, channel }, changes);
        status = 'queued';
      }
      await this.audit.append(ctx, {
        action: 'distribution_recipient.contact_changed',
        objectType: 'distribution_recipient',
        objectId: recipient.id,
        enterpriseId: distribution.enterpriseId,
        // Which fields changed, not their values: contact data stays out of the audit chain.
        summary: {
          distribution_id: distribution.id,
          serial: String(recipient.cardSerial),
          employee_ref: recipient.employeeRef,
          changed: Object.keys(changes).sort(),
          channel,
        },
        before: { email: recipient.email, mobile: recipient.mobile, channel: recipient.channel },
        after: { email, mobile, channel },
      });
      return { recipient: { ...recipient, channel }, status, link };
    });
    await this.sender.wake(distributionId);
    return dto(result.recipient, result.status, result.link);
  }

  /** Takes the card back before it is claimed: the recipient is revoked, the link dies, the card is free again. */
  async revoke(ctx: RequestContext, distributionId: string, recipientId: string): Promise<RecipientControlDto> {
    return this.transactions.run(ctx, async () => {
      const { distribution, recipient } = await this.find(ctx, distributionId, recipientId);
      assertNotClaimed(recipient);
      if (recipient.status === 'revoked') return dto(recipient, 'revoked');
      const serials = await this.repository.revokeRecipients(ctx, { recipientId: recipient.id });
      if (serials.length === 0) throw staleState(recipient);
      const moved = await this.cards.undeliver(ctx, serials);
      await this.audit.append(ctx, {
        action: 'distribution_recipient.revoked',
        objectType: 'distribution_recipient',
        objectId: recipient.id,
        enterpriseId: distribution.enterpriseId,
        summary: {
          distribution_id: distribution.id,
          serial: String(recipient.cardSerial),
          employee_ref: recipient.employeeRef,
          previous_status: recipient.status,
          card_back_to_issued: moved.length === 1,
        },
      });
      return dto(recipient, 'revoked');
    });
  }

  /** A scheduled distribution is cancelled: every recipient revoked, every card free; 409 once sending began. */
  async cancel(ctx: RequestContext, distributionId: string): Promise<DistributionCancelledDto> {
    return this.transactions.run(ctx, async () => {
      const distribution = await this.findDistribution(ctx, distributionId, true);
      if (distribution.status === 'cancelled') {
        return { object: 'distribution', id: distribution.id, status: 'cancelled', revoked: 0 };
      }
      if (distribution.status !== 'scheduled' || !(await this.repository.cancelScheduled(ctx, distribution.id))) {
        throw ApiError.conflict('distribution_started', `Distribution '${distribution.id}' has started sending`, {
          distribution_id: distribution.id,
          distribution_status: distribution.status,
        });
      }
      const serials = await this.repository.revokeRecipients(ctx, { distributionId: distribution.id });
      await this.cards.undeliver(ctx, serials);
      await this.events.record(ctx, {
        enterpriseId: distribution.enterpriseId,
        type: 'distribution.cancelled',
        data: {
          distribution_id: distribution.id,
          order_id: distribution.orderId,
          recipients: serials.length,
          status: 'cancelled',
        },
      });
      await this.audit.append(ctx, {
        action: 'distribution.cancelled',
        objectType: 'distribution',
        objectId: distribution.id,
        enterpriseId: distribution.enterpriseId,
        summary: { order_id: distribution.orderId, revoked: serials.length },
      });
      return { object: 'distribution', id: distribution.id, status: 'cancelled', revoked: serials.length };
    });
  }

  /** Back to queued with the old link dead; channel `link` gets its new link now (returned, for the answer). */
  private async requeue(
    ctx: RequestContext,
    distribution: Distribution,
    recipient: DistributionRecipient,
    changes: { email?: string | null; mobile?: string | null; channel?: DistributionRecipient['channel'] },
  ): Promise<string | undefined> {
    const token = recipient.channel === 'link' ? newClaimToken() : null;
    const ttlDays = await this.repository.claimLinkTtlDays(ctx, distribution.enterpriseId);
    if (
      !(await this.repository.requeueRecipient(ctx, recipient.id, {
        ...changes,
        tokenHash: token?.hash ?? null,
        ttlDays,
      }))
    ) {
      throw staleState(recipient);
    }
    return token ? claimUrl(this.config.publicUrl, token.token) : undefined;
  }

  private async find(
    ctx: RequestContext,
    distributionId: string,
    recipientId: string,
  ): Promise<{ distribution: Distribution; recipient: DistributionRecipient }> {
    const distribution = await this.findDistribution(ctx, distributionId, false);
    const recipient = isId('distributionRecipient', recipientId)
      ? await this.repository.recipientOf(ctx, { enterpriseId: ctx.enterpriseId, distributionId, recipientId }, true)
      : null;
    if (!recipient) throw ApiError.notFound('distribution recipient', recipientId);
    return { distribution, recipient };
  }

  private async findDistribution(ctx: RequestContext, id: string, lock: boolean): Promise<Distribution> {
    const distribution = isId('distribution', id)
      ? await this.repository.distributionOf(ctx, ctx.enterpriseId, id, lock)
      : null;
    if (!distribution) throw ApiError.notFound('distribution', id);
    return distribution;
  }
}

function assertNotClaimed(recipient: DistributionRecipient): void {
  if (recipient.status === 'claimed' || recipient.status === 'bound') {
    throw ApiError.conflict('already_claimed', `The card of recipient '${recipient.id}' was claimed already`, {
      recipient_id: recipient.id,
      recipient_status: recipient.status,
    });
  }
}

function staleState(recipient: DistributionRecipient): ApiError {
  return ApiError.conflict('invalid_state', `Recipient '${recipient.id}' is ${recipient.status}`, {
    recipient_id: recipient.id,
    recipient_status: recipient.status,
  });
}

function dto(
  recipient: Pick<DistributionRecipient, 'id' | 'distributionId' | 'channel'>,
  status: DistributionRecipient['status'],
  link?: string,
): RecipientControlDto {
  return {
    object: 'distribution_recipient',
    id: recipient.id,
    distribution_id: recipient.distributionId,
    status,
    channel: recipient.channel,
    ...(link ? { claim_url: link } : {}),
  };
}
