import {
  Check,
  Column,
  CreateDateColumn,
  Entity,
  Index,
  PrimaryColumn,
  PrimaryGeneratedColumn,
  UpdateDateColumn,
} from 'typeorm';
import { bigintNumber } from '../database/transformers';

export const DISTRIBUTION_STATUSES = ['scheduled', 'sending', 'completed', 'cancelled'] as const;
export type DistributionStatus = (typeof DISTRIBUTION_STATUSES)[number];

export const DISTRIBUTION_CHANNELS = ['email', 'sms', 'link', 'account'] as const;
export type DistributionChannel = (typeof DISTRIBUTION_CHANNELS)[number];

export const DISTRIBUTION_LOCALES = ['zh-CN', 'en'] as const;
export type DistributionLocale = (typeof DISTRIBUTION_LOCALES)[number];

/**
 * A recipient's way from reservation to the card in hand (docs/architecture.md, distribution):
 * scheduled → queued → sent → delivered → viewed → claimed → bound, or failed / bounced / revoked / expired.
 */
export const RECIPIENT_STATUSES = [
  'scheduled',
  'queued',
  'sent',
  'delivered',
  'viewed',
  'claimed',
  'bound',
  'failed',
  'bounced',
  'revoked',
  'expired',
] as const;
export type RecipientStatus = (typeof RECIPIENT_STATUSES)[number];

export const MESSAGE_KINDS = ['initial', 'resend', 'reminder', 'otp'] as const;
export type MessageKind = (typeof MESSAGE_KINDS)[number];

export const MESSAGE_STATUSES = ['sending', 'sent', 'delivered', 'failed', 'bounced'] as const;
export type MessageStatus = (typeof MESSAGE_STATUSES)[number];

const sqlList = (values: readonly string[]) => values.map((value) => `'${value}'`).join(', ');

/** An enterprise's distribution settings: the sender name shown to employees, and whether codes may travel in messages. */
@Entity('distribution_settings')
export class DistributionSettings {
  @PrimaryColumn('text')
  enterpriseId: string;

  /** The From name of e-mails and the sender named on the claim page; null: the enterprise's name. */
  @Column('text', { nullable: true })
  fromName: string | null;

  /** Put the code and PIN of anonymous cards in the e-mail or SMS itself (off: the claim page only). */
  @Column('boolean', { default: false })
  codeInMessage: boolean;

  /** How long a claim link stays valid after it is sent. */
  @Column('integer', { default: 30 })
  claimLinkTtlDays: number;

  @UpdateDateColumn({ type: 'timestamptz' })
  updatedAt: Date;
}

/** A recipient list uploaded as CSV or XLSX, parsed and checked, kept until a distribution uses it or it expires. */
@Entity('distribution_files')
@Index('distribution_files_enterprise', ['enterpriseId', 'id'])
@Check('distribution_files_format', `format IN ('csv', 'xlsx')`)
export class DistributionFile {
  @PrimaryColumn('text')
  id: string;

  @Column('text')
  enterpriseId: string;

  @Column('text')
  filename: string;

  @Column('text')
  format: 'csv' | 'xlsx';

  @Column('integer')
  rowCount: number;

  /** Rows that failed the checks at upload: `{ row, field, code, message }`; a file with errors cannot be used. */
  @Column('jsonb', { default: () => "'[]'" })
  errors: unknown[];

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt: Date;

  @Column('timestamptz')
  expiresAt: Date;
}

/**
 * One checked row of an uploaded file: the recipient fields, normalised, not yet reserved. Typed columns (not a JSON
 * document) because the reservation reads a whole file in SQL (DistributionRepository.reserveCardsFromFile). The
 * recipient's id is made at upload and the real name sealed for it (realNameEnvelopeContext), so the reservation
 * copies the envelope as it is.
 */
@Entity('distribution_file_rows')
@Index('distribution_file_rows_recipient', ['recipientId'], { unique: true })
export class DistributionFileRow {
  @PrimaryColumn('text')
  fileId: string;

  @PrimaryColumn('integer')
  rowNumber: number;

  @Column('text')
  recipientId: string;

  @Column('text')
  employeeRef: string;

  @Column('text', { nullable: true })
  name: string | null;

  @Column('text', { nullable: true })
  email: string | null;

  @Column('text', { nullable: true })
  mobile: string | null;

  @Column('text')
  channel: DistributionChannel;

  @Column('integer', { nullable: true })
  faceValue: number | null;

  @Column('bigint', { nullable: true, transformer: bigintNumber })
  serial: number | null;

  @Column('text', { nullable: true })
  greeting: string | null;

  @Column('text')
  locale: DistributionLocale;

  @Column('text', { nullable: true })
  holderRef: string | null;

  @Column('text', { nullable: true })
  channelClientId: string | null;

  @Column('text', { nullable: true })
  realNameSealed: string | null;

  @Column('jsonb', { nullable: true })
  realNameMasked: Record<string, string> | null;
}

/** Cards of one issued order handed to a list of employees. */
@Entity('distributions')
@Index('distributions_enterprise', ['enterpriseId', 'id'])
@Index('distributions_order', ['orderId'])
@Index('distributions_assignments_unaudited', ['createdAt'], { where: 'assignments_audited_at IS NULL' })
@Check('distributions_status', `status IN (${sqlList(DISTRIBUTION_STATUSES)})`)
export class Distribution {
  @PrimaryColumn('text')
  id: string;

  @Column('text')
  enterpriseId: string;

  @Column('text')
  orderId: string;

  @Column('text')
  status: DistributionStatus;

  /** When sending starts (the time of creation for "now"). */
  @Column('timestamptz')
  sendAt: Date;

  /** The uploaded file the recipients came from, when they did not come inline. */
  @Column('text', { nullable: true })
  fileId: string | null;

  @Column('integer')
  recipientCount: number;

  /** The API client that created it. */
  @Column('text')
  createdByClientId: string;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt: Date;

  @Column('timestamptz', { nullable: true })
  startedAt: Date | null;

  @Column('timestamptz', { nullable: true })
  completedAt: Date | null;

  @Column('timestamptz', { nullable: true })
  cancelledAt: Date | null;

  /**
   * The `distribution.created` audit record, which commits the digests of the assignments' audit summaries; the
   * audit job writes the summaries after the commit and sets assignmentsAuditedAt (decision 0015).
   */
  @Column('text', { nullable: true })
  assignmentsAuditId: string | null;

  @Column('timestamptz', { nullable: true })
  assignmentsAuditedAt: Date | null;
}

/**
 * One employee and the card reserved for them. A card is assigned to at most one live recipient (the partial
 * unique index); a revoked assignment gives the card back to the pool. The claim token is stored only as its
 * SHA-256; the real-name data of a registered card only sealed (DataCipher), with a masked copy for display.
 */
@Entity('distribution_recipients')
@Index('distribution_recipients_card', ['cardSerial'], { unique: true, where: `status <> 'revoked'` })
@Index('distribution_recipients_list', ['distributionId', 'id'])
@Index('distribution_recipients_due', ['nextAttemptAt'], { where: `status IN ('scheduled', 'queued')` })
@Index('distribution_recipients_claim', ['claimTokenHash'], { unique: true, where: 'claim_token_hash IS NOT NULL' })
@Index('distribution_recipients_bind_ticket', ['bindTicketHash'], {
  unique: true,
  where: 'bind_ticket_hash IS NOT NULL',
})
@Index('distribution_recipients_claim_expiry', ['claimExpiresAt'], {
  where: `status IN ('sent', 'delivered', 'viewed')`,
})
@Check('distribution_recipients_status', `status IN (${sqlList(RECIPIENT_STATUSES)})`)
@Check('distribution_recipients_channel', `channel IN (${sqlList(DISTRIBUTION_CHANNELS)})`)
@Check('distribution_recipients_locale', `locale IN (${sqlList(DISTRIBUTION_LOCALES)})`)
@Check(
  'distribution_recipients_contact',
  `(channel <> 'email' OR email IS NOT NULL) AND (channel <> 'sms' OR mobile IS NOT NULL)`,
)
@Check(
  'distribution_recipients_account',
  `channel <> 'account' OR (holder_ref IS NOT NULL AND channel_client_id IS NOT NULL)`,
)
export class DistributionRecipient {
  @PrimaryColumn('text')
  id: string;

  @Column('text')
  distributionId: string;

  @Column('text')
  enterpriseId: string;

  /** The row of the request or file the recipient came from (1-based), for reports and errors. */
  @Column('integer')
  rowNumber: number;

  /** The employer's own reference for the employee (employee number): what HR and the audit chain see. */
  @Column('text')
  employeeRef: string;

  @Column('text', { nullable: true })
  name: string | null;

  @Column('text', { nullable: true })
  email: string | null;

  /** Mainland mobile in E.164 (+86…). */
  @Column('text', { nullable: true })
  mobile: string | null;

  @Column('text')
  channel: DistributionChannel;

  @Column('text', { default: 'zh-CN' })
  locale: DistributionLocale;

  @Column('text', { nullable: true })
  greeting: string | null;

  /** The card design code (the order line's), shown in the message and on the claim page. */
  @Column('text')
  design: string;

  @Column('integer')
  faceValue: number;

  @Column('bigint', { transformer: bigintNumber })
  cardSerial: number;

  /** Channel `account`: the redemption channel (API client) and its holder reference the card is bound to. */
  @Column('text', { nullable: true })
  channelClientId: string | null;

  @Column('text', { nullable: true })
  holderRef: string | null;

  /** Registered cards: `{ name, id_type, id_number, mobile }` sealed by DataCipher, and its masked form. */
  @Column('text', { nullable: true })
  realNameSealed: string | null;

  @Column('jsonb', { nullable: true })
  realNameMasked: Record<string, string> | null;

  @Column('text')
  status: RecipientStatus;

  /** When the next send is due (scheduled/queued), or a retry after a transient failure. */
  @Column('timestamptz', { nullable: true })
  nextAttemptAt: Date | null;

  /** Send attempts of the current message (reset by a resend or a contact change). */
  @Column('integer', { default: 0 })
  attempts: number;

  @Column('text', { nullable: true })
  lastError: string | null;

  @Column('bytea', { nullable: true })
  claimTokenHash: Buffer | null;

  @Column('timestamptz', { nullable: true })
  claimExpiresAt: Date | null;

  /** Registered cards: the SMS one-time code that unlocks a reveal, hashed, with its expiry and wrong tries. */
  @Column('bytea', { nullable: true })
  otpHash: Buffer | null;

  @Column('timestamptz', { nullable: true })
  otpExpiresAt: Date | null;

  @Column('integer', { default: 0 })
  otpFailures: number;

  /**
   * "Add to my account" on the claim page: a single-use ticket (hashed, short-lived) that the redemption channel
   * named here redeems with its holder reference (POST /v1/redemptions/claim-tickets/{ticket}/bind).
   */
  @Column('bytea', { nullable: true })
  bindTicketHash: Buffer | null;

  @Column('timestamptz', { nullable: true })
  bindTicketExpiresAt: Date | null;

  @Column('text', { nullable: true })
  bindTicketClientId: string | null;

  @Column('integer', { default: 0 })
  viewCount: number;

  @Column('integer', { default: 0 })
  revealCount: number;

  @Column('timestamptz', { nullable: true })
  sentAt: Date | null;

  @Column('timestamptz', { nullable: true })
  deliveredAt: Date | null;

  @Column('timestamptz', { nullable: true })
  viewedAt: Date | null;

  @Column('timestamptz', { nullable: true })
  claimedAt: Date | null;

  @Column('timestamptz', { nullable: true })
  boundAt: Date | null;

  @Column('timestamptz', { nullable: true })
  revokedAt: Date | null;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ type: 'timestamptz' })
  updatedAt: Date;
}

/** One message sent to a recipient (the claim message, a resend, a reminder, a one-time code) and how it went. */
@Entity('distribution_messages')
@Index('distribution_messages_recipient', ['recipientId', 'createdAt'])
@Index('distribution_messages_provider', ['providerMessageId'], { where: 'provider_message_id IS NOT NULL' })
@Check('distribution_messages_kind', `kind IN (${sqlList(MESSAGE_KINDS)})`)
@Check('distribution_messages_status', `status IN (${sqlList(MESSAGE_STATUSES)})`)
export class DistributionMessage {
  @PrimaryColumn('text')
  id: string;

  @Column('text')
  recipientId: string;

  @Column('text')
  channel: DistributionChannel;

  @Column('text')
  kind: MessageKind;

  @Column('text')
  status: MessageStatus;

  /** The SMTP message id or the SMS provider's serial number: delivery receipts are matched on it. */
  @Column('text', { nullable: true })
  providerMessageId: string | null;

  @Column('text', { nullable: true })
  error: string | null;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ type: 'timestamptz' })
  updatedAt: Date;
}

/** What the claim page's fraud rules count (src/risk/): a reveal of a link's code, a wrong SMS one-time code. */
export const CLAIM_ACTION_KINDS = ['reveal', 'otp_failure'] as const;
export type ClaimActionKind = (typeof CLAIM_ACTION_KINDS)[number];

/**
 * One reveal or wrong one-time code on a claim link, with the visitor's IP: the figures of the claim page's fraud
 * rules (reveals per link, links revealed per IP across an enterprise's links, wrong codes per link). Never the code,
 * the PIN or the link's token.
 */
@Entity('claim_actions')
@Index('claim_actions_recipient', ['recipientId', 'kind', 'createdAt'])
@Index('claim_actions_ip', ['enterpriseId', 'endUserIp', 'createdAt'], { where: "kind = 'reveal'" })
@Check('claim_actions_kind', `kind IN (${sqlList(CLAIM_ACTION_KINDS)})`)
export class ClaimAction {
  @PrimaryGeneratedColumn('identity', { type: 'bigint', generatedIdentity: 'ALWAYS' })
  id: string;

  @Column('text')
  recipientId: string;

  @Column('text')
  enterpriseId: string;

  @Column('text')
  kind: ClaimActionKind;

  /** The visitor's IP as the server saw it (the request's client address, behind trusted proxies). */
  @Column('inet', { nullable: true })
  endUserIp: string | null;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt: Date;
}
