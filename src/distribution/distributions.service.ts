import { Injectable, type OnModuleInit } from '@nestjs/common';
import { AuditService } from '../audit/audit.service';
import type { CardType } from '../catalog/product.entity';
import type { RequestContext } from '../common/context/request-context';
import { DataCipher } from '../common/crypto/data-cipher.service';
import { ApiError } from '../common/errors/api-error';
import { isId, newId } from '../common/ids';
import type { Page } from '../common/pagination/pagination';
import { AppConfig } from '../config/app-config';
import { TransactionService } from '../database/transaction.service';
import { EventsService } from '../events/events.service';
import { ExportsRepository } from '../exports/exports.repository';
import { OrderLifecycleHooks } from '../orders/order-lifecycle-hooks';
import { OrdersRepository } from '../orders/orders.repository';
import { claimUrl, newClaimToken } from './claim-token';
import { DistributionSenderService } from './distribution-sender.service';
import type { Distribution, DistributionRecipient } from './distribution.entity';
import {
  DistributionRepository,
  type Assignment,
  type CardPool,
  type RecipientReservation,
} from './distribution.repository';
import type { CreateDistributionDto } from './dto/create-distribution.dto';
import {
  CreatedDistributionDto,
  DistributionDto,
  RecipientDto,
  type LinkRecipientDto,
  type ListDistributionsQueryDto,
  type ListRecipientsQueryDto,
} from './dto/distribution.dto';
import { CLAIM_LINK_TTL_DAYS } from './dto/distribution-settings.dto';
import {
  checkRecipientRows,
  fileRealNameEnvelopeContext,
  maskRealName,
  MAX_LISTED_ROW_ERRORS,
  parseRealName,
  realNameEnvelopeContext,
  serialiseRealName,
  type RecipientRow,
  type RowError,
} from './recipient-rows';
import { fileRowToRecipient } from './distribution-files.service';

/** Assignments per audit record: "who distributed which serial to which employee_ref", in readable chunks. */
export const ASSIGNMENTS_PER_AUDIT_RECORD = 500;

const DAY_MS = 86_400_000;

/** The 422 for rows that fail: every error counted, the first MAX_LISTED_ROW_ERRORS listed. */
export function rowErrorsProblem(errors: readonly RowError[]): ApiError {
  const onlyRealName = errors.every((error) => error.code === 'real_name_required');
  const rows = new Set(errors.map((error) => error.row)).size;
  return ApiError.unprocessable(
    onlyRealName ? 'real_name_required' : 'invalid_recipients',
    onlyRealName
      ? `${rows} recipient(s) of registered cards lack real_name (name, id_type, id_number, mobile); nothing was reserved`
      : `${rows} recipient row(s) are invalid (${errors.length} error(s)); nothing was reserved`,
    { errors: errors.slice(0, MAX_LISTED_ROW_ERRORS), error_count: errors.length },
  );
}

/** What the order-dependent checks decided for one row: the kind of card it gets. */
interface PlannedRow {
  row: RecipientRow;
  cardType: CardType;
}

/**
 * Creating distributions (docs/architecture.md, distribution): the rows checked, the order's rules applied, cards
 * reserved for every recipient in one statement under the order's lock, the event and the audit records in the
 * same transaction; after commit, sending is woken. And the reads: a distribution with its progress, the lists.
 */
@Injectable()
export class DistributionsService implements OnModuleInit {
  constructor(
    private readonly distributions: DistributionRepository,
    private readonly orders: OrdersRepository,
    private readonly exports: ExportsRepository,
    private readonly hooks: OrderLifecycleHooks,
    private readonly transactions: TransactionService,
    private readonly events: EventsService,
    private readonly audit: AuditService,
    private readonly cipher: DataCipher,
    private readonly config: AppConfig,
    private readonly sender: DistributionSenderService,
  ) {}

  /** Exports of an order whose cards are handed to employees are refused: only the employee may see a code. */
  onModuleInit(): void {
    this.hooks.guardExports(async (ctx, orderId) => {
      if (await this.distributions.orderHasLiveAssignments(ctx, orderId)) {
        throw ApiError.conflict(
          'order_distributed',
          `Cards of order '${orderId}' are distributed to employees: its codes cannot be exported`,
          { order_id: orderId },
        );
      }
    });
  }

  async create(ctx: RequestContext, dto: CreateDistributionDto): Promise<CreatedDistributionDto> {
    const enterpriseId = ctx.enterpriseId;
    // null (which @IsOptional lets through) is absent too.
    const inline = dto.recipients ?? undefined;
    const fileId = dto.file_id ?? undefined;
    if ((inline === undefined) === (fileId === undefined)) {
      throw ApiError.validation([
        {
          field: 'recipients',
          code: 'recipients_or_file_id',
          message: 'give the recipients inline (recipients) or an uploaded file (file_id), one of them',
        },
      ]);
    }
    let rows: RecipientRow[];
    if (inline) {
      const checked = checkRecipientRows(inline);
      if (checked.errors.length > 0) throw rowErrorsProblem(checked.errors);
      rows = checked.rows;
    }
    const now = new Date();
    const sendAt = dto.send_at && new Date(dto.send_at) > now ? new Date(dto.send_at) : now;
    const scheduled = sendAt > now;

    return this.transactions.run(ctx, async () => {
      // The order row's lock serialises every distribution and export of the order (exports take the same lock):
      // each one's checks and reservation see what the ones before it committed.
      const order = isId('order', dto.order_id) ? await this.orders.lock(ctx, dto.order_id, enterpriseId) : null;
      if (!order) throw ApiError.notFound('order', dto.order_id);
      if (order.status !== 'issued') {
        throw ApiError.conflict(
          'order_not_issued',
          `Order '${dto.order_id}' is ${order.status}: cards are distributed once the order is issued`,
          { order_id: dto.order_id, order_status: order.status },
        );
      }
      if (await this.exports.exportExists(ctx, dto.order_id)) {
        throw ApiError.unprocessable(
          'order_exported',
          `The codes of order '${dto.order_id}' were exported: its cards cannot be distributed (HR may have seen them)`,
          { order_id: dto.order_id },
        );
      }
      if (fileId) rows = await this.takeFile(ctx, fileId);

      const planned = await this.plan(ctx, dto.order_id, rows);
      const settings = await this.distributions.settingsOf(ctx, enterpriseId);
      const ttlDays = settings?.claimLinkTtlDays ?? CLAIM_LINK_TTL_DAYS.default;
      const claimExpiresAt = new Date(now.getTime() + ttlDays * DAY_MS);
      const lines = await this.orders.linesOf(ctx, [dto.order_id]);
      const batches = (await this.hooks.issuanceOf(ctx, [dto.order_id])).get(dto.order_id) ?? [];

      const distribution: Distribution = {
        id: newId('distribution'),
        enterpriseId,
        orderId: dto.order_id,
        status: scheduled ? 'scheduled' : 'sending',
        sendAt,
        fileId: fileId ?? null,
        recipientCount: planned.length,
        createdByClientId: ctx.clientId!,
        createdAt: now,
        startedAt: scheduled ? null : now,
        completedAt: null,
        cancelledAt: null,
      };
      const tokens = new Map<number, string>();
      const reservations: RecipientReservation[] = planned.map(({ row, cardType }) => {
        const id = newId('distributionRecipient');
        let claimTokenHash: Buffer | null = null;
        if (row.channel === 'link') {
          const { token, hash } = newClaimToken();
          tokens.set(row.rowNumber, token);
          claimTokenHash = hash;
        }
        // Only registered cards keep the holder's identity: an anonymous card has none to bind.
        const realName = cardType === 'registered' ? row.realName : null;
        return {
          id,
          rowNumber: row.rowNumber,
          employeeRef: row.employeeRef,
          name: row.name,
          email: row.email,
          mobile: row.mobile,
          channel: row.channel,
          locale: row.locale,
          greeting: row.greeting,
          faceValue: row.serial ? null : row.faceValue,
          cardType: row.serial ? null : cardType,
          serial: row.serial,
          channelClientId: row.channelClientId,
          holderRef: row.holderRef,
          realNameSealed: realName
            ? this.cipher.encrypt(serialiseRealName(realName), realNameEnvelopeContext(id))
            : null,
          realNameMasked: realName ? maskRealName(realName) : null,
          claimTokenHash,
        };
      });

      distribution.createdAt = await this.distributions.insertDistribution(ctx, distribution);
      const reserved = await this.distributions.reserveCards(
        ctx,
        {
          distributionId: distribution.id,
          enterpriseId,
          orderId: dto.order_id,
          status: scheduled ? 'scheduled' : 'queued',
          nextAttemptAt: sendAt,
          claimExpiresAt,
          batches: batches.flatMap((batch) => {
            const line = lines.find((candidate) => candidate.lineNo === batch.line_no);
            return line ? [{ batchId: batch.id, design: line.design, greeting: line.greeting }] : [];
          }),
        },
        reservations,
      );
      if (reserved.outcome === 'card_taken') {
        // The order's lock makes this unreachable; the unique index refused a double assignment all the same.
        throw ApiError.conflict(
          'card_assignment_conflict',
          'A card was assigned by a concurrent request; retry the request',
        );
      }
      if (reserved.outcome === 'insufficient') throw await this.insufficient(ctx, dto.order_id, reservations);
      if (fileId) await this.distributions.deleteFileRows(ctx, fileId);

      const assignmentOfRow = new Map(reserved.assignments.map((assignment) => [assignment.rowNumber, assignment]));
      const serialOfRow = new Map(reserved.assignments.map((assignment) => [assignment.rowNumber, assignment.serial]));
      await this.events.record(ctx, {
        enterpriseId,
        type: 'distribution.created',
        data: {
          distribution_id: distribution.id,
          order_id: distribution.orderId,
          status: distribution.status,
          send_at: sendAt.toISOString(),
          recipient_count: planned.length,
          channels: countBy(planned.map(({ row }) => row.channel)),
        },
      });
      await this.auditAssignments(ctx, distribution, planned, serialOfRow);
      if (!scheduled) {
        // Once the rows saying they are due have committed; a wake-up lost here only waits for the sweep.
        const jobs = Math.ceil(planned.length / this.config.DISTRIBUTION_SEND_BATCH);
        await this.transactions.afterCommit(ctx, () => this.sender.wake(distribution.id, { jobs }));
      }

      const recipients = reservations.map((reservation) =>
        this.recipientOf(distribution, reservation, assignmentOfRow.get(reservation.rowNumber)!, {
          scheduled,
          now,
          sendAt,
          claimExpiresAt,
        }),
      );
      const counts = countBy(recipients.map((recipient) => recipient.status));
      const created: CreatedDistributionDto = {
        ...DistributionDto.from(distribution, { counts, sentLast5Minutes: counts.sent ?? 0 }),
        link_recipients: recipients
          .filter((recipient) => tokens.has(recipient.rowNumber))
          .map((recipient): LinkRecipientDto => ({
            ...RecipientDto.from(recipient),
            claim_url: claimUrl(this.config.publicUrl, tokens.get(recipient.rowNumber)!),
          })),
      };
      return created;
    });
  }

  /**
   * The order-dependent checks of every row: its face value is one the order has (and which card type it gets), its
   * serial is a card of the order still free, a registered card has the holder's real name. Then whether there
   * are free cards enough. Every bad row reported at once; nothing is reserved unless all pass.
   */
  private async plan(ctx: RequestContext, orderId: string, rows: readonly RecipientRow[]): Promise<PlannedRow[]> {
    const pools = await this.distributions.cardPools(ctx, orderId);
    const serials = new Map(
      (
        await this.distributions.serialsInOrder(
          ctx,
          orderId,
          rows.flatMap((row) => (row.serial ? [row.serial] : [])),
        )
      ).map((card) => [card.serial, card]),
    );
    const errors: RowError[] = [];
    const planned: PlannedRow[] = [];
    const fail = (row: RecipientRow, field: string, code: RowError['code'], message: string) =>
      errors.push({ row: row.rowNumber, field, code, message });
    for (const row of rows) {
      let cardType: CardType | undefined;
      if (row.serial) {
        const card = serials.get(row.serial);
        if (!card) fail(row, 'serial', 'serial_not_in_order', `serial ${row.serial} is not a card of this order`);
        else if (!card.free) {
          fail(row, 'serial', 'serial_not_available', `card ${row.serial} is not free (assigned, bound or expired)`);
        } else cardType = card.cardType;
      } else {
        const kinds = pools.filter((pool) => pool.faceValue === row.faceValue).map((pool) => pool.cardType);
        if (kinds.length === 0) {
          const values = [...new Set(pools.map((pool) => pool.faceValue))].join(', ');
          fail(
            row,
            'face_value',
            'face_value_not_in_order',
            `the order has cards of ${values} fen, not ${row.faceValue}`,
          );
        } else {
          // A recipient with a real name takes a registered card where the order has both kinds of this value.
          cardType =
            kinds.includes('registered') && (row.realName || !kinds.includes('anonymous')) ? 'registered' : 'anonymous';
        }
      }
      if (cardType === 'registered' && !row.realName) {
        fail(
          row,
          'real_name',
          'real_name_required',
          'a registered card needs the holder: real_name (name, id_type, id_number, mobile)',
        );
      }
      if (cardType) planned.push({ row, cardType });
    }
    if (errors.length > 0) throw rowErrorsProblem(errors.sort((a, b) => a.row - b.row));
    const wanted = new Map<string, number>();
    for (const { row, cardType } of planned) {
      if (row.serial) continue;
      const key = `${row.faceValue}:${cardType}`;
      wanted.set(key, (wanted.get(key) ?? 0) + 1);
    }
    const short = [...wanted].filter(([key, requested]) => requested > (poolOf(pools, key)?.free ?? 0));
    if (short.length > 0) throw insufficientCards(pools, wanted);
    return planned;
  }

  /** The reservation found too few cards after all (the checks ran on the same locked order: a safety net). */
  private async insufficient(
    ctx: RequestContext,
    orderId: string,
    reservations: readonly RecipientReservation[],
  ): Promise<ApiError> {
    const wanted = new Map<string, number>();
    for (const reservation of reservations) {
      if (reservation.serial) continue;
      const key = `${reservation.faceValue}:${reservation.cardType}`;
      wanted.set(key, (wanted.get(key) ?? 0) + 1);
    }
    return insufficientCards(await this.distributions.cardPools(ctx, orderId), wanted);
  }

  /** A file's rows as recipients: only a file of this enterprise, unexpired, without errors, not used before. */
  private async takeFile(ctx: RequestContext, fileId: string): Promise<RecipientRow[]> {
    const file = await this.distributions.findFile(ctx, fileId, ctx.enterpriseId);
    if (!file) throw ApiError.notFound('distribution file', fileId);
    const usedBy = await this.distributions.distributionOfFile(ctx, fileId, ctx.enterpriseId);
    if (usedBy) {
      throw ApiError.conflict('file_already_used', `File '${fileId}' was distributed already by ${usedBy}`, {
        distribution_id: usedBy,
      });
    }
    if (file.expiresAt <= new Date()) {
      throw ApiError.unprocessable(
        'file_expired',
        `File '${fileId}' expired at ${file.expiresAt.toISOString()}; upload it again`,
      );
    }
    if (file.errors.length > 0) {
      throw ApiError.unprocessable(
        'file_has_errors',
        `File '${fileId}' has rows with errors; fix them and upload it again`,
        {
          file_id: fileId,
        },
      );
    }
    const stored = await this.distributions.fileRows(ctx, fileId);
    return stored.map(({ rowNumber, data }) =>
      fileRowToRecipient(rowNumber, data, (sealed) =>
        parseRealName(this.cipher.decrypt(sealed, fileRealNameEnvelopeContext(fileId, rowNumber))),
      ),
    );
  }

  /**
   * The audit chain says who distributed which serial to which employee: one record for the distribution, and the
   * assignments in records of ASSIGNMENTS_PER_AUDIT_RECORD (serial and employee_ref only; no contact data).
   */
  private async auditAssignments(
    ctx: RequestContext,
    distribution: Distribution,
    planned: readonly PlannedRow[],
    serialOfRow: ReadonlyMap<number, string>,
  ): Promise<void> {
    await this.audit.append(ctx, {
      action: 'distribution.created',
      objectType: 'distribution',
      objectId: distribution.id,
      enterpriseId: distribution.enterpriseId,
      summary: {
        order_id: distribution.orderId,
        recipient_count: planned.length,
        file_id: distribution.fileId,
        send_at: distribution.sendAt.toISOString(),
      },
    });
    for (let start = 0; start < planned.length; start += ASSIGNMENTS_PER_AUDIT_RECORD) {
      const chunk = planned.slice(start, start + ASSIGNMENTS_PER_AUDIT_RECORD);
      await this.audit.append(ctx, {
        action: 'distribution.cards_assigned',
        objectType: 'distribution',
        objectId: distribution.id,
        enterpriseId: distribution.enterpriseId,
        summary: {
          order_id: distribution.orderId,
          assignments: chunk.map(({ row }) => ({
            row: row.rowNumber,
            serial: serialOfRow.get(row.rowNumber),
            employee_ref: row.employeeRef,
            channel: row.channel,
          })),
        },
      });
    }
  }

  /** The recipient row as the reservation wrote it (for the response: no read-back of 10,000 rows). */
  private recipientOf(
    distribution: Distribution,
    reservation: RecipientReservation,
    assignment: Assignment,
    at: { scheduled: boolean; now: Date; sendAt: Date; claimExpiresAt: Date },
  ): DistributionRecipient {
    const link = reservation.channel === 'link';
    return {
      id: reservation.id,
      distributionId: distribution.id,
      enterpriseId: distribution.enterpriseId,
      rowNumber: reservation.rowNumber,
      employeeRef: reservation.employeeRef,
      bindTicketHash: null,
      bindTicketExpiresAt: null,
      bindTicketClientId: null,
      name: reservation.name,
      email: reservation.email,
      mobile: reservation.mobile,
      channel: reservation.channel,
      locale: reservation.locale,
      greeting: assignment.greeting,
      design: assignment.design,
      faceValue: assignment.faceValue,
      cardSerial: Number(assignment.serial),
      channelClientId: reservation.channelClientId,
      holderRef: reservation.holderRef,
      realNameSealed: reservation.realNameSealed,
      realNameMasked: reservation.realNameMasked,
      status: link ? 'sent' : at.scheduled ? 'scheduled' : 'queued',
      nextAttemptAt: link ? null : at.sendAt,
      attempts: 0,
      lastError: null,
      claimTokenHash: reservation.claimTokenHash,
      claimExpiresAt: link ? at.claimExpiresAt : null,
      otpHash: null,
      otpExpiresAt: null,
      otpFailures: 0,
      viewCount: 0,
      revealCount: 0,
      sentAt: link ? at.now : null,
      deliveredAt: null,
      viewedAt: null,
      claimedAt: null,
      boundAt: null,
      revokedAt: null,
      createdAt: at.now,
      updatedAt: at.now,
    };
  }

  async get(ctx: RequestContext, id: string): Promise<DistributionDto> {
    const distribution = await this.find(ctx, id);
    return DistributionDto.from(distribution, await this.distributions.recipientProgress(ctx, id));
  }

  async list(ctx: RequestContext, query: ListDistributionsQueryDto): Promise<Page<DistributionDto>> {
    const page = await this.distributions.listDistributions(
      ctx,
      { enterpriseId: ctx.enterpriseId, orderId: query.order_id, status: query.status },
      query,
    );
    const data: DistributionDto[] = [];
    for (const distribution of page.data) {
      data.push(DistributionDto.from(distribution, await this.distributions.recipientProgress(ctx, distribution.id)));
    }
    return { ...page, data };
  }

  async recipients(ctx: RequestContext, id: string, query: ListRecipientsQueryDto): Promise<Page<RecipientDto>> {
    await this.find(ctx, id);
    const page = await this.distributions.listRecipients(ctx, id, query.status, query);
    return { ...page, data: page.data.map((recipient) => RecipientDto.from(recipient)) };
  }

  /** The caller's enterprise's distribution; another tenant's is a 404. */
  async find(ctx: RequestContext, id: string): Promise<Distribution> {
    const distribution = isId('distribution', id)
      ? await this.distributions.findDistribution(ctx, id, ctx.enterpriseId)
      : null;
    if (!distribution) throw ApiError.notFound('distribution', id);
    return distribution;
  }

  /** The recipients in row order, a page at a time (the CSV report streams them). */
  async *recipientsInOrder(ctx: RequestContext, id: string, pageSize = 1_000): AsyncGenerator<DistributionRecipient[]> {
    let after = '';
    for (;;) {
      const page = await this.distributions.recipientsInOrder(ctx, id, after, pageSize);
      if (page.length > 0) yield page;
      if (page.length < pageSize) return;
      after = page[page.length - 1].id;
    }
  }
}

function countBy<T extends string>(values: readonly T[]): Partial<Record<T, number>> {
  const counts: Partial<Record<T, number>> = {};
  for (const value of values) counts[value] = (counts[value] ?? 0) + 1;
  return counts;
}

function poolOf(pools: readonly CardPool[], key: string): CardPool | undefined {
  return pools.find((pool) => `${pool.faceValue}:${pool.cardType}` === key);
}

/** 422 insufficient_cards with, per face value and card type asked for, the cards requested and free. */
export function insufficientCards(pools: readonly CardPool[], wanted: ReadonlyMap<string, number>): ApiError {
  const cards = [...wanted].map(([key, requested]) => {
    const [faceValue, cardType] = key.split(':');
    return { face_value: Number(faceValue), card_type: cardType, requested, free: poolOf(pools, key)?.free ?? 0 };
  });
  const short = cards.filter((card) => card.requested > card.free);
  return ApiError.unprocessable(
    'insufficient_cards',
    `Too few free cards: ${short.map((card) => `${card.requested} of ${card.face_value} fen requested, ${card.free} free`).join('; ')}; nothing was reserved`,
    { cards },
  );
}
