import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Statements read an enterprise's period in time order: its card movements along (enterprise_id, created_at, id) and
 * its ledger entries along (enterprise_id, created_at), instead of scanning either table.
 */
export class StatementIndexes1796600000000 implements MigrationInterface {
  name = 'StatementIndexes1796600000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      'CREATE INDEX "card_transactions_enterprise_time" ON "card_transactions" ("enterprise_id", "created_at", "id") ',
    );
    await queryRunner.query(
      'CREATE INDEX "ledger_entries_enterprise_time" ON "ledger_entries" ("enterprise_id", "created_at") ',
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP INDEX "ledger_entries_enterprise_time"');
    await queryRunner.query('DROP INDEX "card_transactions_enterprise_time"');
  }
}
