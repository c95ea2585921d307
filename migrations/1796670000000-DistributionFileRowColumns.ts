import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * distribution_file_rows: typed columns instead of one JSON document per row, and the recipient id made at upload
 * (the reservation reads a whole file in SQL; docs/architecture.md, distribution). Uploaded files live 72 hours and
 * their real names were sealed for the file row, not for a recipient: files not yet distributed expire here and are
 * uploaded again (`422 file_expired` says so).
 */
export class DistributionFileRowColumns1796670000000 implements MigrationInterface {
  name = 'DistributionFileRowColumns1796670000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DELETE FROM "distribution_file_rows"');
    await queryRunner.query('UPDATE "distribution_files" SET "expires_at" = now() WHERE "expires_at" > now()');
    await queryRunner.query('ALTER TABLE "distribution_file_rows" DROP COLUMN "data"');
    await queryRunner.query('ALTER TABLE "distribution_file_rows" ADD "recipient_id" text NOT NULL');
    await queryRunner.query('ALTER TABLE "distribution_file_rows" ADD "employee_ref" text NOT NULL');
    await queryRunner.query('ALTER TABLE "distribution_file_rows" ADD "name" text');
    await queryRunner.query('ALTER TABLE "distribution_file_rows" ADD "email" text');
    await queryRunner.query('ALTER TABLE "distribution_file_rows" ADD "mobile" text');
    await queryRunner.query('ALTER TABLE "distribution_file_rows" ADD "channel" text NOT NULL');
    await queryRunner.query('ALTER TABLE "distribution_file_rows" ADD "face_value" integer');
    await queryRunner.query('ALTER TABLE "distribution_file_rows" ADD "serial" bigint');
    await queryRunner.query('ALTER TABLE "distribution_file_rows" ADD "greeting" text');
    await queryRunner.query('ALTER TABLE "distribution_file_rows" ADD "locale" text NOT NULL');
    await queryRunner.query('ALTER TABLE "distribution_file_rows" ADD "holder_ref" text');
    await queryRunner.query('ALTER TABLE "distribution_file_rows" ADD "channel_client_id" text');
    await queryRunner.query('ALTER TABLE "distribution_file_rows" ADD "real_name_sealed" text');
    await queryRunner.query('ALTER TABLE "distribution_file_rows" ADD "real_name_masked" jsonb');
    await queryRunner.query(
      'CREATE UNIQUE INDEX "distribution_file_rows_recipient" ON "distribution_file_rows" ("recipient_id") ',
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DELETE FROM "distribution_file_rows"');
    await queryRunner.query('DROP INDEX "public"."distribution_file_rows_recipient"');
    for (const column of [
      'real_name_masked',
      'real_name_sealed',
      'channel_client_id',
      'holder_ref',
      'locale',
      'greeting',
      'serial',
      'face_value',
      'channel',
      'mobile',
      'email',
      'name',
      'employee_ref',
      'recipient_id',
    ]) {
      await queryRunner.query(`ALTER TABLE "distribution_file_rows" DROP COLUMN "${column}"`);
    }
    await queryRunner.query('ALTER TABLE "distribution_file_rows" ADD "data" jsonb NOT NULL');
  }
}
