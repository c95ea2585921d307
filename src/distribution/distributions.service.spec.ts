import type { CardType } from '../catalog/product.entity';
import { DataCipher } from '../common/crypto/data-cipher.service';
import { ApiError } from '../common/errors/api-error';
import type { AppConfig } from '../config/app-config';
import type { EventsService } from '../events/events.service';
import type { ExportsRepository } from '../exports/exports.repository';
import type { BatchDto } from '../orders/dto/batch.dto';
import { OrderLifecycleHooks } from '../orders/order-lifecycle-hooks';
import type { OrderStatus } from '../orders/order-state';
import type { OrdersRepository } from '../orders/orders.repository';
import { serialFromSequence } from '../cards/card-code';
import { clientContext, expectApiError, FakeAudit, FakeTransactions } from '../../test/support/unit';
import { claimTokenHash } from './claim-token';
import type { AssignmentsAuditJob } from './assignments-audit.job';
import type { DistributionSenderService } from './distribution-sender.service';
import type { Distribution } from './distribution.entity';
import {
  ASSIGNMENTS_PER_AUDIT_RECORD,
  type CardPool,
  type DistributionRepository,
  type RecipientReservation,
  type ReservationOutcome,
  type ReservationTerms,
  type SerialInOrder,
} from './distribution.repository';
import { DistributionsService } from './distributions.service';
import { parseRealName, realNameEnvelopeContext } from './recipient-rows';

const ENTERPRISE = 'ent_01JDQ6ZK6Y8V3N2M4T5R7W9XAB';
const ORDER = 'ord_01JDQ6ZK6Y8V3N2M4T5R7W9XAB';
const REAL_NAME = { name: '张三', id_type: 'resident_id', id_number: '11010519491231002X', mobile: '13812345678' };
const KEYS = { DATA_ENCRYPTION_KEYS: `k1:${Buffer.alloc(32, 3).toString('base64')}` } as AppConfig;

/** The repository as the rules see it: pools and serials of one order, reservations remembered. */
class FakeDistributions {
  pools: CardPool[] = [];
  serials: SerialInOrder[] = [];
  live = false;
  reserved: Array<{ terms: ReservationTerms; recipients: readonly RecipientReservation[] }> = [];
  outcome: ReservationOutcome | null = null;
  inserted: Array<Omit<Distribution, 'createdAt'>> = [];

  cardPools = async () => this.pools;
  serialsInOrder = async (_ctx: unknown, _order: string, serials: readonly string[]) =>
    this.serials.filter((card) => serials.includes(card.serial));
  settingsOf = async () => null;
  insertDistribution = async (_ctx: unknown, distribution: Omit<Distribution, 'createdAt'>) => {
    this.inserted.push(distribution);
    return new Date();
  };
  orderHasLiveAssignments = async () => this.live;
  reserveCards = async (_ctx: unknown, terms: ReservationTerms, recipients: readonly RecipientReservation[]) => {
    this.reserved.push({ terms, recipients });
    return (
      this.outcome ?? {
        outcome: 'reserved' as const,
        count: recipients.length,
        channels: countBy(recipients.map((recipient) => recipient.channel)),
        // The digests of the statement's summaries: one per ASSIGNMENTS_PER_AUDIT_RECORD recipients (their content
        // is the repository's, tested against the database).
        assignmentDigests: Array.from(
          { length: Math.ceil(recipients.length / ASSIGNMENTS_PER_AUDIT_RECORD) },
          (_, chunk) => `sha256-of-chunk-${chunk}`,
        ),
      }
    );
  };
  /** The link recipients as the reservation would have written them (the fields the response shows). */
  linkRecipients = async () =>
    this.reserved.flatMap(({ recipients }) =>
      recipients
        .filter((recipient) => recipient.channel === 'link')
        .map((recipient) => ({
          ...recipient,
          distributionId: 'dst_1',
          design: 'classic',
          faceValue: recipient.faceValue ?? 10_000,
          cardSerial: 5_000,
          status: 'sent',
          attempts: 0,
          lastError: null,
          claimExpiresAt: new Date(),
          sentAt: new Date(),
          deliveredAt: null,
          viewedAt: null,
          claimedAt: null,
          boundAt: null,
          revokedAt: null,
          createdAt: new Date(),
        })),
    );
}

function setup(options: { status?: OrderStatus | null; exported?: boolean } = {}) {
  const distributions = new FakeDistributions();
  const status = options.status === undefined ? 'issued' : options.status;
  const orders = {
    lock: async () => (status === null ? null : { status }),
    linesOf: async () => [{ lineNo: 1, design: 'classic', greeting: null }],
  } as unknown as OrdersRepository;
  const exports = { exportExists: async () => options.exported ?? false } as unknown as ExportsRepository;
  const hooks = new OrderLifecycleHooks();
  hooks.readIssuanceWith(
    async (_ctx, orderIds) => new Map(orderIds.map((id) => [id, [{ id: 'bat_1', line_no: 1 } as BatchDto]])),
  );
  const transactions = new FakeTransactions();
  const events: Array<{ type: string; data: Record<string, unknown> }> = [];
  const audit = new FakeAudit();
  const woken: string[] = [];
  const sender = {
    wake: async (id: string) => {
      woken.push(id);
    },
  } as unknown as DistributionSenderService;
  const ctx = clientContext('cli_hr', ENTERPRISE, ['distributions:write']);
  /** The audit jobs enqueued, and whether the request's transaction was still open when each was. */
  const auditJobs: Array<{ id: string; duringTransaction: boolean }> = [];
  const assignmentsAudit = {
    enqueue: async (id: string) => {
      auditJobs.push({ id, duringTransaction: ctx.transaction !== undefined });
    },
  } as unknown as AssignmentsAuditJob;
  const cipher = new DataCipher(KEYS);
  const service = new DistributionsService(
    distributions as unknown as DistributionRepository,
    orders,
    exports,
    hooks,
    transactions.service,
    {
      record: async (_ctx: unknown, event: { type: string; data: Record<string, unknown> }) => events.push(event),
    } as unknown as EventsService,
    audit.service,
    cipher,
    { publicUrl: 'https://fuli.example/', DISTRIBUTION_SEND_BATCH: 100 } as AppConfig,
    sender,
    assignmentsAudit,
  );
  service.onModuleInit();
  return { service, distributions, hooks, events, audit, woken, auditJobs, cipher, ctx, transactions };
}

/** The ApiError `promise` rejects with. */
async function refusal(promise: Promise<unknown>): Promise<ApiError> {
  const thrown = await promise.then(
    () => null,
    (error: unknown) => error,
  );
  expect(thrown).toBeInstanceOf(ApiError);
  return thrown as ApiError;
}

const pool = (faceValue: number, cardType: CardType, free: number): CardPool => ({
  faceValue,
  cardType,
  total: free + 1,
  free,
});
const link = (employee_ref: string, extra: Record<string, unknown> = {}) => ({
  employee_ref,
  channel: 'link',
  face_value: 10_000,
  ...extra,
});

describe('DistributionsService.create', () => {
  it('takes recipients or a file, not both and not neither', async () => {
    const { service, ctx } = setup();
    await expectApiError(service.create(ctx, { order_id: ORDER }), 400, 'recipients_or_file_id');
    await expectApiError(
      service.create(ctx, { order_id: ORDER, recipients: [link('E1')], file_id: 'dfl_01JDQ6ZK6Y8V3N2M4T5R7W9XAB' }),
      400,
      'recipients_or_file_id',
    );
  });

  it.each<[string, Parameters<typeof setup>[0], number, string]>([
    ['an order of another enterprise (or none)', { status: null }, 404, 'resource_not_found'],
    ['an order not issued yet', { status: 'issuing' }, 409, 'order_not_issued'],
    ['an order whose codes were exported', { exported: true }, 422, 'order_exported'],
  ])('refuses %s', async (_, options, status, code) => {
    const { service, distributions, ctx } = setup(options);
    distributions.pools = [pool(10_000, 'anonymous', 5)];
    await expectApiError(service.create(ctx, { order_id: ORDER, recipients: [link('E1')] }), status, code);
    expect(distributions.reserved).toHaveLength(0);
  });

  it('reports the rows the order cannot serve, all of them, and reserves nothing', async () => {
    const { service, distributions, ctx } = setup();
    const mine = serialFromSequence(7);
    const taken = serialFromSequence(8);
    distributions.pools = [pool(10_000, 'anonymous', 5), pool(100_000, 'registered', 2)];
    distributions.serials = [
      { serial: mine, faceValue: 10_000, cardType: 'anonymous', free: true },
      { serial: taken, faceValue: 10_000, cardType: 'anonymous', free: false },
    ];
    const error = await refusal(
      service.create(ctx, {
        order_id: ORDER,
        recipients: [
          link('E1'),
          link('E2', { face_value: 20_000 }),
          link('E3', { face_value: 100_000 }),
          link('E4', { face_value: undefined, serial: serialFromSequence(9) }),
          link('E5', { face_value: undefined, serial: taken }),
          link('E6', { face_value: undefined, serial: mine }),
        ],
      }),
    );
    expect(error.code).toBe('invalid_recipients');
    const errors = error.extra.errors as Array<{ row: number; code: string }>;
    expect(errors.map((e) => [e.row, e.code])).toEqual([
      [2, 'face_value_not_in_order'],
      [3, 'real_name_required'],
      [4, 'serial_not_in_order'],
      [5, 'serial_not_available'],
    ]);
    expect(distributions.reserved).toHaveLength(0);
    expect(distributions.inserted).toEqual([]);
  });

  it('answers real_name_required alone when that is all that is wrong', async () => {
    const { service, distributions, ctx } = setup();
    distributions.pools = [pool(100_000, 'registered', 2)];
    await expectApiError(
      service.create(ctx, { order_id: ORDER, recipients: [link('E1', { face_value: 100_000 })] }),
      422,
      'real_name_required',
    );
  });

  it('counts requested against free cards per face value and card type', async () => {
    const { service, distributions, ctx } = setup();
    distributions.pools = [pool(10_000, 'anonymous', 1), pool(50_000, 'anonymous', 4)];
    const error = await refusal(
      service.create(ctx, {
        order_id: ORDER,
        recipients: [link('E1'), link('E2'), link('E3', { face_value: 50_000 })],
      }),
    );
    expect(error.code).toBe('insufficient_cards');
    expect(error.extra.cards).toEqual([
      { face_value: 10_000, card_type: 'anonymous', requested: 2, free: 1 },
      { face_value: 50_000, card_type: 'anonymous', requested: 1, free: 4 },
    ]);
    expect(distributions.reserved).toHaveLength(0);
  });

  it('explains a reservation that found too few cards after all, and a card taken under it', async () => {
    const { service, distributions, ctx } = setup();
    distributions.pools = [pool(10_000, 'anonymous', 3)];
    distributions.outcome = { outcome: 'insufficient' };
    await expectApiError(service.create(ctx, { order_id: ORDER, recipients: [link('E1')] }), 422, 'insufficient_cards');
    distributions.outcome = { outcome: 'card_taken' };
    await expectApiError(
      service.create(ctx, { order_id: ORDER, recipients: [link('E1')] }),
      409,
      'card_assignment_conflict',
    );
  });

  it('gives a registered card to a recipient with a real name, seals it to the recipient, and masks it', async () => {
    const { service, distributions, cipher, ctx } = setup();
    distributions.pools = [pool(10_000, 'anonymous', 3), pool(10_000, 'registered', 3)];
    const created = await service.create(ctx, {
      order_id: ORDER,
      recipients: [link('E1', { real_name: REAL_NAME }), link('E2')],
    });
    const [{ recipients }] = distributions.reserved;
    expect(recipients.map((r) => r.cardType)).toEqual(['registered', 'anonymous']);
    const sealed = recipients[0].realNameSealed!;
    expect(sealed).not.toContain(REAL_NAME.id_number);
    expect(parseRealName(cipher.decrypt(sealed, realNameEnvelopeContext(recipients[0].id)))).toEqual({
      ...REAL_NAME,
      mobile: '+8613812345678',
    });
    expect(recipients[1].realNameSealed).toBeNull();
    expect(created.link_recipients[0].real_name).toMatchObject({ name: '张*', id_number: '110***********002X' });
  });

  it('hands a link recipient its claim URL once, stores only the hash, and wakes sending after commit', async () => {
    const { service, distributions, events, audit, woken, ctx } = setup();
    distributions.pools = [pool(10_000, 'anonymous', 5)];
    const created = await service.create(ctx, {
      order_id: ORDER,
      recipients: [link('E1'), { employee_ref: 'E2', channel: 'email', email: 'e2@example.com', face_value: 10_000 }],
    });
    expect(created).toMatchObject({ status: 'sending', recipient_count: 2, counts: { sent: 1, queued: 1 } });
    const [url] = created.link_recipients.map((recipient) => recipient.claim_url);
    const token = /^https:\/\/fuli\.example\/claim\/([A-Za-z0-9_-]{43})$/.exec(url)![1];
    const [{ recipients, terms }] = distributions.reserved;
    expect(recipients[0].claimTokenHash!.equals(claimTokenHash(token))).toBe(true);
    expect(recipients[1].claimTokenHash).toBeNull();
    expect(terms.status).toBe('queued');
    expect(woken).toEqual([created.id]);
    expect(events).toEqual([expect.objectContaining({ type: 'distribution.created' })]);
    expect(JSON.stringify(events)).not.toContain(token);
    expect(JSON.stringify(audit.entries)).not.toContain(token);
    expect(audit.inTransaction.every(Boolean)).toBe(true);
  });

  it('schedules a distribution whose send_at is in the future', async () => {
    const { service, distributions, ctx } = setup();
    distributions.pools = [pool(10_000, 'anonymous', 5)];
    const sendAt = new Date(Date.now() + 3_600_000).toISOString();
    const created = await service.create(ctx, {
      order_id: ORDER,
      recipients: [{ employee_ref: 'E1', channel: 'sms', mobile: '13812345678', face_value: 10_000 }],
      send_at: sendAt,
    });
    expect(created).toMatchObject({ status: 'scheduled', send_at: sendAt, started_at: null, counts: { scheduled: 1 } });
    expect(distributions.reserved[0].terms).toMatchObject({ status: 'scheduled', nextAttemptAt: new Date(sendAt) });
  });

  it('audits the distribution with the digests of its assignments, and enqueues their summaries after commit', async () => {
    const { service, distributions, audit, auditJobs, ctx } = setup();
    distributions.pools = [pool(10_000, 'anonymous', 2_000)];
    const recipients = Array.from({ length: ASSIGNMENTS_PER_AUDIT_RECORD * 2 + 1 }, (_, i) => link(`E${i}`));
    const created = await service.create(ctx, { order_id: ORDER, recipients });
    expect(audit.actions()).toEqual(['distribution.created']);
    expect(audit.inTransaction).toEqual([true]);
    expect(audit.entries[0].summary).toEqual({
      order_id: ORDER,
      recipient_count: 1_001,
      file_id: null,
      send_at: created.send_at,
      assignment_records: 3,
      assignment_sha256: ['sha256-of-chunk-0', 'sha256-of-chunk-1', 'sha256-of-chunk-2'],
    });
    // The distribution names the record that commits the digests; the job that writes the summaries comes after.
    expect(distributions.inserted).toEqual([expect.objectContaining({ id: created.id, assignmentsAuditId: 'aud_0' })]);
    expect(auditJobs).toEqual([{ id: created.id, duringTransaction: false }]);
  });

  it('enqueues no audit job when the reservation fails', async () => {
    const { service, distributions, audit, auditJobs, ctx } = setup();
    distributions.pools = [pool(10_000, 'anonymous', 5)];
    distributions.outcome = { outcome: 'card_taken' };
    await expectApiError(
      service.create(ctx, { order_id: ORDER, recipients: [link('E1')] }),
      409,
      'card_assignment_conflict',
    );
    expect(audit.entries).toEqual([]);
    expect(distributions.inserted).toEqual([]);
    expect(auditJobs).toEqual([]);
  });

  it('refuses exports of an order with live assignments (the guard it registers)', async () => {
    const { hooks, distributions, ctx } = setup();
    await expect(hooks.beforeExport(ctx, ORDER)).resolves.toBeUndefined();
    distributions.live = true;
    await expectApiError(hooks.beforeExport(ctx, ORDER), 409, 'order_distributed');
  });
});

function countBy<T extends string>(values: readonly T[]): Partial<Record<T, number>> {
  const counts: Partial<Record<T, number>> = {};
  for (const value of values) counts[value] = (counts[value] ?? 0) + 1;
  return counts;
}
