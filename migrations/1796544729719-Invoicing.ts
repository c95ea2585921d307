import type { MigrationInterface, QueryRunner } from 'typeorm';

export class Invoicing1796544729719 implements MigrationInterface {
  name = 'Invoicing1796544729719';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      'CREATE TABLE "invoices" ("id" text NOT NULL, "enterprise_id" text NOT NULL, "number" text NOT NULL, "issuer_code" text NOT NULL, "year" integer NOT NULL, "sequence" integer NOT NULL, "kind" text NOT NULL, "invoice_type" text NOT NULL, "reason" text NOT NULL, "original_invoice_id" text, "period" text, "face_value" bigint NOT NULL, "discount" bigint NOT NULL, "amount" bigint NOT NULL, "amount_in_words" text NOT NULL, "buyer" jsonb NOT NULL, "seller" jsonb NOT NULL, "lines" jsonb NOT NULL, "note" text, "issued_at" TIMESTAMP WITH TIME ZONE NOT NULL, "render_status" text NOT NULL DEFAULT \'pending\', "pdf_path" text, "pdf_sha256" character(64), "xml_path" text, "xml_sha256" character(64), "json_sha256" character(64), "rendered_at" TIMESTAMP WITH TIME ZONE, "emailed_at" TIMESTAMP WITH TIME ZONE, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "invoices_number" UNIQUE ("number"), CONSTRAINT "invoices_issuer_year_sequence" UNIQUE ("issuer_code", "year", "sequence"), CONSTRAINT "invoices_red_has_original" CHECK (("kind" = \'red\') = ("original_invoice_id" IS NOT NULL)), CONSTRAINT "invoices_sign" CHECK (("kind" = \'blue\' AND "amount" > 0) OR ("kind" = \'red\' AND "amount" < 0)), CONSTRAINT "PK_668cef7c22a427fd822cc1be3ce" PRIMARY KEY ("id"))',
    );
    await queryRunner.query(
      'CREATE UNIQUE INDEX "invoices_enterprise_period" ON "invoices"  ("enterprise_id", "period") WHERE "period" IS NOT NULL',
    );
    await queryRunner.query('CREATE INDEX "invoices_original" ON "invoices"  ("original_invoice_id") ');
    await queryRunner.query('CREATE INDEX "invoices_enterprise" ON "invoices"  ("enterprise_id", "id") ');
    await queryRunner.query(
      'CREATE TABLE "invoice_orders" ("order_id" text NOT NULL, "invoice_id" text NOT NULL, "enterprise_id" text NOT NULL, "face_value" bigint NOT NULL, "amount" bigint NOT NULL, "credited" bigint NOT NULL DEFAULT \'0\', CONSTRAINT "invoice_orders_credited_range" CHECK ("credited" >= 0 AND "credited" <= "amount"), CONSTRAINT "PK_a2e3e54da59abcb693826c68278" PRIMARY KEY ("order_id"))',
    );
    await queryRunner.query('CREATE INDEX "invoice_orders_invoice" ON "invoice_orders"  ("invoice_id") ');
    await queryRunner.query(
      'CREATE TABLE "invoice_order_returns" ("id" text NOT NULL, "order_id" text NOT NULL, "enterprise_id" text NOT NULL, "reason" text NOT NULL, "face_value" bigint NOT NULL, "amount" bigint NOT NULL, "credit_invoice_id" text, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_0fc44493ed96c5666ffafd5b44d" PRIMARY KEY ("id"))',
    );
    await queryRunner.query('CREATE INDEX "invoice_order_returns_order" ON "invoice_order_returns"  ("order_id") ');
    await queryRunner.query(
      'CREATE TABLE "invoice_profiles" ("enterprise_id" text NOT NULL, "title" text NOT NULL, "taxpayer_id" text NOT NULL, "address" text, "phone" text, "bank" text, "account" text, "emails" text array NOT NULL DEFAULT \'{}\', "mode" text NOT NULL, "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_ded233f03de6d99cbbae11d3781" PRIMARY KEY ("enterprise_id"))',
    );
    await queryRunner.query(
      'CREATE TABLE "invoice_number_counters" ("issuer_code" text NOT NULL, "year" integer NOT NULL, "last_sequence" integer NOT NULL, CONSTRAINT "invoice_number_counters_positive" CHECK ("last_sequence" > 0), CONSTRAINT "PK_663c1e6116ed3d040131d0339a5" PRIMARY KEY ("issuer_code", "year"))',
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE "invoice_number_counters"');
    await queryRunner.query('DROP TABLE "invoice_profiles"');
    await queryRunner.query('DROP INDEX "public"."invoice_order_returns_order"');
    await queryRunner.query('DROP TABLE "invoice_order_returns"');
    await queryRunner.query('DROP INDEX "public"."invoice_orders_invoice"');
    await queryRunner.query('DROP TABLE "invoice_orders"');
    await queryRunner.query('DROP INDEX "public"."invoices_enterprise"');
    await queryRunner.query('DROP INDEX "public"."invoices_original"');
    await queryRunner.query('DROP INDEX "public"."invoices_enterprise_period"');
    await queryRunner.query('DROP TABLE "invoices"');
  }
}
