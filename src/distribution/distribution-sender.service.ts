import { Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { AuditService, type AuditEntry } from '../audit/audit.service';
import { CardMovements } from '../cards/card-movements';
import { CardSecrets } from '../cards/card-secrets';
import { CardsRepository } from '../cards/cards.repository';
import { digestOf } from '../common/canonical-json';
import { RequestContext } from '../common/context/request-context';
import { newId } from '../common/ids';
import { AppConfig } from '../config/app-config';
import { TransactionService } from '../database/transaction.service';
import { EnterprisesRepository } from '../enterprises/enterprises.repository';
import type { NewEvent } from '../events/events.repository';
import { EventsService } from '../events/events.service';
import { OnJob } from '../queue/on-job.decorator';
import { AssignmentsAuditJob } from './assignments-audit.job';
import { JobName } from '../queue/queue.constants';
import { QueueService } from '../queue/queue.service';
import { MailSender } from './channels/mail.sender';
import { claimSmsParams, renderClaimMail } from './channels/message-templates';
import type { SendOutcome } from './channels/send-outcome';
import { SmsSender } from './channels/sms.sender';
import { claimUrl, newClaimToken } from './claim-token';
import { DistributionRepository } from './distribution.repository';
import type { ClaimedRecipient, ClaimedReminder, MovedRecipient, RecipientOutcome } from './distribution-sending.types';
import { OrderCompletionService } from './order-completion.service';
import type { TencentReceipt } from './sms-receipts';

/** A claimed recipient whose worker died is due again this long after its claim (covers the slowest send). */
export const SEND_LEASE_MS = 5 * 60_000;
/** Batches one job runs back to back while full ones keep coming; then it hands over to a new job. */
const BATCHES_PER_JOB = 10;
/** Jobs woken at once for a distribution with many due recipients (each goes on while it claims full batches). */
const MAX_JOBS_PER_WAKE = 4;
/** The sweep wakes a distribution whose recipients have been due this long without a job taking them. */
const OVERDUE_AFTER_MS = 10_000;
const SWEEP_SCHEDULER = 'distribution-sweep';
/** Expired upload files deleted per sweep (each up to DISTRIBUTION_FILE_MAX_ROWS rows): the next sweep takes more. */
const FILE_PURGE_LIMIT = 20;
const SWEEP_LIMIT = 1_000;
const EXPIRE_LIMIT = 10_000;
const REMINDER_BATCH = 100;
/** Recipients listed one by one in a batch's audit record up to this many; beyond, a digest stands for them. */
const AUDIT_LISTED = 50;

/** Channel messages that carry a link: what the send job renders and sends. */
type MessageChannelRecipient = ClaimedRecipient & { channel: 'email' | 'sms' | 'link' };

/**
 * Sends a distribution's messages (README, "Sending and statuses"), modelled on the batched webhook delivery
 * (src/webhooks/webhook-delivery.service.ts, docs/decisions/0004-batched-webhook-delivery.md):
 *
 * 1. `distribution-send { distributionId }` claims up to DISTRIBUTION_SEND_BATCH due recipients in one statement
 *    (FOR UPDATE SKIP LOCKED, leased for SEND_LEASE_MS), makes each e-mail/SMS recipient a fresh claim token, renders
 *    and sends them concurrently (DISTRIBUTION_SEND_CONCURRENCY; the SMTP pool and the SMS pacing are the adapters'),
 *    then records every outcome, message row, card delivery, event and the batch's audit record in one statement.
 *    Channel `account` is bound straight to the holder through the cards module's channel-scoped bind. The job goes
 *    on while batches come back full, and wakes itself again for retries.
 * 2. `distribution-sweep` (every DISTRIBUTION_SWEEP_INTERVAL_SECONDS): starts scheduled distributions, wakes
 *    distributions with due recipients (retries, lost leases, lost wake-ups), expires claim links, sends reminders,
 *    completes distributions whose recipients are all final, deletes uploaded files past their expiry and enqueues
 *    again the assignments' audit of a distribution whose job was lost (AssignmentsAuditJob).
 *
 * A claim token exists in clear only in the message (and for `link`, the one response that hands it out): the
 * database keeps its hash, logs never see it.
 */
@Injectable()
export class DistributionSenderService implements OnApplicationBootstrap {
  private readonly logger = new Logger(DistributionSenderService.name);
  /** enterprise id → name, for the From name when the enterprise set none (names change rarely). */
  private readonly enterpriseNames = new Map<string, { name: string; at: number }>();

  constructor(
    private readonly repository: DistributionRepository,
    private readonly cards: CardsRepository,
    private readonly cardSecrets: CardSecrets,
    private readonly movements: CardMovements,
    private readonly transactions: TransactionService,
    private readonly queues: QueueService,
    private readonly config: AppConfig,
    private readonly audit: AuditService,
    private readonly events: EventsService,
    private readonly enterprises: EnterprisesRepository,
    private readonly mail: MailSender,
    private readonly sms: SmsSender,
    private readonly completion: OrderCompletionService,
    private readonly assignmentsAudit: AssignmentsAuditJob,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    if (!this.queues.isWorker) return;
    await this.queues.upsertScheduler(
      SWEEP_SCHEDULER,
      JobName.DistributionSweep,
      {},
      { everyMs: this.config.DISTRIBUTION_SWEEP_INTERVAL_SECONDS * 1000 },
    );
  }

  /** Wakes a distribution's sending: `jobs` jobs, after `delayMs`. After the rows saying it is due have committed. */
  async wake(
    distributionId: string,
    { delayMs = 0, jobs = 1 }: { delayMs?: number; jobs?: number } = {},
  ): Promise<void> {
    // No job id: concurrent jobs of one distribution claim disjoint rows or nothing (as webhook deliveries do).
    await this.queues.addBulk(
      JobName.DistributionSend,
      Array.from({ length: Math.max(1, Math.min(MAX_JOBS_PER_WAKE, jobs)) }, () => ({
        payload: { distributionId },
        options: { delay: delayMs || undefined, forgetWhenDone: true },
      })),
    );
  }

  @OnJob(JobName.DistributionSend)
  async send(payload: { distributionId: string }): Promise<void> {
    for (let batch = 0; batch < BATCHES_PER_JOB; batch++) {
      const claimed = await this.sendBatch(payload.distributionId);
      if (claimed < this.config.DISTRIBUTION_SEND_BATCH) return;
    }
    await this.wake(payload.distributionId);
  }

  /** Claims, sends and records one batch; returns how many recipients it claimed. Public for tests. */
  async sendBatch(distributionId: string): Promise<number> {
    const ctx = RequestContext.system();
    const claimed = await this.repository.claimDueRecipients(ctx, distributionId, {
      limit: this.config.DISTRIBUTION_SEND_BATCH,
      leaseMs: SEND_LEASE_MS,
    });
    if (claimed.length === 0) return 0;
    const toMessage = claimed.filter((r): r is MessageChannelRecipient => r.channel !== 'account');
    const toBind = claimed.filter((r) => r.channel === 'account');
    let handedOver = false;
    if (toMessage.length > 0) {
      const outcomes = await this.sendAll(ctx, toMessage);
      const moved = await this.record(ctx, distributionId, toMessage, outcomes);
      handedOver = moved.some((m) => m.status === 'delivered');
      const retries = [...new Set(outcomes.filter((o) => o.status === 'queued').map((o) => o.delayMs ?? 0))];
      for (const delayMs of retries.sort((a, b) => a - b)) await this.wake(distributionId, { delayMs });
    }
    for (const recipient of toBind) handedOver = (await this.bindToAccount(recipient)) || handedOver;
    // The order may be complete once the distribution's last batch handed cards over.
    if (handedOver && claimed.length < this.config.DISTRIBUTION_SEND_BATCH) {
      await this.completion.check(ctx, claimed[0].orderId);
    }
    return claimed.length;
  }

  /** Renders and sends every message of the batch, at most DISTRIBUTION_SEND_CONCURRENCY at once. */
  private async sendAll(
    ctx: RequestContext,
    recipients: readonly MessageChannelRecipient[],
  ): Promise<RecipientOutcome[]> {
    const secrets = await this.secretsFor(ctx, recipients);
    const outcomes = new Array<RecipientOutcome>(recipients.length);
    let next = 0;
    const lane = async () => {
      while (next < recipients.length) {
        const i = next++;
        outcomes[i] = await this.sendOne(recipients[i], secrets.get(recipients[i].cardSerial));
      }
    };
    await Promise.all(
      Array.from({ length: Math.min(this.config.DISTRIBUTION_SEND_CONCURRENCY, recipients.length) }, lane),
    );
    return outcomes;
  }

  /**
   * The code and PIN of the anonymous cards whose enterprise puts codes in messages (distribution_settings
   * .code_in_message, off by default), opened through the cards module's secret reader; nothing for any other card.
   */
  private async secretsFor(
    ctx: RequestContext,
    recipients: readonly MessageChannelRecipient[],
  ): Promise<Map<string, { code: string; pin: string }>> {
    const wanted = recipients.filter((r) => r.codeInMessage && r.channel === 'email').map((r) => r.cardSerial);
    const found = new Map<string, { code: string; pin: string }>();
    if (wanted.length === 0) return found;
    for (const card of await this.cards.rowsOf(ctx, wanted)) {
      if (card.cardType !== 'anonymous' || !card.secretCiphertext) continue;
      found.set(card.serial, this.cardSecrets.open(card.serial, card.secretCiphertext));
    }
    return found;
  }

  private async sendOne(
    recipient: MessageChannelRecipient,
    secret: { code: string; pin: string } | undefined,
  ): Promise<RecipientOutcome> {
    const base = { recipientId: recipient.id, attempt: recipient.attempt, ttlDays: recipient.claimLinkTtlDays };
    // `link`: the ERP delivers the URL it was handed (at creation or by a resend); nothing goes out from here.
    if (recipient.channel === 'link') {
      return { ...base, status: 'sent', tokenHash: null, delayMs: null, error: null, message: null };
    }
    const token = newClaimToken();
    const url = claimUrl(this.config.publicUrl, token.token);
    const fromName = await this.fromName(recipient);
    let result: SendOutcome;
    try {
      result =
        recipient.channel === 'email'
          ? await this.mail.send({
              to: recipient.email!,
              fromName,
              ...renderClaimMail({
                locale: recipient.locale,
                ...(recipient.name ? { recipientName: recipient.name } : {}),
                fromName,
                faceValueFen: recipient.faceValue,
                ...(recipient.greeting ? { greeting: recipient.greeting } : {}),
                claimUrl: url,
                designImageUrl: this.designImageUrl(recipient.design),
                ...(secret ? { code: secret.code, pin: secret.pin } : {}),
              }),
              headers: { 'X-Fuli-Recipient': recipient.id },
            })
          : await this.sms.send({
              mobile: recipient.mobile!,
              template: 'claim',
              params: claimSmsParams({ fromName, faceValueFen: recipient.faceValue, claimUrl: url }),
            });
    } catch (error) {
      // An adapter should answer, not throw; if one does, the attempt counts as a transient failure.
      result = { ok: false, permanent: false, error: `adapter error: ${(error as Error).name}` };
    }
    return sendOutcome(recipient, token.hash, result, this.config.distributionRetrySchedule, base.ttlDays);
  }

  private designImageUrl(design: string): string {
    return `${this.config.publicUrl.replace(/\/$/, '')}/claim/assets/${encodeURIComponent(design)}.png`;
  }

  private async fromName(recipient: { enterpriseId: string; fromName: string | null }): Promise<string> {
    if (recipient.fromName) return recipient.fromName;
    const cached = this.enterpriseNames.get(recipient.enterpriseId);
    if (cached && cached.at > Date.now() - 60_000) return cached.name;
    const enterprise = await this.enterprises.findById(RequestContext.system(), recipient.enterpriseId);
    const name = enterprise?.name ?? 'Fuli';
    if (this.enterpriseNames.size > 10_000) this.enterpriseNames.clear();
    this.enterpriseNames.set(recipient.enterpriseId, { name, at: Date.now() });
    return name;
  }

  /** The batch's outcomes, events and audit record in one statement; then the audit record is sealed. */
  private async record(
    ctx: RequestContext,
    distributionId: string,
    recipients: readonly ClaimedRecipient[],
    outcomes: readonly RecipientOutcome[],
  ): Promise<MovedRecipient[]> {
    const byId = new Map(recipients.map((r) => [r.id, r]));
    const events: Array<NewEvent & { key: string }> = [];
    for (const outcome of outcomes) {
      const recipient = byId.get(outcome.recipientId)!;
      if (outcome.status === 'delivered')
        events.push({ key: recipient.id, ...deliveryEvent(recipient, 'card.delivered', 'delivered') });
      if (outcome.status === 'failed' || outcome.status === 'bounced') {
        events.push({ key: recipient.id, ...deliveryEvent(recipient, 'card.delivery_failed', outcome.status) });
      }
    }
    const entry = batchAuditEntry(distributionId, recipients[0].enterpriseId, recipients, outcomes);
    const { moved, auditId } = await this.repository.recordSendOutcomes(ctx, outcomes, events, (at) =>
      this.audit.appendSql(ctx, entry, at),
    );
    if (moved.length > 0) await this.audit.sealThrough(auditId);
    return moved;
  }

  /**
   * Channel `account` (批量绑卡): the card is bound to the holder of the recipient's channel through the cards
   * module's channel-scoped bind (CardsRepository.bind, the one POST /v1/redemptions/bind uses after its checks) and
   * recorded by CardMovements (card_transactions row, card.bound event, audit record); the recipient becomes bound.
   * No code is revealed to anyone. A card that cannot be bound (frozen, expired, bound meanwhile) fails the recipient.
   */
  private async bindToAccount(recipient: ClaimedRecipient): Promise<boolean> {
    const ctx = RequestContext.system();
    return this.transactions
      .run(ctx, async () => {
        const balance = await this.cards.bind(
          ctx,
          recipient.cardSerial,
          recipient.holderRef!,
          recipient.channelClientId!,
        );
        if (balance === null) {
          if (
            !(await this.repository.finishAccountRecipient(ctx, recipient.id, recipient.attempt, {
              status: 'failed',
              error: 'card_not_bindable',
            }))
          ) {
            return false;
          }
          await this.events.record(ctx, deliveryEvent(recipient, 'card.delivery_failed', 'failed'));
          return false;
        }
        if (
          !(await this.repository.finishAccountRecipient(ctx, recipient.id, recipient.attempt, {
            status: 'bound',
            error: null,
          }))
        ) {
          // The lease was taken over: the other attempt binds; this transaction's bind rolls back.
          throw new LeaseLost();
        }
        await this.movements.record(
          ctx,
          [
            {
              card: {
                serial: recipient.cardSerial,
                enterpriseId: recipient.enterpriseId,
                holderRef: recipient.holderRef,
              },
              kind: 'bind',
              amount: 0,
              balanceAfter: balance,
              event: {
                type: 'card.bound',
                data: {
                  distribution_id: recipient.distributionId,
                  recipient_id: recipient.id,
                  employee_ref: recipient.employeeRef,
                  client_id: recipient.channelClientId,
                },
              },
            },
          ],
          undefined,
          { reason: `distribution ${recipient.distributionId}` },
        );
        return true;
      })
      .catch((error: unknown) => {
        if (error instanceof LeaseLost) return false;
        throw error;
      });
  }

  /**
   * SMS delivery receipts: each matched message's recipient still `sent` becomes delivered (its card issued →
   * delivered, card.delivered) or failed / bounced (card.delivery_failed), with one audit record, in one transaction.
   * Unknown sids and repeats change nothing. Returns how many recipients moved.
   */
  async applySmsReceipts(receipts: readonly TencentReceipt[]): Promise<number> {
    if (receipts.length === 0) return 0;
    const ctx = RequestContext.system();
    const bySid = new Map(receipts.map((receipt) => [receipt.sid, receipt]));
    const { moved, orders } = await this.transactions.run(ctx, async () => {
      const targets = await this.repository.messagesByProviderIds(ctx, [...bySid.keys()]);
      const applicable = targets.filter((t) => t.messageStatus === 'sent' && t.recipientStatus === 'sent');
      const changes = applicable.map((t) => {
        const receipt = bySid.get(t.providerMessageId)!;
        const status = receipt.delivered ? 'delivered' : receipt.permanent ? 'bounced' : 'failed';
        return { target: t, messageId: t.messageId, recipientId: t.recipientId, status, error: receipt.error } as const;
      });
      const movedIds = new Set(await this.repository.applyReceipts(ctx, changes));
      const done = changes.filter((c) => movedIds.has(c.recipientId));
      for (const change of done) {
        const t = change.target;
        const recipient = { ...t, id: t.recipientId };
        await this.events.record(
          ctx,
          deliveryEvent(
            recipient,
            change.status === 'delivered' ? 'card.delivered' : 'card.delivery_failed',
            change.status,
          ),
        );
      }
      if (done.length > 0) {
        const first = done[0].target;
        await this.audit.append(ctx, {
          action: 'distribution.sms_receipts',
          objectType: 'distribution',
          objectId: first.distributionId,
          enterpriseId: done.every((c) => c.target.enterpriseId === first.enterpriseId) ? first.enterpriseId : null,
          summary: {
            recipients: done
              .map((c) => ({
                recipient_id: c.recipientId,
                distribution_id: c.target.distributionId,
                serial: c.target.cardSerial,
                employee_ref: c.target.employeeRef,
                status: c.status,
              }))
              .slice(0, AUDIT_LISTED),
            count: done.length,
          },
        });
      }
      return {
        moved: done.length,
        orders: new Set(done.filter((c) => c.status === 'delivered').map((c) => c.target.orderId)),
      };
    });
    for (const orderId of orders) await this.completion.check(ctx, orderId);
    return moved;
  }

  @OnJob(JobName.DistributionSweep)
  async sweep(): Promise<void> {
    const ctx = RequestContext.system();
    const started = await this.repository.startScheduledDue(ctx, SWEEP_LIMIT);
    const overdue = await this.repository.distributionsWithDueRecipients(ctx, OVERDUE_AFTER_MS, SWEEP_LIMIT);
    const woken = new Map<string, number>();
    for (const due of [...started, ...overdue])
      woken.set(due.distributionId, Math.max(woken.get(due.distributionId) ?? 0, due.due));
    for (const [distributionId, due] of woken) {
      await this.wake(distributionId, { jobs: Math.ceil(due / this.config.DISTRIBUTION_SEND_BATCH) });
    }
    const expired = await this.repository.expireClaimLinks(ctx, EXPIRE_LIMIT);
    const reminded = await this.sendReminders();
    const completed = await this.completeDistributions();
    const filesPurged = await this.repository.purgeExpiredFiles(ctx, FILE_PURGE_LIMIT);
    const auditsRequeued = await this.assignmentsAudit.sweep();
    if (started.length + overdue.length + expired + reminded + completed + filesPurged + auditsRequeued > 0) {
      this.logger.log({
        msg: 'distribution sweep',
        started: started.length,
        woken: woken.size,
        expired,
        reminded,
        completed,
        files_purged: filesPurged,
        assignment_audits_requeued: auditsRequeued,
      });
    }
  }

  /**
   * One reminder before a link expires (DISTRIBUTION_REMINDER_DAYS_BEFORE; 0: none) to recipients who have not
   * opened it: it carries a fresh link (the hash of the first is all the database has), the first one dies, the
   * expiry stays. Returns how many went out.
   */
  async sendReminders(): Promise<number> {
    const days = this.config.DISTRIBUTION_REMINDER_DAYS_BEFORE;
    if (days === 0) return 0;
    const ctx = RequestContext.system();
    let total = 0;
    for (;;) {
      const due = await this.repository.claimReminders(ctx, days, REMINDER_BATCH);
      if (due.length === 0) return total;
      const outcomes = await Promise.all(due.map((reminder) => this.sendReminder(reminder)));
      await this.repository.recordReminders(ctx, outcomes);
      total += outcomes.filter((o) => o.status !== 'failed' && o.status !== 'bounced').length;
      if (due.length < REMINDER_BATCH) return total;
    }
  }

  private async sendReminder(reminder: ClaimedReminder) {
    const token = newClaimToken();
    const url = claimUrl(this.config.publicUrl, token.token);
    const fromName = await this.fromName(reminder);
    let result: SendOutcome;
    try {
      result =
        reminder.channel === 'email'
          ? await this.mail.send({
              to: reminder.email!,
              fromName,
              ...renderClaimMail({
                locale: reminder.locale,
                ...(reminder.name ? { recipientName: reminder.name } : {}),
                fromName,
                faceValueFen: reminder.faceValue,
                ...(reminder.greeting ? { greeting: reminder.greeting } : {}),
                claimUrl: url,
                designImageUrl: this.designImageUrl(reminder.design),
              }),
              headers: { 'X-Fuli-Recipient': reminder.recipientId },
            })
          : await this.sms.send({
              mobile: reminder.mobile!,
              template: 'claim',
              params: claimSmsParams({ fromName, faceValueFen: reminder.faceValue, claimUrl: url }),
            });
    } catch (error) {
      result = { ok: false, permanent: false, error: `adapter error: ${(error as Error).name}` };
    }
    return {
      messageId: reminder.messageId,
      recipientId: reminder.recipientId,
      tokenHash: result.ok ? token.hash : null,
      status: result.ok
        ? reminder.channel === 'email'
          ? 'delivered'
          : 'sent'
        : result.permanent
          ? 'bounced'
          : 'failed',
      providerMessageId: result.ok ? result.providerMessageId : null,
      error: result.ok ? null : result.error,
    } as const;
  }

  /** Sending distributions whose recipients are all final become completed (distribution.completed, audit). */
  private async completeDistributions(): Promise<number> {
    const ctx = RequestContext.system();
    const completed = await this.transactions.run(ctx, async () => {
      const done = await this.repository.completeFinishedDistributions(ctx, SWEEP_LIMIT);
      for (const distribution of done) {
        await this.events.record(ctx, {
          enterpriseId: distribution.enterpriseId,
          type: 'distribution.completed',
          data: {
            distribution_id: distribution.id,
            order_id: distribution.orderId,
            recipients: distribution.recipientCount,
            status: 'completed',
          },
        });
        await this.audit.append(ctx, {
          action: 'distribution.completed',
          objectType: 'distribution',
          objectId: distribution.id,
          enterpriseId: distribution.enterpriseId,
          summary: { order_id: distribution.orderId, recipients: distribution.recipientCount },
        });
      }
      return done;
    });
    for (const orderId of new Set(completed.map((d) => d.orderId))) await this.completion.check(ctx, orderId);
    return completed.length;
  }
}

class LeaseLost extends Error {}

/** What an attempt came to: delivered (e-mail accepted) or sent (SMS taken), a retry, failed, or bounced. */
export function sendOutcome(
  recipient: Pick<ClaimedRecipient, 'id' | 'attempt' | 'channel'>,
  tokenHash: Buffer,
  result: SendOutcome,
  retrySchedule: readonly number[],
  ttlDays: number,
): RecipientOutcome {
  const base = { recipientId: recipient.id, attempt: recipient.attempt, ttlDays };
  const messageId = newId('distributionMessage');
  const channel = recipient.channel;
  const kind = 'initial' as const;
  if (result.ok) {
    const status = channel === 'email' ? 'delivered' : 'sent';
    return {
      ...base,
      status,
      tokenHash,
      delayMs: null,
      error: null,
      message: { id: messageId, channel, kind, status, providerMessageId: result.providerMessageId, error: null },
    };
  }
  // Attempt n (1-based) failed: retry after the n-th delay while there is one, else give up.
  const delayMs = result.permanent ? null : (retrySchedule[recipient.attempt - 1] ?? null);
  const status = result.permanent ? 'bounced' : delayMs === null ? 'failed' : 'queued';
  return {
    ...base,
    status,
    tokenHash: null,
    delayMs,
    error: result.error,
    message: {
      id: messageId,
      channel,
      kind,
      status: result.permanent ? 'bounced' : 'failed',
      providerMessageId: null,
      error: result.error,
    },
  };
}

/** card.delivered / card.delivery_failed: ids, serial, employee reference and status; never a contact, code or link. */
export function deliveryEvent(
  recipient: Pick<
    ClaimedRecipient,
    'id' | 'distributionId' | 'enterpriseId' | 'cardSerial' | 'employeeRef' | 'channel'
  >,
  type: 'card.delivered' | 'card.delivery_failed',
  status: string,
): NewEvent {
  return {
    enterpriseId: recipient.enterpriseId,
    type,
    data: {
      serial: recipient.cardSerial,
      distribution_id: recipient.distributionId,
      recipient_id: recipient.id,
      employee_ref: recipient.employeeRef,
      channel: recipient.channel,
      status,
    },
  };
}

/** One audit record per batch: which serial went to which employee reference, and how (no contact data). */
function batchAuditEntry(
  distributionId: string,
  enterpriseId: string,
  recipients: readonly ClaimedRecipient[],
  outcomes: readonly RecipientOutcome[],
): AuditEntry {
  const byId = new Map(recipients.map((r) => [r.id, r]));
  const listed = outcomes.map((o) => ({
    recipient_id: o.recipientId,
    serial: byId.get(o.recipientId)!.cardSerial,
    employee_ref: byId.get(o.recipientId)!.employeeRef,
    channel: byId.get(o.recipientId)!.channel,
    status: o.status,
  }));
  const counts: Record<string, number> = {};
  for (const o of outcomes) counts[o.status] = (counts[o.status] ?? 0) + 1;
  return {
    action: 'distribution.messages_sent',
    objectType: 'distribution',
    objectId: distributionId,
    enterpriseId,
    summary: {
      recipients: outcomes.length,
      statuses: counts,
      ...(listed.length <= AUDIT_LISTED ? { listed } : { listed_sha256: digestOf(listed) }),
    },
  };
}
