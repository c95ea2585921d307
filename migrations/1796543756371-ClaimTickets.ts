import type { MigrationInterface, QueryRunner } from 'typeorm';

export class ClaimTickets1796543756371 implements MigrationInterface {
  name = 'ClaimTickets1796543756371';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE "api_clients" ADD "claim_bind_url" text');
    await queryRunner.query('ALTER TABLE "distribution_recipients" ADD "bind_ticket_hash" bytea');
    await queryRunner.query(
      'ALTER TABLE "distribution_recipients" ADD "bind_ticket_expires_at" TIMESTAMP WITH TIME ZONE',
    );
    await queryRunner.query('ALTER TABLE "distribution_recipients" ADD "bind_ticket_client_id" text');
    await queryRunner.query(
      'CREATE UNIQUE INDEX "distribution_recipients_bind_ticket" ON "distribution_recipients"  ("bind_ticket_hash") WHERE bind_ticket_hash IS NOT NULL',
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP INDEX "public"."distribution_recipients_bind_ticket"');
    await queryRunner.query('ALTER TABLE "distribution_recipients" DROP COLUMN "bind_ticket_client_id"');
    await queryRunner.query('ALTER TABLE "distribution_recipients" DROP COLUMN "bind_ticket_expires_at"');
    await queryRunner.query('ALTER TABLE "distribution_recipients" DROP COLUMN "bind_ticket_hash"');
    await queryRunner.query('ALTER TABLE "api_clients" DROP COLUMN "claim_bind_url"');
  }
}
