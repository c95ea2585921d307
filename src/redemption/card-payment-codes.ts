import { Injectable } from '@nestjs/common';
import { isValidSerial } from '../cards/card-code';
import { CardErrors } from '../cards/card-errors';
import { isPastExpiry } from '../cards/card-movements';
import { CardsRepository } from '../cards/cards.repository';
import type { RequestContext } from '../common/context/request-context';
import { AppConfig } from '../config/app-config';
import type { PaymentCodeDto } from './dto/redemption.dto';
import { PaymentCodeKeys, paymentCodeAnswer } from './payment-code-keys';

/** A card's payment code as its holder is shown it away from the channel, with what the card has left. */
export interface CardPaymentCode extends PaymentCodeDto {
  /** fen */
  balance: number;
}

/**
 * Payment codes of a bound card for a place other than its channel's own app: the distribution claim page (README,
 * "The claim page"). The code is the one `POST /v1/redemptions/payment-codes` gives the channel for the same card and
 * holder (the same key: docs/decisions/0010), so the channel's POS debits it with `payment_code` as it debits any.
 * The caller has established who may see it (the claim link's holder); this says whether the card can pay.
 */
@Injectable()
export class CardPaymentCodes {
  constructor(
    private readonly cards: CardsRepository,
    private readonly keys: PaymentCodeKeys,
    private readonly config: AppConfig,
  ) {}

  /**
   * The current code of a card bound to a holder at a channel. Refused, each with its own code: a card no channel
   * bound (`409 card_not_bound`), a frozen one (`409 card_frozen`), one past its expiry (`422 card_expired`), one
   * that is gone (`card_voided`, `card_lost`, …) and one with nothing left (`422 card_has_no_value`).
   */
  async forBoundCard(ctx: RequestContext, serial: string): Promise<CardPaymentCode> {
    const card = isValidSerial(serial) ? await this.cards.bySerial(ctx, serial) : null;
    if (!card) throw CardErrors.notFound(serial);
    const refusal = CardErrors.unusable(card.serial, card.status);
    if (refusal) throw refusal;
    if (isPastExpiry(card)) throw CardErrors.unusable(card.serial, 'expired')!;
    if (card.holderRef === null || card.boundClientId === null) throw CardErrors.notBound(card.serial);
    if (card.status === 'exhausted' || card.balance === 0) throw CardErrors.noBalanceToPay(card.serial);
    const key = await this.keys.keyOf(ctx, {
      clientId: card.boundClientId,
      holderRef: card.holderRef,
      serial: card.serial,
    });
    return { ...paymentCodeAnswer(key, this.config.PAYMENT_CODE_WINDOW_SECONDS), balance: card.balance };
  }
}
