import { ApiError } from '../common/errors/api-error';
import type { CardStatus } from './card.entity';

/**
 * The refusals of the redemption and lifecycle API, each with its own machine-readable code. None names a card
 * code or PIN; a serial is shown only once the caller has proved it holds the card (code and PIN) or owns it.
 */
export const CardErrors = {
  /** Wrong length, a character outside the alphabet, or a wrong check character: refused before any lookup. */
  invalidCode: () =>
    ApiError.badRequest('invalid_card_code', 'This is not a card code: check its 16 characters and try again'),

  /** The same answer for an unknown code and a wrong PIN, so that neither tells a guesser anything. */
  invalidCredentials: () => ApiError.unprocessable('invalid_card_credentials', 'The card code or PIN is not correct'),

  /**
   * No such card for this caller: also another tenant's card, and a card that another redemption channel bound (or
   * no channel yet, for a channel naming it by serial), so that an answer never tells such a card exists. Without a
   * serial (a card found by its code), none is shown.
   */
  notFound: (serial?: string) =>
    new ApiError(404, 'card_not_found', serial === undefined ? 'No such card' : `No card with serial '${serial}'`),

  alreadyBound: (serial: string) =>
    ApiError.conflict('card_already_bound', `Card ${serial} is already bound to another holder`, { serial }),

  /** A payment code is for a card in a holder's account at a channel: an unbound card has none. */
  notBound: (serial: string) =>
    ApiError.conflict('card_not_bound', `Card ${serial} is not bound to a holder account yet`, { serial }),

  /** An exhausted card (balance 0): nothing to pay with. */
  noBalanceToPay: (serial: string) =>
    ApiError.unprocessable('card_has_no_value', `Card ${serial} has no balance left to pay with`, { serial }),

  holderIdentityRequired: (serial: string) =>
    ApiError.unprocessable(
      'holder_identity_required',
      `Card ${serial} is a registered card: binding it needs the holder's identity`,
      { serial },
    ),

  holderIdentityMismatch: (serial: string) =>
    ApiError.unprocessable(
      'holder_identity_mismatch',
      `The identity given does not match the real-name data of card ${serial}`,
      { serial },
    ),

  holderMismatch: (serial: string) =>
    ApiError.unprocessable('card_holder_mismatch', `Card ${serial} is not bound to this holder account`, { serial }),

  insufficientBalance: (balance: number, serial?: string) =>
    ApiError.unprocessable(
      'insufficient_balance',
      `The balance (${balance} fen) is less than the amount asked for`,
      serial === undefined ? { balance } : { serial, balance },
    ),

  /** A payment code that is not one, or not this channel's (the same answer: a code tells a stranger nothing). */
  paymentCodeInvalid: () => ApiError.unprocessable('payment_code_invalid', 'This is not a valid payment code'),

  paymentCodeExpired: () =>
    ApiError.unprocessable('payment_code_expired', 'This payment code has expired: ask for a fresh one'),

  paymentCodeUsed: () => ApiError.conflict('payment_code_used', 'This payment code has already been used'),

  noCardsOfHolder: () =>
    ApiError.unprocessable('holder_has_no_cards', 'No active card is bound to this holder account'),

  reversalExceedsDebit: (reversible: number) =>
    ApiError.unprocessable('reversal_exceeds_debit', `At most ${reversible} fen of this debit can still be reversed`, {
      reversible,
    }),

  notReversible: (serial: string, status: CardStatus) =>
    ApiError.conflict('card_not_reversible', `Card ${serial} is ${status}: a reversal cannot credit it`, {
      serial,
      card_status: status,
    }),

  referenceReused: (reference: string) =>
    ApiError.unprocessable(
      'reference_reused',
      `Reference '${reference}' was already used for a different request; use a new reference`,
    ),

  anonymousNotReportable: (serial: string) =>
    ApiError.unprocessable(
      'anonymous_card_not_reportable',
      `Card ${serial} is anonymous (不记名): only registered cards can be reported lost`,
      { serial },
    ),

  anonymousNotRefundable: (serial: string) =>
    ApiError.unprocessable(
      'anonymous_card_not_refundable',
      `Card ${serial} is anonymous (不记名): only registered cards can be refunded`,
      { serial },
    ),

  registeredNotReactivatable: (serial: string) =>
    ApiError.unprocessable(
      'registered_card_not_reactivatable',
      `Card ${serial} is registered: only expired anonymous cards are re-activated or replaced`,
      { serial },
    ),

  nothingLeft: (serial: string) =>
    ApiError.unprocessable('card_has_no_value', `Card ${serial} holds no value to refund or restore`, { serial }),

  notUnused: (serial: string) =>
    ApiError.conflict('card_not_unused', `Card ${serial} has been bound or spent: only unused cards are voided`, {
      serial,
    }),

  invalidState: (serial: string, status: CardStatus, action: string) =>
    ApiError.conflict('invalid_card_state', `Card ${serial} is ${status} and cannot be ${action}`, {
      serial,
      card_status: status,
    }),

  /**
   * Why a card that is not usable cannot be bound, verified or spent: voided, expired, lost, replaced and refunded
   * cards are gone (422, each its own code); a frozen card may come back (409). Null for a usable status.
   */
  unusable: (serial: string, status: CardStatus): ApiError | null => {
    const extra = { serial, card_status: status };
    switch (status) {
      case 'voided':
        return ApiError.unprocessable('card_voided', `Card ${serial} has been voided`, extra);
      case 'expired':
        return ApiError.unprocessable('card_expired', `Card ${serial} has expired`, extra);
      case 'lost':
        return ApiError.unprocessable('card_lost', `Card ${serial} has been reported lost`, extra);
      case 'replaced':
        return ApiError.unprocessable('card_replaced', `Card ${serial} has been replaced by another card`, extra);
      case 'refunded':
        return ApiError.unprocessable('card_refunded', `Card ${serial} has been refunded`, extra);
      case 'frozen':
        return ApiError.conflict('card_frozen', `Card ${serial} is frozen`, extra);
      default:
        return null;
    }
  },
};
