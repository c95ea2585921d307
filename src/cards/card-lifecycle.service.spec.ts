import { RequestContext } from '../common/context/request-context';
import { CardLifecycleHooks } from './card-lifecycle-hooks';
import { ApiError } from '../common/errors/api-error';
import type { AppConfig } from '../config/app-config';
import type { TransactionService } from '../database/transaction.service';
import { serialFromSequence } from './card-code';
import type { CardSecrets } from './card-secrets';
import type { LedgerPosting } from '../ledger/ledger-posting';
import type { LedgerService } from '../ledger/ledger.service';
import type { OrdersRepository } from '../orders/orders.repository';
import type { QueueService } from '../queue/queue.service';
import { CardLifecycleService } from './card-lifecycle.service';
import type { CardMovement, CardMovements } from './card-movements';
import type { Card } from './card.entity';
import type { CardRow, CardsRepository, CardStatusChange } from './cards.repository';
import { cardRow } from '../../test/support/unit';

const ENTERPRISE = 'ent_1';
const [SERIAL, NEXT] = [1, 2].map((n) => serialFromSequence(BigInt(n)));

function card(overrides: Partial<CardRow> = {}): CardRow {
  return cardRow({
    serial: SERIAL,
    enterpriseId: ENTERPRISE,
    cardType: 'registered',
    balance: 4_000,
    holderRef: 'holder',
    boundClientId: 'cli_channel',
    ...overrides,
  });
}

/** A fake of the cards repository: rows in a map, every change applied as the SQL would and remembered. */
class FakeCardsRepository {
  rows = new Map<string, CardRow>();
  changes: Array<{ serial: string } & CardStatusChange> = [];
  inserted: string[] = [];
  async reserve() {
    return 2n;
  }
  async bySerial(_ctx: RequestContext, serial: string) {
    return this.rows.get(serial) ?? null;
  }
  async lockSerials(_ctx: RequestContext, serials: readonly string[]) {
    return serials.flatMap((serial) => this.rows.get(serial) ?? []);
  }
  async changeStatus(_ctx: RequestContext, serial: string, change: CardStatusChange) {
    this.changes.push({ serial, ...change });
    const row = this.rows.get(serial)!;
    this.rows.set(serial, {
      ...row,
      status: change.to,
      frozenFrom: change.to === 'frozen' ? change.from : null,
      balance: change.balance ?? row.balance,
    });
  }
  async voidCards(_ctx: RequestContext, serials: readonly string[]) {
    for (const serial of serials) {
      this.rows.set(serial, { ...this.rows.get(serial)!, status: 'voided', balance: 0, frozenFrom: null });
    }
  }
  async expiredValue() {
    return 0;
  }
  async insertCard(_ctx: RequestContext, row: { serial: string }) {
    this.inserted.push(row.serial);
    this.rows.set(row.serial, card({ ...(row as Partial<CardRow>), serial: row.serial }));
  }
  async entity(_ctx: RequestContext, serial: string) {
    const row = this.rows.get(serial)!;
    return { ...row, serial: Number(row.serial), issuedAt: new Date(), replacedBy: null } as unknown as Card;
  }
  async entities(ctx: RequestContext, serials: readonly string[]) {
    return Promise.all(serials.map((serial) => this.entity(ctx, serial)));
  }
}

function setup() {
  const repository = new FakeCardsRepository();
  const recorded: Array<{ movements: readonly CardMovement[]; entry?: LedgerPosting }> = [];
  const movements = {
    record: async (_ctx: RequestContext, list: readonly CardMovement[], entry?: LedgerPosting) => {
      recorded.push({ movements: list, entry });
    },
  };
  const ledger = {
    lockEnterpriseFunds: async () => undefined,
    orderBalance: async () => 0,
    creditUsed: async () => 0,
  };
  const service = new CardLifecycleService(
    { run: (_ctx: RequestContext, work: () => Promise<unknown>) => work() } as unknown as TransactionService,
    { ANONYMOUS_MIN_VALIDITY_MONTHS: 36 } as AppConfig,
    {
      blindIndex: () => Buffer.alloc(32),
      seal: () => 'sealed',
      pinDigest: () => Buffer.alloc(32),
      blindIndexKeyId: 'p1',
    } as unknown as CardSecrets,
    movements as unknown as CardMovements,
    repository as unknown as CardsRepository,
    { discountsBps: async () => new Map([['ord_1', 0]]) } as unknown as OrdersRepository,
    { isWorker: false } as QueueService,
    ledger as unknown as LedgerService,
    new CardLifecycleHooks(),
  );
  const ctx = new RequestContext('req_1', { clientId: 'cli_hr', enterpriseId: ENTERPRISE, scopes: new Set() });
  return { service, repository, recorded, ctx };
}

async function refusal(promise: Promise<unknown>): Promise<ApiError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof ApiError) return error;
    throw error;
  }
  throw new Error('expected a refusal');
}

describe('CardLifecycleService', () => {
  it('freezes a live card remembering its status, and unfreezes it back to that status', async () => {
    const { service, repository, recorded, ctx } = setup();
    repository.rows.set(SERIAL, card({ status: 'exhausted', balance: 0 }));
    await service.freeze(ctx, SERIAL, 'holder called');
    expect(repository.changes[0]).toMatchObject({ from: 'exhausted', to: 'frozen' });
    await service.unfreeze(ctx, SERIAL);
    expect(repository.changes[1]).toMatchObject({ from: 'frozen', to: 'exhausted', resetPinFailures: true });
    expect(recorded.map((call) => call.movements[0].kind)).toEqual(['freeze', 'unfreeze']);
  });

  it("refuses another enterprise's card as if it did not exist", async () => {
    const { service, repository, ctx } = setup();
    repository.rows.set(SERIAL, card({ enterpriseId: 'ent_other' }));
    expect((await refusal(service.freeze(ctx, SERIAL))).code).toBe('card_not_found');
    expect(repository.changes).toEqual([]);
  });

  it('refunds a registered card with value: balance to card_refunds_payable', async () => {
    const { service, repository, recorded, ctx } = setup();
    repository.rows.set(SERIAL, card());
    const answer = await service.refund(ctx, SERIAL);
    expect(answer).toMatchObject({ status: 'refunded', balance: 0 });
    expect(repository.changes[0]).toMatchObject({ from: 'active', to: 'refunded', balance: 0 });
    expect(recorded[0].entry?.lines).toEqual([
      { account: 'card_float', amount: 4_000 },
      { account: 'card_refunds_payable', amount: -4_000 },
    ]);
  });

  it.each([
    ['refund', card({ cardType: 'anonymous' }), 'anonymous_card_not_refundable'],
    ['refund', card({ status: 'voided', balance: 0 }), 'card_voided'],
    ['reportLoss', card({ cardType: 'anonymous' }), 'anonymous_card_not_reportable'],
    ['freeze', card({ status: 'lost', balance: 0 }), 'card_lost'],
  ] as const)('refuses %s of an ineligible card (%#)', async (action, row, code) => {
    const { service, repository, ctx } = setup();
    repository.rows.set(SERIAL, row);
    expect((await refusal(service[action](ctx, SERIAL))).code).toBe(code);
    expect(repository.changes).toEqual([]);
  });

  it('replaces a lost card: the new card carries the balance and the holder, the old one is lost', async () => {
    const { service, repository, recorded, ctx } = setup();
    repository.rows.set(SERIAL, card());
    const answer = await service.reportLoss(ctx, SERIAL);
    expect(repository.inserted).toEqual([NEXT]);
    expect(repository.changes[0]).toMatchObject({ from: 'active', to: 'lost', balance: 0, replacedBy: NEXT });
    expect(answer.replacement).toMatchObject({ serial: NEXT });
    expect(recorded[0].movements.map((movement) => [movement.kind, movement.amount])).toEqual([
      ['lost', -4_000],
      ['replacement', 4_000],
    ]);
  });

  it('voids unused cards only, all or none', async () => {
    const { service, repository, recorded, ctx } = setup();
    repository.rows.set(SERIAL, card({ status: 'issued', holderRef: null, boundClientId: null, balance: 10_000 }));
    repository.rows.set(NEXT, card({ serial: NEXT, status: 'active', balance: 10_000 }));
    expect((await refusal(service.voidCards(ctx, [SERIAL, NEXT]))).code).toBe('card_not_unused');
    expect(repository.rows.get(SERIAL)?.status).toBe('issued');
    const voided = await service.voidCards(ctx, [SERIAL]);
    expect(voided).toMatchObject({ voided: 1, refunded_to_prepaid: 10_000, refunded_to_credit: 0 });
    expect(recorded[0].entry?.lines).toEqual([
      { account: 'card_float', amount: 10_000 },
      { account: 'prepaid', amount: -10_000, enterpriseId: ENTERPRISE },
    ]);
  });
});
