import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Statement files built by a worker (POST /v1/statement-runs); the files themselves are in stored_files. */
export class StatementRuns1796700000001 implements MigrationInterface {
  name = 'StatementRuns1796700000001';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "statement_runs" ("id" text NOT NULL, "enterprise_id" text NOT NULL, "status" text NOT NULL,
        "format" text NOT NULL, "period_from" TIMESTAMP WITH TIME ZONE NOT NULL,
        "period_to" TIMESTAMP WITH TIME ZONE NOT NULL, "size_bytes" bigint, "sha256" text, "failure_reason" text,
        "created_by_client_id" text NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
        "completed_at" TIMESTAMP WITH TIME ZONE, "expires_at" TIMESTAMP WITH TIME ZONE,
        CONSTRAINT "statement_runs_period" CHECK ("period_from" < "period_to"),
        CONSTRAINT "PK_statement_runs" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query('CREATE INDEX "statement_runs_enterprise" ON "statement_runs" ("enterprise_id", "id") ');
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP INDEX "statement_runs_enterprise"');
    await queryRunner.query('DROP TABLE "statement_runs"');
  }
}
