import { randomBytes, randomInt } from 'node:crypto';
import { serialFromSequence } from '../cards/card-code';
import type { CardType } from '../catalog/product.entity';
import type { RequestContext } from '../common/context/request-context';
import { canonicalJson, sha256Hex } from '../common/canonical-json';
import { newId } from '../common/ids';
import { openMediumDatabase, type MediumDatabase } from '../../test/support/medium';
import { stagedFileRow } from '../../test/support/medium-distribution';
import {
  ASSIGNMENTS_PER_AUDIT_RECORD,
  type FileRowGroup,
  DistributionRepository,
  type RecipientReservation,
  type ReservationTerms,
} from './distribution.repository';

describe('DistributionRepository (reservation)', () => {
  let db: MediumDatabase;
  let repository: DistributionRepository;

  beforeAll(async () => {
    db = await openMediumDatabase();
    repository = new DistributionRepository(db.connection);
  });
  afterAll(async () => {
    await db.close();
  });

  /** The batches each test order was given, with their line (the reservation takes designs by batch). */
  const batchesOf = new Map<string, Array<{ batchId: string; lineNo: number }>>();

  /** An order's batch of `count` cards (serials far above the e2e tests'), in the test's transaction. */
  async function cards(
    ctx: RequestContext,
    orderId: string,
    lineNo: number,
    count: number,
    options: { faceValue?: number; cardType?: CardType; status?: string } = {},
  ): Promise<string[]> {
    const batchId = newId('batch');
    batchesOf.set(orderId, [...(batchesOf.get(orderId) ?? []), { batchId, lineNo }]);
    const start = 800_000_000_000 + randomInt(1, 90_000_000_000);
    await db.connection.query(
      ctx,
      `INSERT INTO issuance_batches (id, order_id, enterprise_id, line_no, product_id, card_type, face_value, count,
         chunk_size, serial_start, status)
       VALUES ($1, $2, 'ent_medium', $3, 'prd_medium', $4, $5, $6, $6, $7, 'completed')`,
      [batchId, orderId, lineNo, options.cardType ?? 'anonymous', options.faceValue ?? 10_000, count, start],
    );
    const serials = Array.from({ length: count }, (_, i) => serialFromSequence(start + i));
    await db.connection.query(
      ctx,
      `INSERT INTO cards (serial, order_id, batch_id, face_value, balance, status, code_hash, enterprise_id, card_type,
         product_id)
       SELECT s, $1, $2, $3::int, $3::bigint, $4, decode(md5(s::text || $5), 'hex'), 'ent_medium', $7, 'prd_medium'
         FROM unnest($6::bigint[]) AS s`,
      [
        orderId,
        batchId,
        options.faceValue ?? 10_000,
        options.status ?? 'issued',
        randomBytes(8).toString('hex'),
        serials,
        options.cardType ?? 'anonymous',
      ],
    );
    return serials;
  }

  async function distribution(ctx: RequestContext, orderId: string): Promise<ReservationTerms> {
    const id = newId('distribution');
    await repository.insertDistribution(ctx, {
      id,
      enterpriseId: 'ent_medium',
      orderId,
      status: 'sending',
      sendAt: new Date(),
      fileId: null,
      recipientCount: 0,
      createdByClientId: 'cli_medium',
      startedAt: new Date(),
      completedAt: null,
      cancelledAt: null,
      assignmentsAuditId: null,
      assignmentsAuditedAt: null,
    });
    return {
      distributionId: id,
      enterpriseId: 'ent_medium',
      orderId,
      status: 'queued',
      nextAttemptAt: new Date(),
      claimExpiresAt: new Date(Date.now() + 86_400_000),
      batches: (batchesOf.get(orderId) ?? []).map(({ batchId, lineNo }) =>
        lineNo === 1
          ? { batchId, design: 'spring_festival', greeting: '新年好' }
          : { batchId, design: 'classic', greeting: null },
      ),
    };
  }

  /** The recipients a reservation wrote, in row order, read through the repository. */
  async function stored(ctx: RequestContext, distributionId: string) {
    const recipients = await repository.recipientsInOrder(ctx, distributionId, '', 10_000);
    return recipients
      .sort((a, b) => a.rowNumber - b.rowNumber)
      .map((r) => ({
        row_number: r.rowNumber,
        id: r.id,
        channel: r.channel,
        card_serial: String(r.cardSerial),
        face_value: r.faceValue,
        design: r.design,
        greeting: r.greeting,
        real_name_sealed: r.realNameSealed,
        claim_token_hash: r.claimTokenHash,
        status: r.status,
      }));
  }

  const recipient = (rowNumber: number, overrides: Partial<RecipientReservation> = {}): RecipientReservation => ({
    id: newId('distributionRecipient'),
    rowNumber,
    employeeRef: `E${rowNumber}`,
    name: null,
    email: null,
    mobile: null,
    channel: 'link',
    locale: 'zh-CN',
    greeting: null,
    faceValue: 10_000,
    cardType: 'anonymous',
    serial: null,
    channelClientId: null,
    holderRef: null,
    realNameSealed: null,
    realNameMasked: null,
    claimTokenHash: randomBytes(32),
    ...overrides,
  });

  it('pairs recipients with free cards by face value and card type, in serial order, with the line design', () =>
    db.rolledBack(async (ctx) => {
      const orderId = newId('order');
      const small = await cards(ctx, orderId, 1, 3);
      const large = await cards(ctx, orderId, 2, 2, { faceValue: 50_000 });
      const terms = await distribution(ctx, orderId);
      const outcome = await repository.reserveCards(ctx, terms, [
        recipient(1),
        recipient(2, { faceValue: 50_000, greeting: '谢谢' }),
        recipient(3),
        recipient(4, { faceValue: null, cardType: null, serial: small[2] }),
      ]);
      const assignment = (row: number, serial: string) => ({ employee_ref: `E${row}`, row, serial });
      expect(outcome).toEqual({
        outcome: 'reserved',
        count: 4,
        channels: { link: 4 },
        assignmentDigests: [
          sha256Hex(
            canonicalJson({
              order_id: orderId,
              assignments: [
                assignment(1, small[0]),
                assignment(2, large[0]),
                assignment(3, small[1]),
                assignment(4, small[2]),
              ],
            }),
          ),
        ],
      });
      expect(await stored(ctx, terms.distributionId)).toMatchObject([
        { row_number: 1, card_serial: small[0], face_value: 10_000, design: 'spring_festival', greeting: '新年好' },
        { row_number: 2, card_serial: large[0], face_value: 50_000, design: 'classic', greeting: '谢谢' },
        { row_number: 3, card_serial: small[1], face_value: 10_000, design: 'spring_festival', greeting: '新年好' },
        { row_number: 4, card_serial: small[2], face_value: 10_000, design: 'spring_festival', greeting: '新年好' },
      ]);
      const rows = await db.connection.query<Array<{ status: string; sent_at: Date | null }>>(
        ctx,
        'SELECT status, sent_at FROM distribution_recipients WHERE distribution_id = $1',
        [terms.distributionId],
      );
      expect(rows.every((row) => row.status === 'sent' && row.sent_at !== null)).toBe(true);
      expect(await repository.orderHasLiveAssignments(ctx, orderId)).toBe(true);
    }));

  it('summarises the assignments for the audit in canonical JSON, 500 a record, whatever the employee_ref holds: the reservation commits their digests, the committed rows give the same text again', () =>
    db.rolledBack(async (ctx) => {
      const orderId = newId('order');
      const serials = await cards(ctx, orderId, 1, ASSIGNMENTS_PER_AUDIT_RECORD * 2 + 1);
      const terms = await distribution(ctx, orderId);
      // What JSON must escape (quote, backslash, control characters), and what it must not (CJK, U+2028, emoji).
      const awkward = 'E "1" \\ 张三\t\n\u0001\u001f\u2028😀';
      const recipients = serials.map((_, index) =>
        recipient(
          index + 1,
          index === 0
            ? { employeeRef: awkward }
            : index % 2
              ? { channel: 'email', email: `e${index}@example.com`, claimTokenHash: null }
              : {},
        ),
      );
      const outcome = await repository.reserveCards(ctx, terms, recipients);
      if (outcome.outcome !== 'reserved') throw new Error(outcome.outcome);
      expect(outcome.count).toBe(1_001);
      expect(outcome.channels).toEqual({ link: 501, email: 500 });
      const expected = (from: number, to: number) =>
        canonicalJson({
          order_id: orderId,
          assignments: recipients.slice(from, to).map((r, i) => ({
            row: r.rowNumber,
            serial: serials[from + i],
            employee_ref: r.employeeRef,
          })),
        });
      const texts = [expected(0, 500), expected(500, 1_000), expected(1_000, 1_001)];
      expect(outcome.assignmentDigests).toEqual(texts.map(sha256Hex));

      const summaries = await repository.assignmentSummaries(ctx, { id: terms.distributionId, orderId });
      expect(summaries.map((chunk) => chunk.summary.text)).toEqual(texts);
      expect(summaries.map((chunk) => chunk.sha256)).toEqual(outcome.assignmentDigests);

      // A contact change may switch a recipient's channel, and a revoked assignment stays a past fact: neither
      // changes what was assigned. An employee_ref changed behind the service's back does.
      const second = (await stored(ctx, terms.distributionId))[1];
      await repository.updateUnsentContact(ctx, second.id, { mobile: '13812345678', channel: 'sms' });
      expect(await repository.revokeRecipients(ctx, { recipientId: second.id })).toEqual([second.card_serial]);
      expect(
        (await repository.assignmentSummaries(ctx, { id: terms.distributionId, orderId })).map((c) => c.sha256),
      ).toEqual(outcome.assignmentDigests);
      await db.connection.query(
        ctx,
        `UPDATE distribution_recipients SET employee_ref = 'someone else' WHERE distribution_id = $1 AND row_number = 700`,
        [terms.distributionId],
      );
      const altered = await repository.assignmentSummaries(ctx, { id: terms.distributionId, orderId });
      expect(altered.map((chunk, index) => chunk.sha256 === outcome.assignmentDigests[index])).toEqual([
        true,
        false,
        true,
      ]);
    }));

  it('finds, locks and marks the distributions whose assignments are still to be written into the audit chain', () =>
    db.rolledBack(async (ctx) => {
      const orderId = newId('order');
      const terms = await distribution(ctx, orderId);
      expect(await repository.lockUnaudited(ctx, terms.distributionId)).toMatchObject({ id: terms.distributionId });
      // Only those created over the given age ago (the sweep's: a job that had its chance).
      expect(await repository.unauditedDistributions(ctx, 60_000, 100)).not.toContain(terms.distributionId);
      await db.connection.query(
        ctx,
        `UPDATE distributions SET created_at = now() - interval '2 minutes' WHERE id = $1`,
        [terms.distributionId],
      );
      expect(await repository.unauditedDistributions(ctx, 60_000, 100)).toContain(terms.distributionId);
      await repository.markAssignmentsAudited(ctx, terms.distributionId);
      expect(await repository.lockUnaudited(ctx, terms.distributionId)).toBeNull();
      expect(await repository.unauditedDistributions(ctx, 60_000, 100)).not.toContain(terms.distributionId);
    }));

  it('reserves from an uploaded file in the statement: card types by choice, real names kept for registered cards only, link tokens by row', () =>
    db.rolledBack(async (ctx) => {
      const orderId = newId('order');
      const anonymous = await cards(ctx, orderId, 1, 3);
      const registered = await cards(ctx, orderId, 2, 2, { faceValue: 50_000, cardType: 'registered' });
      const terms = await distribution(ctx, orderId);
      const fileId = newId('distributionFile');
      const rows = [
        stagedFileRow(1),
        // A real name on an anonymous card's row: not kept (an anonymous card has no holder).
        stagedFileRow(2, { realNameSealed: 'v1.k1.sealed-2', realNameMasked: { name: '张*' } }),
        stagedFileRow(3, { faceValue: 50_000, realNameSealed: 'v1.k1.sealed-3', realNameMasked: { name: '李*' } }),
        stagedFileRow(4, { channel: 'link', email: null, faceValue: null, serial: anonymous[2] }),
        stagedFileRow(5, { channel: 'link', email: null, faceValue: 50_000, realNameSealed: 'v1.k1.sealed-5' }),
      ];
      await repository.insertFileRows(ctx, fileId, rows);
      const hash4 = randomBytes(32);
      const hash5 = randomBytes(32);
      const outcome = await repository.reserveCardsFromFile(
        ctx,
        terms,
        fileId,
        [
          { faceValue: 10_000, hasRealName: false, cardType: 'anonymous' },
          { faceValue: 10_000, hasRealName: true, cardType: 'anonymous' },
          { faceValue: 50_000, hasRealName: true, cardType: 'registered' },
        ],
        { rowNumbers: [4, 5], hashes: [hash4, hash5] },
      );
      expect(outcome).toMatchObject({ outcome: 'reserved', count: 5, channels: { email: 3, link: 2 } });
      expect(await stored(ctx, terms.distributionId)).toMatchObject([
        { row_number: 1, id: rows[0].recipientId, card_serial: anonymous[0], channel: 'email' },
        { row_number: 2, id: rows[1].recipientId, card_serial: anonymous[1] },
        { row_number: 3, id: rows[2].recipientId, card_serial: registered[0], face_value: 50_000 },
        { row_number: 4, id: rows[3].recipientId, card_serial: anonymous[2], channel: 'link' },
        { row_number: 5, id: rows[4].recipientId, card_serial: registered[1] },
      ]);
      const sealed = await stored(ctx, terms.distributionId);
      expect(sealed.map((r) => r.real_name_sealed)).toEqual([null, null, 'v1.k1.sealed-3', null, 'v1.k1.sealed-5']);
      expect(sealed.map((r) => r.claim_token_hash)).toEqual([null, null, null, hash4, hash5]);
      expect(sealed.map((r) => r.status)).toEqual(['queued', 'queued', 'queued', 'sent', 'sent']);
      expect((await repository.linkRecipients(ctx, terms.distributionId)).map((r) => r.rowNumber)).toEqual([4, 5]);
    }));

  it('reserves nothing from a file when one of its rows finds no card', () =>
    db.rolledBack(async (ctx) => {
      const orderId = newId('order');
      await cards(ctx, orderId, 1, 1);
      const terms = await distribution(ctx, orderId);
      const fileId = newId('distributionFile');
      await repository.insertFileRows(ctx, fileId, [stagedFileRow(1), stagedFileRow(2)]);
      const outcome = await repository.reserveCardsFromFile(
        ctx,
        terms,
        fileId,
        [{ faceValue: 10_000, hasRealName: false, cardType: 'anonymous' }],
        { rowNumbers: [], hashes: [] },
      );
      expect(outcome).toEqual({ outcome: 'insufficient' });
      expect(await repository.orderHasLiveAssignments(ctx, orderId)).toBe(false);
      expect(await repository.fileRowsForPlan(ctx, fileId)).toEqual({
        groups: [{ faceValue: 10_000, hasRealName: false, count: 2 }],
        serialRows: [],
        linkRows: [],
      });
      expect(await repository.firstRowsOfGroup(ctx, fileId, { faceValue: 10_000, hasRealName: false }, 1)).toEqual([1]);
      expect(await repository.firstRowsOfGroup(ctx, fileId, { faceValue: 10_000, hasRealName: false }, 5)).toEqual([
        1, 2,
      ]);
      expect(await repository.firstRowsOfGroup(ctx, fileId, { faceValue: 10_000, hasRealName: true }, 5)).toEqual([]);
    }));

  it("reads a file's rows for the plan in one pass: counts per group, the rows naming a serial, the link rows", () =>
    db.rolledBack(async (ctx) => {
      const fileId = newId('distributionFile');
      const link = { channel: 'link' as const, email: null };
      await repository.insertFileRows(ctx, fileId, [
        stagedFileRow(1),
        stagedFileRow(2, { ...link, faceValue: 50_000 }),
        stagedFileRow(3, { faceValue: 50_000, realNameSealed: 'v1.k1.sealed-3' }),
        stagedFileRow(4, { ...link, faceValue: null, serial: '10000000000000017' }),
        stagedFileRow(5, { ...link }),
        stagedFileRow(6, { faceValue: null, serial: '10000000000000009', realNameSealed: 'v1.k1.sealed-6' }),
        stagedFileRow(7, { faceValue: 50_000 }),
      ]);
      const plan = await repository.fileRowsForPlan(ctx, fileId);
      const byKey = (a: FileRowGroup, b: FileRowGroup) =>
        a.faceValue - b.faceValue || Number(a.hasRealName) - Number(b.hasRealName);
      expect(plan.groups.sort(byKey)).toEqual([
        { faceValue: 10_000, hasRealName: false, count: 2 },
        { faceValue: 50_000, hasRealName: false, count: 2 },
        { faceValue: 50_000, hasRealName: true, count: 1 },
      ]);
      expect(plan.serialRows).toEqual([
        { rowNumber: 4, serial: '10000000000000017', hasRealName: false },
        { rowNumber: 6, serial: '10000000000000009', hasRealName: true },
      ]);
      expect(plan.linkRows).toEqual([2, 4, 5]);
      expect(await repository.firstRowsOfGroup(ctx, fileId, { faceValue: 50_000, hasRealName: false }, 5)).toEqual([
        2, 7,
      ]);
    }));

  it('writes nothing when one recipient finds no card, and the pools say why', () =>
    db.rolledBack(async (ctx) => {
      const orderId = newId('order');
      await cards(ctx, orderId, 1, 2);
      await cards(ctx, orderId, 1, 1, { status: 'voided' });
      await cards(ctx, orderId, 2, 1, { faceValue: 100_000, cardType: 'registered' });
      const terms = await distribution(ctx, orderId);
      const outcome = await repository.reserveCards(ctx, terms, [recipient(1), recipient(2), recipient(3)]);
      expect(outcome).toEqual({ outcome: 'insufficient' });
      expect(await repository.orderHasLiveAssignments(ctx, orderId)).toBe(false);
      expect(await repository.cardPools(ctx, orderId)).toEqual([
        { faceValue: 10_000, cardType: 'anonymous', total: 3, free: 2 },
        { faceValue: 100_000, cardType: 'registered', total: 1, free: 1 },
      ]);
    }));

  it('never assigns a card twice: a second distribution gets the cards the first left, then none', () =>
    db.rolledBack(async (ctx) => {
      const orderId = newId('order');
      const serials = await cards(ctx, orderId, 1, 3);
      const first = await repository.reserveCards(ctx, await distribution(ctx, orderId), [recipient(1), recipient(2)]);
      expect(first.outcome).toBe('reserved');
      const secondTerms = await distribution(ctx, orderId);
      const second = await repository.reserveCards(ctx, secondTerms, [recipient(1)]);
      expect(second).toMatchObject({ outcome: 'reserved', count: 1 });
      expect(await stored(ctx, secondTerms.distributionId)).toMatchObject([{ card_serial: serials[2] }]);
      const third = await repository.reserveCards(ctx, await distribution(ctx, orderId), [recipient(1)]);
      expect(third).toEqual({ outcome: 'insufficient' });
      expect(await repository.serialsInOrder(ctx, orderId, [serials[0], '12'])).toEqual([
        { serial: serials[0], faceValue: 10_000, cardType: 'anonymous', free: false },
      ]);
      expect((await repository.cardPools(ctx, orderId))[0]).toMatchObject({ total: 3, free: 0 });
    }));

  it('has the unique index refuse a card held by a live recipient (the backstop)', () =>
    db.rolledBack(async (ctx) => {
      const orderId = newId('order');
      const [serial] = await cards(ctx, orderId, 1, 1);
      const terms = await distribution(ctx, orderId);
      await repository.reserveCards(ctx, terms, [recipient(1)]);
      // Written past the statement's own check, as a racing writer without the order lock would.
      const error = await db.connection
        .query(
          ctx,
          `INSERT INTO distribution_recipients (id, distribution_id, enterprise_id, row_number, employee_ref, channel,
             design, face_value, card_serial, status)
           VALUES ($1, $2, 'ent_medium', 2, 'E2', 'link', 'classic', 10000, $3, 'sent')`,
          [newId('distributionRecipient'), terms.distributionId, serial],
        )
        .catch((thrown: { code?: string; driverError?: { constraint?: string } }) => thrown);
      expect(error).toMatchObject({ code: '23505', driverError: { constraint: 'distribution_recipients_card' } });
    }));
});
