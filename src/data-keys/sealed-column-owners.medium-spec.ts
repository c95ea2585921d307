import { randomBytes } from 'node:crypto';
import { CardsRepository } from '../cards/cards.repository';
import { CardSecrets } from '../cards/card-secrets';
import { DataCipher } from '../common/crypto/data-cipher.service';
import { AppConfig } from '../config/app-config';
import { newClaimToken } from '../distribution/claim-token';
import { DistributionRepository } from '../distribution/distribution.repository';
import { parseRealName, realNameEnvelopeContext, serialiseRealName } from '../distribution/recipient-rows';
import { IdempotencyRepository } from '../idempotency/idempotency.repository';
import { OrdersRepository } from '../orders/orders.repository';
import { AuditService } from '../audit/audit.service';
import { RedemptionRepository } from '../redemption/redemption.repository';
import { WebhooksRepository } from '../webhooks/webhooks.repository';
import { insertDistribution } from '../../test/support/medium-distribution';
import { openMediumDatabase, type MediumDatabase } from '../../test/support/medium';
import { SealedColumnOwners } from './sealed-column-owners';
import { SealedColumns } from './sealed-columns';

describe('SealedColumnOwners (medium)', () => {
  let db: MediumDatabase;
  let repositories: {
    cards: CardsRepository;
    orders: OrdersRepository;
    idempotency: IdempotencyRepository;
    webhooks: WebhooksRepository;
    distribution: DistributionRepository;
    redemption: RedemptionRepository;
  };
  let owners: SealedColumnOwners;
  const config = Object.assign(new AppConfig(), {
    CODE_PEPPER: randomBytes(32).toString('base64'),
    DATA_ENCRYPTION_KEYS: `k1:${randomBytes(32).toString('base64')}`,
  });
  const cipher = new DataCipher(config);
  const columns = new SealedColumns(cipher, new CardSecrets(config, cipher));
  const column = (name: string) => columns.all.find((c) => c.name === name)!;

  beforeAll(async () => {
    db = await openMediumDatabase();
    repositories = {
      cards: new CardsRepository(db.connection),
      orders: new OrdersRepository(db.connection),
      idempotency: new IdempotencyRepository(db.connection),
      webhooks: new WebhooksRepository(db.connection),
      distribution: new DistributionRepository(db.connection),
      // The walk statements need no audit: the repository's other statements are not used here.
      redemption: new RedemptionRepository(db.connection, {} as AuditService),
    };
    owners = new SealedColumnOwners(
      repositories.cards,
      repositories.orders,
      repositories.idempotency,
      repositories.webhooks,
      repositories.distribution,
      repositories.redemption,
    );
  });
  afterAll(() => db.close());

  it("hands every encrypted column to its table's owner, and each owner refuses the others' tables", async () => {
    const ownerOf = {
      cards: repositories.cards,
      orders: repositories.orders,
      idempotency_keys: repositories.idempotency,
      webhook_endpoints: repositories.webhooks,
      distribution_recipients: repositories.distribution,
      distribution_file_rows: repositories.distribution,
      payment_code_keys: repositories.redemption,
    } as const;
    await db.rolledBack(async (ctx) => {
      for (const sealed of columns.all) {
        const owner = ownerOf[sealed.table as keyof typeof ownerOf];
        expect(owners.of(sealed)).toBe(owner.sealedColumns);
        expect(await owners.of(sealed).census(ctx, sealed)).toEqual(expect.any(Array));
        for (const other of new Set(Object.values(ownerOf).filter((repository) => repository !== owner))) {
          await expect(other.sealedColumns.census(ctx, sealed)).rejects.toThrow(/not a table this repository owns/);
        }
      }
    });
    expect(() => owners.of({ table: 'reencryption_runs' })).toThrow(/no repository owns reencryption_runs/);
  });

  it('counts, pages and re-seals a column through its owner (idempotency_keys.response_body)', async () => {
    const sealed = column('idempotency_keys.response_body');
    const clientId = `cli_owners${randomBytes(6).toString('hex')}`;
    const [stale, fresh] = [`v2.kold${clientId}.sealed`, `v2.knew${clientId}.sealed`];
    await db.rolledBack(async (ctx) => {
      await db.connection.query(
        ctx,
        `INSERT INTO idempotency_keys (client_id, key, fingerprint, response_status, response_body)
         VALUES ($1, 'key', 'fp', 201, jsonb_build_object('sealed', $2::text))`,
        [clientId, stale],
      );
      const queries = owners.of(sealed);
      const census = await queries.census(ctx, sealed);
      expect(census).toContainEqual({ key_id: `kold${clientId}`, rows: '1' });
      // The row right after (clientId, ''): ours, stale for the new key.
      const [row] = await queries.page(ctx, sealed, sealed.stalenessParam(`knew${clientId}`), 1, [clientId, '']);
      expect(row).toMatchObject({ k0: clientId, k1: 'key', stale, key_id: `kold${clientId}` });
      expect(await queries.reseal(ctx, sealed, [[clientId, 'key']], [stale], [fresh])).toEqual([
        { k0: clientId, k1: 'key' },
      ]);
      // Stored only where the read envelope is still in place: a second reseal of the same read changes nothing.
      expect(await queries.reseal(ctx, sealed, [[clientId, 'key']], [stale], [fresh])).toEqual([]);
      expect(await queries.census(ctx, sealed)).toContainEqual({ key_id: `knew${clientId}`, rows: '1' });
      // An envelope of the v1 format is stale even under the target key, and counted as `v1:<key id>`.
      const v1 = `v1.knew${clientId}.sealed`;
      await db.connection.query(
        ctx,
        `INSERT INTO idempotency_keys (client_id, key, fingerprint, response_status, response_body)
         VALUES ($1, 'key2', 'fp', 201, jsonb_build_object('sealed', $2::text))`,
        [clientId, v1],
      );
      expect(await queries.census(ctx, sealed)).toContainEqual({ key_id: `v1:knew${clientId}`, rows: '1' });
      const [legacy] = await queries.page(ctx, sealed, sealed.stalenessParam(`knew${clientId}`), 1, [clientId, 'key']);
      expect(legacy).toMatchObject({ k0: clientId, k1: 'key2', stale: v1, key_id: `v1:knew${clientId}` });
    });
  });

  it("re-seals a recipient's and an uploaded row's real name under the new key, still opening for the same row", async () => {
    const realName = {
      name: '张三',
      id_type: 'resident_id',
      id_number: '11010519491231002X',
      mobile: '+8613912345678',
    };
    const oldKey = `k1:${config.DATA_ENCRYPTION_KEYS.split(':')[1]}`;
    const rotated = new DataCipher(
      Object.assign(new AppConfig(), {
        CODE_PEPPER: config.CODE_PEPPER,
        DATA_ENCRYPTION_KEYS: `k2:${randomBytes(32).toString('base64')},${oldKey}`,
      }),
    );
    const rotatedColumns = new SealedColumns(rotated, new CardSecrets(config, rotated));
    const ofRotated = (name: string) => rotatedColumns.all.find((c) => c.name === name)!;
    await db.rolledBack(async (ctx) => {
      // A recipient of a registered card, sealed as creation seals it (under k1).
      const distribution = await insertDistribution(db.connection, ctx);
      const { id } = await distribution.recipient({ status: 'sent' });
      const sealedBefore = cipher.encrypt(serialiseRealName(realName as never), realNameEnvelopeContext(id));
      const claim = newClaimToken();
      await db.connection.query(
        ctx,
        'UPDATE distribution_recipients SET real_name_sealed = $2, claim_token_hash = $3 WHERE id = $1',
        [id, sealedBefore, claim.hash],
      );
      const recipients = ofRotated('distribution_recipients.real_name_sealed');
      const queries = owners.of(recipients);
      expect(queries).toBe(repositories.distribution.sealedColumns);
      // The row right after its own id's prefix: ours, stale for the new key.
      const [row] = await queries.page(ctx, recipients, recipients.stalenessParam('k2'), 1, [id.slice(0, -1)]);
      expect(row).toMatchObject({ k0: id, stale: sealedBefore, key_id: 'k1' });
      const fresh = recipients.reseal([id], sealedBefore);
      expect(await queries.reseal(ctx, recipients, [[id]], [sealedBefore], [fresh])).toEqual([{ k0: id }]);
      const [stored] = await db.connection.query<Array<{ real_name_sealed: string }>>(
        ctx,
        'SELECT real_name_sealed FROM distribution_recipients WHERE id = $1',
        [id],
      );
      expect(DataCipher.keyIdOf(stored.real_name_sealed)).toBe('k2');
      // What the claim page's OTP path reads (DistributionRepository.claimRecipient) opens to the same person.
      const opened = await repositories.distribution.claimRecipientByTokenHash(ctx, claim.hash);
      expect(parseRealName(rotated.decrypt(opened!.realNameSealed!, realNameEnvelopeContext(id)))).toEqual(realName);

      // An uploaded file's row: sealed already for the recipient it becomes, the rest of the row untouched.
      const fileId = `dfl_owners${randomBytes(6).toString('hex')}`;
      const fileRecipientId = `drc_owners${randomBytes(6).toString('hex')}`;
      const fileSealed = cipher.encrypt(serialiseRealName(realName as never), realNameEnvelopeContext(fileRecipientId));
      await db.connection.query(
        ctx,
        `INSERT INTO distribution_file_rows (file_id, row_number, recipient_id, employee_ref, channel, locale,
                                             face_value, email, real_name_sealed)
         VALUES ($1, 3, $2, 'E3', 'email', 'zh-CN', 10000, 'e3@example.com', $3)`,
        [fileId, fileRecipientId, fileSealed],
      );
      const files = ofRotated('distribution_file_rows.real_name_sealed');
      const census = await owners.of(files).census(ctx, files);
      expect(census.map((row) => row.key_id)).toContain('k1');
      // The page after a cursor just before the row's key (its id less the last character).
      const [fileRow] = await owners
        .of(files)
        .page(ctx, files, files.stalenessParam('k2'), 1, [fileRecipientId.slice(0, -1)]);
      expect(fileRow).toMatchObject({ k0: fileRecipientId, stale: fileSealed, key_id: 'k1' });
      const fileFresh = files.reseal([fileRecipientId], fileSealed);
      expect(await owners.of(files).reseal(ctx, files, [[fileRecipientId]], [fileSealed], [fileFresh])).toEqual([
        { k0: fileRecipientId },
      ]);
      const [fileStored] = await db.connection.query<Array<{ employee_ref: string; real_name_sealed: string }>>(
        ctx,
        'SELECT employee_ref, real_name_sealed FROM distribution_file_rows WHERE file_id = $1',
        [fileId],
      );
      expect(fileStored.employee_ref).toBe('E3');
      expect(DataCipher.keyIdOf(fileStored.real_name_sealed)).toBe('k2');
      expect(rotated.decrypt(fileStored.real_name_sealed, realNameEnvelopeContext(fileRecipientId))).toBe(
        serialiseRealName(realName as never),
      );
    });
  });

  it('refuses two owners of one table', () => {
    expect(
      () =>
        new SealedColumnOwners(
          repositories.cards,
          repositories.orders,
          repositories.idempotency,
          repositories.idempotency as unknown as WebhooksRepository,
          repositories.distribution,
          repositories.redemption,
        ),
    ).toThrow(/two owners claim idempotency_keys/);
  });
});
