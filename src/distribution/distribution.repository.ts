import { Injectable } from '@nestjs/common';
import { orderCardsForDistributionSql } from '../cards/cards.repository';
import type { CardType } from '../catalog/product.entity';
import type { RequestContext } from '../common/context/request-context';
import type { ListQueryDto, Page } from '../common/pagination/pagination';
import { paginate } from '../database/paginate';
import { TransactionalConnection } from '../database/transactional-connection';
import {
  Distribution,
  DistributionFile,
  DistributionRecipient,
  DistributionSettings,
  type DistributionChannel,
  type DistributionLocale,
  type RecipientStatus,
} from './distribution.entity';

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
  /** The order's lines: a card's design, and the greeting of a recipient who brings none. */
  lines: ReadonlyArray<{ lineNo: number; design: string; greeting: string | null }>;
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

/** A recipient's card as the reservation wrote it. */
export interface Assignment {
  rowNumber: number;
  serial: string;
  faceValue: number;
  design: string;
  greeting: string | null;
}

export type ReservationOutcome =
  | { outcome: 'reserved'; assignments: Assignment[] }
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

/**
 * The reservation (docs/architecture.md, distribution): ONE INSERT … SELECT pairs the recipients (unnest of the
 * arrays) with the order's free cards, the n-th recipient asking for a face value and card type with the n-th
 * free card of that kind in serial order, a recipient naming a serial with that card; every row or none (`ok`).
 */
export function reservationSql(terms: ReservationTerms, recipients: readonly RecipientReservation[]) {
  const column = <T>(pick: (recipient: RecipientReservation) => T) => recipients.map(pick);
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
    terms.orderId,
    terms.distributionId,
    terms.enterpriseId,
    terms.status,
    terms.nextAttemptAt,
    terms.claimExpiresAt,
    terms.lines.map((line) => line.lineNo),
    terms.lines.map((line) => line.design),
    terms.lines.map((line) => line.greeting),
    recipients.length,
  ];
  const sql = `WITH req AS (
       SELECT * FROM unnest($1::text[], $2::int[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
                            $8::text[], $9::text[], $10::int[], $11::text[], $12::bigint[], $13::text[], $14::text[],
                            $15::text[], $16::text[], $17::bytea[])
         AS r(id, row_number, employee_ref, name, email, mobile, channel, locale, greeting, face_value, card_type,
              serial, channel_client_id, holder_ref, real_name_sealed, real_name_masked, claim_token_hash)),
     free AS (
       SELECT c.serial, c.face_value, c.card_type, c.line_no
         FROM (${orderCardsForDistributionSql('$18::text')}) c
        WHERE c.assignable
          AND NOT EXISTS (SELECT 1 FROM distribution_recipients x WHERE x.card_serial = c.serial AND x.${LIVE})
          AND c.serial NOT IN (SELECT serial FROM req WHERE serial IS NOT NULL)),
     -- Pairing by position in arrays, not by a join on row numbers: the planner cannot estimate unnest's rows, and a
     -- nested loop of 100,000 × 100,000 is what a join got. One array per kind of card, the n-th recipient its n-th.
     kinds AS (
       SELECT face_value, card_type, array_agg(serial ORDER BY serial) AS serials,
              array_agg(line_no ORDER BY serial) AS line_nos
         FROM free GROUP BY face_value, card_type),
     by_value AS (
       SELECT r.*, row_number() OVER (PARTITION BY r.face_value, r.card_type ORDER BY r.row_number) AS n
         FROM req r WHERE r.serial IS NULL),
     paired AS (
       SELECT v.id, v.row_number, v.employee_ref, v.name, v.email, v.mobile, v.channel, v.locale, v.greeting,
              v.channel_client_id, v.holder_ref, v.real_name_sealed, v.real_name_masked, v.claim_token_hash,
              k.serials[v.n] AS card_serial, v.face_value AS card_face_value, k.line_nos[v.n] AS line_no
         FROM by_value v JOIN kinds k ON k.face_value = v.face_value AND k.card_type = v.card_type
        WHERE v.n <= cardinality(k.serials)
       UNION ALL
       SELECT r.id, r.row_number, r.employee_ref, r.name, r.email, r.mobile, r.channel, r.locale, r.greeting,
              r.channel_client_id, r.holder_ref, r.real_name_sealed, r.real_name_masked, r.claim_token_hash,
              c.serial, c.face_value, c.line_no
         FROM req r JOIN (${orderCardsForDistributionSql('$18::text')}) c ON c.serial = r.serial
        WHERE r.serial IS NOT NULL AND c.assignable
          AND NOT EXISTS (SELECT 1 FROM distribution_recipients x WHERE x.card_serial = c.serial AND x.${LIVE})),
     ok AS (SELECT count(*) = $27::int AS all_paired FROM paired),
     lines AS (SELECT * FROM unnest($24::int[], $25::text[], $26::text[]) AS l(line_no, design, greeting)),
     inserted AS (
       INSERT INTO distribution_recipients
         (id, distribution_id, enterprise_id, row_number, employee_ref, name, email, mobile, channel, locale, greeting,
          design, face_value, card_serial, channel_client_id, holder_ref, real_name_sealed, real_name_masked, status,
          next_attempt_at, claim_token_hash, claim_expires_at, sent_at)
       SELECT p.id, $19::text, $20::text, p.row_number, p.employee_ref, p.name, p.email, p.mobile, p.channel, p.locale,
              coalesce(p.greeting, l.greeting), coalesce(l.design, 'classic'), p.card_face_value, p.card_serial,
              p.channel_client_id, p.holder_ref, p.real_name_sealed, p.real_name_masked::jsonb,
              CASE WHEN p.channel = 'link' THEN 'sent' ELSE $21::text END,
              CASE WHEN p.channel = 'link' THEN NULL ELSE $22::timestamptz END,
              p.claim_token_hash,
              CASE WHEN p.claim_token_hash IS NOT NULL THEN $23::timestamptz END,
              CASE WHEN p.channel = 'link' THEN now() END
         FROM paired p LEFT JOIN lines l ON l.line_no = p.line_no
        WHERE (SELECT all_paired FROM ok)
       RETURNING row_number, card_serial, face_value, design, greeting)
     SELECT row_number, card_serial::text AS serial, face_value, design, greeting FROM inserted ORDER BY row_number`;
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
 * distribution_settings, distribution_files, distribution_file_rows, distributions, distribution_recipients and
 * distribution_messages: every statement on them is here (docs/architecture.md, one owner per table).
 */
@Injectable()
export class DistributionRepository {
  constructor(private readonly connection: TransactionalConnection) {}

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
  async insertFileRows(
    ctx: RequestContext,
    fileId: string,
    rows: ReadonlyArray<{ rowNumber: number; data: Record<string, unknown> }>,
  ): Promise<void> {
    if (rows.length === 0) return;
    await this.connection.query(
      ctx,
      `INSERT INTO distribution_file_rows (file_id, row_number, data)
       SELECT $1, r.row_number, r.data::jsonb FROM unnest($2::int[], $3::text[]) AS r(row_number, data)`,
      [fileId, rows.map((row) => row.rowNumber), rows.map((row) => JSON.stringify(row.data))],
    );
  }

  async findFile(ctx: RequestContext, id: string, enterpriseId: string): Promise<DistributionFile | null> {
    return this.connection.manager(ctx).findOneBy(DistributionFile, { id, enterpriseId });
  }

  /** A file's rows in row order. */
  async fileRows(
    ctx: RequestContext,
    fileId: string,
  ): Promise<Array<{ rowNumber: number; data: Record<string, unknown> }>> {
    const rows = await this.connection.query<Array<{ row_number: number; data: Record<string, unknown> }>>(
      ctx,
      'SELECT row_number, data FROM distribution_file_rows WHERE file_id = $1 ORDER BY row_number',
      [fileId],
    );
    return rows.map((row) => ({ rowNumber: row.row_number, data: row.data }));
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
      `SELECT c.face_value, c.card_type, count(*)::int AS total,
              (count(*) FILTER (WHERE c.assignable AND NOT EXISTS (
                 SELECT 1 FROM distribution_recipients x WHERE x.card_serial = c.serial AND x.${LIVE})))::int AS free
         FROM (${orderCardsForDistributionSql('$1::text')}) c
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
                                  created_by_client_id, started_at, completed_at, cancelled_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING created_at`,
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
    if (recipients.length === 0) return { outcome: 'reserved', assignments: [] };
    const { sql, params } = reservationSql(terms, recipients);
    let rows: Array<{
      row_number: number;
      serial: string;
      face_value: number;
      design: string;
      greeting: string | null;
    }>;
    try {
      rows = await this.connection.query(ctx, sql, params);
    } catch (error) {
      const driverError = error as { code?: string; constraint?: string; driverError?: { constraint?: string } };
      const constraint = driverError.constraint ?? driverError.driverError?.constraint;
      if (driverError.code === '23505' && constraint === 'distribution_recipients_card')
        return { outcome: 'card_taken' };
      throw error;
    }
    if (rows.length === 0) return { outcome: 'insufficient' };
    return {
      outcome: 'reserved',
      assignments: rows.map((row) => ({
        rowNumber: row.row_number,
        serial: row.serial,
        faceValue: row.face_value,
        design: row.design,
        greeting: row.greeting,
      })),
    };
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

  // ── claim page: token lookup, views, reveals, one-time codes ──
}
