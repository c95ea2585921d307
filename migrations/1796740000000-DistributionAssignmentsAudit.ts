import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The assignments' audit summaries are written by a job after the distribution commits, against digests the
 * distribution's own audit record commits (docs/decisions/0015): which record that is, and when the job wrote
 * them. Distributions created before were audited in their own transaction.
 */
export class DistributionAssignmentsAudit1796740000000 implements MigrationInterface {
  name = 'DistributionAssignmentsAudit1796740000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE "distributions" ADD "assignments_audit_id" text');
    await queryRunner.query('ALTER TABLE "distributions" ADD "assignments_audited_at" TIMESTAMP WITH TIME ZONE');
    await queryRunner.query('UPDATE "distributions" SET "assignments_audited_at" = "created_at"');
    await queryRunner.query(
      'CREATE INDEX "distributions_assignments_unaudited" ON "distributions"  ("created_at") WHERE assignments_audited_at IS NULL',
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP INDEX "public"."distributions_assignments_unaudited"');
    await queryRunner.query('ALTER TABLE "distributions" DROP COLUMN "assignments_audited_at"');
    await queryRunner.query('ALTER TABLE "distributions" DROP COLUMN "assignments_audit_id"');
  }
}
