import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Cards belong to the redemption channel that bound them, and wrong PINs are counted per card.
 *
 * Cards bound before this migration get their channel from their own `bind` movement (card_transactions.client_id
 * is the channel client that bound them); a replacement card (report-loss, or the operator's replacement of an
 * expired card) takes its channel from the card it replaces, along the `replaces` chain. A bound card whose channel
 * cannot be traced that way (made by hand in the database) stops the migration with a message naming it: record its
 * bind movement, then migrate again. The constraint then keeps every bound card's channel known.
 */
export class ChannelCards1796522632021 implements MigrationInterface {
  name = 'ChannelCards1796522632021';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP INDEX "public"."cards_holder"');
    await queryRunner.query('ALTER TABLE "cards" ADD "bound_client_id" text');
    await queryRunner.query('ALTER TABLE "cards" ADD "pin_failures" integer NOT NULL DEFAULT \'0\'');
    await queryRunner.query(
      `WITH RECURSIVE bound AS (
         SELECT t.serial, t.client_id FROM card_transactions t
         WHERE t.kind = 'bind' AND t.client_id IS NOT NULL
           AND t.id = (SELECT MIN(f.id) FROM card_transactions f WHERE f.serial = t.serial AND f.kind = 'bind')
         UNION ALL
         SELECT r.serial, bound.client_id FROM cards r JOIN bound ON r.replaces = bound.serial
       )
       UPDATE cards c SET bound_client_id = bound.client_id FROM bound
       WHERE c.serial = bound.serial AND c.holder_ref IS NOT NULL`,
    );
    const untraced = (await queryRunner.query(
      'SELECT serial::text AS serial FROM cards WHERE holder_ref IS NOT NULL AND bound_client_id IS NULL ORDER BY serial',
    )) as Array<{ serial: string }>;
    if (untraced.length > 0) {
      const listed = untraced.slice(0, 20).map((card) => card.serial);
      throw new Error(
        `${untraced.length} bound card(s) have no bind movement to take their channel from ` +
          `(${listed.join(', ')}${untraced.length > listed.length ? ', …' : ''}): record each one's bind (a ` +
          "card_transactions row of kind 'bind' whose client_id is the API client of the channel that bound it), " +
          'then run the migration again',
      );
    }
    await queryRunner.query(
      'CREATE INDEX "cards_channel_holder" ON "cards"  ("bound_client_id", "holder_ref") WHERE "holder_ref" IS NOT NULL',
    );
    await queryRunner.query('ALTER TABLE "cards" ADD CONSTRAINT "cards_pin_failures" CHECK ("pin_failures" >= 0)');
    await queryRunner.query(
      'ALTER TABLE "cards" ADD CONSTRAINT "cards_bound_by_channel" CHECK ("holder_ref" IS NULL OR "bound_client_id" IS NOT NULL)',
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE "cards" DROP CONSTRAINT "cards_bound_by_channel"');
    await queryRunner.query('ALTER TABLE "cards" DROP CONSTRAINT "cards_pin_failures"');
    await queryRunner.query('DROP INDEX "public"."cards_channel_holder"');
    await queryRunner.query('ALTER TABLE "cards" DROP COLUMN "pin_failures"');
    await queryRunner.query('ALTER TABLE "cards" DROP COLUMN "bound_client_id"');
    await queryRunner.query(
      'CREATE INDEX "cards_holder" ON "cards" USING btree ("holder_ref") WHERE (holder_ref IS NOT NULL)',
    );
  }
}
