import { Module } from '@nestjs/common';
import { ExportKeysController } from './export-keys.controller';
import { ExportKeysService } from './export-keys.service';

/** Recipient keys of card-code exports, registered per enterprise and confirmed by a second party. */
@Module({
  controllers: [ExportKeysController],
  providers: [ExportKeysService],
  exports: [ExportKeysService],
})
export class ExportKeysModule {}
