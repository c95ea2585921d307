import type { MigrationInterface, QueryRunner } from 'typeorm';

export class CodePepperKeyIds1796523867677 implements MigrationInterface {
  name = 'CodePepperKeyIds1796523867677';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE "reencryption_runs" ADD "target_code_key_id" text');
    await queryRunner.query('ALTER TABLE "cards" ADD "code_key_id" text');
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE "cards" DROP COLUMN "code_key_id"');
    await queryRunner.query('ALTER TABLE "reencryption_runs" DROP COLUMN "target_code_key_id"');
  }
}
