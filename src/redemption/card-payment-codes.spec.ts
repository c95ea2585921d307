import { randomBytes } from 'node:crypto';
import { serialFromSequence } from '../cards/card-code';
import type { CardRow, CardsRepository } from '../cards/cards.repository';
import { RequestContext } from '../common/context/request-context';
import { ApiError } from '../common/errors/api-error';
import type { AppConfig } from '../config/app-config';
import { CardPaymentCodes } from './card-payment-codes';
import { matchPaymentCode, parsePaymentCode, paymentCodeStep } from './payment-code';
import type { OpenPaymentCodeKey, PaymentCodeKeys } from './payment-code-keys';
import { cardRow } from '../../test/support/unit';

const SERIAL = serialFromSequence(7n);
const WINDOW_SECONDS = 60;

function card(overrides: Partial<CardRow> = {}): CardRow {
  return cardRow({ serial: SERIAL, balance: 6_000, holderRef: 'alice', boundClientId: 'cli_wallet', ...overrides });
}

/** Hand-written fakes: the card as the cards module reads it, and the keys as PaymentCodeKeys opens them. */
class FakeCards {
  row: CardRow | null = card();
  async bySerial(): Promise<CardRow | null> {
    return this.row;
  }
}

class FakeKeys {
  readonly asked: Array<{ clientId: string; holderRef: string; serial: string | null }> = [];
  readonly key: OpenPaymentCodeKey = {
    number: 412_345_678,
    clientId: 'cli_wallet',
    holderRef: 'alice',
    serial: SERIAL,
    secret: randomBytes(32),
    uses: 3,
  };
  async keyOf(
    _ctx: RequestContext,
    subject: { clientId: string; holderRef: string; serial: string | null },
  ): Promise<OpenPaymentCodeKey> {
    this.asked.push(subject);
    return this.key;
  }
}

describe('CardPaymentCodes', () => {
  const ctx = new RequestContext('req_1', null);
  let cards: FakeCards;
  let keys: FakeKeys;
  let codes: CardPaymentCodes;

  beforeEach(() => {
    cards = new FakeCards();
    keys = new FakeKeys();
    codes = new CardPaymentCodes(
      cards as unknown as CardsRepository,
      keys as unknown as PaymentCodeKeys,
      { PAYMENT_CODE_WINDOW_SECONDS: WINDOW_SECONDS } as AppConfig,
    );
  });

  const refusal = async (row: CardRow) => {
    cards.row = row;
    const error = await codes.forBoundCard(ctx, SERIAL).then(
      () => null,
      (thrown: unknown) => thrown,
    );
    expect(error).toBeInstanceOf(ApiError);
    return { status: (error as ApiError).getStatus(), code: (error as ApiError).code };
  };

  it("answers the current code of the key of the card at the channel that bound it, for the holder it is bound to, with the card's balance", async () => {
    const answer = await codes.forBoundCard(ctx, SERIAL);
    expect(keys.asked).toEqual([{ clientId: 'cli_wallet', holderRef: 'alice', serial: SERIAL }]);
    expect(answer).toMatchObject({ object: 'payment_code', serial: SERIAL, holder_ref: 'alice', balance: 6_000 });
    const parsed = parsePaymentCode(answer.code)!;
    expect(parsed.keyNumber).toBe(keys.key.number);
    // The code the debit accepts now: this key's, for its count of uses, in this window.
    const step = paymentCodeStep(Date.now(), WINDOW_SECONDS);
    expect(matchPaymentCode(keys.key.secret, parsed.otp, keys.key.uses, step)).not.toBeNull();
    expect(answer.qr_payload).toBe(answer.code);
    expect(Date.parse(answer.expires_at) - Date.parse(answer.refresh_at)).toBe(WINDOW_SECONDS * 1000);
  });

  it('refuses a card in no account, frozen, expired, gone or used up, each with its code, and makes no key for it', async () => {
    expect(await refusal(card({ holderRef: null, boundClientId: null, status: 'issued' }))).toEqual({
      status: 409,
      code: 'card_not_bound',
    });
    expect(await refusal(card({ status: 'frozen', frozenFrom: 'active' }))).toEqual({
      status: 409,
      code: 'card_frozen',
    });
    expect(await refusal(card({ expiresAt: new Date(Date.now() - 1000) }))).toEqual({
      status: 422,
      code: 'card_expired',
    });
    expect(await refusal(card({ status: 'lost' }))).toEqual({ status: 422, code: 'card_lost' });
    expect(await refusal(card({ status: 'exhausted', balance: 0 }))).toEqual({
      status: 422,
      code: 'card_has_no_value',
    });
    cards.row = null;
    await expect(codes.forBoundCard(ctx, SERIAL)).rejects.toMatchObject({ code: 'card_not_found' });
    expect(keys.asked).toEqual([]);
  });
});
