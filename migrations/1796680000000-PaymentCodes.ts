import type { MigrationInterface, QueryRunner } from 'typeorm';

/** payment_code_keys: each card's or holder wallet's key for dynamic payment codes (src/redemption/payment-code.ts). */
export class PaymentCodes1796680000000 implements MigrationInterface {
  name = 'PaymentCodes1796680000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "payment_code_keys" ("number" bigint NOT NULL, "client_id" text NOT NULL, "holder_ref" text NOT NULL,
        "serial" bigint, "secret_sealed" text NOT NULL, "uses" bigint NOT NULL DEFAULT '0',
        "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
        CONSTRAINT "PK_payment_code_keys_number" PRIMARY KEY ("number"))`,
    );
    await queryRunner.query(
      'CREATE UNIQUE INDEX "payment_code_keys_card" ON "payment_code_keys" ("serial") WHERE serial IS NOT NULL',
    );
    await queryRunner.query(
      'CREATE UNIQUE INDEX "payment_code_keys_wallet" ON "payment_code_keys" ("client_id", "holder_ref") WHERE serial IS NULL',
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE "payment_code_keys"');
  }
}
