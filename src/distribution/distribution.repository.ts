import { Injectable } from '@nestjs/common';
import { IsNull } from 'typeorm';
import { cardsDeliveredSql, orderCardsForDistributionSql, orderCardsStillIssuedSql } from '../cards/cards.repository';
import type { CardType } from '../catalog/product.entity';
import { CanonicalJsonText } from '../common/canonical-json';
import type { RequestContext } from '../common/context/request-context';
import type { ListQueryDto, Page } from '../common/pagination/pagination';
import { newId } from '../common/ids';
import { paginate } from '../database/paginate';
import { TransactionalConnection } from '../database/transactional-connection';
import { SealedColumnQueries } from '../database/sealed-column-sql';
import { keyedEventRowsSql, type NewEvent } from '../events/events.repository';
import {
  Distribution,
  DistributionFile,
  DistributionRecipient,
  DistributionSettings,
  type DistributionChannel,
  type DistributionLocale,
  type MessageKind,
  type ClaimActionKind,
  type MessageStatus,
  type RecipientStatus,
} from './distribution.entity';
import { canMoveRecipient, FINAL_RECIPIENT_STATUSES, recipientStatusesInto } from './recipient-state';
import {
  HANDED_OVER_STATUSES,
  toClaimed,
  type ClaimedRecipient,
  type ClaimedReminder,
  type CompletedDistribution,
  type DueDistribution,
  type MovedRecipient,
  type RawClaimed,
  type RawMoved,
  type RawReceiptTarget,
  type RawReminder,
  type ReceiptTarget,
  type RecipientOutcome,
} from './distribution-sending.types';

/** A recipient as the claim page reads it: what the page shows and what its rules check (never a contact). */
export interface ClaimRecipient {
  id: string;
  distributionId: string;
  orderId: string;
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
  order_id: string;
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
  r.bind_ticket_client_id, r.holder_ref, r.channel_client_id, s.from_name,
  (SELECT d.order_id FROM distributions d WHERE d.id = r.distribution_id) AS order_id`;

function toClaimRecipient(raw: RawClaimRecipient): ClaimRecipient {
  return {
    id: raw.id,
    distributionId: raw.distribution_id,
    orderId: raw.order_id,
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

/** One recipient as the reservation statement writes it (arrays, one element per recipient, in row order). */
export interface RecipientReservation {
  id: string;
  rowNumber: number;
  employeeRef: string;
  name: string | null;
  email: string | null;
  mobile: string | null;
  channel: DistributionChannel;
  locale: DistributionLocale;
  greeting: string | null;
  /** The card: any free card of this face value and card type, or exactly this serial. */
  faceValue: number | null;
  cardType: CardType | null;
  serial: string | null;
  channelClientId: string | null;
  holderRef: string | null;
  realNameSealed: string | null;
  realNameMasked: Record<string, string> | null;
  /** Channel link: the claim token's hash (its link is handed over in the creation response, status sent). */
  claimTokenHash: Buffer | null;
}

/** What every recipient of one reservation shares. */
export interface ReservationTerms {
  distributionId: string;
  enterpriseId: string;
  orderId: string;
  /** scheduled (send_at in the future) or queued (now); link recipients are sent at once either way. */
  status: 'scheduled' | 'queued';
  nextAttemptAt: Date;
  claimExpiresAt: Date;
  /** The order's batches with their line's design and greeting (of a recipient who brings none), by batch id. */
  batches: ReadonlyArray<{ batchId: string; design: string; greeting: string | null }>;
}

/** Cards of an order by face value and card type: how many there are, and how many are free to hand out. */
export interface CardPool {
  faceValue: number;
  cardType: CardType;
  total: number;
  free: number;
}

/** One of the requested serials as the order has it. */
export interface SerialInOrder {
  serial: string;
  faceValue: number;
  cardType: CardType;
  free: boolean;
}

/** A checked row of an uploaded file as distribution_file_rows keeps it (see DistributionFileRow). */
export interface StagedFileRow {
  rowNumber: number;
  recipientId: string;
  employeeRef: string;
  name: string | null;
  email: string | null;
  mobile: string | null;
  channel: DistributionChannel;
  faceValue: number | null;
  serial: string | null;
  greeting: string | null;
  locale: DistributionLocale;
  holderRef: string | null;
  channelClientId: string | null;
  realNameSealed: string | null;
  realNameMasked: Record<string, string> | null;
}

/** A file's rows asking for one face value, with or without a real name. */
export interface FileRowGroup {
  faceValue: number;
  hasRealName: boolean;
  count: number;
}

/** A file's row naming its card by serial. */
export interface FileSerialRow {
  rowNumber: number;
  serial: string;
  hasRealName: boolean;
}

/** Assignments per audit record: "who distributed which serial to which employee_ref", in readable chunks. */
export const ASSIGNMENTS_PER_AUDIT_RECORD = 500;

/** What the reservation wrote: how many recipients per channel, and the digests of the assignments' audit summaries. */
export interface Reservation {
  count: number;
  channels: Partial<Record<DistributionChannel, number>>;
  /**
   * The SHA-256 (hex) of each `distribution.cards_assigned` audit summary (assignmentChunksSql), in row order:
   * the distribution's own audit record commits them, and the audit job writes the summaries themselves after the
   * commit (decision 0015). Neither the assignments nor their 80 bytes each of JSON come back to Node here.
   */
  assignmentDigests: string[];
}

export type ReservationOutcome =
  | ({ outcome: 'reserved' } & Reservation)
  /** Fewer free cards than recipients (nothing written): the caller explains it from cardPools. */
  | { outcome: 'insufficient' }
  /** The partial unique index refused a card already assigned (the lock should make this impossible). */
  | { outcome: 'card_taken' };

export interface DistributionFilter {
  enterpriseId: string;
  orderId?: string;
  status?: string;
}

/** A live assignment: not revoked (the partial unique index distribution_recipients_card). */
const LIVE = `status <> 'revoked'`;

/** The placeholders of what every recipient of one reservation shares (ReservationTerms), in a statement's params. */
interface TermParams {
  orderId: string;
  distributionId: string;
  enterpriseId: string;
  status: string;
  nextAttemptAt: string;
  claimExpiresAt: string;
  batchIds: string;
  designs: string;
  greetings: string;
}

function termParams(terms: ReservationTerms, first: number): { at: TermParams; params: unknown[] } {
  const names = [
    'orderId',
    'distributionId',
    'enterpriseId',
    'status',
    'nextAttemptAt',
    'claimExpiresAt',
    'batchIds',
    'designs',
    'greetings',
  ] as const;
  const at = Object.fromEntries(names.map((name, index) => [name, `$${first + index}`])) as unknown as TermParams;
  const params = [
    terms.orderId,
    terms.distributionId,
    terms.enterpriseId,
    terms.status,
    terms.nextAttemptAt,
    terms.claimExpiresAt,
    terms.batches.map((batch) => batch.batchId),
    terms.batches.map((batch) => batch.design),
    terms.batches.map((batch) => batch.greeting),
  ];
  return { at, params };
}

/**
 * The order's cards held by live recipients, found through the order's distributions (a card is only ever assigned
 * by a distribution of its own order): the reservation's joins are hash joins, and one over every recipient the
 * platform ever had would grow with it; a probe of the card index per card of the order costs as much. Each of the
 * order's distributions is looked up on its own, by its id (a loop over the order's few distributions; OFFSET 0
 * keeps the lookup a subquery, so that it cannot be flattened into a hash join over the whole table). With
 * `= ANY (ARRAY(…))` the planner had to guess the array's length, and where the table held a few large
 * distributions it read all of it even for an order with none (60 ms at 300,000 recipients, growing with them).
 */
function takenCardsSql(orderParam: string): string {
  return `SELECT x.card_serial
            FROM distributions d
            CROSS JOIN LATERAL (SELECT r.card_serial FROM distribution_recipients r
                                 WHERE r.distribution_id = d.id AND r.${LIVE} OFFSET 0) x
           WHERE d.order_id = ${orderParam}`;
}

/**
 * The reservation (docs/architecture.md, distribution), after the CTE `req` (one narrow row per recipient:
 * row_number, face_value, card_type, serial) and given `wide` (how the insert joins the recipient's other columns
 * as `w` by p.row_number: employee_ref, name, email, mobile, channel, locale, greeting, channel_client_id,
 * holder_ref, real_name_sealed, real_name_masked; and the SQL of its id and claim-token hash): ONE INSERT … SELECT pairs the recipients with the order's free cards, the
 * n-th recipient asking for a face value and card type with the n-th free card of that kind in serial order, a
 * recipient naming a serial with that card; every row or none (`ok`). Only a registered card keeps its holder's
 * real name. The pairing carries only the narrow rows; the wide ones are joined once, at the insert.
 */
function pairAndInsertSql(
  at: TermParams,
  count: string,
  wide: { join: string; id: string; claimTokenHash: string },
): string {
  return `taken AS (${takenCardsSql(`${at.orderId}::text`)}),
     free AS (
       SELECT c.serial, c.face_value, c.card_type, c.batch_id
         FROM (${orderCardsForDistributionSql(`${at.orderId}::text`)}) c
        WHERE c.assignable
          AND NOT EXISTS (SELECT 1 FROM taken t WHERE t.card_serial = c.serial)
          AND c.serial NOT IN (SELECT serial FROM req WHERE serial IS NOT NULL)),
     -- Pairing by position in arrays, not by a join on ranks: the planner's estimates of req (an unnest, or a file
     -- uploaded a moment ago) are unreliable, and a nested loop of 100,000 × 100,000 is what a join once got. One array
     -- per kind of card, the n-th recipient its n-th. Only arrays of fixed-width elements without NULLs: subscripting
     -- one is O(1), while a text[] is walked from its start. So the batch is its position in the batch ids, 0 for none.
     -- MATERIALIZED: computed once. Inlined, it was the inner side of a nested loop and re-aggregated the order's
     -- free cards for every recipient (100,000 × 100,000).
     kinds AS MATERIALIZED (
       SELECT face_value, card_type, array_agg(serial ORDER BY serial) AS serials,
              array_agg(coalesce(array_position(${at.batchIds}::text[], batch_id), 0) ORDER BY serial) AS batch_nos
         FROM free GROUP BY face_value, card_type),
     by_value AS (
       SELECT r.row_number, r.face_value, r.card_type,
              row_number() OVER (PARTITION BY r.face_value, r.card_type ORDER BY r.row_number) AS n
         FROM req r WHERE r.serial IS NULL),
     paired AS (
       SELECT v.row_number, k.serials[v.n] AS card_serial, v.face_value AS card_face_value, v.card_type,
              (${at.batchIds}::text[])[k.batch_nos[v.n]] AS batch_id
         FROM by_value v JOIN kinds k ON k.face_value = v.face_value AND k.card_type = v.card_type
        WHERE v.n <= cardinality(k.serials)
       UNION ALL
       SELECT r.row_number, c.serial, c.face_value, c.card_type, c.batch_id
         FROM req r JOIN (${orderCardsForDistributionSql(`${at.orderId}::text`)}) c ON c.serial = r.serial
        WHERE r.serial IS NOT NULL AND c.assignable
          AND NOT EXISTS (SELECT 1 FROM taken t WHERE t.card_serial = c.serial)),
     ok AS (SELECT count(*) = ${count} AS all_paired FROM paired),
     batches AS (SELECT * FROM unnest(${at.batchIds}::text[], ${at.designs}::text[], ${at.greetings}::text[])
                   AS l(batch_id, design, greeting)),
     inserted AS (
       INSERT INTO distribution_recipients
         (id, distribution_id, enterprise_id, row_number, employee_ref, name, email, mobile, channel, locale, greeting,
          design, face_value, card_serial, channel_client_id, holder_ref, real_name_sealed, real_name_masked, status,
          next_attempt_at, claim_token_hash, claim_expires_at, sent_at)
       SELECT ${wide.id}, ${at.distributionId}::text, ${at.enterpriseId}::text, p.row_number, w.employee_ref, w.name,
              w.email, w.mobile, w.channel, w.locale, coalesce(w.greeting, l.greeting), coalesce(l.design, 'classic'),
              p.card_face_value, p.card_serial, w.channel_client_id, w.holder_ref,
              CASE WHEN p.card_type = 'registered' THEN w.real_name_sealed END,
              CASE WHEN p.card_type = 'registered' THEN w.real_name_masked::jsonb END,
              CASE WHEN w.channel = 'link' THEN 'sent' ELSE ${at.status}::text END,
              CASE WHEN w.channel = 'link' THEN NULL ELSE ${at.nextAttemptAt}::timestamptz END,
              ${wide.claimTokenHash},
              CASE WHEN ${wide.claimTokenHash} IS NOT NULL THEN ${at.claimExpiresAt}::timestamptz END,
              CASE WHEN w.channel = 'link' THEN now() END
         FROM paired p ${wide.join}
         LEFT JOIN batches l ON l.batch_id = p.batch_id
        WHERE (SELECT all_paired FROM ok)
       RETURNING row_number, employee_ref, channel, card_serial)
     ${assignmentChunksSql('inserted', `${at.orderId}::text`)}`;
}

/**
 * The `distribution.cards_assigned` audit summaries of the rows of `source` (row_number, employee_ref, channel,
 * card_serial): one per ASSIGNMENTS_PER_AUDIT_RECORD row numbers (rows 1–500, 501–1000, …; a distribution's rows are
 * numbered from 1 without gaps), each as canonical JSON text (members in sorted order, to_json's escapes being
 * JSON.stringify's): `{"assignments":[{"employee_ref","row","serial"}…],"order_id"}`; with its SHA-256 and its rows
 * per channel. Chunks by row number need no ranking of the rows (a window over 100,000 rows cost a sort of its
 * own). Only what never changes about an assignment (a contact change may switch its channel): the reservation
 * commits the digests, and the audit job, building the same text again from the committed rows, writes a summary
 * only when its digest matches (decision 0015).
 */
function assignmentChunksSql(source: string, orderIdSql: string): string {
  return `SELECT summary, encode(sha256(convert_to(summary, 'UTF8')), 'hex') AS sha256, email, sms, link, account
       FROM (
         SELECT (row_number - 1) / ${ASSIGNMENTS_PER_AUDIT_RECORD} AS chunk_no,
                '{"assignments":['
                  || string_agg('{"employee_ref":' || to_json(employee_ref)::text || ',"row":' || row_number
                                  || ',"serial":"' || card_serial || '"}', ',' ORDER BY row_number)
                  || '],"order_id":' || to_json(${orderIdSql})::text || '}' AS summary,
                count(*) FILTER (WHERE channel = 'email')::int AS email,
                count(*) FILTER (WHERE channel = 'sms')::int AS sms,
                count(*) FILTER (WHERE channel = 'link')::int AS link,
                count(*) FILTER (WHERE channel = 'account')::int AS account
           FROM ${source} source
          GROUP BY 1) chunks
      ORDER BY chunk_no`;
}

/** Inline recipients: `wide` is the unnest of one array per column, in row order. */
export function reservationSql(terms: ReservationTerms, recipients: readonly RecipientReservation[]) {
  const column = <T>(pick: (recipient: RecipientReservation) => T) => recipients.map(pick);
  const { at, params: shared } = termParams(terms, 18);
  const params: unknown[] = [
    column((r) => r.id),
    column((r) => r.rowNumber),
    column((r) => r.employeeRef),
    column((r) => r.name),
    column((r) => r.email),
    column((r) => r.mobile),
    column((r) => r.channel),
    column((r) => r.locale),
    column((r) => r.greeting),
    column((r) => r.faceValue),
    column((r) => r.cardType),
    column((r) => r.serial),
    column((r) => r.channelClientId),
    column((r) => r.holderRef),
    column((r) => r.realNameSealed),
    column((r) => (r.realNameMasked ? JSON.stringify(r.realNameMasked) : null)),
    column((r) => r.claimTokenHash),
    ...shared,
    recipients.length,
  ];
  const sql = `WITH wide AS (
       SELECT * FROM unnest($1::text[], $2::int[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
                            $8::text[], $9::text[], $10::int[], $11::text[], $12::bigint[], $13::text[], $14::text[],
                            $15::text[], $16::text[], $17::bytea[])
         AS r(id, row_number, employee_ref, name, email, mobile, channel, locale, greeting, face_value, card_type,
              serial, channel_client_id, holder_ref, real_name_sealed, real_name_masked, claim_token_hash)),
     req AS (SELECT row_number, face_value, card_type, serial FROM wide),
     ${pairAndInsertSql(at, `$${18 + shared.length}::int`, {
       join: 'JOIN wide w ON w.row_number = p.row_number',
       id: 'w.id',
       claimTokenHash: 'w.claim_token_hash',
     })}`;
  return { sql, params };
}

/**
 * The planner guard the reservation runs under (inside its transaction): the planner cannot know how many rows an
 * unnest or a file uploaded a moment ago gives, and guessed a handful: its nested loops then ran 100,000 × 100,000.
 * Every join of the statement is right as a hash join.
 */
export const RESERVATION_PLANNER = {
  // work_mem: the statement's sorts and hashes of 100,000 narrow rows (a few MB each) stay in memory instead of
  // spilling to temporary files (the default 4 MB did, five times over). jit: the one nested loop left (the probe of
  // each of the order's distributions, takenCardsSql) carries the planner's penalty for a disabled join, a cost far
  // above jit_above_cost, and compiling the statement would take longer than running it.
  before: "SET LOCAL enable_nestloop = off; SET LOCAL work_mem = '64MB'; SET LOCAL jit = off",
  after: 'SET LOCAL enable_nestloop = on; SET LOCAL work_mem TO DEFAULT; SET LOCAL jit TO DEFAULT',
} as const;

/** Which card type the recipients of a face value take, with and without a real name (the plan's decision). */
export interface CardTypeChoice {
  faceValue: number;
  hasRealName: boolean;
  cardType: CardType;
}

/**
 * An uploaded file's rows, read from distribution_file_rows by the statement itself: each row's card type from the
 * plan's choices, and the link rows' claim-token hashes by row number.
 */
export function fileReservationSql(
  terms: ReservationTerms,
  fileId: string,
  choices: readonly CardTypeChoice[],
  linkTokens: { rowNumbers: readonly number[]; hashes: readonly Buffer[] },
) {
  const { at, params: shared } = termParams(terms, 7);
  const params: unknown[] = [
    fileId,
    choices.map((choice) => choice.faceValue),
    choices.map((choice) => choice.hasRealName),
    choices.map((choice) => choice.cardType),
    linkTokens.rowNumbers,
    linkTokens.hashes,
    ...shared,
  ];
  const sql = `WITH choices AS (
       SELECT * FROM unnest($2::int[], $3::bool[], $4::text[]) AS ch(face_value, has_real_name, card_type)),
     tokens AS (SELECT * FROM unnest($5::int[], $6::bytea[]) AS t(row_number, hash)),
     req AS (
       SELECT fr.row_number, fr.face_value, ch.card_type, fr.serial
         FROM distribution_file_rows fr
         LEFT JOIN choices ch ON fr.serial IS NULL AND ch.face_value = fr.face_value
                             AND ch.has_real_name = (fr.real_name_sealed IS NOT NULL)
        WHERE fr.file_id = $1),
     ${pairAndInsertSql(at, '(SELECT count(*) FROM req)', {
       // A join on the table itself (not a subquery), so that a row is found by its primary key whatever the
       // planner guessed of how many rows the pairing gives.
       join: `JOIN distribution_file_rows w ON w.file_id = $1 AND w.row_number = p.row_number
              LEFT JOIN tokens t ON t.row_number = p.row_number`,
       id: 'w.recipient_id',
       claimTokenHash: 't.hash',
     })}`;
  return { sql, params };
}

interface DistributionSettingsRow {
  enterprise_id: string;
  from_name: string | null;
  code_in_message: boolean;
  claim_link_ttl_days: number;
  updated_at: Date;
}

/**
 * distribution_settings, distribution_files, distribution_file_rows, distributions, distribution_recipients,
 * distribution_messages and claim_actions: every statement on them is here (docs/architecture.md, one owner per table).
 */
@Injectable()
export class DistributionRepository {
  /** Key rotation's walk over the sealed real names (recipients' and uploaded rows'): see src/data-keys/. */
  readonly sealedColumns: SealedColumnQueries;

  constructor(private readonly connection: TransactionalConnection) {
    this.sealedColumns = new SealedColumnQueries(connection, ['distribution_recipients', 'distribution_file_rows']);
  }

  // ── settings, files, creation and reservation, reads and reports ──

  async settingsOf(ctx: RequestContext, enterpriseId: string): Promise<DistributionSettings | null> {
    return this.connection.manager(ctx).findOneBy(DistributionSettings, { enterpriseId });
  }

  async saveSettings(
    ctx: RequestContext,
    settings: Omit<DistributionSettings, 'updatedAt'>,
  ): Promise<DistributionSettings> {
    const [row] = await this.connection.query<DistributionSettingsRow[]>(
      ctx,
      `INSERT INTO distribution_settings (enterprise_id, from_name, code_in_message, claim_link_ttl_days, updated_at)
       VALUES ($1, $2, $3, $4, now())
       ON CONFLICT (enterprise_id) DO UPDATE SET from_name = EXCLUDED.from_name,
         code_in_message = EXCLUDED.code_in_message, claim_link_ttl_days = EXCLUDED.claim_link_ttl_days,
         updated_at = now()
       RETURNING enterprise_id, from_name, code_in_message, claim_link_ttl_days, updated_at`,
      [settings.enterpriseId, settings.fromName, settings.codeInMessage, settings.claimLinkTtlDays],
    );
    return {
      enterpriseId: row.enterprise_id,
      fromName: row.from_name,
      codeInMessage: row.code_in_message,
      claimLinkTtlDays: row.claim_link_ttl_days,
      updatedAt: row.updated_at,
    };
  }

  async insertFile(ctx: RequestContext, file: Omit<DistributionFile, 'createdAt'>): Promise<DistributionFile> {
    const [row] = await this.connection.query<Array<{ created_at: Date }>>(
      ctx,
      `INSERT INTO distribution_files (id, enterprise_id, filename, format, row_count, errors, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7) RETURNING created_at`,
      [
        file.id,
        file.enterpriseId,
        file.filename,
        file.format,
        file.rowCount,
        JSON.stringify(file.errors),
        file.expiresAt,
      ],
    );
    return { ...file, createdAt: row.created_at };
  }

  /** A chunk of a file's rows in one multi-row statement (unnest of arrays): 100,000 rows are 100 statements. */
  /** Checked rows of a file being uploaded (a chunk of them). */
  async insertFileRows(ctx: RequestContext, fileId: string, rows: readonly StagedFileRow[]): Promise<void> {
    if (rows.length === 0) return;
    const column = <T>(pick: (row: StagedFileRow) => T) => rows.map(pick);
    await this.connection.query(
      ctx,
      `INSERT INTO distribution_file_rows
         (file_id, row_number, recipient_id, employee_ref, name, email, mobile, channel, face_value, serial, greeting,
          locale, holder_ref, channel_client_id, real_name_sealed, real_name_masked)
       SELECT $1, r.row_number, r.recipient_id, r.employee_ref, r.name, r.email, r.mobile, r.channel, r.face_value,
              r.serial, r.greeting, r.locale, r.holder_ref, r.channel_client_id, r.real_name_sealed,
              r.real_name_masked::jsonb
         FROM unnest($2::int[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::int[],
                     $10::bigint[], $11::text[], $12::text[], $13::text[], $14::text[], $15::text[], $16::text[])
           AS r(row_number, recipient_id, employee_ref, name, email, mobile, channel, face_value, serial, greeting,
                locale, holder_ref, channel_client_id, real_name_sealed, real_name_masked)`,
      [
        fileId,
        column((row) => row.rowNumber),
        column((row) => row.recipientId),
        column((row) => row.employeeRef),
        column((row) => row.name),
        column((row) => row.email),
        column((row) => row.mobile),
        column((row) => row.channel),
        column((row) => row.faceValue),
        column((row) => row.serial),
        column((row) => row.greeting),
        column((row) => row.locale),
        column((row) => row.holderRef),
        column((row) => row.channelClientId),
        column((row) => row.realNameSealed),
        column((row) => (row.realNameMasked ? JSON.stringify(row.realNameMasked) : null)),
      ],
    );
  }

  async findFile(ctx: RequestContext, id: string, enterpriseId: string): Promise<DistributionFile | null> {
    return this.connection.manager(ctx).findOneBy(DistributionFile, { id, enterpriseId });
  }

  /**
   * A file's rows as the plan needs them, without reading them one by one: the rows asking for a face value grouped
   * by face value and real name or not (with the first row numbers of each group, for errors), the rows
   * naming a serial, and the link rows' numbers (their claim tokens are made before the reservation).
   */
  async fileRowsForPlan(
    ctx: RequestContext,
    fileId: string,
  ): Promise<{ groups: FileRowGroup[]; serialRows: FileSerialRow[]; linkRows: number[] }> {
    // One pass over the file's rows: counts per group (a group's row numbers are read only when it is refused:
    // firstRowsOfGroup), the rows naming a serial, the link rows.
    const rows = await this.connection.query<
      Array<{
        face_value: number | null;
        has_real_name: boolean;
        by_serial: boolean;
        count: number;
        link_rows: number[] | null;
        serial_rows: number[] | null;
        serials: string[] | null;
      }>
    >(
      ctx,
      `SELECT face_value, real_name_sealed IS NOT NULL AS has_real_name, serial IS NOT NULL AS by_serial,
              count(*)::int AS count,
              array_agg(row_number ORDER BY row_number) FILTER (WHERE channel = 'link') AS link_rows,
              array_agg(row_number ORDER BY row_number) FILTER (WHERE serial IS NOT NULL) AS serial_rows,
              array_agg(serial::text ORDER BY row_number) FILTER (WHERE serial IS NOT NULL) AS serials
         FROM distribution_file_rows WHERE file_id = $1
        GROUP BY 1, 2, 3`,
      [fileId],
    );
    return {
      groups: rows
        .filter((row) => !row.by_serial)
        .map((row) => ({ faceValue: row.face_value!, hasRealName: row.has_real_name, count: row.count })),
      serialRows: rows
        .flatMap((row) =>
          (row.serial_rows ?? []).map((rowNumber, index) => ({
            rowNumber,
            serial: row.serials![index],
            hasRealName: row.has_real_name,
          })),
        )
        .sort((a, b) => a.rowNumber - b.rowNumber),
      linkRows: rows.flatMap((row) => row.link_rows ?? []).sort((a, b) => a - b),
    };
  }

  /** The first `limit` row numbers of a file's group (the rows an error about the group lists), ascending. */
  async firstRowsOfGroup(
    ctx: RequestContext,
    fileId: string,
    group: Pick<FileRowGroup, 'faceValue' | 'hasRealName'>,
    limit: number,
  ): Promise<number[]> {
    const rows = await this.connection.query<Array<{ row_number: number }>>(
      ctx,
      `SELECT row_number FROM distribution_file_rows
        WHERE file_id = $1 AND serial IS NULL AND face_value = $2 AND (real_name_sealed IS NOT NULL) = $3
        ORDER BY row_number LIMIT $4`,
      [fileId, group.faceValue, group.hasRealName, limit],
    );
    return rows.map((row) => row.row_number);
  }

  /** A file's rows are dropped once a distribution took them (the file row stays, for the record). */
  async deleteFileRows(ctx: RequestContext, fileId: string): Promise<void> {
    await this.connection.query(ctx, 'DELETE FROM distribution_file_rows WHERE file_id = $1', [fileId]);
  }

  /** The distribution that took the file, if one did. */
  async distributionOfFile(ctx: RequestContext, fileId: string, enterpriseId: string): Promise<string | null> {
    const rows = await this.connection.query<Array<{ id: string }>>(
      ctx,
      'SELECT id FROM distributions WHERE enterprise_id = $1 AND file_id = $2 LIMIT 1',
      [enterpriseId, fileId],
    );
    return rows[0]?.id ?? null;
  }

  /**
   * Up to `limit` files of any enterprise past their expiry, with their rows (the distribution sweep): an uploaded
   * list holds employees' contacts and sealed real names, and must not outlive its 72 hours because its enterprise
   * never uploads again. Oldest first; a file another transaction holds is left for the next sweep. Returns how many
   * files went.
   */
  async purgeExpiredFiles(ctx: RequestContext, limit: number): Promise<number> {
    const [row] = await this.connection.query<Array<{ files: number }>>(
      ctx,
      `WITH due AS (SELECT id FROM distribution_files WHERE expires_at < now()
                     ORDER BY expires_at LIMIT $1 FOR UPDATE SKIP LOCKED),
            gone AS (DELETE FROM distribution_files f USING due WHERE f.id = due.id RETURNING f.id),
            rows AS (DELETE FROM distribution_file_rows r USING gone WHERE r.file_id = gone.id RETURNING 1)
       SELECT (SELECT count(*) FROM gone)::int AS files, (SELECT count(*) FROM rows)::int AS rows`,
      [limit],
    );
    return row.files;
  }

  /** The enterprise's files past their expiry, with their rows (run at each upload: files are short-lived). */
  async deleteExpiredFiles(ctx: RequestContext, enterpriseId: string): Promise<void> {
    await this.connection.query(
      ctx,
      `WITH gone AS (DELETE FROM distribution_files WHERE enterprise_id = $1 AND expires_at < now() RETURNING id)
       DELETE FROM distribution_file_rows WHERE file_id IN (SELECT id FROM gone)`,
      [enterpriseId],
    );
  }

  /** The order's cards by face value and card type: all of them, and those free to hand out now. */
  async cardPools(ctx: RequestContext, orderId: string): Promise<CardPool[]> {
    const rows = await this.connection.query<
      Array<{ face_value: number; card_type: CardType; total: number; free: number }>
    >(
      ctx,
      `WITH taken AS (${takenCardsSql('$1::text')})
       SELECT c.face_value, c.card_type, count(*)::int AS total,
              (count(*) FILTER (WHERE c.assignable AND t.card_serial IS NULL))::int AS free
         FROM (${orderCardsForDistributionSql('$1::text')}) c LEFT JOIN taken t ON t.card_serial = c.serial
        GROUP BY c.face_value, c.card_type ORDER BY c.face_value, c.card_type`,
      [orderId],
    );
    return rows.map((row) => ({
      faceValue: row.face_value,
      cardType: row.card_type,
      total: row.total,
      free: row.free,
    }));
  }

  /** Which of `serials` are cards of the order, and whether each is free to hand out. */
  async serialsInOrder(ctx: RequestContext, orderId: string, serials: readonly string[]): Promise<SerialInOrder[]> {
    if (serials.length === 0) return [];
    const rows = await this.connection.query<
      Array<{ serial: string; face_value: number; card_type: CardType; free: boolean }>
    >(
      ctx,
      `SELECT c.serial::text AS serial, c.face_value, c.card_type,
              c.assignable AND NOT EXISTS (
                SELECT 1 FROM distribution_recipients x WHERE x.card_serial = c.serial AND x.${LIVE}) AS free
         FROM (${orderCardsForDistributionSql('$1::text')}) c
        WHERE c.serial = ANY($2::bigint[])`,
      [orderId, serials],
    );
    return rows.map((row) => ({
      serial: row.serial,
      faceValue: row.face_value,
      cardType: row.card_type,
      free: row.free,
    }));
  }

  async insertDistribution(ctx: RequestContext, distribution: Omit<Distribution, 'createdAt'>): Promise<Date> {
    const [row] = await this.connection.query<Array<{ created_at: Date }>>(
      ctx,
      `INSERT INTO distributions (id, enterprise_id, order_id, status, send_at, file_id, recipient_count,
                                  created_by_client_id, started_at, completed_at, cancelled_at, assignments_audit_id,
                                  assignments_audited_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING created_at`,
      [
        distribution.id,
        distribution.enterpriseId,
        distribution.orderId,
        distribution.status,
        distribution.sendAt,
        distribution.fileId,
        distribution.recipientCount,
        distribution.createdByClientId,
        distribution.startedAt,
        distribution.completedAt,
        distribution.cancelledAt,
        distribution.assignmentsAuditId,
        distribution.assignmentsAuditedAt,
      ],
    );
    return row.created_at;
  }

  /**
   * Reserves a card for every recipient in one statement (reservationSql), all or none. Run it with the order
   * locked (OrdersRepository.lock): concurrent distributions of one order then pair against each other's
   * committed rows; the partial unique index is the backstop ('card_taken').
   */
  async reserveCards(
    ctx: RequestContext,
    terms: ReservationTerms,
    recipients: readonly RecipientReservation[],
  ): Promise<ReservationOutcome> {
    if (recipients.length === 0) return { outcome: 'reserved', count: 0, channels: {}, assignmentDigests: [] };
    return this.reserve(ctx, reservationSql(terms, recipients));
  }

  /**
   * The same for an uploaded file's rows, read in the statement itself (fileReservationSql): nothing of the file
   * passes through Node. `choices` says which card type each face value's rows take (with or without a real name);
   * `linkTokens` are the link rows' claim-token hashes by row number.
   */
  async reserveCardsFromFile(
    ctx: RequestContext,
    terms: ReservationTerms,
    fileId: string,
    choices: readonly CardTypeChoice[],
    linkTokens: { rowNumbers: readonly number[]; hashes: readonly Buffer[] },
  ): Promise<ReservationOutcome> {
    return this.reserve(ctx, fileReservationSql(terms, fileId, choices, linkTokens));
  }

  private async reserve(
    ctx: RequestContext,
    statement: { sql: string; params: unknown[] },
  ): Promise<ReservationOutcome> {
    let rows: Array<{ sha256: string } & Record<DistributionChannel, number>>;
    try {
      await this.connection.query(ctx, RESERVATION_PLANNER.before);
      rows = await this.connection.query(ctx, statement.sql, statement.params);
      await this.connection.query(ctx, RESERVATION_PLANNER.after);
    } catch (error) {
      const driverError = error as { code?: string; constraint?: string; driverError?: { constraint?: string } };
      const constraint = driverError.constraint ?? driverError.driverError?.constraint;
      if (driverError.code === '23505' && constraint === 'distribution_recipients_card')
        return { outcome: 'card_taken' };
      throw error;
    }
    if (rows.length === 0) return { outcome: 'insufficient' };
    const channels: Partial<Record<DistributionChannel, number>> = {};
    for (const channel of ['email', 'sms', 'link', 'account'] as const) {
      const sum = rows.reduce((total, row) => total + row[channel], 0);
      if (sum > 0) channels[channel] = sum;
    }
    return {
      outcome: 'reserved',
      count: Object.values(channels).reduce((total, n) => total + n, 0),
      channels,
      assignmentDigests: rows.map((row) => row.sha256),
    };
  }

  // ── the assignments' audit summaries, after the commit (decision 0015) ──

  /** The distribution, locked, while its assignments' audit summaries are still to be written (null: written). */
  async lockUnaudited(ctx: RequestContext, id: string): Promise<Distribution | null> {
    return this.connection
      .manager(ctx)
      .getRepository(Distribution)
      .findOne({ where: { id, assignmentsAuditedAt: IsNull() }, lock: { mode: 'pessimistic_write' } });
  }

  /**
   * The assignments' audit summaries built again from the committed rows (assignmentChunksSql, the reservation's
   * own text), with their digests. Every assignment ever made, revoked ones too: an assignment is a fact of the
   * past, and what the reservation committed.
   */
  async assignmentSummaries(
    ctx: RequestContext,
    distribution: Pick<Distribution, 'id' | 'orderId'>,
  ): Promise<Array<{ summary: CanonicalJsonText; sha256: string }>> {
    const rows = await this.connection.query<Array<{ summary: string; sha256: string }>>(
      ctx,
      assignmentChunksSql(
        '(SELECT row_number, employee_ref, channel, card_serial FROM distribution_recipients WHERE distribution_id = $1)',
        '$2::text',
      ),
      [distribution.id, distribution.orderId],
    );
    return rows.map((row) => ({ summary: new CanonicalJsonText(row.summary), sha256: row.sha256 }));
  }

  async markAssignmentsAudited(ctx: RequestContext, id: string): Promise<void> {
    await this.connection.query(ctx, 'UPDATE distributions SET assignments_audited_at = now() WHERE id = $1', [id]);
  }

  /** Distributions created over `olderThanMs` ago whose assignments' summaries are still to be written (a lost job). */
  async unauditedDistributions(ctx: RequestContext, olderThanMs: number, limit: number): Promise<string[]> {
    const rows = await this.connection.query<Array<{ id: string }>>(
      ctx,
      `SELECT id FROM distributions
        WHERE assignments_audited_at IS NULL AND created_at < now() - make_interval(secs => $1::float8 / 1000)
        ORDER BY created_at LIMIT $2`,
      [olderThanMs, limit],
    );
    return rows.map((row) => row.id);
  }

  /** A distribution's link recipients in row order (the creation response hands over their claim links). */
  async linkRecipients(ctx: RequestContext, distributionId: string): Promise<DistributionRecipient[]> {
    return this.connection
      .manager(ctx)
      .find(DistributionRecipient, { where: { distributionId, channel: 'link' }, order: { rowNumber: 'ASC' } });
  }

  /** Whether any card of the order is assigned to a live recipient (exports of it are then refused). */
  async orderHasLiveAssignments(ctx: RequestContext, orderId: string): Promise<boolean> {
    const rows = await this.connection.query<unknown[]>(
      ctx,
      `SELECT 1 FROM distributions d
        WHERE d.order_id = $1
          AND EXISTS (SELECT 1 FROM distribution_recipients r WHERE r.distribution_id = d.id AND r.${LIVE})
        LIMIT 1`,
      [orderId],
    );
    return rows.length > 0;
  }

  async findDistribution(ctx: RequestContext, id: string, enterpriseId: string): Promise<Distribution | null> {
    return this.connection.manager(ctx).findOneBy(Distribution, { id, enterpriseId });
  }

  /** Newest first, one page. */
  async listDistributions(
    ctx: RequestContext,
    filter: DistributionFilter,
    page: ListQueryDto,
  ): Promise<Page<Distribution>> {
    const builder = this.connection
      .manager(ctx)
      .createQueryBuilder(Distribution, 'distribution')
      .where('distribution.enterpriseId = :enterpriseId', { enterpriseId: filter.enterpriseId });
    if (filter.orderId) builder.andWhere('distribution.orderId = :orderId', { orderId: filter.orderId });
    if (filter.status) builder.andWhere('distribution.status = :status', { status: filter.status });
    return paginate(builder, page, (distribution) => distribution);
  }

  /**
   * Recipients per status, and the pace of sending: recipients sent in the last 5 minutes, and those still waiting
   * (scheduled or queued).
   */
  async recipientProgress(
    ctx: RequestContext,
    distributionId: string,
  ): Promise<{ counts: Partial<Record<RecipientStatus, number>>; sentLast5Minutes: number }> {
    const rows = await this.connection.query<Array<{ status: RecipientStatus; count: number; recent: number }>>(
      ctx,
      `SELECT status, count(*)::int AS count,
              (count(*) FILTER (WHERE sent_at > now() - interval '5 minutes'))::int AS recent
         FROM distribution_recipients WHERE distribution_id = $1 GROUP BY status`,
      [distributionId],
    );
    const counts: Partial<Record<RecipientStatus, number>> = {};
    let recent = 0;
    for (const row of rows) {
      counts[row.status] = row.count;
      recent += row.recent;
    }
    return { counts, sentLast5Minutes: recent };
  }

  /** Newest first, one page; a status filter. */
  async listRecipients(
    ctx: RequestContext,
    distributionId: string,
    status: RecipientStatus | undefined,
    page: ListQueryDto,
  ): Promise<Page<DistributionRecipient>> {
    const builder = this.connection
      .manager(ctx)
      .createQueryBuilder(DistributionRecipient, 'recipient')
      .where('recipient.distributionId = :distributionId', { distributionId });
    if (status) builder.andWhere('recipient.status = :status', { status });
    return paginate(builder, page, (recipient) => recipient);
  }

  /**
   * The recipients of a distribution oldest first, `limit` after the id `afterId` (for the report): ids are made in
   * row order at creation, so this is row order, along the index distribution_recipients_list.
   */
  async recipientsInOrder(
    ctx: RequestContext,
    distributionId: string,
    afterId: string,
    limit: number,
  ): Promise<DistributionRecipient[]> {
    return this.connection
      .manager(ctx)
      .createQueryBuilder(DistributionRecipient, 'recipient')
      .where('recipient.distributionId = :distributionId', { distributionId })
      .andWhere('recipient.id > :afterId', { afterId })
      .orderBy('recipient.id', 'ASC')
      .limit(limit)
      .getMany();
  }

  // ── sending: due recipients, message outcomes, receipts, expiry and reminders ──

  /**
   * Claims up to `limit` due recipients of a sending distribution in ONE statement (FOR UPDATE SKIP LOCKED: jobs of
   * one distribution take disjoint rows), leasing them: next_attempt_at moves `leaseMs` ahead, so a worker that dies
   * mid-batch leaves rows the sweep finds due again (as src/webhooks/webhooks.repository.ts claims deliveries).
   * Each claimed row comes with its enterprise's distribution settings.
   */
  async claimDueRecipients(
    ctx: RequestContext,
    distributionId: string,
    options: { limit: number; leaseMs: number },
  ): Promise<ClaimedRecipient[]> {
    const rows = await this.connection.queryPrepared<RawClaimed>(
      ctx,
      `WITH due AS (
         SELECT r.id FROM distribution_recipients r
         WHERE r.distribution_id = $1 AND r.status = 'queued' AND r.next_attempt_at <= now()
           AND EXISTS (SELECT 1 FROM distributions d WHERE d.id = $1 AND d.status IN ('sending', 'completed'))
         ORDER BY r.next_attempt_at, r.id
         LIMIT $2
         FOR UPDATE OF r SKIP LOCKED
       ),
       claimed AS (
         UPDATE distribution_recipients r
         SET attempts = r.attempts + 1, next_attempt_at = now() + $3 * interval '1 millisecond'
         FROM due WHERE r.id = due.id
         RETURNING r.*
       )
       SELECT c.id, c.distribution_id, c.enterprise_id, c.employee_ref, c.name, c.email, c.mobile, c.channel,
              c.locale, c.greeting, c.design, c.face_value, c.card_serial::text AS card_serial, c.channel_client_id,
              c.holder_ref, c.attempts, c.sent_at IS NOT NULL AS was_sent, c.claim_token_hash IS NOT NULL AS has_token,
              s.from_name, COALESCE(s.code_in_message, false) AS code_in_message,
              COALESCE(s.claim_link_ttl_days, 30) AS claim_link_ttl_days,
              (SELECT d.order_id FROM distributions d WHERE d.id = c.distribution_id) AS order_id
       FROM claimed c LEFT JOIN distribution_settings s ON s.enterprise_id = c.enterprise_id
       ORDER BY c.id`,
      [distributionId, options.limit, options.leaseMs],
    );
    return rows.map(toClaimed);
  }

  /**
   * Every outcome of a batch in ONE statement: each recipient's next status (checked by the caller against
   * recipient-state.ts: from `queued` only, and only while the attempt that claimed it is still the latest, so a row
   * whose lease another worker took over is left to it), its claim token hash and expiry once sent, a
   * distribution_messages row per attempt (the first attempt after a resend completes the `resend` row the request
   * wrote; every other attempt is a row of its own), the cards of delivered recipients issued → delivered
   * (CardsRepository's fragment), the events of the recipients that moved (events' keyed fragment) and one audit
   * record of the batch (audit's fragment). Returns the recipients that moved.
   */
  async recordSendOutcomes(
    ctx: RequestContext,
    outcomes: readonly RecipientOutcome[],
    events: ReadonlyArray<NewEvent & { key: string }>,
    audit: (at: { source: string; firstParam: number }) => { sql: string; params: unknown[]; id: string },
  ): Promise<{ moved: MovedRecipient[]; auditId: string }> {
    for (const o of outcomes) {
      if (o.status !== 'queued' && !canMoveRecipient('queued', o.status)) {
        throw new Error(`recipient ${o.recipientId}: queued → ${o.status} is not allowed`);
      }
    }
    const messages = outcomes.filter((o) => o.message);
    const params: unknown[] = [
      outcomes.map((o) => o.recipientId),
      outcomes.map((o) => o.attempt),
      outcomes.map((o) => o.status),
      outcomes.map((o) => o.tokenHash),
      outcomes.map((o) => o.ttlDays),
      outcomes.map((o) => o.delayMs),
      outcomes.map((o) => o.error),
      messages.map((o) => o.message!.id),
      messages.map((o) => o.recipientId),
      messages.map((o) => o.message!.channel),
      messages.map((o) => o.message!.kind),
      messages.map((o) => o.message!.status),
      messages.map((o) => o.message!.providerMessageId),
      messages.map((o) => o.message!.error),
    ];
    const event = keyedEventRowsSql(events, { source: 'moved', keyColumn: 'id', firstParam: params.length + 1 });
    params.push(...event.params);
    const auditSql = audit({ source: '(SELECT 1 FROM moved LIMIT 1) AS any_moved', firstParam: params.length + 1 });
    params.push(...auditSql.params);
    const rows = await this.connection.query<RawMoved[]>(
      ctx,
      `WITH outcome AS (
         SELECT * FROM unnest($1::text[], $2::int[], $3::text[], $4::bytea[], $5::int[], $6::int[], $7::text[])
           AS o(recipient_id, attempt, status, token_hash, ttl_days, delay_ms, error)
       ),
       moved AS (
         UPDATE distribution_recipients r
         SET status = o.status,
             next_attempt_at = CASE WHEN o.status = 'queued' THEN now() + o.delay_ms * interval '1 millisecond' END,
             last_error = o.error,
             claim_token_hash = CASE WHEN o.token_hash IS NOT NULL THEN o.token_hash ELSE r.claim_token_hash END,
             claim_expires_at = CASE WHEN o.token_hash IS NOT NULL THEN now() + o.ttl_days * interval '1 day'
                                     ELSE r.claim_expires_at END,
             sent_at = CASE WHEN o.status IN ('sent', 'delivered', 'bound') THEN now() ELSE r.sent_at END,
             delivered_at = CASE WHEN o.status = 'delivered' THEN now() ELSE r.delivered_at END,
             updated_at = now()
         FROM outcome o
         WHERE r.id = o.recipient_id AND r.attempts = o.attempt AND r.status = 'queued'
         RETURNING r.id, r.status, r.card_serial, r.distribution_id
       ),
       sent_message AS (
         SELECT * FROM unnest($8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[])
           AS m(id, recipient_id, channel, kind, status, provider_message_id, error)
       ),
       requested AS (
         UPDATE distribution_messages m
         SET status = sm.status, provider_message_id = sm.provider_message_id, error = sm.error, updated_at = now()
         FROM sent_message sm
         WHERE m.recipient_id = sm.recipient_id AND m.kind = 'resend' AND m.status = 'sending'
         RETURNING m.recipient_id
       ),
       message AS (
         INSERT INTO distribution_messages (id, recipient_id, channel, kind, status, provider_message_id, error)
         SELECT sm.* FROM sent_message sm WHERE sm.recipient_id NOT IN (SELECT recipient_id FROM requested)
       ),
       ${cardsDeliveredSql({ source: "(SELECT card_serial FROM moved WHERE status = 'delivered')", serialColumn: 'card_serial' })},
       ${event.sql},
       ${auditSql.sql}
       SELECT id, status, card_serial::text AS card_serial, distribution_id FROM moved`,
      params,
    );
    return {
      moved: rows.map((row) => ({
        id: row.id,
        status: row.status,
        cardSerial: row.card_serial,
        distributionId: row.distribution_id,
      })),
      auditId: auditSql.id,
    };
  }

  /** A recipient of channel `account` whose card was bound (or could not be): queued → bound / failed. */
  async finishAccountRecipient(
    ctx: RequestContext,
    recipientId: string,
    attempt: number,
    outcome: { status: 'bound' | 'failed'; error: string | null },
  ): Promise<boolean> {
    if (!canMoveRecipient('queued', outcome.status)) throw new Error(`queued → ${outcome.status} is not allowed`);
    const rows = await this.connection.query<unknown[]>(
      ctx,
      `WITH updated AS (
       UPDATE distribution_recipients
       SET status = $3, last_error = $4, next_attempt_at = NULL, updated_at = now(),
           bound_at = CASE WHEN $3 = 'bound' THEN now() ELSE bound_at END,
           sent_at = CASE WHEN $3 = 'bound' THEN now() ELSE sent_at END
       WHERE id = $1 AND attempts = $2 AND status = 'queued'
       RETURNING id)
       SELECT id FROM updated`,
      [recipientId, attempt, outcome.status, outcome.error],
    );
    return rows.length === 1;
  }

  /** Wake-ups due: distributions with recipients queued and due (new, retries, lost leases) at least `overdueMs` ago. */
  async distributionsWithDueRecipients(
    ctx: RequestContext,
    overdueMs: number,
    limit: number,
  ): Promise<DueDistribution[]> {
    const rows = await this.connection.query<Array<{ distribution_id: string; due: number }>>(
      ctx,
      `SELECT r.distribution_id, count(*)::int AS due
       FROM distribution_recipients r JOIN distributions d ON d.id = r.distribution_id
       WHERE r.status = 'queued' AND r.next_attempt_at <= now() - $1 * interval '1 millisecond'
         AND d.status IN ('sending', 'completed')
       GROUP BY r.distribution_id
       ORDER BY min(r.next_attempt_at)
       LIMIT $2`,
      [overdueMs, limit],
    );
    return rows.map((row) => ({ distributionId: row.distribution_id, due: row.due }));
  }

  /**
   * Scheduled distributions whose send time came: the distribution becomes sending and its recipients queued, due
   * now, in one statement. Returns the distributions started and how many recipients each has queued.
   */
  async startScheduledDue(ctx: RequestContext, limit: number): Promise<DueDistribution[]> {
    if (!canMoveRecipient('scheduled', 'queued')) throw new Error('recipient-state: scheduled → queued');
    const rows = await this.connection.query<Array<{ distribution_id: string; due: number }>>(
      ctx,
      `WITH started AS (
         UPDATE distributions d SET status = 'sending', started_at = now()
         WHERE d.id IN (SELECT id FROM distributions WHERE status = 'scheduled' AND send_at <= now()
                        ORDER BY send_at LIMIT $1 FOR UPDATE SKIP LOCKED)
         RETURNING d.id
       ),
       queued AS (
         UPDATE distribution_recipients r SET status = 'queued', next_attempt_at = now(), updated_at = now()
         FROM started s WHERE r.distribution_id = s.id AND r.status = 'scheduled'
         RETURNING r.distribution_id
       )
       SELECT s.id AS distribution_id, (SELECT count(*)::int FROM queued q WHERE q.distribution_id = s.id) AS due
       FROM started s`,
      [limit],
    );
    return rows.map((row) => ({ distributionId: row.distribution_id, due: row.due }));
  }

  /** Claim links past their expiry: sent/delivered/viewed → expired (the link then opens nothing). How many. */
  async expireClaimLinks(ctx: RequestContext, limit: number): Promise<number> {
    const from = recipientStatusesInto('expired');
    const rows = await this.connection.query<unknown[]>(
      ctx,
      `WITH updated AS (
       UPDATE distribution_recipients SET status = 'expired', claim_token_hash = NULL, updated_at = now()
       WHERE id IN (SELECT id FROM distribution_recipients
                    WHERE status = ANY($1::text[]) AND claim_expires_at <= now()
                    ORDER BY claim_expires_at LIMIT $2 FOR UPDATE SKIP LOCKED)
       RETURNING id)
       SELECT id FROM updated`,
      [from, limit],
    );
    return rows.length;
  }

  /**
   * Takes up to `limit` recipients due a reminder (e-mail/SMS, sent or delivered, never opened, their link expiring
   * within `daysBefore` days, no reminder yet): each gets a reminder message row `sending` in the same statement, which
   * is the claim (a recipient has one reminder at most, so a second sweep finds nothing).
   */
  async claimReminders(ctx: RequestContext, daysBefore: number, limit: number): Promise<ClaimedReminder[]> {
    const rows = await this.connection.query<RawReminder[]>(
      ctx,
      `WITH due AS (
         SELECT r.id FROM distribution_recipients r
         WHERE r.status IN ('sent', 'delivered') AND r.viewed_at IS NULL AND r.channel IN ('email', 'sms')
           AND r.claim_expires_at > now() AND r.claim_expires_at <= now() + $1 * interval '1 day'
           AND NOT EXISTS (SELECT 1 FROM distribution_messages m WHERE m.recipient_id = r.id AND m.kind = 'reminder')
         ORDER BY r.claim_expires_at LIMIT $2
         FOR UPDATE OF r SKIP LOCKED
       ),
       numbered AS (SELECT id, row_number() OVER (ORDER BY id) AS n FROM due),
       message AS (
         INSERT INTO distribution_messages (id, recipient_id, channel, kind, status)
         SELECT ($3::text[])[numbered.n], r.id, r.channel, 'reminder', 'sending'
         FROM distribution_recipients r JOIN numbered ON numbered.id = r.id
         RETURNING id, recipient_id
       )
       SELECT m.id AS message_id, r.id, r.distribution_id, r.enterprise_id, r.email, r.mobile, r.channel, r.locale,
              r.name, r.greeting, r.design, r.face_value, s.from_name
       FROM message m JOIN distribution_recipients r ON r.id = m.recipient_id
       LEFT JOIN distribution_settings s ON s.enterprise_id = r.enterprise_id`,
      [daysBefore, limit, Array.from({ length: limit }, () => newId('distributionMessage'))],
    );
    return rows.map((row) => ({
      messageId: row.message_id,
      recipientId: row.id,
      distributionId: row.distribution_id,
      enterpriseId: row.enterprise_id,
      email: row.email,
      mobile: row.mobile,
      channel: row.channel,
      locale: row.locale,
      name: row.name,
      greeting: row.greeting,
      design: row.design,
      faceValue: Number(row.face_value),
      fromName: row.from_name,
    }));
  }

  /**
   * The reminders' outcomes in one statement: each message's status, and for a reminder that went out the recipient's
   * new claim token (the one in the reminder; the first link dies, the expiry stays).
   */
  async recordReminders(
    ctx: RequestContext,
    outcomes: ReadonlyArray<{
      messageId: string;
      recipientId: string;
      tokenHash: Buffer | null;
      status: MessageStatus;
      providerMessageId: string | null;
      error: string | null;
    }>,
  ): Promise<void> {
    if (outcomes.length === 0) return;
    await this.connection.query(
      ctx,
      `WITH o AS (
         SELECT * FROM unnest($1::text[], $2::text[], $3::bytea[], $4::text[], $5::text[], $6::text[])
           AS o(message_id, recipient_id, token_hash, status, provider_message_id, error)
       ),
       m AS (
         UPDATE distribution_messages m SET status = o.status, provider_message_id = o.provider_message_id,
           error = o.error, updated_at = now()
         FROM o WHERE m.id = o.message_id
       )
       UPDATE distribution_recipients r SET claim_token_hash = o.token_hash, updated_at = now()
       FROM o WHERE r.id = o.recipient_id AND o.token_hash IS NOT NULL AND r.status IN ('sent', 'delivered')`,
      [
        outcomes.map((o) => o.messageId),
        outcomes.map((o) => o.recipientId),
        outcomes.map((o) => o.tokenHash),
        outcomes.map((o) => o.status),
        outcomes.map((o) => o.providerMessageId),
        outcomes.map((o) => o.error),
      ],
    );
  }

  /**
   * Sending distributions all of whose recipients are in a final status (recipient-state.ts) become completed.
   * Returns them (id, enterprise, order), for their events.
   */
  async completeFinishedDistributions(ctx: RequestContext, limit: number): Promise<CompletedDistribution[]> {
    const rows = await this.connection.query<
      Array<{ id: string; enterprise_id: string; order_id: string; recipient_count: number }>
    >(
      ctx,
      `WITH updated AS (
       UPDATE distributions d SET status = 'completed', completed_at = now()
       WHERE d.id IN (
         SELECT d2.id FROM distributions d2
         WHERE d2.status = 'sending' AND NOT EXISTS (
           SELECT 1 FROM distribution_recipients r WHERE r.distribution_id = d2.id AND NOT (r.status = ANY($1::text[])))
         LIMIT $2 FOR UPDATE SKIP LOCKED)
       RETURNING d.id, d.enterprise_id, d.order_id, d.recipient_count)
       SELECT id, enterprise_id, order_id, recipient_count FROM updated`,
      [FINAL_RECIPIENT_STATUSES, limit],
    );
    return rows.map((row) => ({
      id: row.id,
      enterpriseId: row.enterprise_id,
      orderId: row.order_id,
      recipientCount: row.recipient_count,
    }));
  }

  /** The SMS messages a receipt names (by the provider's serial number), with their recipients, locked. */
  async messagesByProviderIds(ctx: RequestContext, providerIds: readonly string[]): Promise<ReceiptTarget[]> {
    if (providerIds.length === 0) return [];
    const rows = await this.connection.query<RawReceiptTarget[]>(
      ctx,
      `SELECT m.id AS message_id, m.status AS message_status, m.provider_message_id, r.id AS recipient_id,
              r.status AS recipient_status, r.distribution_id, r.enterprise_id, r.employee_ref,
              r.card_serial::text AS card_serial, r.channel, d.order_id
       FROM distribution_messages m
       JOIN distribution_recipients r ON r.id = m.recipient_id
       JOIN distributions d ON d.id = r.distribution_id
       WHERE m.provider_message_id = ANY($1::text[]) AND m.channel = 'sms'
       ORDER BY r.id
       FOR UPDATE OF m, r`,
      [providerIds],
    );
    return rows.map((row) => ({
      messageId: row.message_id,
      messageStatus: row.message_status,
      providerMessageId: row.provider_message_id,
      recipientId: row.recipient_id,
      recipientStatus: row.recipient_status,
      distributionId: row.distribution_id,
      enterpriseId: row.enterprise_id,
      employeeRef: row.employee_ref,
      cardSerial: row.card_serial,
      channel: row.channel,
      orderId: row.order_id,
    }));
  }

  /**
   * Receipts applied in one statement: each message's final status, each recipient still `sent` moved to delivered /
   * failed / bounced, and the cards of the delivered ones issued → delivered. Returns the recipients that moved.
   */
  async applyReceipts(
    ctx: RequestContext,
    receipts: ReadonlyArray<{
      messageId: string;
      recipientId: string;
      status: 'delivered' | 'failed' | 'bounced';
      error: string | null;
    }>,
  ): Promise<string[]> {
    if (receipts.length === 0) return [];
    for (const receipt of receipts) {
      if (!canMoveRecipient('sent', receipt.status)) throw new Error(`sent → ${receipt.status} is not allowed`);
    }
    const rows = await this.connection.query<Array<{ id: string }>>(
      ctx,
      `WITH o AS (
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS o(message_id, recipient_id, status, error)
       ),
       m AS (
         UPDATE distribution_messages m SET status = o.status, error = o.error, updated_at = now()
         FROM o WHERE m.id = o.message_id AND m.status = 'sent'
       ),
       moved AS (
         UPDATE distribution_recipients r SET status = o.status, last_error = o.error, updated_at = now(),
           delivered_at = CASE WHEN o.status = 'delivered' THEN now() ELSE r.delivered_at END
         FROM o WHERE r.id = o.recipient_id AND r.status = 'sent'
         RETURNING r.id, r.status, r.card_serial
       ),
       ${cardsDeliveredSql({ source: "(SELECT card_serial FROM moved WHERE status = 'delivered')", serialColumn: 'card_serial' })}
       SELECT id FROM moved`,
      [
        receipts.map((r) => r.messageId),
        receipts.map((r) => r.recipientId),
        receipts.map((r) => r.status),
        receipts.map((r) => r.error),
      ],
    );
    return rows.map((row) => row.id);
  }

  // control: resend, change of contact, revoke, cancel

  /** One recipient of the enterprise's distribution; `lock`: FOR UPDATE until the transaction ends. */
  async recipientOf(
    ctx: RequestContext,
    ids: { enterpriseId: string; distributionId: string; recipientId: string },
    lock = false,
  ): Promise<DistributionRecipient | null> {
    return this.connection
      .manager(ctx)
      .getRepository(DistributionRecipient)
      .findOne({
        where: { id: ids.recipientId, distributionId: ids.distributionId, enterpriseId: ids.enterpriseId },
        ...(lock ? { lock: { mode: 'pessimistic_write' as const } } : {}),
      });
  }

  /** One of the enterprise's distributions; `lock`: FOR UPDATE until the transaction ends. */
  async distributionOf(
    ctx: RequestContext,
    enterpriseId: string,
    id: string,
    lock = false,
  ): Promise<Distribution | null> {
    return this.connection
      .manager(ctx)
      .getRepository(Distribution)
      .findOne({
        where: { id, enterpriseId },
        ...(lock ? { lock: { mode: 'pessimistic_write' as const } } : {}),
      });
  }

  /** Resends of a recipient since `since` (the rolling-day limit). */
  async resendsSince(ctx: RequestContext, recipientId: string, since: Date): Promise<number> {
    const [row] = await this.connection.query<Array<{ n: number }>>(
      ctx,
      `SELECT count(*)::int AS n FROM distribution_messages
       WHERE recipient_id = $1 AND kind = 'resend' AND created_at > $2`,
      [recipientId, since],
    );
    return row.n;
  }

  /** A message row written by the control path (a link resend: the URL handed to the ERP). */
  async insertMessage(
    ctx: RequestContext,
    message: {
      id: string;
      recipientId: string;
      channel: DistributionChannel;
      kind: MessageKind;
      status: MessageStatus;
    },
  ): Promise<void> {
    await this.connection.query(
      ctx,
      `INSERT INTO distribution_messages (id, recipient_id, channel, kind, status) VALUES ($1, $2, $3, $4, $5)`,
      [message.id, message.recipientId, message.channel, message.kind, message.status],
    );
  }

  /**
   * A recipient to send to again (resend, or a new contact): queued, due now, attempts reset, the old link dead
   * (`tokenHash`: the new one already, for channel `link`, with `ttlDays`). False when its status may not go back to
   * queued (recipient-state.ts).
   */
  async requeueRecipient(
    ctx: RequestContext,
    recipientId: string,
    changes: {
      email?: string | null;
      mobile?: string | null;
      channel?: DistributionChannel;
      tokenHash?: Buffer | null;
      ttlDays?: number;
    },
  ): Promise<boolean> {
    const rows = await this.connection.query<unknown[]>(
      ctx,
      `WITH updated AS (
       UPDATE distribution_recipients
       SET status = 'queued', next_attempt_at = now(), attempts = 0, last_error = NULL,
           claim_token_hash = $2, claim_expires_at = CASE WHEN $2::bytea IS NULL THEN NULL
                                                          ELSE now() + $3 * interval '1 day' END,
           email = CASE WHEN $4 THEN $5 ELSE email END, mobile = CASE WHEN $6 THEN $7 ELSE mobile END,
           channel = COALESCE($8, channel), updated_at = now()
       WHERE id = $1 AND status = ANY($9::text[])
       RETURNING id)
       SELECT id FROM updated`,
      [
        recipientId,
        changes.tokenHash ?? null,
        changes.ttlDays ?? 30,
        changes.email !== undefined,
        changes.email ?? null,
        changes.mobile !== undefined,
        changes.mobile ?? null,
        changes.channel ?? null,
        recipientStatusesInto('queued'),
      ],
    );
    return rows.length === 1;
  }

  /** The enterprise's claim link lifetime (distribution_settings, default 30 days). */
  async claimLinkTtlDays(ctx: RequestContext, enterpriseId: string): Promise<number> {
    const [row] = await this.connection.query<Array<{ days: number }>>(
      ctx,
      `SELECT claim_link_ttl_days AS days FROM distribution_settings WHERE enterprise_id = $1`,
      [enterpriseId],
    );
    return row?.days ?? 30;
  }

  /** A new contact for a recipient not sent to yet (scheduled or queued): its status stays, attempts start again. */
  async updateUnsentContact(
    ctx: RequestContext,
    recipientId: string,
    changes: { email?: string | null; mobile?: string | null; channel?: DistributionChannel },
  ): Promise<boolean> {
    const rows = await this.connection.query<unknown[]>(
      ctx,
      `WITH updated AS (
       UPDATE distribution_recipients
       SET email = CASE WHEN $2 THEN $3 ELSE email END, mobile = CASE WHEN $4 THEN $5 ELSE mobile END,
           channel = COALESCE($6, channel), attempts = 0, last_error = NULL, updated_at = now(),
           -- A send in flight to the old contact is not recorded (its attempt no longer matches): due again now.
           next_attempt_at = CASE WHEN status = 'queued' THEN now() ELSE next_attempt_at END
       WHERE id = $1 AND status IN ('scheduled', 'queued')
       RETURNING id)
       SELECT id FROM updated`,
      [
        recipientId,
        changes.email !== undefined,
        changes.email ?? null,
        changes.mobile !== undefined,
        changes.mobile ?? null,
        changes.channel ?? null,
      ],
    );
    return rows.length === 1;
  }

  /** Revokes recipients (any status that may become revoked): the link dies. Returns the revoked ones' card serials. */
  async revokeRecipients(
    ctx: RequestContext,
    where: { recipientId: string } | { distributionId: string },
  ): Promise<string[]> {
    const byRecipient = 'recipientId' in where;
    const rows = await this.connection.query<Array<{ card_serial: string }>>(
      ctx,
      `WITH updated AS (
       UPDATE distribution_recipients
       SET status = 'revoked', revoked_at = now(), claim_token_hash = NULL, next_attempt_at = NULL, updated_at = now()
       WHERE ${byRecipient ? 'id' : 'distribution_id'} = $1 AND status = ANY($2::text[])
       RETURNING card_serial::text AS card_serial)
       SELECT card_serial FROM updated`,
      [byRecipient ? where.recipientId : where.distributionId, recipientStatusesInto('revoked')],
    );
    return rows.map((row) => row.card_serial);
  }

  /** A scheduled distribution becomes cancelled; false when it is not scheduled (any more). */
  async cancelScheduled(ctx: RequestContext, distributionId: string): Promise<boolean> {
    const rows = await this.connection.query<unknown[]>(
      ctx,
      `WITH updated AS (
       UPDATE distributions SET status = 'cancelled', cancelled_at = now()
       WHERE id = $1 AND status = 'scheduled' RETURNING id)
       SELECT id FROM updated`,
      [distributionId],
    );
    return rows.length === 1;
  }

  /**
   * Whether every card of the order has been handed over as far as cards and distribution know: none is still
   * `issued` unless a recipient holding it is delivered, viewed, claimed or bound (CardsRepository's subquery).
   */
  async orderHandedOver(ctx: RequestContext, orderId: string): Promise<boolean> {
    const [row] = await this.connection.query<Array<{ handed_over: boolean }>>(
      ctx,
      `SELECT NOT EXISTS (
         SELECT 1 FROM (${orderCardsStillIssuedSql(1)}) i
         WHERE NOT EXISTS (SELECT 1 FROM distribution_recipients r
                           WHERE r.card_serial = i.serial AND r.status = ANY($2::text[]))
       ) AS handed_over`,
      [orderId, HANDED_OVER_STATUSES],
    );
    return row.handed_over;
  }

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

  /** A reveal or wrong one-time code on a claim link, with the visitor's IP: what the claim fraud rules count. */
  async recordClaimAction(
    ctx: RequestContext,
    action: { recipientId: string; enterpriseId: string; kind: ClaimActionKind; endUserIp: string | null },
  ): Promise<void> {
    await this.connection.query(
      ctx,
      'INSERT INTO claim_actions (recipient_id, enterprise_id, kind, end_user_ip) VALUES ($1, $2, $3, $4::inet)',
      [action.recipientId, action.enterpriseId, action.kind, action.endUserIp],
    );
  }

  /**
   * The figures of the claim page's fraud rules (src/risk/) before a reveal, in one statement: the link's reveals in
   * the last `revealsWindowS`, its wrong one-time codes in the last `otpWindowS`, and (with the visitor's IP) the
   * enterprise's links revealed from that IP in the last `linksWindowS`, this link included.
   */
  async claimRiskFigures(
    ctx: RequestContext,
    claim: { recipientId: string; enterpriseId: string; endUserIp: string | null },
    windows: { revealsWindowS: number; linksWindowS: number; otpWindowS: number },
  ): Promise<{ linkReveals: number; otpFailures: number; ipLinks: number | null }> {
    const [row] = await this.connection.query<
      Array<{ link_reveals: number; otp_failures: number; ip_links: number | null }>
    >(
      ctx,
      `SELECT
         (SELECT count(*)::int FROM claim_actions
           WHERE recipient_id = $1 AND kind = 'reveal'
             AND created_at > now() - make_interval(secs => $4::double precision)) AS link_reveals,
         (SELECT count(*)::int FROM claim_actions
           WHERE recipient_id = $1 AND kind = 'otp_failure'
             AND created_at > now() - make_interval(secs => $6::double precision)) AS otp_failures,
         CASE WHEN $3::inet IS NOT NULL THEN
           (SELECT count(DISTINCT links.recipient_id)::int FROM (
              SELECT recipient_id FROM claim_actions
              WHERE enterprise_id = $2 AND end_user_ip = $3::inet AND kind = 'reveal'
                AND created_at > now() - make_interval(secs => $5::double precision)
              UNION ALL SELECT $1) links)
         END AS ip_links`,
      [
        claim.recipientId,
        claim.enterpriseId,
        claim.endUserIp,
        windows.revealsWindowS,
        windows.linksWindowS,
        windows.otpWindowS,
      ],
    );
    return { linkReveals: row.link_reveals, otpFailures: row.otp_failures, ipLinks: row.ip_links };
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
