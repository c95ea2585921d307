import { Injectable, type OnModuleInit } from '@nestjs/common';
import { AuditService } from '../audit/audit.service';
import { AssignmentsAuditJob, type CommittedAssignments } from './assignments-audit.job';
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
  type Reservation,
  type CardPool,
  type CardTypeChoice,
  type RecipientReservation,
  type ReservationTerms,
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
  maskRealName,
  MAX_LISTED_ROW_ERRORS,
  realNameEnvelopeContext,
  serialiseRealName,
  type RecipientRow,
  type RowError,
} from './recipient-rows';

const DAY_MS = 86_400_000;

/**
 * The 422 for rows that fail: every error counted, the first MAX_LISTED_ROW_ERRORS listed. `total` when `errors`
 * is a sample (a file's rows are checked by group, one error per row).
 */
export function rowErrorsProblem(errors: readonly RowError[], total?: { rows: number; errors: number }): ApiError {
  const onlyRealName = errors.every((error) => error.code === 'real_name_required');
  const rows = total?.rows ?? new Set(errors.map((error) => error.row)).size;
  const errorCount = total?.errors ?? errors.length;
  return ApiError.unprocessable(
    onlyRealName ? 'real_name_required' : 'invalid_recipients',
    onlyRealName
      ? `${rows} recipient(s) of registered cards lack real_name (name, id_type, id_number, mobile); nothing was reserved`
      : `${rows} recipient row(s) are invalid (${errorCount} error(s)); nothing was reserved`,
    { errors: errors.slice(0, MAX_LISTED_ROW_ERRORS), error_count: errorCount },
  );
}

/**
 * What the plan needs of the recipients: the rows asking for a face value grouped by face value and whether they
 * bring a real name (a group's card type is one decision), and the rows naming a serial. Inline rows are grouped
 * here; a file's are grouped by its SQL (DistributionRepository.fileRowsForPlan), so its rows never pass through Node.
 */
interface RecipientAsks {
  /** `firstRows`: the group's row numbers, asked for only when the group is refused (a file's are read then). */
  groups: Array<{ faceValue: number; hasRealName: boolean; count: number; firstRows: () => Promise<number[]> }>;
  serialRows: Array<{ rowNumber: number; serial: string; hasRealName: boolean }>;
  count: number;
  /** The link rows' numbers, ascending: each gets a claim token. */
  linkRows: number[];
}

function asksOfRows(rows: readonly RecipientRow[]): RecipientAsks {
  const groups = new Map<string, { faceValue: number; hasRealName: boolean; count: number; rowNumbers: number[] }>();
  const serialRows: RecipientAsks['serialRows'] = [];
  for (const row of rows) {
    if (row.serial) {
      serialRows.push({ rowNumber: row.rowNumber, serial: row.serial, hasRealName: row.realName !== null });
      continue;
    }
    const key = `${row.faceValue}:${row.realName !== null}`;
    const group = groups.get(key) ?? {
      faceValue: row.faceValue!,
      hasRealName: row.realName !== null,
      count: 0,
      rowNumbers: [],
    };
    group.count++;
    group.rowNumbers.push(row.rowNumber);
    groups.set(key, group);
  }
  return {
    groups: [...groups.values()].map(({ rowNumbers, ...group }) => ({ ...group, firstRows: async () => rowNumbers })),
    serialRows,
    count: rows.length,
    linkRows: rows.filter((row) => row.channel === 'link').map((row) => row.rowNumber),
  };
}

/** What the plan decided: the card type of each kind of row, and how many cards of each kind are wanted. */
interface Plan {
  choices: CardTypeChoice[];
  cardTypeOfSerialRow: Map<number, CardType>;
  wanted: Map<string, number>;
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
    private readonly assignmentsAudit: AssignmentsAuditJob,
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
    let rows: RecipientRow[] | null = null;
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
      const asks = rows ? asksOfRows(rows) : await this.asksOfFile(ctx, fileId!);
      const plan = await this.plan(ctx, dto.order_id, asks);
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
        recipientCount: asks.count,
        createdByClientId: ctx.clientId!,
        createdAt: now,
        startedAt: scheduled ? null : now,
        completedAt: null,
        cancelledAt: null,
        assignmentsAuditId: null,
        assignmentsAuditedAt: null,
      };
      const terms: ReservationTerms = {
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
      };
      // The link rows' claim tokens, in row order: only their hashes are stored; the links go back in the response.
      const linkTokens = asks.linkRows.map(() => newClaimToken());

      const reserved = rows
        ? await this.distributions.reserveCards(ctx, terms, this.reservations(rows, plan, linkTokens))
        : await this.distributions.reserveCardsFromFile(ctx, terms, fileId!, plan.choices, {
            rowNumbers: asks.linkRows,
            hashes: linkTokens.map((token) => token.hash),
          });
      if (reserved.outcome === 'card_taken') {
        // The order's lock makes this unreachable; the unique index refused a double assignment all the same.
        throw ApiError.conflict(
          'card_assignment_conflict',
          'A card was assigned by a concurrent request; retry the request',
        );
      }
      if (reserved.outcome === 'insufficient') {
        // The checks ran on the same locked order: a safety net.
        throw insufficientCards(await this.distributions.cardPools(ctx, dto.order_id), plan.wanted);
      }
      // Its audit record commits the digests of the assignments' summaries, which the audit job writes after the
      // commit (decision 0015); the file's rows go with that job.
      distribution.assignmentsAuditId = await this.auditDistribution(ctx, distribution, reserved);
      distribution.createdAt = await this.distributions.insertDistribution(ctx, distribution);
      await this.transactions.afterCommit(ctx, () => this.assignmentsAudit.enqueue(distribution.id));

      await this.events.record(ctx, {
        enterpriseId,
        type: 'distribution.created',
        data: {
          distribution_id: distribution.id,
          order_id: distribution.orderId,
          status: distribution.status,
          send_at: sendAt.toISOString(),
          recipient_count: reserved.count,
          channels: reserved.channels,
        },
      });
      if (!scheduled) {
        // Once the rows saying they are due have committed; a wake-up lost here only waits for the sweep.
        const jobs = Math.ceil(reserved.count / this.config.DISTRIBUTION_SEND_BATCH);
        await this.transactions.afterCommit(ctx, () => this.sender.wake(distribution.id, { jobs }));
      }

      const links = linkTokens.length > 0 ? await this.distributions.linkRecipients(ctx, distribution.id) : [];
      // Link recipients are sent by the response itself; the others wait for their send_at or the sender.
      const { link = 0, ...others } = reserved.channels;
      const waiting = Object.values(others).reduce((total, n) => total + n, 0);
      const counts = {
        ...(link > 0 && { sent: link }),
        ...(waiting > 0 && { [scheduled ? 'scheduled' : 'queued']: waiting }),
      };
      const created: CreatedDistributionDto = {
        ...DistributionDto.from(distribution, { counts, sentLast5Minutes: counts.sent ?? 0 }),
        link_recipients: links.map((recipient, index): LinkRecipientDto => ({
          ...RecipientDto.from(recipient),
          claim_url: claimUrl(this.config.publicUrl, linkTokens[index].token),
        })),
      };
      return created;
    });
  }

  /** Inline rows as the reservation statement takes them: ids made, real names of registered cards sealed. */
  private reservations(
    rows: readonly RecipientRow[],
    plan: Plan,
    linkTokens: ReadonlyArray<{ hash: Buffer }>,
  ): RecipientReservation[] {
    const cardTypeOf = new Map(
      plan.choices.map((choice) => [`${choice.faceValue}:${choice.hasRealName}`, choice.cardType]),
    );
    let link = 0;
    return rows.map((row) => {
      const id = newId('distributionRecipient');
      const cardType = row.serial
        ? plan.cardTypeOfSerialRow.get(row.rowNumber)!
        : cardTypeOf.get(`${row.faceValue}:${row.realName !== null}`)!;
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
        realNameSealed: realName ? this.cipher.encrypt(serialiseRealName(realName), realNameEnvelopeContext(id)) : null,
        realNameMasked: realName ? maskRealName(realName) : null,
        claimTokenHash: row.channel === 'link' ? linkTokens[link++].hash : null,
      };
    });
  }

  /**
   * The order-dependent checks: each kind of row asks for a face value the order has (which card type it gets is
   * decided per kind), each serial is a card of the order still free, a registered card has the holder's real name.
   * Then whether there are free cards enough. Every bad row reported at once; nothing is reserved unless all pass.
   */
  private async plan(ctx: RequestContext, orderId: string, asks: RecipientAsks): Promise<Plan> {
    const pools = await this.distributions.cardPools(ctx, orderId);
    const serials = new Map(
      (
        await this.distributions.serialsInOrder(
          ctx,
          orderId,
          asks.serialRows.map((row) => row.serial),
        )
      ).map((card) => [card.serial, card]),
    );
    const errors: RowError[] = [];
    let errorCount = 0;
    const fail = (
      rowNumbers: readonly number[],
      count: number,
      field: string,
      code: RowError['code'],
      message: string,
    ) => {
      for (const row of rowNumbers) errors.push({ row, field, code, message });
      errorCount += count;
    };
    const realNameMissing = 'a registered card needs the holder: real_name (name, id_type, id_number, mobile)';
    const plan: Plan = { choices: [], cardTypeOfSerialRow: new Map(), wanted: new Map() };
    for (const group of asks.groups) {
      const kinds = pools.filter((pool) => pool.faceValue === group.faceValue).map((pool) => pool.cardType);
      if (kinds.length === 0) {
        const values = [...new Set(pools.map((pool) => pool.faceValue))].join(', ');
        fail(
          await group.firstRows(),
          group.count,
          'face_value',
          'face_value_not_in_order',
          `the order has cards of ${values} fen, not ${group.faceValue}`,
        );
        continue;
      }
      // A recipient with a real name takes a registered card where the order has both kinds of this value.
      const cardType: CardType =
        kinds.includes('registered') && (group.hasRealName || !kinds.includes('anonymous'))
          ? 'registered'
          : 'anonymous';
      if (cardType === 'registered' && !group.hasRealName) {
        fail(await group.firstRows(), group.count, 'real_name', 'real_name_required', realNameMissing);
        continue;
      }
      plan.choices.push({ faceValue: group.faceValue, hasRealName: group.hasRealName, cardType });
      const key = `${group.faceValue}:${cardType}`;
      plan.wanted.set(key, (plan.wanted.get(key) ?? 0) + group.count);
    }
    for (const row of asks.serialRows) {
      const card = serials.get(row.serial);
      if (!card) {
        fail([row.rowNumber], 1, 'serial', 'serial_not_in_order', `serial ${row.serial} is not a card of this order`);
      } else if (!card.free) {
        fail(
          [row.rowNumber],
          1,
          'serial',
          'serial_not_available',
          `card ${row.serial} is not free (assigned, bound or expired)`,
        );
      } else if (card.cardType === 'registered' && !row.hasRealName) {
        fail([row.rowNumber], 1, 'real_name', 'real_name_required', realNameMissing);
      } else plan.cardTypeOfSerialRow.set(row.rowNumber, card.cardType);
    }
    if (errorCount > 0) {
      throw rowErrorsProblem(
        errors.sort((a, b) => a.row - b.row),
        { rows: errorCount, errors: errorCount },
      );
    }
    const short = [...plan.wanted].filter(([key, requested]) => requested > (poolOf(pools, key)?.free ?? 0));
    if (short.length > 0) throw insufficientCards(pools, plan.wanted);
    return plan;
  }

  /**
   * An uploaded file's rows as the plan sees them: only a file of this enterprise, unexpired, without errors, not
   * used before. The rows stay in the database; the reservation reads them there.
   */
  private async asksOfFile(ctx: RequestContext, fileId: string): Promise<RecipientAsks> {
    const file = isId('distributionFile', fileId)
      ? await this.distributions.findFile(ctx, fileId, ctx.enterpriseId)
      : null;
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
    const { groups, serialRows, linkRows } = await this.distributions.fileRowsForPlan(ctx, fileId);
    return {
      groups: groups.map((group) => ({
        ...group,
        firstRows: () => this.distributions.firstRowsOfGroup(ctx, fileId, group, MAX_LISTED_ROW_ERRORS),
      })),
      serialRows,
      count: serialRows.length + groups.reduce((sum, group) => sum + group.count, 0),
      linkRows,
    };
  }

  /**
   * The distribution's audit record: who distributed, when, how many, and the SHA-256 of each of the assignments'
   * audit summaries (ASSIGNMENTS_PER_AUDIT_RECORD assignments each: row, employee_ref and serial, no contact data).
   * The summaries themselves are appended by AssignmentsAuditJob after the commit, each checked against its digest
   * here (decision 0015): the chain holds them without 8 MB of JSON going back and forth inside the request.
   */
  private async auditDistribution(
    ctx: RequestContext,
    distribution: Distribution,
    reservation: Reservation,
  ): Promise<string> {
    const committed: CommittedAssignments = {
      assignment_records: reservation.assignmentDigests.length,
      assignment_sha256: reservation.assignmentDigests,
    };
    return this.audit.append(ctx, {
      action: 'distribution.created',
      objectType: 'distribution',
      objectId: distribution.id,
      enterpriseId: distribution.enterpriseId,
      summary: {
        order_id: distribution.orderId,
        recipient_count: reservation.count,
        file_id: distribution.fileId,
        send_at: distribution.sendAt.toISOString(),
        ...committed,
      },
    });
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
