import type { MigrationInterface, QueryRunner } from 'typeorm';

/** The daily reconciliation summaries sent, one per enterprise and Asia/Shanghai day (the job is idempotent by it). */
export class ReconciliationDaily1796600000001 implements MigrationInterface {
  name = 'ReconciliationDaily1796600000001';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "reconciliation_daily_runs" ("enterprise_id" text NOT NULL, "day" date NOT NULL,
         "event_id" text NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
         CONSTRAINT "PK_reconciliation_daily_runs" PRIMARY KEY ("enterprise_id", "day"))`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE "reconciliation_daily_runs"');
  }
}
