import type { MigrationInterface, QueryRunner } from 'typeorm';

export class Foundation1795822357562 implements MigrationInterface {
  name = 'Foundation1795822357562';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      'CREATE TABLE "audit_records" ("seq" bigint NOT NULL, "id" text NOT NULL, "occurred_at" TIMESTAMP WITH TIME ZONE NOT NULL, "actor_client_id" text, "enterprise_id" text, "action" text NOT NULL, "object_type" text NOT NULL, "object_id" text NOT NULL, "request_id" text, "data" jsonb NOT NULL, "prev_hash" character(64) NOT NULL, "hash" character(64) NOT NULL, CONSTRAINT "PK_849d46c77cbd8a25c1e3cb456ff" PRIMARY KEY ("seq"))',
    );
    await queryRunner.query('CREATE UNIQUE INDEX "IDX_f903ebdf175f062be69747b0f1" ON "audit_records"  ("id") ');
    await queryRunner.query('CREATE INDEX "IDX_c9d9d03b8e9cd88c3db282bcb3" ON "audit_records"  ("enterprise_id") ');
    await queryRunner.query(
      'CREATE TABLE "api_clients" ("id" text NOT NULL, "name" text NOT NULL, "enterprise_id" text, "scopes" text array NOT NULL, "ip_allowlist" text array NOT NULL DEFAULT \'{}\', "status" text NOT NULL DEFAULT \'active\', "revoked_at" TIMESTAMP WITH TIME ZONE, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_ef2d5ef0eb5e9a6ddc67cfa310e" PRIMARY KEY ("id"))',
    );
    await queryRunner.query('CREATE INDEX "IDX_8e2e46a6f39b45f0df478681aa" ON "api_clients"  ("enterprise_id") ');
    await queryRunner.query(
      'CREATE TABLE "api_client_secrets" ("id" text NOT NULL, "client_id" text NOT NULL, "hash" text NOT NULL, "hint" text NOT NULL, "expires_at" TIMESTAMP WITH TIME ZONE, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_79e821be795fca55e9ce734b31b" PRIMARY KEY ("id"))',
    );
    await queryRunner.query('CREATE INDEX "IDX_446d2e8ef65e4b54ad3ecca492" ON "api_client_secrets"  ("client_id") ');
    await queryRunner.query(
      'CREATE TABLE "idempotency_keys" ("client_id" text NOT NULL, "key" text NOT NULL, "fingerprint" text NOT NULL, "response_status" integer NOT NULL, "response_body" jsonb, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_9cf44f13e0f6543341a0c80108e" PRIMARY KEY ("client_id", "key"))',
    );
    await queryRunner.query('CREATE INDEX "IDX_5e72f040fdc5efc8eef52a388c" ON "idempotency_keys"  ("created_at") ');
    await queryRunner.query(
      'CREATE TABLE "enterprises" ("id" text NOT NULL, "name" text NOT NULL, "credit_code" character(18) NOT NULL, "status" text NOT NULL DEFAULT \'active\', "invoice_title" text NOT NULL, "registered_address" text, "phone" text, "bank_name" text, "bank_account" text, "contact_email" text, "discount_bps" integer NOT NULL DEFAULT \'0\', "credit_limit" bigint NOT NULL DEFAULT \'0\', "currency" character(3) NOT NULL DEFAULT \'CNY\', "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "UQ_bca102e5421c71d700c4ee4ff9a" UNIQUE ("credit_code"), CONSTRAINT "PK_a019e9afe6517b4f2a4588f2cce" PRIMARY KEY ("id"))',
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE "enterprises"');
    await queryRunner.query('DROP INDEX "public"."IDX_5e72f040fdc5efc8eef52a388c"');
    await queryRunner.query('DROP TABLE "idempotency_keys"');
    await queryRunner.query('DROP INDEX "public"."IDX_446d2e8ef65e4b54ad3ecca492"');
    await queryRunner.query('DROP TABLE "api_client_secrets"');
    await queryRunner.query('DROP INDEX "public"."IDX_8e2e46a6f39b45f0df478681aa"');
    await queryRunner.query('DROP TABLE "api_clients"');
    await queryRunner.query('DROP INDEX "public"."IDX_c9d9d03b8e9cd88c3db282bcb3"');
    await queryRunner.query('DROP INDEX "public"."IDX_f903ebdf175f062be69747b0f1"');
    await queryRunner.query('DROP TABLE "audit_records"');
  }
}
