import type { MigrationInterface, QueryRunner } from 'typeorm';

/** risk_alerts and risk_rule_settings: fraud monitoring (src/risk/). */
export class RiskMonitoring1796680000001 implements MigrationInterface {
  name = 'RiskMonitoring1796680000001';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "risk_alerts" ("id" text NOT NULL, "rule" text NOT NULL, "action" text NOT NULL,
        "enterprise_id" text, "client_id" text, "serial" bigint, "holder_ref" text, "order_id" text,
        "figures" jsonb NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
        CONSTRAINT "PK_risk_alerts_id" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query('CREATE INDEX "risk_alerts_serial" ON "risk_alerts" ("serial") ');
    await queryRunner.query(
      `CREATE INDEX "card_transactions_binds" ON "card_transactions" ("client_id", "holder_ref", "created_at") WHERE kind = 'bind'`,
    );
    await queryRunner.query(
      `CREATE INDEX "card_transactions_debits" ON "card_transactions" ("serial", "created_at") WHERE kind = 'debit'`,
    );
    await queryRunner.query(
      `CREATE TABLE "risk_rule_settings" ("scope" text NOT NULL, "rule" text NOT NULL, "threshold" integer,
        "action" text, "enabled" boolean, "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
        CONSTRAINT "PK_risk_rule_settings" PRIMARY KEY ("scope", "rule"))`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP INDEX "public"."card_transactions_debits"');
    await queryRunner.query('DROP INDEX "public"."card_transactions_binds"');
    await queryRunner.query('DROP TABLE "risk_rule_settings"');
    await queryRunner.query('DROP TABLE "risk_alerts"');
  }
}
