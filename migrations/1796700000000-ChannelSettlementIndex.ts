import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The operator's channel settlement file reads one channel's redemptions of a day in time order: along
 * (client_id, created_at, id) instead of scanning every redemption.
 */
export class ChannelSettlementIndex1796700000000 implements MigrationInterface {
  name = 'ChannelSettlementIndex1796700000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      'CREATE INDEX "redemptions_client_time" ON "redemptions" ("client_id", "created_at", "id") ',
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP INDEX "redemptions_client_time"');
  }
}
