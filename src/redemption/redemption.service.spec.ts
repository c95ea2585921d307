import type { AuditService } from '../audit/audit.service';
import type { CardMovements } from '../cards/card-movements';
import type { CardRow, CardsRepository } from '../cards/cards.repository';
import { RequestContext } from '../common/context/request-context';
import type { DataCipher } from '../common/crypto/data-cipher.service';
import { ApiError } from '../common/errors/api-error';
import type { AppConfig } from '../config/app-config';
import type { TransactionService } from '../database/transaction.service';
import { serialFromSequence } from '../cards/card-code';
import type { CardSecrets } from '../cards/card-secrets';
import type { OrdersRepository } from '../orders/orders.repository';
import type { AttemptLimiter } from './attempt-limiter';
import type { RedemptionDto } from './dto/redemption.dto';
import {
  ReferenceTaken,
  type HolderDebitStatement,
  type RedemptionRepository,
  type SerialDebitStatement,
  type StoredRedemption,
} from './redemption.repository';
import type { RiskService } from '../risk/risk.service';
import type { PaymentCodeKeys } from './payment-code-keys';
import { RedemptionService } from './redemption.service';
import { cardRow } from '../../test/support/unit';

const CLIENT = 'cli_channel';
const ENTERPRISE = 'ent_1';
const [SERIAL, OTHER, THIRD] = [1, 2, 3].map((n) => serialFromSequence(BigInt(n)));

function card(overrides: Partial<CardRow> = {}): CardRow {
  return cardRow({
    serial: SERIAL,
    enterpriseId: ENTERPRISE,
    holderRef: 'holder',
    boundClientId: CLIENT,
    ...overrides,
  });
}

/** Hand-written fakes of the repositories and collaborators: what the service asks of them, nothing more. */
class FakeCards {
  rows = new Map<string, CardRow>();
  reads = 0;
  async bySerial(_ctx: RequestContext, serial: string): Promise<CardRow | null> {
    this.reads++;
    return this.rows.get(serial) ?? null;
  }
  async lockHolderCards(_ctx: RequestContext, clientId: string, holderRef: string): Promise<CardRow[]> {
    return [...this.rows.values()].filter(
      (row) => row.boundClientId === clientId && row.holderRef === holderRef && row.status === 'active',
    );
  }
}

class FakeRedemptions {
  stored = new Map<string, StoredRedemption>();
  serialDebits: SerialDebitStatement[] = [];
  holderDebits: HolderDebitStatement[] = [];
  outcome: 'debited' | 'refused' | 'duplicate' = 'debited';
  holderTaken = false;
  async byReference(_ctx: RequestContext, _clientId: string, reference: string) {
    return this.stored.get(reference) ?? null;
  }
  async debitBySerial(_ctx: RequestContext, statement: SerialDebitStatement) {
    this.serialDebits.push(statement);
    if (this.outcome !== 'debited') return { outcome: this.outcome };
    return {
      outcome: 'debited' as const,
      balance: 10_000 - statement.debit.amount,
      status: 'active' as const,
      response: {} as RedemptionDto,
      auditId: 'aud_1',
    };
  }
  async debitHolder(_ctx: RequestContext, statement: HolderDebitStatement) {
    this.holderDebits.push(statement);
    if (this.holderTaken) throw new ReferenceTaken('taken');
    return { auditId: 'aud_2' };
  }
}

function setup() {
  const cards = new FakeCards();
  const redemptions = new FakeRedemptions();
  const sealed: string[] = [];
  const transactions = { run: (_ctx: RequestContext, work: () => Promise<unknown>) => work() };
  const audit = { sealThrough: async () => sealed.push('sealed') };
  const service = new RedemptionService(
    transactions as unknown as TransactionService,
    {} as CardSecrets,
    {} as DataCipher,
    {} as AttemptLimiter,
    {} as CardMovements,
    cards as unknown as CardsRepository,
    redemptions as unknown as RedemptionRepository,
    {} as OrdersRepository,
    audit as unknown as AuditService,
    { REDEMPTION_CARD_PIN_FAILURE_LIMIT: 5 } as AppConfig,
    {} as PaymentCodeKeys,
    // Fraud rules off: these tests are about the debit's own statement and refusals.
    {
      rule: async () => ({
        rule: 'debits_per_card_minute',
        enabled: false,
        threshold: 1,
        action: 'flag',
        windowSeconds: 60,
      }),
      hits: () => [],
      raise: async () => undefined,
    } as unknown as RiskService,
  );
  const ctx = new RequestContext('req_1', { clientId: CLIENT, enterpriseId: null, scopes: new Set() });
  return { service, cards, redemptions, sealed, ctx };
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

describe('RedemptionService.debit by serial', () => {
  it('sends one statement naming the card, its enterprise, the posting and the audit record, then seals', async () => {
    const { service, cards, redemptions, sealed, ctx } = setup();
    cards.rows.set(SERIAL, card());
    const answer = await service.debit(ctx, { serial: SERIAL, holder_ref: 'holder', amount: 2_500, reference: 'r1' });
    expect(answer).toMatchObject({
      object: 'redemption',
      kind: 'debit',
      amount: 2_500,
      cards: [{ serial: SERIAL, amount: -2_500, balance_after: 7_500, status: 'active' }],
    });
    const [statement] = redemptions.serialDebits;
    expect(statement.debit).toMatchObject({
      serial: SERIAL,
      amount: 2_500,
      clientId: CLIENT,
      enterpriseId: ENTERPRISE,
    });
    expect(statement.posting.lines).toEqual([
      { account: 'card_float', amount: 2_500 },
      { account: 'revenue_redeemed', amount: -2_500 },
    ]);
    expect(statement.audit).toMatchObject({
      action: 'card.debited',
      objectType: 'redemption',
      enterpriseId: ENTERPRISE,
    });
    expect(statement.event.data).not.toHaveProperty('balance_after');
    expect(sealed).toEqual(['sealed']);
  });

  it('reads a card it has not seen once, to name its enterprise; then remembers it', async () => {
    const { service, cards, ctx } = setup();
    cards.rows.set(SERIAL, card());
    await service.debit(ctx, { serial: SERIAL, holder_ref: 'holder', amount: 1, reference: 'a' });
    await service.debit(ctx, { serial: SERIAL, holder_ref: 'holder', amount: 1, reference: 'b' });
    expect(cards.reads).toBe(1);
  });

  it('answers a duplicate reference from the stored redemption, and refuses one used for another request', async () => {
    const { service, cards, redemptions, ctx } = setup();
    cards.rows.set(SERIAL, card());
    const body = { serial: SERIAL, holder_ref: 'holder', amount: 100, reference: 'dup' };
    await service.debit(ctx, body);
    const first = redemptions.serialDebits[0];
    redemptions.outcome = 'duplicate';
    redemptions.stored.set('dup', {
      id: first.redemption.id,
      fingerprint: first.redemption.fingerprint,
      response: { ...first.redemption.response, cards: [] },
      reversedAmount: 40,
    });
    expect(await service.debit(ctx, body)).toMatchObject({ id: first.redemption.id, reversed_amount: 40 });
    const reused = await refusal(service.debit(ctx, { ...body, amount: 101 }));
    expect(reused.code).toBe('reference_reused');
  });

  it.each([
    ['another channel', card({ boundClientId: 'cli_other' }), 'card_not_found'],
    ['another holder', card({ holderRef: 'someone' }), 'card_holder_mismatch'],
    ['a frozen card', card({ status: 'frozen', frozenFrom: 'active' }), 'card_frozen'],
    ['a card past expiry', card({ expiresAt: new Date(Date.now() - 1_000) }), 'card_expired'],
    ['a short balance', card({ balance: 50 }), 'insufficient_balance'],
  ])('explains a refusal: %s', async (_what, row, code) => {
    const { service, cards, redemptions, sealed, ctx } = setup();
    cards.rows.set(SERIAL, row);
    redemptions.outcome = 'refused';
    const refused = await refusal(
      service.debit(ctx, { serial: SERIAL, holder_ref: 'holder', amount: 100, reference: 'x' }),
    );
    expect(refused.code).toBe(code);
    expect(sealed).toEqual([]);
  });

  it('refuses a card that does not exist without sending the debit', async () => {
    const { service, redemptions, ctx } = setup();
    const refused = await refusal(service.debit(ctx, { serial: SERIAL, holder_ref: 'h', amount: 1, reference: 'n' }));
    expect(refused.code).toBe('card_not_found');
    expect(redemptions.serialDebits).toEqual([]);
  });
});

describe("RedemptionService.debit of a holder's cards", () => {
  it('spends the soonest-expiring card first, each down to zero before the next, in one write statement', async () => {
    const { service, cards, redemptions, sealed, ctx } = setup();
    const soon = new Date(Date.now() + 86_400_000);
    const later = new Date(Date.now() + 2 * 86_400_000);
    cards.rows.set(SERIAL, card({ serial: SERIAL, balance: 3_000, expiresAt: later }));
    cards.rows.set(OTHER, card({ serial: OTHER, balance: 2_000, expiresAt: soon }));
    cards.rows.set(THIRD, card({ serial: THIRD, balance: 9_000, expiresAt: null }));
    const answer = await service.debit(ctx, { holder_ref: 'holder', amount: 4_000, reference: 'h1' });
    expect(answer.cards).toEqual([
      { serial: OTHER, amount: -2_000, balance_after: 0, status: 'exhausted' },
      { serial: SERIAL, amount: -2_000, balance_after: 1_000, status: 'active' },
    ]);
    const [statement] = redemptions.holderDebits;
    expect(statement.legs).toEqual([
      { serial: OTHER, from: 'active', balance: 0, status: 'exhausted' },
      { serial: SERIAL, from: 'active', balance: 1_000, status: 'active' },
    ]);
    expect(statement.events).toHaveLength(2);
    expect(statement.redemption.response).toEqual(answer);
    expect(sealed).toEqual(['sealed']);
  });

  it('refuses a holder without cards, or without enough on them', async () => {
    const { service, cards, ctx } = setup();
    expect((await refusal(service.debit(ctx, { holder_ref: 'nobody', amount: 1, reference: 'e' }))).code).toBe(
      'holder_has_no_cards',
    );
    cards.rows.set(SERIAL, card({ balance: 100 }));
    expect((await refusal(service.debit(ctx, { holder_ref: 'holder', amount: 101, reference: 'f' }))).code).toBe(
      'insufficient_balance',
    );
  });

  it('answers from the stored redemption when the reference was taken meanwhile', async () => {
    const { service, cards, redemptions, ctx } = setup();
    cards.rows.set(SERIAL, card());
    redemptions.holderTaken = true;
    const body = { holder_ref: 'holder', amount: 10, reference: 'taken' };
    const stored = { object: 'redemption', id: 'rdm_stored', kind: 'debit' } as RedemptionDto;
    const fingerprint = await (async () => {
      await service.debit(ctx, body).catch(() => undefined);
      return redemptions.holderDebits[0].redemption.fingerprint;
    })();
    redemptions.stored.set('taken', { id: 'rdm_stored', fingerprint, response: stored, reversedAmount: 0 });
    expect(await service.debit(ctx, body)).toMatchObject({ id: 'rdm_stored' });
  });
});
