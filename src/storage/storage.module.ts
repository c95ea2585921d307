import { Module } from '@nestjs/common';
import { FileStorage } from './file-storage';
import { S3ContentStore } from './s3-content-store';
import { StorageRepository } from './storage.repository';

/**
 * Files every process sees (FileStorage): exports, invoice documents. Import it where files are written or served;
 * the purge job's handler runs where QueueModule has `worker: true`.
 */
@Module({
  providers: [FileStorage, StorageRepository, S3ContentStore],
  exports: [FileStorage],
})
export class StorageModule {}
