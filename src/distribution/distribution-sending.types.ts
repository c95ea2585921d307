import type {
  DistributionChannel,
  DistributionLocale,
  MessageKind,
  MessageStatus,
  RecipientStatus,
} from './distribution.entity';

/** Statuses in which a recipient has the card in hand (order completion, docs/architecture.md). */
export const HANDED_OVER_STATUSES: readonly RecipientStatus[] = ['delivered', 'viewed', 'claimed', 'bound'];

/** A recipient claimed by a send job, with what its message needs. */
export interface ClaimedRecipient {
  id: string;
  distributionId: string;
  enterpriseId: string;
  orderId: string;
  employeeRef: string;
  name: string | null;
  email: string | null;
  mobile: string | null;
  channel: DistributionChannel;
  locale: DistributionLocale;
  greeting: string | null;
  design: string;
  faceValue: number;
  cardSerial: string;
  channelClientId: string | null;
  holderRef: string | null;
  /** The attempt this claim is (the lease's key: an outcome is recorded only while it is still the latest). */
  attempt: number;
  /** A message went out before (this one is a resend or follows a contact change). */
  wasSent: boolean;
  /** A claim token is set already (channel `link`: made when the URL was handed to the ERP). */
  hasToken: boolean;
  fromName: string | null;
  codeInMessage: boolean;
  claimLinkTtlDays: number;
}

export interface RawClaimed {
  id: string;
  distribution_id: string;
  enterprise_id: string;
  order_id: string;
  employee_ref: string;
  name: string | null;
  email: string | null;
  mobile: string | null;
  channel: DistributionChannel;
  locale: DistributionLocale;
  greeting: string | null;
  design: string;
  face_value: number;
  card_serial: string;
  channel_client_id: string | null;
  holder_ref: string | null;
  attempts: number;
  was_sent: boolean;
  has_token: boolean;
  from_name: string | null;
  code_in_message: boolean;
  claim_link_ttl_days: number;
}

export function toClaimed(row: RawClaimed): ClaimedRecipient {
  return {
    id: row.id,
    distributionId: row.distribution_id,
    enterpriseId: row.enterprise_id,
    orderId: row.order_id,
    employeeRef: row.employee_ref,
    name: row.name,
    email: row.email,
    mobile: row.mobile,
    channel: row.channel,
    locale: row.locale,
    greeting: row.greeting,
    design: row.design,
    faceValue: Number(row.face_value),
    cardSerial: row.card_serial,
    channelClientId: row.channel_client_id,
    holderRef: row.holder_ref,
    attempt: row.attempts,
    wasSent: row.was_sent,
    hasToken: row.has_token,
    fromName: row.from_name,
    codeInMessage: row.code_in_message,
    claimLinkTtlDays: row.claim_link_ttl_days,
  };
}

/** What one send attempt came to, for DistributionRepository.recordSendOutcomes. */
export interface RecipientOutcome {
  recipientId: string;
  attempt: number;
  /** `queued`: a retry is due after `delayMs`. */
  status: Extract<RecipientStatus, 'queued' | 'sent' | 'delivered' | 'failed' | 'bounced'>;
  /** The new claim token's hash, once the message carrying it went out. */
  tokenHash: Buffer | null;
  ttlDays: number;
  delayMs: number | null;
  error: string | null;
  message: {
    id: string;
    channel: DistributionChannel;
    kind: MessageKind;
    status: MessageStatus;
    providerMessageId: string | null;
    error: string | null;
  } | null;
}

export interface MovedRecipient {
  id: string;
  status: RecipientStatus;
  cardSerial: string;
  distributionId: string;
}

export interface RawMoved {
  id: string;
  status: RecipientStatus;
  card_serial: string;
  distribution_id: string;
}

export interface DueDistribution {
  distributionId: string;
  due: number;
}

export interface CompletedDistribution {
  id: string;
  enterpriseId: string;
  orderId: string;
  recipientCount: number;
}

export interface ClaimedReminder {
  messageId: string;
  recipientId: string;
  distributionId: string;
  enterpriseId: string;
  email: string | null;
  mobile: string | null;
  channel: DistributionChannel;
  locale: DistributionLocale;
  name: string | null;
  greeting: string | null;
  design: string;
  faceValue: number;
  fromName: string | null;
}

export interface RawReminder {
  message_id: string;
  id: string;
  distribution_id: string;
  enterprise_id: string;
  email: string | null;
  mobile: string | null;
  channel: DistributionChannel;
  locale: DistributionLocale;
  name: string | null;
  greeting: string | null;
  design: string;
  face_value: number;
  from_name: string | null;
}

export interface ReceiptTarget {
  messageId: string;
  messageStatus: MessageStatus;
  providerMessageId: string;
  recipientId: string;
  recipientStatus: RecipientStatus;
  distributionId: string;
  enterpriseId: string;
  employeeRef: string;
  cardSerial: string;
  channel: DistributionChannel;
  orderId: string;
}

export interface RawReceiptTarget {
  message_id: string;
  message_status: MessageStatus;
  provider_message_id: string;
  recipient_id: string;
  recipient_status: RecipientStatus;
  distribution_id: string;
  enterprise_id: string;
  employee_ref: string;
  card_serial: string;
  channel: DistributionChannel;
  order_id: string;
}
