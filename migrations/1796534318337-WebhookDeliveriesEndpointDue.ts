import type { MigrationInterface, QueryRunner } from 'typeorm';

export class WebhookDeliveriesEndpointDue1796534318337 implements MigrationInterface {
  name = 'WebhookDeliveriesEndpointDue1796534318337';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      'CREATE INDEX "webhook_deliveries_endpoint_due" ON "webhook_deliveries"  ("endpoint_id", "next_attempt_at") WHERE status = \'pending\'',
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP INDEX "public"."webhook_deliveries_endpoint_due"');
  }
}
