import { Injectable } from '@nestjs/common';
import type { RequestContext } from '../common/context/request-context';
import { DataCipher } from '../common/crypto/data-cipher.service';
import type { PaymentCodeDto } from './dto/redemption.dto';
import { newPaymentCodeSecret, newPaymentKeyNumber, paymentCodeOf, paymentCodeStep } from './payment-code';
import { RedemptionRepository, type PaymentCodeKeyRow } from './redemption.repository';

/** A payment-code key with its secret open, as the service derives and checks codes with it. */
export interface OpenPaymentCodeKey {
  number: number;
  clientId: string;
  holderRef: string;
  serial: string | null;
  secret: Buffer;
  /** Codes spent so far, as this process last saw it (the debit's compare-and-set is the truth). */
  uses: number;
}

/** Keys this process remembers (their secret and owner never change; their count of uses is checked by the debit). */
const KEYS_REMEMBERED = 100_000;
/** Tries at a fresh random key number before giving up (a collision in 900 million is rare). */
const NUMBER_TRIES = 5;

/** The associated data of a key's sealed secret: an envelope moved to another key's row does not open. */
export function paymentCodeSecretContext(keyNumber: number | string): string {
  return `payment_code_keys.secret:${keyNumber}`;
}

/**
 * The key's code for the window `atMs` falls in and its count of uses, with when to refresh it and when it stops
 * being accepted (the next window's end: skew). Asked again in the same window, the same code until it is spent.
 */
export function paymentCodeAnswer(key: OpenPaymentCodeKey, windowSeconds: number, atMs = Date.now()): PaymentCodeDto {
  const step = paymentCodeStep(atMs, windowSeconds);
  const code = paymentCodeOf(key.number, key.secret, step, key.uses);
  const windowMs = windowSeconds * 1000;
  return {
    object: 'payment_code',
    code,
    qr_payload: code,
    serial: key.serial,
    holder_ref: key.holderRef,
    window_seconds: windowSeconds,
    refresh_at: new Date((step + 1) * windowMs).toISOString(),
    expires_at: new Date((step + 2) * windowMs).toISOString(),
  };
}

/**
 * Payment-code keys (payment_code_keys through RedemptionRepository), their secrets sealed like card secrets
 * (DataCipher v2 envelopes, docs/decisions/0005) and opened once per process: a debit by code then takes the same
 * one statement as a debit by serial, with the key's compare-and-set in it.
 */
@Injectable()
export class PaymentCodeKeys {
  private readonly remembered = new Map<number, OpenPaymentCodeKey>();

  constructor(
    private readonly redemptions: RedemptionRepository,
    private readonly cipher: DataCipher,
  ) {}

  /** The key of a card (serial) or of the channel's holder wallet (serial null), made on first use. */
  async keyOf(
    ctx: RequestContext,
    subject: { clientId: string; holderRef: string; serial: string | null },
  ): Promise<OpenPaymentCodeKey> {
    for (let attempt = 0; attempt < NUMBER_TRIES; attempt++) {
      const existing = await this.redemptions.paymentCodeKeyOf(ctx, subject);
      if (existing) return this.open(existing);
      const number = newPaymentKeyNumber();
      const secret = newPaymentCodeSecret();
      const inserted = await this.redemptions.insertPaymentCodeKey(ctx, {
        ...subject,
        number,
        secretSealed: this.cipher.encrypt(secret.toString('base64'), paymentCodeSecretContext(number)),
      });
      if (inserted) return this.open({ ...subject, number, secretSealed: '', uses: 0 }, secret);
    }
    throw new Error('no free payment-code key number after several tries');
  }

  /** The key a code names; `fresh` reads its count of uses again. Null when there is no such key. */
  async byNumber(ctx: RequestContext, keyNumber: number, fresh = false): Promise<OpenPaymentCodeKey | null> {
    const known = this.remembered.get(keyNumber);
    if (known && !fresh) return known;
    const row = await this.redemptions.paymentCodeKey(ctx, keyNumber);
    return row ? this.open(row) : null;
  }

  /** A debit spent the key's code for `uses`: the next code is the one for uses + 1. */
  spent(key: OpenPaymentCodeKey, uses: number): void {
    if (key.uses === uses) key.uses = uses + 1;
  }

  private open(row: PaymentCodeKeyRow, secret?: Buffer): OpenPaymentCodeKey {
    const known = this.remembered.get(row.number);
    if (known) {
      known.uses = row.uses;
      return known;
    }
    const key: OpenPaymentCodeKey = {
      number: row.number,
      clientId: row.clientId,
      holderRef: row.holderRef,
      serial: row.serial,
      secret:
        secret ?? Buffer.from(this.cipher.decrypt(row.secretSealed, paymentCodeSecretContext(row.number)), 'base64'),
      uses: row.uses,
    };
    if (this.remembered.size >= KEYS_REMEMBERED) {
      const oldest = this.remembered.keys().next();
      if (!oldest.done) this.remembered.delete(oldest.value);
    }
    this.remembered.set(row.number, key);
    return key;
  }
}
