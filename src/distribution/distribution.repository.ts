import { Injectable } from '@nestjs/common';
import type { RequestContext } from '../common/context/request-context';
import { newId } from '../common/ids';
import { TransactionalConnection } from '../database/transactional-connection';
import type { DistributionLocale, MessageStatus, RecipientStatus } from './distribution.entity';
import { recipientStatusesInto } from './recipient-state';

/** A recipient as the claim page reads it: what the page shows and what its rules check (never a contact). */
export interface ClaimRecipient {
  id: string;
  distributionId: string;
  enterpriseId: string;
  employeeRef: string;
  locale: DistributionLocale;
  greeting: string | null;
  design: string;
  faceValue: number;
  cardSerial: string;
  status: RecipientStatus;
  claimExpiresAt: Date | null;
  realNameSealed: string | null;
  realNameMasked: Record<string, string> | null;
  otpHash: Buffer | null;
  otpExpiresAt: Date | null;
  otpFailures: number;
  viewCount: number;
  revealCount: number;
  bindTicketHash: Buffer | null;
  bindTicketExpiresAt: Date | null;
  bindTicketClientId: string | null;
  holderRef: string | null;
  channelClientId: string | null;
  /** distribution_settings.from_name of the enterprise; null: the enterprise's name is shown. */
  fromName: string | null;
}

interface RawClaimRecipient {
  id: string;
  distribution_id: string;
  enterprise_id: string;
  employee_ref: string;
  locale: DistributionLocale;
  greeting: string | null;
  design: string;
  face_value: number;
  card_serial: string;
  status: RecipientStatus;
  claim_expires_at: Date | null;
  real_name_sealed: string | null;
  real_name_masked: Record<string, string> | null;
  otp_hash: Buffer | null;
  otp_expires_at: Date | null;
  otp_failures: number;
  view_count: number;
  reveal_count: number;
  bind_ticket_hash: Buffer | null;
  bind_ticket_expires_at: Date | null;
  bind_ticket_client_id: string | null;
  holder_ref: string | null;
  channel_client_id: string | null;
  from_name: string | null;
}

const CLAIM_COLUMNS = `r.id, r.distribution_id, r.enterprise_id, r.employee_ref, r.locale, r.greeting, r.design, r.face_value,
  r.card_serial::text AS card_serial, r.status, r.claim_expires_at, r.real_name_sealed, r.real_name_masked, r.otp_hash,
  r.otp_expires_at, r.otp_failures, r.view_count, r.reveal_count, r.bind_ticket_hash, r.bind_ticket_expires_at,
  r.bind_ticket_client_id, r.holder_ref, r.channel_client_id, s.from_name`;

function toClaimRecipient(raw: RawClaimRecipient): ClaimRecipient {
  return {
    id: raw.id,
    distributionId: raw.distribution_id,
    enterpriseId: raw.enterprise_id,
    employeeRef: raw.employee_ref,
    locale: raw.locale,
    greeting: raw.greeting,
    design: raw.design,
    faceValue: Number(raw.face_value),
    cardSerial: raw.card_serial,
    status: raw.status,
    claimExpiresAt: raw.claim_expires_at,
    realNameSealed: raw.real_name_sealed,
    realNameMasked: raw.real_name_masked,
    otpHash: raw.otp_hash,
    otpExpiresAt: raw.otp_expires_at,
    otpFailures: raw.otp_failures,
    viewCount: raw.view_count,
    revealCount: raw.reveal_count,
    bindTicketHash: raw.bind_ticket_hash,
    bindTicketExpiresAt: raw.bind_ticket_expires_at,
    bindTicketClientId: raw.bind_ticket_client_id,
    holderRef: raw.holder_ref,
    channelClientId: raw.channel_client_id,
    fromName: raw.from_name,
  };
}

/** A status list for SQL from the state machine's own constants (never user input). */
const sqlStatuses = (statuses: readonly RecipientStatus[]) => statuses.map((status) => `'${status}'`).join(', ');
const INTO_VIEWED = sqlStatuses(recipientStatusesInto('viewed'));
const INTO_CLAIMED = sqlStatuses(recipientStatusesInto('claimed'));
if (!recipientStatusesInto('bound').includes('claimed')) throw new Error('recipient-state: claimed must move to bound');

/**
 * distribution_settings, distribution_files, distribution_file_rows, distributions, distribution_recipients and
 * distribution_messages: every statement on them is here (docs/architecture.md, one owner per table).
 */
@Injectable()
export class DistributionRepository {
  constructor(private readonly connection: TransactionalConnection) {}

  // ── settings, files, creation and reservation, reads and reports ──

  // ── sending: due recipients, message outcomes, receipts, expiry and reminders ──

  // ── claim page: token lookup, views, reveals, one-time codes ──

  /**
   * The recipient whose claim token has this SHA-256, with its enterprise's sender name; `lock`: its row locked
   * (FOR UPDATE) until the context's transaction ends, which serialises views, reveals and codes of one link.
   */
  async claimRecipientByTokenHash(ctx: RequestContext, hash: Buffer, lock = false): Promise<ClaimRecipient | null> {
    const rows = await this.connection.query<RawClaimRecipient[]>(
      ctx,
      `SELECT ${CLAIM_COLUMNS} FROM distribution_recipients r
       LEFT JOIN distribution_settings s ON s.enterprise_id = r.enterprise_id
       WHERE r.claim_token_hash = $1${lock ? ' FOR UPDATE OF r' : ''}`,
      [hash],
    );
    return rows.length > 0 ? toClaimRecipient(rows[0]) : null;
  }

  /** The recipient holding this add-to-account ticket (its SHA-256), locked like claimRecipientByTokenHash. */
  async claimRecipientByBindTicket(ctx: RequestContext, hash: Buffer, lock = false): Promise<ClaimRecipient | null> {
    const rows = await this.connection.query<RawClaimRecipient[]>(
      ctx,
      `SELECT ${CLAIM_COLUMNS} FROM distribution_recipients r
       LEFT JOIN distribution_settings s ON s.enterprise_id = r.enterprise_id
       WHERE r.bind_ticket_hash = $1${lock ? ' FOR UPDATE OF r' : ''}`,
      [hash],
    );
    return rows.length > 0 ? toClaimRecipient(rows[0]) : null;
  }

  /**
   * Counts a view of the claim page; the first one of a sent or delivered recipient moves it to `viewed`. Answers
   * whether it moved.
   */
  async recordClaimView(ctx: RequestContext, recipientId: string): Promise<boolean> {
    const [row] = await this.connection.query<Array<{ moved: boolean }>>(
      ctx,
      `WITH before AS (SELECT status FROM distribution_recipients WHERE id = $1),
       u AS (
         UPDATE distribution_recipients r SET view_count = r.view_count + 1,
           status = CASE WHEN r.status IN (${INTO_VIEWED}) THEN 'viewed' ELSE r.status END,
           viewed_at = CASE WHEN r.status IN (${INTO_VIEWED}) THEN now() ELSE r.viewed_at END,
           updated_at = now()
         WHERE r.id = $1 RETURNING r.status)
       SELECT (SELECT status FROM before) IN (${INTO_VIEWED}) AND (SELECT status FROM u) = 'viewed' AS moved`,
      [recipientId],
    );
    return row?.moved === true;
  }

  /**
   * Counts a reveal of the code; the first one (from sent, delivered or viewed) moves the recipient to `claimed`.
   * A one-time code that unlocked it is used up. Answers whether it moved, and the reveals counted so far; null when
   * the link has reached `limit` reveals (nothing changes then).
   */
  async recordClaimReveal(
    ctx: RequestContext,
    recipientId: string,
    limit: number,
  ): Promise<{ claimed: boolean; revealCount: number } | null> {
    const [row] = await this.connection.query<Array<{ claimed: boolean; reveal_count: number }>>(
      ctx,
      `WITH before AS (SELECT status FROM distribution_recipients WHERE id = $1),
       u AS (
         UPDATE distribution_recipients r SET reveal_count = r.reveal_count + 1,
           status = CASE WHEN r.status IN (${INTO_CLAIMED}) THEN 'claimed' ELSE r.status END,
           claimed_at = CASE WHEN r.status IN (${INTO_CLAIMED}) THEN now() ELSE r.claimed_at END,
           otp_hash = NULL, otp_expires_at = NULL, otp_failures = 0, updated_at = now()
         WHERE r.id = $1 AND r.reveal_count < $2 AND r.status IN (${INTO_CLAIMED}, 'claimed')
         RETURNING r.reveal_count)
       SELECT (SELECT status FROM before) IN (${INTO_CLAIMED}) AS claimed, reveal_count FROM u`,
      [recipientId, limit],
    );
    return row ? { claimed: row.claimed, revealCount: row.reveal_count } : null;
  }

  /** Stores a new one-time code (its hash) with its expiry; the count of wrong tries starts again. */
  async storeClaimOtp(ctx: RequestContext, recipientId: string, hash: Buffer, expiresAt: Date): Promise<void> {
    await this.connection.query(
      ctx,
      `UPDATE distribution_recipients SET otp_hash = $2, otp_expires_at = $3, otp_failures = 0, updated_at = now()
       WHERE id = $1`,
      [recipientId, hash, expiresAt],
    );
  }

  /** Drops a one-time code that could not be sent (only that one: a newer one stays). */
  async clearClaimOtp(ctx: RequestContext, recipientId: string, hash: Buffer): Promise<void> {
    await this.connection.query(
      ctx,
      'UPDATE distribution_recipients SET otp_hash = NULL, otp_expires_at = NULL WHERE id = $1 AND otp_hash = $2',
      [recipientId, hash],
    );
  }

  /** Counts a wrong one-time code: the count after. */
  async countClaimOtpFailure(ctx: RequestContext, recipientId: string): Promise<number> {
    const [row] = await this.connection.query<Array<{ failures: number }>>(
      ctx,
      `WITH u AS (UPDATE distribution_recipients SET otp_failures = otp_failures + 1 WHERE id = $1 RETURNING otp_failures)
       SELECT otp_failures AS failures FROM u`,
      [recipientId],
    );
    return row?.failures ?? 0;
  }

  /** One-time-code messages sent to the recipient so far (any outcome). */
  async countClaimOtpMessages(ctx: RequestContext, recipientId: string): Promise<number> {
    const [row] = await this.connection.query<Array<{ count: number }>>(
      ctx,
      `SELECT count(*)::int AS count FROM distribution_messages WHERE recipient_id = $1 AND kind = 'otp'`,
      [recipientId],
    );
    return row.count;
  }

  /** A one-time-code SMS about to be sent (status `sending`): its id. */
  async insertClaimOtpMessage(ctx: RequestContext, recipientId: string): Promise<string> {
    const id = newId('distributionMessage');
    await this.connection.query(
      ctx,
      `INSERT INTO distribution_messages (id, recipient_id, channel, kind, status) VALUES ($1, $2, 'sms', 'otp', 'sending')`,
      [id, recipientId],
    );
    return id;
  }

  /** How a one-time-code SMS went: the provider's message id, or the (safe) error. */
  async finishClaimOtpMessage(
    ctx: RequestContext,
    messageId: string,
    outcome: { status: Extract<MessageStatus, 'sent' | 'failed'>; providerMessageId?: string; error?: string },
  ): Promise<void> {
    await this.connection.query(
      ctx,
      `UPDATE distribution_messages SET status = $2, provider_message_id = $3, error = $4, updated_at = now() WHERE id = $1`,
      [messageId, outcome.status, outcome.providerMessageId ?? null, outcome.error ?? null],
    );
  }

  /** Stores an add-to-account ticket (its hash) for one redemption channel, replacing any earlier one. */
  async storeClaimBindTicket(
    ctx: RequestContext,
    recipientId: string,
    ticket: { hash: Buffer; clientId: string; expiresAt: Date },
  ): Promise<void> {
    await this.connection.query(
      ctx,
      `UPDATE distribution_recipients SET bind_ticket_hash = $2, bind_ticket_client_id = $3, bind_ticket_expires_at = $4,
         updated_at = now()
       WHERE id = $1`,
      [recipientId, ticket.hash, ticket.clientId, ticket.expiresAt],
    );
  }

  /**
   * The card was bound to the channel's holder through the recipient's ticket: `bound` (through `claimed` when it was
   * not revealed yet, as the state machine has it), with the channel and holder; the ticket is used up (it expires
   * now but stays, so that the channel's retry is recognised). Answers whether it moved.
   */
  async markClaimBound(
    ctx: RequestContext,
    recipientId: string,
    bound: { clientId: string; holderRef: string },
  ): Promise<boolean> {
    const rows = await this.connection.query<Array<{ id: string }>>(
      ctx,
      `WITH u AS (
         UPDATE distribution_recipients SET status = 'bound', bound_at = now(), claimed_at = coalesce(claimed_at, now()),
           channel_client_id = $2, holder_ref = $3, bind_ticket_expires_at = least(bind_ticket_expires_at, now()),
           updated_at = now()
         WHERE id = $1 AND status IN ('claimed', ${INTO_CLAIMED})
         RETURNING id)
       SELECT id FROM u`,
      [recipientId, bound.clientId, bound.holderRef],
    );
    return rows.length > 0;
  }
}
