import type { MigrationInterface, QueryRunner } from 'typeorm';

export class Redemption1795832263455 implements MigrationInterface {
  name = 'Redemption1795832263455';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      'CREATE TABLE "card_transactions" ("id" bigint GENERATED ALWAYS AS IDENTITY NOT NULL, "serial" bigint NOT NULL, "enterprise_id" text NOT NULL, "kind" text NOT NULL, "amount" bigint NOT NULL, "balance_after" bigint NOT NULL, "redemption_id" text, "holder_ref" text, "client_id" text, "related_serial" bigint, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_b8134a1a069b742d44cfffe7418" PRIMARY KEY ("id"))',
    );
    await queryRunner.query(
      'CREATE INDEX "IDX_425a14e5a64ee5cdcb486a42b4" ON "card_transactions"  ("redemption_id") WHERE "redemption_id" IS NOT NULL',
    );
    await queryRunner.query('CREATE INDEX "card_transactions_serial" ON "card_transactions"  ("serial", "id") ');
    await queryRunner.query(
      'CREATE TABLE "redemptions" ("id" text NOT NULL, "client_id" text NOT NULL, "reference" text NOT NULL, "kind" text NOT NULL, "fingerprint" text NOT NULL, "enterprise_id" text NOT NULL, "holder_ref" text, "amount" bigint NOT NULL, "reversed_amount" bigint NOT NULL DEFAULT \'0\', "reverses_id" text, "response" jsonb NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "redemptions_client_reference" UNIQUE ("client_id", "reference"), CONSTRAINT "redemptions_amounts" CHECK ("amount" >= 0 AND "reversed_amount" >= 0 AND "reversed_amount" <= "amount"), CONSTRAINT "PK_def143ab94376fea5985bb04219" PRIMARY KEY ("id"))',
    );
    await queryRunner.query(
      'CREATE TABLE "redemption_attempt_counters" ("key" text NOT NULL, "failures" integer NOT NULL, "window_ends_at" TIMESTAMP WITH TIME ZONE NOT NULL, "blocked_until" TIMESTAMP WITH TIME ZONE, CONSTRAINT "PK_d70d0de8d1e31ad5886bdef4545" PRIMARY KEY ("key"))',
    );
    await queryRunner.query('ALTER TABLE "cards" ADD "pin_hash" bytea');
    await queryRunner.query('ALTER TABLE "cards" ADD "holder_ref" text');
    await queryRunner.query('ALTER TABLE "cards" ADD "bound_at" TIMESTAMP WITH TIME ZONE');
    await queryRunner.query('ALTER TABLE "cards" ADD "frozen_from" text');
    await queryRunner.query('ALTER TABLE "cards" ADD "replaced_by" bigint');
    await queryRunner.query('ALTER TABLE "cards" ADD "replaces" bigint');
    await queryRunner.query(
      'CREATE INDEX "cards_expiry_due" ON "cards"  ("expires_at") WHERE "expires_at" IS NOT NULL AND "status" IN (\'issued\', \'delivered\', \'active\', \'exhausted\', \'frozen\')',
    );
    await queryRunner.query('CREATE INDEX "cards_holder" ON "cards"  ("holder_ref") WHERE "holder_ref" IS NOT NULL');
    await queryRunner.query(
      'ALTER TABLE "cards" ADD CONSTRAINT "cards_frozen_from" CHECK (("status" = \'frozen\') = ("frozen_from" IS NOT NULL))',
    );
    await queryRunner.query(
      'ALTER TABLE "cards" ADD CONSTRAINT "cards_bound_has_holder" CHECK ("status" NOT IN (\'active\', \'exhausted\') OR "holder_ref" IS NOT NULL)',
    );
    await queryRunner.query(
      "ALTER TABLE \"cards\" ADD CONSTRAINT \"cards_status_known\" CHECK (\"status\" IN ('issued', 'delivered', 'active', 'exhausted', 'frozen', 'lost', 'replaced', 'voided', 'refunded', 'expired'))",
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE "cards" DROP CONSTRAINT "cards_status_known"');
    await queryRunner.query('ALTER TABLE "cards" DROP CONSTRAINT "cards_bound_has_holder"');
    await queryRunner.query('ALTER TABLE "cards" DROP CONSTRAINT "cards_frozen_from"');
    await queryRunner.query('DROP INDEX "public"."cards_holder"');
    await queryRunner.query('DROP INDEX "public"."cards_expiry_due"');
    await queryRunner.query('ALTER TABLE "cards" DROP COLUMN "replaces"');
    await queryRunner.query('ALTER TABLE "cards" DROP COLUMN "replaced_by"');
    await queryRunner.query('ALTER TABLE "cards" DROP COLUMN "frozen_from"');
    await queryRunner.query('ALTER TABLE "cards" DROP COLUMN "bound_at"');
    await queryRunner.query('ALTER TABLE "cards" DROP COLUMN "holder_ref"');
    await queryRunner.query('ALTER TABLE "cards" DROP COLUMN "pin_hash"');
    await queryRunner.query('DROP TABLE "redemption_attempt_counters"');
    await queryRunner.query('DROP TABLE "redemptions"');
    await queryRunner.query('DROP INDEX "public"."card_transactions_serial"');
    await queryRunner.query('DROP INDEX "public"."IDX_425a14e5a64ee5cdcb486a42b4"');
    await queryRunner.query('DROP TABLE "card_transactions"');
  }
}
