import type { MigrationInterface, QueryRunner } from 'typeorm';

export class Issuance1795827174318 implements MigrationInterface {
  name = 'Issuance1795827174318';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      'CREATE TABLE "card_exports" ("id" text NOT NULL, "order_id" text NOT NULL, "enterprise_id" text NOT NULL, "requested_by_client_id" text NOT NULL, "status" text NOT NULL, "encryption" jsonb NOT NULL, "row_count" integer, "plaintext_sha256" text, "size_bytes" bigint, "storage_path" text, "download_token_hash" text, "download_expires_at" TIMESTAMP WITH TIME ZONE, "downloaded_at" TIMESTAMP WITH TIME ZONE, "purge_after_export" boolean NOT NULL DEFAULT false, "failure_reason" text, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "completed_at" TIMESTAMP WITH TIME ZONE, CONSTRAINT "PK_91b3e4ac00fa4f52aabab90ead0" PRIMARY KEY ("id"))',
    );
    await queryRunner.query('CREATE INDEX "IDX_6d67ddfb5132dbd1f7cd4d27b1" ON "card_exports"  ("order_id") ');
    await queryRunner.query(
      'CREATE TABLE "issuance_batches" ("id" text NOT NULL, "order_id" text NOT NULL, "enterprise_id" text NOT NULL, "line_no" integer NOT NULL, "product_id" text NOT NULL, "card_type" text NOT NULL, "face_value" integer NOT NULL, "count" integer NOT NULL, "chunk_size" integer NOT NULL, "serial_start" bigint NOT NULL, "issued_count" integer NOT NULL DEFAULT \'0\', "status" text NOT NULL, "failure_reason" text, "expires_at" TIMESTAMP WITH TIME ZONE, "started_at" TIMESTAMP WITH TIME ZONE, "completed_at" TIMESTAMP WITH TIME ZONE, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_5e54a352bc94419042a92596796" PRIMARY KEY ("id"))',
    );
    await queryRunner.query('CREATE INDEX "IDX_9e386f13623b07e9db005bca89" ON "issuance_batches"  ("order_id") ');
    await queryRunner.query(
      'CREATE TABLE "issuance_chunks" ("batch_id" text NOT NULL, "chunk_no" integer NOT NULL, "count" integer NOT NULL, "done_at" TIMESTAMP WITH TIME ZONE, CONSTRAINT "PK_a3bf4e9873a1cc3695c81098a1b" PRIMARY KEY ("batch_id", "chunk_no"))',
    );
    await queryRunner.query(
      'CREATE TABLE "card_serial_allocator" ("id" smallint NOT NULL, "next_value" bigint NOT NULL, CONSTRAINT "PK_1e61537c0362dc1452d57240a18" PRIMARY KEY ("id"))',
    );
    await queryRunner.query(
      'CREATE TABLE "cards" ("serial" bigint NOT NULL, "order_id" text NOT NULL, "batch_id" text NOT NULL, "face_value" integer NOT NULL, "balance" bigint NOT NULL, "status" text NOT NULL DEFAULT \'issued\', "expires_at" TIMESTAMP WITH TIME ZONE, "code_hash" bytea NOT NULL, "secret_ciphertext" text, "issued_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "cards_balance_range" CHECK ("balance" >= 0 AND "balance" <= "face_value"), CONSTRAINT "PK_79c5d9dff54870b9aea4d47924e" PRIMARY KEY ("serial"))',
    );
    await queryRunner.query('CREATE UNIQUE INDEX "IDX_6ef89730978049a782e982dc72" ON "cards"  ("code_hash") ');
    await queryRunner.query('CREATE INDEX "cards_order_serial" ON "cards"  ("order_id", "serial") ');
    // Card sequence numbers start at 10^10: serials are then 11 digits plus the Luhn check digit.
    await queryRunner.query('INSERT INTO "card_serial_allocator" (id, next_value) VALUES (1, 10000000000)');
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP INDEX "public"."cards_order_serial"');
    await queryRunner.query('DROP INDEX "public"."IDX_6ef89730978049a782e982dc72"');
    await queryRunner.query('DROP TABLE "cards"');
    await queryRunner.query('DROP TABLE "card_serial_allocator"');
    await queryRunner.query('DROP TABLE "issuance_chunks"');
    await queryRunner.query('DROP INDEX "public"."IDX_9e386f13623b07e9db005bca89"');
    await queryRunner.query('DROP TABLE "issuance_batches"');
    await queryRunner.query('DROP INDEX "public"."IDX_6d67ddfb5132dbd1f7cd4d27b1"');
    await queryRunner.query('DROP TABLE "card_exports"');
  }
}
