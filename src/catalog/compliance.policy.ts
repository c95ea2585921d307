/**
 * PRC prepaid-card rules (README.md, "PRC prepaid-card rules") as pure functions over explicit limits, plus the injectable
 * CompliancePolicy that reads the limits from AppConfig. Every refusal is
 * ApiError.unprocessable(code, detail, extra): a 422 problem with a machine-readable code, and the
 * first violation found wins. With COMPLIANCE_ENFORCED=false nothing is refused.
 *
 * Codes: card_limit_exceeded (products and orders), validity_too_short (products), real_name_required and
 * bank_transfer_required (orders).
 */
import { Injectable } from '@nestjs/common';
import type { CardType } from './product.entity';
import { ApiError } from '../common/errors/api-error';
import { AppConfig } from '../config/app-config';

export interface ComplianceLimits {
  /** false: every check passes (COMPLIANCE_ENFORCED=false). */
  enforced: boolean;
  /** Highest face value of one anonymous card, fen (default 1,000 CNY). */
  anonymousCardMaxFen: number;
  /** Highest face value of one registered card, fen (default 5,000 CNY). */
  registeredCardMaxFen: number;
  /** Anonymous face total from which the purchaser's identity is required, fen (default 10,000 CNY). */
  realNameThresholdFen: number;
  /** Payable amount from which the order must be funded from the corporate account, fen (default 5,000 CNY). */
  bankTransferThresholdFen: number;
  /** Shortest validity of an anonymous card product, months (default 36). */
  anonymousMinValidityMonths: number;
}

export function complianceLimitsOf(config: AppConfig): ComplianceLimits {
  return {
    enforced: config.complianceEnforced,
    anonymousCardMaxFen: config.ANONYMOUS_CARD_MAX_FEN,
    registeredCardMaxFen: config.REGISTERED_CARD_MAX_FEN,
    realNameThresholdFen: config.REAL_NAME_THRESHOLD_FEN,
    bankTransferThresholdFen: config.BANK_TRANSFER_THRESHOLD_FEN,
    anonymousMinValidityMonths: config.ANONYMOUS_MIN_VALIDITY_MONTHS,
  };
}

/** What a product offers, as far as the rules care. */
export interface ProductTerms {
  cardType: CardType;
  /** Face values in fen. */
  faceValues: readonly number[];
  /** null: the cards never expire. */
  validityMonths: number | null;
}

export interface OrderLineTerms {
  cardType: CardType;
  /** Fen per card. */
  faceValue: number;
  quantity: number;
}

export interface OrderTerms {
  lines: readonly OrderLineTerms[];
  /** Sum of faceValue × quantity over the lines, fen (priceOrder's faceTotal). */
  faceTotal: number;
  /** What the enterprise pays after its discount, fen (priceOrder's payable). */
  payable: number;
  /** The order's payment method (orders' PaymentMethod): only whether it is corporate-funded matters here. */
  paymentMethod: string;
  /** The purchaser's identity, when sent: only its presence matters here. */
  purchaser?: object | null;
}

/** Payment methods that satisfy the bank-transfer rule (see checkOrder). */
export const CORPORATE_FUNDED_METHODS: readonly string[] = ['bank_transfer', 'prepaid_balance'];

/** 1234567 fen → "12,345.67". */
export function formatFen(fen: number): string {
  const sign = fen < 0 ? '-' : '';
  const abs = Math.abs(fen);
  const yuan = Math.floor(abs / 100).toLocaleString('en-US');
  return `${sign}${yuan}.${String(abs % 100).padStart(2, '0')}`;
}

export function singleCardLimit(cardType: CardType, limits: ComplianceLimits): number {
  return cardType === 'anonymous' ? limits.anonymousCardMaxFen : limits.registeredCardMaxFen;
}

function cardLimitExceeded(
  cardType: CardType,
  faceValue: number,
  limit: number,
  where: string,
  extra: Record<string, unknown>,
): ApiError {
  return ApiError.unprocessable(
    'card_limit_exceeded',
    `${where}: one ${cardType} card may carry at most ${formatFen(limit)} CNY; ${formatFen(faceValue)} CNY is above that limit`,
    { ...extra, card_type: cardType, face_value: faceValue, limit },
  );
}

/**
 * A product's terms: every face value within its card type's single-card limit (card_limit_exceeded,
 * checked first, in the order given), and an anonymous product valid for at least
 * anonymousMinValidityMonths or without expiry (validity_too_short). Registered products may have any
 * validity.
 */
export function checkProduct(product: ProductTerms, limits: ComplianceLimits): void {
  if (!limits.enforced) return;
  const limit = singleCardLimit(product.cardType, limits);
  const index = product.faceValues.findIndex((faceValue) => faceValue > limit);
  if (index >= 0) {
    throw cardLimitExceeded(product.cardType, product.faceValues[index], limit, 'face_values', {});
  }
  const validity = product.validityMonths;
  if (product.cardType === 'anonymous' && validity !== null && validity < limits.anonymousMinValidityMonths) {
    throw ApiError.unprocessable(
      'validity_too_short',
      `An anonymous card product must stay valid for at least ${limits.anonymousMinValidityMonths} months ` +
        `(or never expire: validity_months null); ${validity} is too short`,
      { validity_months: validity, minimum_months: limits.anonymousMinValidityMonths },
    );
  }
}

/**
 * One order line's face value within its card type's single-card limit (card_limit_exceeded; extra: line, the
 * 1-based line number, card_type, face_value, limit). `index` is 0-based.
 */
export function checkOrderLine(
  line: Pick<OrderLineTerms, 'cardType' | 'faceValue'>,
  index: number,
  limits: ComplianceLimits,
): void {
  if (!limits.enforced) return;
  const limit = singleCardLimit(line.cardType, limits);
  if (line.faceValue > limit) {
    throw cardLimitExceeded(line.cardType, line.faceValue, limit, `Line ${index + 1}`, { line: index + 1 });
  }
}

/**
 * An order, in this order of checks:
 *
 * 1. card_limit_exceeded: a line's face value above its card type's single-card limit (extra: line, the
 *    1-based line number as in the orders module's other line errors, card_type, face_value, limit).
 * 2. real_name_required: no purchaser identity while any line is a registered card, or while the face
 *    total of the anonymous lines is at least realNameThresholdFen (extra: reason, and for the latter
 *    anonymous_face_total and threshold).
 * 3. bank_transfer_required: payable ≥ bankTransferThresholdFen on the credit line (extra: payable,
 *    threshold, allowed_payment_methods).
 *
 * Throws RangeError (a bug, not a refusal) when faceTotal is not the sum of the lines or payable is not
 * within 0..faceTotal.
 */
export function checkOrder(order: OrderTerms, limits: ComplianceLimits): void {
  let faceTotal = 0;
  let anonymousFaceTotal = 0;
  for (const line of order.lines) {
    faceTotal += line.faceValue * line.quantity;
    if (line.cardType === 'anonymous') anonymousFaceTotal += line.faceValue * line.quantity;
  }
  if (faceTotal !== order.faceTotal) {
    throw new RangeError(`checkOrder: faceTotal ${order.faceTotal} is not the lines' sum ${faceTotal}`);
  }
  if (!Number.isSafeInteger(order.payable) || order.payable < 0 || order.payable > order.faceTotal) {
    throw new RangeError(`checkOrder: payable ${order.payable} is not within 0..${order.faceTotal}`);
  }
  if (!limits.enforced) return;

  order.lines.forEach((line, index) => checkOrderLine(line, index, limits));

  if (!order.purchaser) {
    if (order.lines.some((line) => line.cardType === 'registered')) {
      throw ApiError.unprocessable(
        'real_name_required',
        "Registered cards are sold by real name: send the purchaser's identity (name, id_type, id_number, phone)",
        { reason: 'registered_cards' },
      );
    }
    if (anonymousFaceTotal >= limits.realNameThresholdFen) {
      throw ApiError.unprocessable(
        'real_name_required',
        `Anonymous cards worth ${formatFen(limits.realNameThresholdFen)} CNY or more in one order are sold by real name: ` +
          `send the purchaser's identity (name, id_type, id_number, phone); this order is ${formatFen(anonymousFaceTotal)} CNY`,
        {
          reason: 'anonymous_face_total',
          anonymous_face_total: anonymousFaceTotal,
          threshold: limits.realNameThresholdFen,
        },
      );
    }
  }

  // Corporate purchases from the threshold up must be paid by transfer from the enterprise's own bank account
  // (对公转账) before any card is issued: no card-based or deferred funding. bank_transfer obviously qualifies.
  // prepaid_balance qualifies too, because the prepaid balance is funded only by such transfers (the operator
  // records each incoming corporate transfer with the payer's account), so spending it is spending money that
  // already arrived by 对公转账. The credit line does not: the cards would be issued before any money arrives.
  if (order.payable >= limits.bankTransferThresholdFen && !CORPORATE_FUNDED_METHODS.includes(order.paymentMethod)) {
    throw ApiError.unprocessable(
      'bank_transfer_required',
      `Orders of ${formatFen(limits.bankTransferThresholdFen)} CNY or more must be funded by corporate bank transfer ` +
        `before issuance: pay with bank_transfer or prepaid_balance, not ${order.paymentMethod}; this order's payable is ${formatFen(order.payable)} CNY`,
      {
        payable: order.payable,
        threshold: limits.bankTransferThresholdFen,
        payment_method: order.paymentMethod,
        allowed_payment_methods: CORPORATE_FUNDED_METHODS,
      },
    );
  }
}

/** Names compared without spaces, brackets (half- or full-width) or case: 示例科技有限公司 (Demo) = 示例科技有限公司（demo）. */
const comparableName = (name: string) => name.replace(/[\s()（）]/g, '').toLowerCase();

/**
 * Corporate purchases are paid by transfer from the enterprise's own corporate account (对公转账): the payer name
 * on a transfer must be the enterprise's registered name or its invoice title.
 * Throws 422 corporate_payer_required otherwise.
 */
export function checkCorporatePayer(
  payerName: string,
  enterprise: { name: string; invoiceTitle: string | null },
  limits: ComplianceLimits,
): void {
  if (!limits.enforced) return;
  const own = [enterprise.name, enterprise.invoiceTitle].filter((name): name is string => !!name).map(comparableName);
  if (!own.includes(comparableName(payerName))) {
    throw ApiError.unprocessable(
      'corporate_payer_required',
      "Transfers must come from the enterprise's own corporate account (对公转账): the payer name does not match",
    );
  }
}

/** The rules with the limits of this deployment's AppConfig. */
@Injectable()
export class CompliancePolicy {
  readonly limits: ComplianceLimits;

  constructor(config: AppConfig) {
    this.limits = Object.freeze(complianceLimitsOf(config));
  }

  get enforced(): boolean {
    return this.limits.enforced;
  }

  /** The highest face value one card of this type may carry, fen (whether or not the rules are enforced). */
  singleCardLimit(cardType: CardType): number {
    return singleCardLimit(cardType, this.limits);
  }

  /** Throws 422 card_limit_exceeded or validity_too_short; see the function of the same name. */
  checkProduct(product: ProductTerms): void {
    checkProduct(product, this.limits);
  }

  /** Throws 422 card_limit_exceeded; see the function of the same name. */
  checkOrderLine(line: Pick<OrderLineTerms, 'cardType' | 'faceValue'>, index: number): void {
    checkOrderLine(line, index, this.limits);
  }

  /** Throws 422 card_limit_exceeded, real_name_required or bank_transfer_required; see the function of the same name. */
  checkOrder(order: OrderTerms): void {
    checkOrder(order, this.limits);
  }

  /** Throws 422 corporate_payer_required; see the function of the same name. */
  checkCorporatePayer(payerName: string, enterprise: { name: string; invoiceTitle: string | null }): void {
    checkCorporatePayer(payerName, enterprise, this.limits);
  }
}
