import type { MigrationInterface, QueryRunner } from 'typeorm';

export class OrdersLedgerCatalog1795825360833 implements MigrationInterface {
  name = 'OrdersLedgerCatalog1795825360833';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      'CREATE TABLE "products" ("id" text NOT NULL, "name" text NOT NULL, "description" text, "card_type" text NOT NULL, "face_values" integer array NOT NULL, "validity_months" integer, "designs" text array NOT NULL, "greeting_allowed" boolean NOT NULL DEFAULT false, "active" boolean NOT NULL DEFAULT true, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_0806c755e0aca124e67c0cf6d7d" PRIMARY KEY ("id"))',
    );
    await queryRunner.query(
      'CREATE TABLE "ledger_entries" ("id" text NOT NULL, "kind" text NOT NULL, "enterprise_id" text, "order_id" text, "payment_id" text, "memo" text NOT NULL, "request_id" text, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_6efcb84411d3f08b08450ae75d5" PRIMARY KEY ("id"))',
    );
    await queryRunner.query('CREATE INDEX "IDX_aaff117a5b62467ff976eee406" ON "ledger_entries"  ("enterprise_id") ');
    await queryRunner.query('CREATE INDEX "IDX_d929e48320de9fe7f6ed47478f" ON "ledger_entries"  ("order_id") ');
    await queryRunner.query(
      'CREATE TABLE "ledger_lines" ("id" bigint GENERATED ALWAYS AS IDENTITY NOT NULL, "entry_id" text NOT NULL, "account" text NOT NULL, "enterprise_id" text, "amount" bigint NOT NULL, CONSTRAINT "ledger_lines_amount_not_zero" CHECK ("amount" <> 0), CONSTRAINT "PK_ed85ce429975be095b042fa057e" PRIMARY KEY ("id"))',
    );
    await queryRunner.query('CREATE INDEX "IDX_24dea327ff96a992d1e4fa417a" ON "ledger_lines"  ("entry_id") ');
    await queryRunner.query(
      'CREATE INDEX "ledger_lines_account_enterprise" ON "ledger_lines"  ("account", "enterprise_id") ',
    );
    await queryRunner.query(
      'CREATE TABLE "orders" ("id" text NOT NULL, "enterprise_id" text NOT NULL, "po_number" text NOT NULL, "status" text NOT NULL, "currency" character(3) NOT NULL DEFAULT \'CNY\', "face_total" bigint NOT NULL, "discount_bps" integer NOT NULL, "discount_total" bigint NOT NULL, "payable" bigint NOT NULL, "payment_method" text NOT NULL, "purchaser_ciphertext" text, "purchaser_masked" jsonb, "created_by_client_id" text NOT NULL, "decided_by_client_id" text, "decided_at" TIMESTAMP WITH TIME ZONE, "rejection_reason" text, "cancellation_reason" text, "paid_at" TIMESTAMP WITH TIME ZONE, "cancelled_at" TIMESTAMP WITH TIME ZONE, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "orders_enterprise_po_number" UNIQUE ("enterprise_id", "po_number"), CONSTRAINT "orders_money_consistent" CHECK ("face_total" > 0 AND "discount_total" >= 0 AND "payable" = "face_total" - "discount_total"), CONSTRAINT "PK_710e2d4957aa5878dfe94e4ac2f" PRIMARY KEY ("id"))',
    );
    await queryRunner.query('CREATE INDEX "orders_enterprise_status" ON "orders"  ("enterprise_id", "status") ');
    await queryRunner.query(
      'CREATE TABLE "order_lines" ("id" text NOT NULL, "order_id" text NOT NULL, "line_no" integer NOT NULL, "product_id" text NOT NULL, "face_value" integer NOT NULL, "quantity" integer NOT NULL, "face_total" bigint NOT NULL, "greeting" text, "design" text NOT NULL, CONSTRAINT "order_lines_order_line_no" UNIQUE ("order_id", "line_no"), CONSTRAINT "order_lines_face_value_positive" CHECK ("face_value" > 0), CONSTRAINT "order_lines_quantity_range" CHECK ("quantity" BETWEEN 1 AND 1000000), CONSTRAINT "PK_627dcd7f1d707de4df241b2da6b" PRIMARY KEY ("id"))',
    );
    await queryRunner.query(
      'CREATE TABLE "payments" ("id" text NOT NULL, "enterprise_id" text NOT NULL, "order_id" text, "kind" text NOT NULL, "amount" bigint NOT NULL, "currency" character(3) NOT NULL DEFAULT \'CNY\', "payer_account_name" text NOT NULL, "payer_account_number" text NOT NULL, "bank_reference" text NOT NULL, "received_at" TIMESTAMP WITH TIME ZONE NOT NULL, "recorded_by_client_id" text NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "payments_amount_positive" CHECK ("amount" > 0), CONSTRAINT "PK_197ab7af18c93fbb0c9b28b4a59" PRIMARY KEY ("id"))',
    );
    await queryRunner.query('CREATE INDEX "IDX_df53ea67b381868636625eaf42" ON "payments"  ("enterprise_id") ');
    await queryRunner.query('CREATE INDEX "IDX_b2f7b823a21562eeca20e72b00" ON "payments"  ("order_id") ');
    await queryRunner.query('CREATE UNIQUE INDEX "IDX_2197d367e71033c5f676ebe0e7" ON "payments"  ("bank_reference") ');
    await queryRunner.query(
      'CREATE TABLE "events" ("id" text NOT NULL, "enterprise_id" text NOT NULL, "type" text NOT NULL, "schema_version" integer NOT NULL DEFAULT \'1\', "data" jsonb NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "relayed_at" TIMESTAMP WITH TIME ZONE, CONSTRAINT "PK_40731c7151fe4be3116e45ddf73" PRIMARY KEY ("id"))',
    );
    await queryRunner.query(
      'CREATE INDEX "IDX_a1f2fcb433f10944c2fb71c462" ON "events"  ("relayed_at") WHERE relayed_at IS NULL',
    );
    await queryRunner.query('CREATE INDEX "events_enterprise_type" ON "events"  ("enterprise_id", "type") ');
    await queryRunner.query('ALTER TABLE "enterprises" ADD "approval_threshold" bigint');
    // The ledger is append-only: corrections are new entries (README.md, "The ledger"). Not tracked by TypeORM, so no drift.
    await queryRunner.query(`
      CREATE FUNCTION ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION 'the ledger is append-only: % on % refused', TG_OP, TG_TABLE_NAME USING ERRCODE = 'restrict_violation';
      END $$`);
    await queryRunner.query(
      'CREATE TRIGGER ledger_entries_append_only BEFORE UPDATE OR DELETE ON "ledger_entries" FOR EACH ROW EXECUTE FUNCTION ledger_append_only()',
    );
    await queryRunner.query(
      'CREATE TRIGGER ledger_lines_append_only BEFORE UPDATE OR DELETE ON "ledger_lines" FOR EACH ROW EXECUTE FUNCTION ledger_append_only()',
    );
    await queryRunner.query(
      'CREATE TRIGGER ledger_entries_no_truncate BEFORE TRUNCATE ON "ledger_entries" FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only()',
    );
    await queryRunner.query(
      'CREATE TRIGGER ledger_lines_no_truncate BEFORE TRUNCATE ON "ledger_lines" FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only()',
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TRIGGER ledger_lines_no_truncate ON "ledger_lines"');
    await queryRunner.query('DROP TRIGGER ledger_entries_no_truncate ON "ledger_entries"');
    await queryRunner.query('DROP TRIGGER ledger_lines_append_only ON "ledger_lines"');
    await queryRunner.query('DROP TRIGGER ledger_entries_append_only ON "ledger_entries"');
    await queryRunner.query('DROP FUNCTION ledger_append_only()');
    await queryRunner.query('ALTER TABLE "enterprises" DROP COLUMN "approval_threshold"');
    await queryRunner.query('DROP INDEX "public"."events_enterprise_type"');
    await queryRunner.query('DROP INDEX "public"."IDX_a1f2fcb433f10944c2fb71c462"');
    await queryRunner.query('DROP TABLE "events"');
    await queryRunner.query('DROP INDEX "public"."IDX_2197d367e71033c5f676ebe0e7"');
    await queryRunner.query('DROP INDEX "public"."IDX_b2f7b823a21562eeca20e72b00"');
    await queryRunner.query('DROP INDEX "public"."IDX_df53ea67b381868636625eaf42"');
    await queryRunner.query('DROP TABLE "payments"');
    await queryRunner.query('DROP TABLE "order_lines"');
    await queryRunner.query('DROP INDEX "public"."orders_enterprise_status"');
    await queryRunner.query('DROP TABLE "orders"');
    await queryRunner.query('DROP INDEX "public"."ledger_lines_account_enterprise"');
    await queryRunner.query('DROP INDEX "public"."IDX_24dea327ff96a992d1e4fa417a"');
    await queryRunner.query('DROP TABLE "ledger_lines"');
    await queryRunner.query('DROP INDEX "public"."IDX_d929e48320de9fe7f6ed47478f"');
    await queryRunner.query('DROP INDEX "public"."IDX_aaff117a5b62467ff976eee406"');
    await queryRunner.query('DROP TABLE "ledger_entries"');
    await queryRunner.query('DROP TABLE "products"');
  }
}
