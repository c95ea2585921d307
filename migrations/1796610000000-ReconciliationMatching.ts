import type { MigrationInterface, QueryRunner } from 'typeorm';

export class ReconciliationMatching1796610000000 implements MigrationInterface {
  name = 'ReconciliationMatching1796610000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      'CREATE TABLE "reconciliations" ("id" text NOT NULL, "enterprise_id" text NOT NULL, "status" text NOT NULL, "format" text NOT NULL, "filename" text, "row_count" integer NOT NULL, "period_from" date NOT NULL, "period_to" date NOT NULL, "period_given" boolean NOT NULL, "counts" jsonb, "failure_reason" text, "created_by_client_id" text NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "completed_at" TIMESTAMP WITH TIME ZONE, CONSTRAINT "reconciliations_period" CHECK ("period_from" <= "period_to"), CONSTRAINT "PK_reconciliations" PRIMARY KEY ("id"))',
    );
    await queryRunner.query('CREATE INDEX "reconciliations_enterprise" ON "reconciliations"  ("enterprise_id", "id") ');
    await queryRunner.query(
      'CREATE TABLE "reconciliation_rows" ("reconciliation_id" text NOT NULL, "row_number" integer NOT NULL, "order_id" text, "po_number" text, "amount" bigint NOT NULL, "date" date NOT NULL, "invoice_number" text, CONSTRAINT "PK_reconciliation_rows" PRIMARY KEY ("reconciliation_id", "row_number"))',
    );
    await queryRunner.query(
      'CREATE TABLE "reconciliation_differences" ("reconciliation_id" text NOT NULL, "position" integer NOT NULL, "kind" text NOT NULL, "row_number" integer, "duplicate_of_row" integer, "erp_order_id" text, "erp_po_number" text, "erp_amount" bigint, "erp_date" date, "erp_invoice_number" text, "fuli_order_id" text, "fuli_po_number" text, "fuli_order_status" text, "fuli_amount" bigint, "fuli_date" date, "fuli_invoice_number" text, CONSTRAINT "PK_reconciliation_differences" PRIMARY KEY ("reconciliation_id", "position"))',
    );
    await queryRunner.query(
      'CREATE INDEX "reconciliation_differences_kind" ON "reconciliation_differences"  ("reconciliation_id", "kind", "position") ',
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP INDEX "public"."reconciliation_differences_kind"');
    await queryRunner.query('DROP TABLE "reconciliation_differences"');
    await queryRunner.query('DROP TABLE "reconciliation_rows"');
    await queryRunner.query('DROP INDEX "public"."reconciliations_enterprise"');
    await queryRunner.query('DROP TABLE "reconciliations"');
  }
}
