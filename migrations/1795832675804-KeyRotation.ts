import type { MigrationInterface, QueryRunner } from 'typeorm';

export class KeyRotation1795832675804 implements MigrationInterface {
  name = 'KeyRotation1795832675804';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      'CREATE TABLE "reencryption_runs" ("id" text NOT NULL, "status" text NOT NULL, "target_key_id" text NOT NULL, "batch_size" integer NOT NULL, "progress" jsonb NOT NULL, "requested_by_client_id" text, "failure_reason" text, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "started_at" TIMESTAMP WITH TIME ZONE, "completed_at" TIMESTAMP WITH TIME ZONE, "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_7af75603cc15f4d4e7916923a1b" PRIMARY KEY ("id"))',
    );
    await queryRunner.query('CREATE INDEX "reencryption_runs_status" ON "reencryption_runs"  ("status") ');
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP INDEX "public"."reencryption_runs_status"');
    await queryRunner.query('DROP TABLE "reencryption_runs"');
  }
}
