import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Files every process sees (src/storage): one row per version, its bytes in 1 MiB chunks. */
export class StoredFiles1796660000000 implements MigrationInterface {
  name = 'StoredFiles1796660000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "stored_files" ("id" text NOT NULL, "key" text NOT NULL, "status" text NOT NULL, "size_bytes" bigint,
        "sha256" text, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL, "completed_at" TIMESTAMP WITH TIME ZONE,
        "expires_at" TIMESTAMP WITH TIME ZONE, CONSTRAINT "PK_stored_files" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE UNIQUE INDEX "stored_files_key" ON "stored_files" ("key") WHERE status = 'complete'`,
    );
    await queryRunner.query(
      'CREATE INDEX "stored_files_expires_at" ON "stored_files" ("expires_at") WHERE expires_at IS NOT NULL',
    );
    await queryRunner.query(
      `CREATE TABLE "stored_file_chunks" ("file_id" text NOT NULL, "seq" integer NOT NULL, "data" bytea NOT NULL,
        CONSTRAINT "PK_stored_file_chunks" PRIMARY KEY ("file_id", "seq"))`,
    );
    await queryRunner.query(
      `ALTER TABLE "stored_file_chunks" ADD CONSTRAINT "FK_37be6c847f971f1b9536e7dd076" FOREIGN KEY ("file_id")
        REFERENCES "stored_files"("id") ON DELETE CASCADE ON UPDATE NO ACTION`,
    );
    // Exports are OpenPGP ciphertext and PDFs are compressed already: TOAST compression would only cost CPU.
    await queryRunner.query('ALTER TABLE "stored_file_chunks" ALTER COLUMN "data" SET STORAGE EXTERNAL');
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE "stored_file_chunks"');
    await queryRunner.query('DROP TABLE "stored_files"');
  }
}
