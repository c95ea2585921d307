import { LedgerAccount } from '../ledger/ledger.entity';
import type { PlatformMovementRow } from '../ledger/ledger.repository';
import { dailyReportOf } from './operator-report.service';
import { shanghaiDayPeriod } from './statement-period';

const movement = (kind: string, account: LedgerAccount, amount: number, entries = 1): PlatformMovementRow => ({
  kind,
  account,
  entries: String(entries),
  amount: String(amount),
});

describe('dailyReportOf', () => {
  const { from, to } = shanghaiDayPeriod('2026-12-01');
  const ledger = {
    float_opening: '1000',
    float_closing: '2000',
    movements: [
      movement('cards_issued', LedgerAccount.CardFloat, -2_000),
      movement('card_debit', LedgerAccount.CardFloat, 600, 2),
      movement('card_debit', LedgerAccount.RevenueRedeemed, -600, 2),
      movement('card_debit_reversal', LedgerAccount.RevenueRedeemed, 100),
      movement('card_debit_reversal', LedgerAccount.CardFloat, -100),
      movement('cards_expired', LedgerAccount.CardFloat, 300),
      movement('cards_expired', LedgerAccount.Breakage, -300),
      movement('card_reactivation', LedgerAccount.Breakage, 50),
      movement('card_reactivation', LedgerAccount.CardFloat, -50),
      movement('cards_voided', LedgerAccount.CardFloat, 250),
      movement('cards_voided', LedgerAccount.Prepaid, -200),
      movement('cards_voided', LedgerAccount.SalesDiscount, -50),
      movement('order_refund', LedgerAccount.Receivable, -70),
      movement('order_refund', LedgerAccount.Prepaid, -30),
    ],
  };
  const channels = [
    { channel_id: 'cli_a', channel_name: 'A', debits: '1', debited: '400', reversals: '1', reversed: '100' },
    { channel_id: 'cli_b', channel_name: null, debits: '1', debited: '200', reversals: '0', reversed: '0' },
  ];

  it('derives each figure from the ledger sums, and attributes redemptions to channels', () => {
    const report = dailyReportOf('2026-12-01', from, to, ledger, channels);
    expect(report.from).toBe('2026-11-30T16:00:00.000Z');
    expect(report.card_float).toEqual({ opening: 1_000, closing: 2_000, change: 1_000 });
    expect(report.issued).toBe(2_000);
    expect(report.redeemed).toMatchObject({ debited: 600, reversed: 100, net: 500, unattributed: 0 });
    expect(report.redeemed.channels.map((channel) => channel.net)).toEqual([300, 200]);
    expect(report.breakage).toBe(250);
    expect(report.refunds).toEqual({ orders: 100, voided_cards: 200, card_holders: 0 });
  });

  it('shows redemptions no channel accounts for, and refuses a float that does not close', () => {
    expect(dailyReportOf('2026-12-01', from, to, ledger, channels.slice(0, 1)).redeemed.unattributed).toBe(200);
    expect(() => dailyReportOf('2026-12-01', from, to, { ...ledger, float_closing: '2001' }, channels)).toThrow(
      /opening \+ movements ≠ closing/,
    );
  });

  it('takes only real days', () => {
    expect(() => shanghaiDayPeriod('2026-02-30')).toThrow(expect.objectContaining({ code: 'invalid_date' }));
    expect(shanghaiDayPeriod('2026-12-31').to.toISOString()).toBe('2026-12-31T16:00:00.000Z');
  });
});
