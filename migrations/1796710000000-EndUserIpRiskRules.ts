import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The IP fraud rules (src/risk/, docs/decisions/0010): the end user's IP on bind and debit movements, the claim page's
 * reveals and wrong one-time codes with the visitor's IP (claim_actions), and an alert's recipient and IP.
 */
export class EndUserIpRiskRules1796710000000 implements MigrationInterface {
  name = 'EndUserIpRiskRules1796710000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      'CREATE TABLE "claim_actions" ("id" bigint GENERATED ALWAYS AS IDENTITY NOT NULL, "recipient_id" text NOT NULL, "enterprise_id" text NOT NULL, "kind" text NOT NULL, "end_user_ip" inet, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "claim_actions_kind" CHECK (kind IN (\'reveal\', \'otp_failure\')), CONSTRAINT "PK_94efb07fa4ef29faca4c08d39f7" PRIMARY KEY ("id"))',
    );
    await queryRunner.query(
      'CREATE INDEX "claim_actions_ip" ON "claim_actions"  ("enterprise_id", "end_user_ip", "created_at") WHERE kind = \'reveal\'',
    );
    await queryRunner.query(
      'CREATE INDEX "claim_actions_recipient" ON "claim_actions"  ("recipient_id", "kind", "created_at") ',
    );
    await queryRunner.query('ALTER TABLE "card_transactions" ADD "end_user_ip" inet');
    await queryRunner.query(
      'CREATE INDEX "card_transactions_end_user_ips" ON "card_transactions"  ("serial", "created_at") WHERE end_user_ip IS NOT NULL',
    );
    await queryRunner.query('ALTER TABLE "risk_alerts" ADD "recipient_id" text');
    await queryRunner.query('ALTER TABLE "risk_alerts" ADD "end_user_ip" inet');
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE "risk_alerts" DROP COLUMN "end_user_ip"');
    await queryRunner.query('ALTER TABLE "risk_alerts" DROP COLUMN "recipient_id"');
    await queryRunner.query('DROP INDEX "public"."card_transactions_end_user_ips"');
    await queryRunner.query('ALTER TABLE "card_transactions" DROP COLUMN "end_user_ip"');
    await queryRunner.query('DROP INDEX "public"."claim_actions_recipient"');
    await queryRunner.query('DROP INDEX "public"."claim_actions_ip"');
    await queryRunner.query('DROP TABLE "claim_actions"');
  }
}
