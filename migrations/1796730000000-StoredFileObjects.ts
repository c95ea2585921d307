import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A stored file's content may be an object of an S3-compatible bucket (S3_BUCKET): its key, per version; null keeps
 * the content in stored_file_chunks, as every version written before had it.
 */
export class StoredFileObjects1796730000000 implements MigrationInterface {
  name = 'StoredFileObjects1796730000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE "stored_files" ADD "object_key" text');
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE "stored_files" DROP COLUMN "object_key"');
  }
}
