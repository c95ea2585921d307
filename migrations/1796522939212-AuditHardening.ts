import type { MigrationInterface, QueryRunner } from 'typeorm';

const APPEND_ONLY = ['audit_records', 'audit_checkpoints', 'card_transactions'];

export class AuditHardening1796522939212 implements MigrationInterface {
  name = 'AuditHardening1796522939212';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      'CREATE TABLE "audit_checkpoints" ("id" bigint GENERATED ALWAYS AS IDENTITY NOT NULL, "seq" bigint NOT NULL, "hash" character(64) NOT NULL, "key_id" text NOT NULL, "mac" character(64) NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL, CONSTRAINT "PK_ec62ec0b7b181580b1fa64e1167" PRIMARY KEY ("id"))',
    );
    await queryRunner.query(
      'CREATE TABLE "audit_chain_head" ("id" smallint NOT NULL, "seq" bigint NOT NULL, "prev_hash" character(64) NOT NULL, "hash" character(64) NOT NULL, CONSTRAINT "PK_9211408bf584034de409b1bbec5" PRIMARY KEY ("id"))',
    );
    await queryRunner.query('ALTER TABLE "audit_records" ADD "key_id" text');
    await queryRunner.query('ALTER TABLE "audit_records" ADD "mac" character(64)');
    // The head starts where the (unkeyed) chain so far ends; new records are keyed and link to it.
    await queryRunner.query(
      `INSERT INTO "audit_chain_head" ("id", "seq", "prev_hash", "hash")
       SELECT 1, COALESCE(MAX(seq), 0),
              COALESCE((SELECT prev_hash FROM audit_records ORDER BY seq DESC LIMIT 1), repeat('0', 64)),
              COALESCE((SELECT hash FROM audit_records ORDER BY seq DESC LIMIT 1), repeat('0', 64))
       FROM audit_records`,
    );
    await queryRunner.query('ALTER TABLE "audit_chain_head" ADD CONSTRAINT "audit_chain_head_one_row" CHECK (id = 1)');
    // Append-only like the ledger (migration OrdersLedgerCatalog): audit records, their checkpoints and card
    // movements are history. Only a schema owner can drop a trigger; the app runs as a role that owns nothing.
    await queryRunner.query(`
      CREATE FUNCTION history_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP USING ERRCODE = 'restrict_violation';
      END $$`);
    for (const table of APPEND_ONLY) {
      await queryRunner.query(
        `CREATE TRIGGER "${table}_append_only" BEFORE UPDATE OR DELETE ON "${table}" FOR EACH ROW EXECUTE FUNCTION history_append_only()`,
      );
      await queryRunner.query(
        `CREATE TRIGGER "${table}_no_truncate" BEFORE TRUNCATE ON "${table}" FOR EACH STATEMENT EXECUTE FUNCTION history_append_only()`,
      );
    }
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    for (const table of APPEND_ONLY) {
      await queryRunner.query(`DROP TRIGGER "${table}_no_truncate" ON "${table}"`);
      await queryRunner.query(`DROP TRIGGER "${table}_append_only" ON "${table}"`);
    }
    await queryRunner.query('DROP FUNCTION history_append_only()');
    await queryRunner.query('ALTER TABLE "audit_records" DROP COLUMN "mac"');
    await queryRunner.query('ALTER TABLE "audit_records" DROP COLUMN "key_id"');
    await queryRunner.query('DROP TABLE "audit_chain_head"');
    await queryRunner.query('DROP TABLE "audit_checkpoints"');
  }
}
