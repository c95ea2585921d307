import type { MigrationInterface, QueryRunner } from 'typeorm';

/** GET /v1/batches and GET /v1/exports: a tenant's rows newest first, read from an index rather than a sort. */
export class ListIndexes1796650000000 implements MigrationInterface {
  name = 'ListIndexes1796650000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      'CREATE INDEX "issuance_batches_enterprise_id" ON "issuance_batches" ("enterprise_id", "id")',
    );
    await queryRunner.query('CREATE INDEX "card_exports_enterprise_id" ON "card_exports" ("enterprise_id", "id")');
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP INDEX "public"."card_exports_enterprise_id"');
    await queryRunner.query('DROP INDEX "public"."issuance_batches_enterprise_id"');
  }
}
