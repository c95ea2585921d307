import type { MigrationInterface, QueryRunner } from 'typeorm';

export class Webhooks1795832714345 implements MigrationInterface {
  name = 'Webhooks1795832714345';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      'CREATE TABLE "webhook_endpoints" ("id" text NOT NULL, "enterprise_id" text NOT NULL, "url" text NOT NULL, "description" text, "event_types" text array NOT NULL, "status" text NOT NULL, "disabled_reason" text, "secret_sealed" text NOT NULL, "previous_secret_sealed" text, "previous_secret_expires_at" TIMESTAMP WITH TIME ZONE, "last_success_at" TIMESTAMP WITH TIME ZONE, "failing_since" TIMESTAMP WITH TIME ZONE, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "deleted_at" TIMESTAMP WITH TIME ZONE, CONSTRAINT "webhook_endpoints_status" CHECK (status IN (\'enabled\', \'disabled\')), CONSTRAINT "PK_054c4cfb95223732f5939d2d546" PRIMARY KEY ("id"))',
    );
    await queryRunner.query(
      'CREATE INDEX "webhook_endpoints_enterprise" ON "webhook_endpoints"  ("enterprise_id", "id") WHERE deleted_at IS NULL',
    );
    await queryRunner.query(
      'CREATE TABLE "webhook_deliveries" ("id" text NOT NULL, "event_id" text NOT NULL, "endpoint_id" text NOT NULL, "enterprise_id" text NOT NULL, "status" text NOT NULL, "attempts" integer NOT NULL DEFAULT \'0\', "retry_base" integer NOT NULL DEFAULT \'0\', "next_attempt_at" TIMESTAMP WITH TIME ZONE, "delivered_at" TIMESTAMP WITH TIME ZONE, "failure_reason" text, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "webhook_deliveries_event_endpoint" UNIQUE ("event_id", "endpoint_id"), CONSTRAINT "webhook_deliveries_status" CHECK (status IN (\'pending\', \'delivered\', \'failed\')), CONSTRAINT "PK_535dd409947fb6d8fc6dfc0112a" PRIMARY KEY ("id"))',
    );
    await queryRunner.query(
      'CREATE INDEX "webhook_deliveries_due" ON "webhook_deliveries"  ("next_attempt_at") WHERE status = \'pending\'',
    );
    await queryRunner.query(
      'CREATE INDEX "webhook_deliveries_endpoint" ON "webhook_deliveries"  ("endpoint_id", "id") ',
    );
    await queryRunner.query(
      'CREATE TABLE "webhook_attempts" ("id" text NOT NULL, "delivery_id" text NOT NULL, "endpoint_id" text NOT NULL, "event_id" text NOT NULL, "attempt_no" integer NOT NULL, "response_status" integer, "response_body" text, "error" text, "latency_ms" integer NOT NULL, "succeeded" boolean NOT NULL, "next_attempt_at" TIMESTAMP WITH TIME ZONE, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_2de7e7887ad97de459adab62638" PRIMARY KEY ("id"))',
    );
    await queryRunner.query('CREATE INDEX "webhook_attempts_delivery" ON "webhook_attempts"  ("delivery_id") ');
    await queryRunner.query('CREATE INDEX "webhook_attempts_endpoint" ON "webhook_attempts"  ("endpoint_id", "id") ');
    await queryRunner.query('CREATE INDEX "events_enterprise_id" ON "events"  ("enterprise_id", "id") ');
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP INDEX "public"."events_enterprise_id"');
    await queryRunner.query('DROP INDEX "public"."webhook_attempts_endpoint"');
    await queryRunner.query('DROP INDEX "public"."webhook_attempts_delivery"');
    await queryRunner.query('DROP TABLE "webhook_attempts"');
    await queryRunner.query('DROP INDEX "public"."webhook_deliveries_endpoint"');
    await queryRunner.query('DROP INDEX "public"."webhook_deliveries_due"');
    await queryRunner.query('DROP TABLE "webhook_deliveries"');
    await queryRunner.query('DROP INDEX "public"."webhook_endpoints_enterprise"');
    await queryRunner.query('DROP TABLE "webhook_endpoints"');
  }
}
