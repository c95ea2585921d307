import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A card carries its batch's enterprise, card type and product itself, so the cards module reads them without
 * joining issuance's table (docs/architecture.md: one owner per table, dependencies one way).
 *
 * Cards minted before this migration take them from their batch (a replacement card has its old card's batch). A
 * card whose batch cannot be found (made by hand in the database) stops the migration with a message naming it:
 * restore its issuance_batches row or correct its batch_id, then migrate again. The columns are then NOT NULL.
 */
export class CardBatchFacts1796543189576 implements MigrationInterface {
  name = 'CardBatchFacts1796543189576';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE "cards" ADD "enterprise_id" text');
    await queryRunner.query('ALTER TABLE "cards" ADD "card_type" text');
    await queryRunner.query('ALTER TABLE "cards" ADD "product_id" text');
    await queryRunner.query(
      `UPDATE cards c SET enterprise_id = b.enterprise_id, card_type = b.card_type, product_id = b.product_id
       FROM issuance_batches b WHERE b.id = c.batch_id`,
    );
    const orphans = (await queryRunner.query(
      'SELECT serial::text AS serial FROM cards WHERE enterprise_id IS NULL ORDER BY serial LIMIT 21',
    )) as Array<{ serial: string }>;
    if (orphans.length > 0) {
      const [{ count }] = (await queryRunner.query(
        'SELECT count(*)::int AS count FROM cards WHERE enterprise_id IS NULL',
      )) as Array<{ count: number }>;
      const listed = orphans.slice(0, 20).map((card) => card.serial);
      throw new Error(
        `${count} card(s) have no issuance batch to take their enterprise, card type and product from ` +
          `(${listed.join(', ')}${count > listed.length ? ', …' : ''}): restore each one's issuance_batches row ` +
          '(or correct its batch_id), then run the migration again',
      );
    }
    await queryRunner.query('ALTER TABLE "cards" ALTER COLUMN "enterprise_id" SET NOT NULL');
    await queryRunner.query('ALTER TABLE "cards" ALTER COLUMN "card_type" SET NOT NULL');
    await queryRunner.query('ALTER TABLE "cards" ALTER COLUMN "product_id" SET NOT NULL');
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE "cards" DROP COLUMN "product_id"');
    await queryRunner.query('ALTER TABLE "cards" DROP COLUMN "card_type"');
    await queryRunner.query('ALTER TABLE "cards" DROP COLUMN "enterprise_id"');
  }
}
