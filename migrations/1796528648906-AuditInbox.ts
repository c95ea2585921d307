import type { MigrationInterface, QueryRunner } from 'typeorm';

export class AuditInbox1796528648906 implements MigrationInterface {
  name = 'AuditInbox1796528648906';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      'CREATE TABLE "audit_pending" ("pending_no" bigint GENERATED ALWAYS AS IDENTITY NOT NULL, "id" text NOT NULL, "occurred_at" TIMESTAMP WITH TIME ZONE NOT NULL, "actor_client_id" text, "enterprise_id" text, "action" text NOT NULL, "object_type" text NOT NULL, "object_id" text NOT NULL, "request_id" text, "data" jsonb NOT NULL, "key_id" text NOT NULL, "mac" character(64) NOT NULL, CONSTRAINT "UQ_75e10a15f610386e81e7f88cc29" UNIQUE ("id"), CONSTRAINT "PK_28f856aa8e8926d3616f348317c" PRIMARY KEY ("pending_no"))',
    );
    // Pending records are only ever inserted, and deleted by the seal that moves them into the chain.
    await queryRunner.query(`
      CREATE FUNCTION audit_pending_insert_only() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION 'audit_pending: % refused (records only leave it by being sealed)', TG_OP
          USING ERRCODE = 'restrict_violation';
      END $$`);
    await queryRunner.query(
      'CREATE TRIGGER "audit_pending_no_update" BEFORE UPDATE ON "audit_pending" FOR EACH ROW EXECUTE FUNCTION audit_pending_insert_only()',
    );
    await queryRunner.query(
      'CREATE TRIGGER "audit_pending_no_truncate" BEFORE TRUNCATE ON "audit_pending" FOR EACH STATEMENT EXECUTE FUNCTION audit_pending_insert_only()',
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TRIGGER "audit_pending_no_truncate" ON "audit_pending"');
    await queryRunner.query('DROP TRIGGER "audit_pending_no_update" ON "audit_pending"');
    await queryRunner.query('DROP FUNCTION audit_pending_insert_only()');
    await queryRunner.query('DROP TABLE "audit_pending"');
  }
}
