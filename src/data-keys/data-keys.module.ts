import { Module } from '@nestjs/common';
import { CardSecretsRepository } from '../cards/card-secrets.repository';
import { CardsModule } from '../cards/cards.module';
import { DataKeysController } from './data-keys.controller';
import { DataKeysRepository } from './data-keys.repository';
import { DataKeysService } from './data-keys.service';
import { ReencryptionJob } from './reencryption.job';
import { SealedColumns } from './sealed-columns';

/**
 * Data-key rotation: key usage, re-encryption runs and the `re-encrypt-data` job. Import it in every process:
 * the handler runs only where QueueModule has `worker: true`, and a worker refuses to boot without it.
 */
@Module({
  imports: [CardsModule],
  controllers: [DataKeysController],
  // CardSecretsRepository: the cards module's, provided here until that module exports it (issue 11).
  providers: [DataKeysService, ReencryptionJob, SealedColumns, DataKeysRepository, CardSecretsRepository],
})
export class DataKeysModule {}
