import type { MigrationInterface, QueryRunner } from 'typeorm';

export class Distribution1796543278067 implements MigrationInterface {
  name = 'Distribution1796543278067';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      'CREATE TABLE "distribution_settings" ("enterprise_id" text NOT NULL, "from_name" text, "code_in_message" boolean NOT NULL DEFAULT false, "claim_link_ttl_days" integer NOT NULL DEFAULT \'30\', "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_f120f99636a38cdf12d8c5bb605" PRIMARY KEY ("enterprise_id"))',
    );
    await queryRunner.query(
      'CREATE TABLE "distribution_files" ("id" text NOT NULL, "enterprise_id" text NOT NULL, "filename" text NOT NULL, "format" text NOT NULL, "row_count" integer NOT NULL, "errors" jsonb NOT NULL DEFAULT \'[]\', "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "expires_at" TIMESTAMP WITH TIME ZONE NOT NULL, CONSTRAINT "distribution_files_format" CHECK (format IN (\'csv\', \'xlsx\')), CONSTRAINT "PK_59402fddefe7c07d0c701b7c773" PRIMARY KEY ("id"))',
    );
    await queryRunner.query(
      'CREATE INDEX "distribution_files_enterprise" ON "distribution_files"  ("enterprise_id", "id") ',
    );
    await queryRunner.query(
      'CREATE TABLE "distribution_file_rows" ("file_id" text NOT NULL, "row_number" integer NOT NULL, "data" jsonb NOT NULL, CONSTRAINT "PK_3bd57f01df07aafb6580f94154a" PRIMARY KEY ("file_id", "row_number"))',
    );
    await queryRunner.query(
      'CREATE TABLE "distributions" ("id" text NOT NULL, "enterprise_id" text NOT NULL, "order_id" text NOT NULL, "status" text NOT NULL, "send_at" TIMESTAMP WITH TIME ZONE NOT NULL, "file_id" text, "recipient_count" integer NOT NULL, "created_by_client_id" text NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "started_at" TIMESTAMP WITH TIME ZONE, "completed_at" TIMESTAMP WITH TIME ZONE, "cancelled_at" TIMESTAMP WITH TIME ZONE, CONSTRAINT "distributions_status" CHECK (status IN (\'scheduled\', \'sending\', \'completed\', \'cancelled\')), CONSTRAINT "PK_b73beffd2ed658ba71d8bd7d820" PRIMARY KEY ("id"))',
    );
    await queryRunner.query('CREATE INDEX "distributions_order" ON "distributions"  ("order_id") ');
    await queryRunner.query('CREATE INDEX "distributions_enterprise" ON "distributions"  ("enterprise_id", "id") ');
    await queryRunner.query(
      'CREATE TABLE "distribution_recipients" ("id" text NOT NULL, "distribution_id" text NOT NULL, "enterprise_id" text NOT NULL, "row_number" integer NOT NULL, "employee_ref" text NOT NULL, "name" text, "email" text, "mobile" text, "channel" text NOT NULL, "locale" text NOT NULL DEFAULT \'zh-CN\', "greeting" text, "design" text NOT NULL, "face_value" integer NOT NULL, "card_serial" bigint NOT NULL, "channel_client_id" text, "holder_ref" text, "real_name_sealed" text, "real_name_masked" jsonb, "status" text NOT NULL, "next_attempt_at" TIMESTAMP WITH TIME ZONE, "attempts" integer NOT NULL DEFAULT \'0\', "last_error" text, "claim_token_hash" bytea, "claim_expires_at" TIMESTAMP WITH TIME ZONE, "otp_hash" bytea, "otp_expires_at" TIMESTAMP WITH TIME ZONE, "otp_failures" integer NOT NULL DEFAULT \'0\', "view_count" integer NOT NULL DEFAULT \'0\', "reveal_count" integer NOT NULL DEFAULT \'0\', "sent_at" TIMESTAMP WITH TIME ZONE, "delivered_at" TIMESTAMP WITH TIME ZONE, "viewed_at" TIMESTAMP WITH TIME ZONE, "claimed_at" TIMESTAMP WITH TIME ZONE, "bound_at" TIMESTAMP WITH TIME ZONE, "revoked_at" TIMESTAMP WITH TIME ZONE, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "distribution_recipients_account" CHECK (channel <> \'account\' OR (holder_ref IS NOT NULL AND channel_client_id IS NOT NULL)), CONSTRAINT "distribution_recipients_contact" CHECK ((channel <> \'email\' OR email IS NOT NULL) AND (channel <> \'sms\' OR mobile IS NOT NULL)), CONSTRAINT "distribution_recipients_locale" CHECK (locale IN (\'zh-CN\', \'en\')), CONSTRAINT "distribution_recipients_channel" CHECK (channel IN (\'email\', \'sms\', \'link\', \'account\')), CONSTRAINT "distribution_recipients_status" CHECK (status IN (\'scheduled\', \'queued\', \'sent\', \'delivered\', \'viewed\', \'claimed\', \'bound\', \'failed\', \'bounced\', \'revoked\', \'expired\')), CONSTRAINT "PK_e2309c53332170502e1c3f4be57" PRIMARY KEY ("id"))',
    );
    await queryRunner.query(
      'CREATE INDEX "distribution_recipients_claim_expiry" ON "distribution_recipients"  ("claim_expires_at") WHERE status IN (\'sent\', \'delivered\', \'viewed\')',
    );
    await queryRunner.query(
      'CREATE UNIQUE INDEX "distribution_recipients_claim" ON "distribution_recipients"  ("claim_token_hash") WHERE claim_token_hash IS NOT NULL',
    );
    await queryRunner.query(
      'CREATE INDEX "distribution_recipients_due" ON "distribution_recipients"  ("next_attempt_at") WHERE status IN (\'scheduled\', \'queued\')',
    );
    await queryRunner.query(
      'CREATE INDEX "distribution_recipients_list" ON "distribution_recipients"  ("distribution_id", "id") ',
    );
    await queryRunner.query(
      'CREATE UNIQUE INDEX "distribution_recipients_card" ON "distribution_recipients"  ("card_serial") WHERE status <> \'revoked\'',
    );
    await queryRunner.query(
      'CREATE TABLE "distribution_messages" ("id" text NOT NULL, "recipient_id" text NOT NULL, "channel" text NOT NULL, "kind" text NOT NULL, "status" text NOT NULL, "provider_message_id" text, "error" text, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "distribution_messages_status" CHECK (status IN (\'sending\', \'sent\', \'delivered\', \'failed\', \'bounced\')), CONSTRAINT "distribution_messages_kind" CHECK (kind IN (\'initial\', \'resend\', \'reminder\', \'otp\')), CONSTRAINT "PK_9c38f1fd9cbc79db12bf3c97278" PRIMARY KEY ("id"))',
    );
    await queryRunner.query(
      'CREATE INDEX "distribution_messages_provider" ON "distribution_messages"  ("provider_message_id") WHERE provider_message_id IS NOT NULL',
    );
    await queryRunner.query(
      'CREATE INDEX "distribution_messages_recipient" ON "distribution_messages"  ("recipient_id", "created_at") ',
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP INDEX "public"."distribution_messages_recipient"');
    await queryRunner.query('DROP INDEX "public"."distribution_messages_provider"');
    await queryRunner.query('DROP TABLE "distribution_messages"');
    await queryRunner.query('DROP INDEX "public"."distribution_recipients_card"');
    await queryRunner.query('DROP INDEX "public"."distribution_recipients_list"');
    await queryRunner.query('DROP INDEX "public"."distribution_recipients_due"');
    await queryRunner.query('DROP INDEX "public"."distribution_recipients_claim"');
    await queryRunner.query('DROP INDEX "public"."distribution_recipients_claim_expiry"');
    await queryRunner.query('DROP TABLE "distribution_recipients"');
    await queryRunner.query('DROP INDEX "public"."distributions_enterprise"');
    await queryRunner.query('DROP INDEX "public"."distributions_order"');
    await queryRunner.query('DROP TABLE "distributions"');
    await queryRunner.query('DROP TABLE "distribution_file_rows"');
    await queryRunner.query('DROP INDEX "public"."distribution_files_enterprise"');
    await queryRunner.query('DROP TABLE "distribution_files"');
    await queryRunner.query('DROP TABLE "distribution_settings"');
  }
}
