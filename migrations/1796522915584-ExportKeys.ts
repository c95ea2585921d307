import type { MigrationInterface, QueryRunner } from 'typeorm';

export class ExportKeys1796522915584 implements MigrationInterface {
  name = 'ExportKeys1796522915584';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      'CREATE TABLE "export_keys" ("id" text NOT NULL, "enterprise_id" text NOT NULL, "label" text, "fingerprint" text NOT NULL, "encryption_key_id" text NOT NULL, "algorithm" text NOT NULL, "user_ids" text array NOT NULL, "public_key" text NOT NULL, "status" text NOT NULL, "registered_by_client_id" text NOT NULL, "confirmed_by_client_id" text, "confirmed_at" TIMESTAMP WITH TIME ZONE, "revoked_by_client_id" text, "revoked_at" TIMESTAMP WITH TIME ZONE, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "export_keys_status" CHECK (status IN (\'pending_confirmation\', \'confirmed\', \'revoked\')), CONSTRAINT "PK_28ee3e2525be0846e9c84c6c160" PRIMARY KEY ("id"))',
    );
    await queryRunner.query(
      'CREATE UNIQUE INDEX "export_keys_fingerprint" ON "export_keys"  ("enterprise_id", "fingerprint") WHERE status <> \'revoked\'',
    );
    await queryRunner.query('CREATE INDEX "export_keys_enterprise" ON "export_keys"  ("enterprise_id", "id") ');
    await queryRunner.query('ALTER TABLE "card_exports" ADD "export_key_id" text');
    await queryRunner.query('ALTER TABLE "card_exports" ADD "purge_confirmed_by_client_id" text');
    await queryRunner.query('ALTER TABLE "card_exports" ADD "purge_confirmed_at" TIMESTAMP WITH TIME ZONE');
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE "card_exports" DROP COLUMN "purge_confirmed_at"');
    await queryRunner.query('ALTER TABLE "card_exports" DROP COLUMN "purge_confirmed_by_client_id"');
    await queryRunner.query('ALTER TABLE "card_exports" DROP COLUMN "export_key_id"');
    await queryRunner.query('DROP INDEX "public"."export_keys_enterprise"');
    await queryRunner.query('DROP INDEX "public"."export_keys_fingerprint"');
    await queryRunner.query('DROP TABLE "export_keys"');
  }
}
