/* eslint-disable @typescript-eslint/no-require-imports -- the AWS SDK is loaded only when S3_BUCKET is set */
import { Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { AppConfig, type S3Settings } from '../config/app-config';
import type { S3Objects } from './s3-client';

/**
 * Content of stored files as objects of an S3-compatible bucket (S3_BUCKET, docs/decisions/0013-file-content-in-s3.md).
 * FileStorage keeps the metadata (key, size, SHA-256, expiry, which version is complete) in PostgreSQL and calls this
 * only for bytes: one object per version, so a new version never overwrites the one readers see, and the switch
 * between them stays the metadata's one transaction. Without S3_BUCKET `enabled` is false, nothing here is used and
 * the AWS SDK is not even loaded.
 */
@Injectable()
export class S3ContentStore implements OnApplicationShutdown {
  private readonly settings: S3Settings | null;
  private client: S3Objects | null = null;

  constructor(config: AppConfig) {
    this.settings = config.s3;
  }

  get enabled(): boolean {
    return this.settings !== null;
  }

  /** The object of version `versionId` of `key`: under the key's path, so bucket lifecycle rules can go by folder. */
  objectKeyOf(key: string, versionId: string): string {
    return `${this.required().prefix}${key}/${versionId}`;
  }

  /** Uploads `content` as `objectKey` (multipart past one part; aborted, parts deleted, when it fails). */
  put(objectKey: string, content: AsyncIterable<Buffer>): Promise<void> {
    return this.objects().put(objectKey, content);
  }

  /** The bytes of `objectKey`, fetched when first read; fails when they are not `sizeBytes`. */
  get(objectKey: string, sizeBytes: number): AsyncGenerator<Buffer> {
    return this.objects().get(objectKey, sizeBytes);
  }

  /** Deletes the objects; absent ones are no error. */
  delete(objectKeys: readonly string[]): Promise<void> {
    return this.objects().delete(objectKeys);
  }

  onApplicationShutdown(): void {
    this.client?.close();
  }

  private objects(): S3Objects {
    if (!this.client) {
      const { S3Objects } = require('./s3-client') as typeof import('./s3-client');
      this.client = new S3Objects(this.required());
    }
    return this.client;
  }

  private required(): S3Settings {
    if (!this.settings) throw new Error('S3_BUCKET is not set: stored file content is in PostgreSQL');
    return this.settings;
  }
}
