import { Readable } from 'node:stream';
import {
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { S3Settings } from '../config/app-config';
import { BootError } from '../config/boot-error';

/**
 * Bytes per multipart part (S3's smallest but for the last), and parts uploaded at once: a write holds at most
 * (queue + 1) parts in memory, ~15 MiB, whatever the file's size (10,000 parts: files up to ~48 GiB).
 */
export const S3_PART_BYTES = 5 * 1024 * 1024;
const S3_PARTS_IN_FLIGHT = 2;
/** DeleteObjects takes at most this many keys per request. */
const DELETE_BATCH = 1_000;

/** An S3 client for `settings`; `maxAttempts` 1 for the boot check, which must answer within its deadline. */
export function createS3Client(settings: S3Settings, options: { maxAttempts?: number } = {}): S3Client {
  return new S3Client({
    region: settings.region,
    endpoint: settings.endpoint ?? undefined,
    forcePathStyle: settings.forcePathStyle,
    credentials: { accessKeyId: settings.accessKeyId, secretAccessKey: settings.secretAccessKey },
    maxAttempts: options.maxAttempts,
    // Integrity is the SHA-256 the metadata row records; S3-compatible stores differ in which of the SDK's newer
    // checksums (and aws-chunked trailers) they accept, so against one they are sent only where an operation needs one.
    ...(settings.endpoint
      ? { requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' }
      : {}),
    requestHandler: { connectionTimeout: 5_000, requestTimeout: 120_000 },
  });
}

/** The bucket's objects through the AWS SDK (loaded by S3ContentStore only when S3_BUCKET is set). */
export class S3Objects {
  private readonly client: S3Client;

  constructor(private readonly settings: S3Settings) {
    this.client = createS3Client(settings);
  }

  /**
   * Uploads `content` as `objectKey`: one PUT when it fits in a part, else a multipart upload of S3_PART_BYTES parts,
   * which lib-storage aborts (deleting the uploaded parts) when the content or a part fails.
   */
  async put(objectKey: string, content: AsyncIterable<Buffer>): Promise<void> {
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.settings.bucket, Key: objectKey, Body: Readable.from(content, { objectMode: false }) },
      partSize: S3_PART_BYTES,
      queueSize: S3_PARTS_IN_FLIGHT,
      leavePartsOnError: false,
    });
    await upload.done();
  }

  /**
   * The bytes of `objectKey`, requested when first read and streamed as they arrive (memory: the socket's buffers);
   * fails when the object does not hold exactly `sizeBytes`.
   */
  async *get(objectKey: string, sizeBytes: number): AsyncGenerator<Buffer> {
    const { Body } = await this.client.send(new GetObjectCommand({ Bucket: this.settings.bucket, Key: objectKey }));
    let read = 0;
    for await (const part of (Body as Readable | undefined) ?? []) {
      const bytes = part as Buffer;
      read += bytes.length;
      yield bytes;
    }
    if (read !== sizeBytes) throw new Error(`stored object ${objectKey} holds ${read} bytes, not ${sizeBytes}`);
  }

  /** Deletes the objects (absent ones included: deleting is idempotent), a batch per request. */
  async delete(objectKeys: readonly string[]): Promise<void> {
    for (let start = 0; start < objectKeys.length; start += DELETE_BATCH) {
      const batch = objectKeys.slice(start, start + DELETE_BATCH);
      const { Errors } = await this.client.send(
        new DeleteObjectsCommand({
          Bucket: this.settings.bucket,
          Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true },
        }),
      );
      if (Errors?.length) {
        const [first] = Errors;
        throw new Error(`could not delete ${Errors.length} stored object(s), e.g. ${first.Key}: ${first.Code}`);
      }
    }
  }

  close(): void {
    this.client.destroy();
  }
}

/**
 * At boot, before anything starts: the bucket exists and the keys may use it (HEAD bucket, one attempt within
 * `timeoutMs`), else a BootError of one line naming the variable to fix.
 */
export async function assertS3BucketReachable(settings: S3Settings, timeoutMs: number): Promise<void> {
  const client = createS3Client(settings, { maxAttempts: 1 });
  const where = settings.endpoint ? `S3_ENDPOINT ${settings.endpoint}` : `S3_REGION ${settings.region}`;
  try {
    await client.send(new HeadBucketCommand({ Bucket: settings.bucket }), {
      abortSignal: AbortSignal.timeout(timeoutMs),
    });
  } catch (error) {
    const status = error instanceof S3ServiceException ? error.$metadata.httpStatusCode : undefined;
    if (status === 404) {
      throw new BootError(
        `S3_BUCKET ${settings.bucket} does not exist (${where}): create it or set S3_BUCKET to an existing bucket`,
      );
    }
    if (status === 403 || status === 400) {
      throw new BootError(
        `S3_ACCESS_KEY_ID may not use S3_BUCKET ${settings.bucket} (${where} answered ${status}): check ` +
          'S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY and that the key may list the bucket and read, write and delete objects',
      );
    }
    if (status === 301) {
      throw new BootError(
        `S3_REGION ${settings.region} is not the region of S3_BUCKET ${settings.bucket}: set its region`,
      );
    }
    if (status !== undefined) {
      throw new BootError(`S3_BUCKET ${settings.bucket} (${where}) answered HTTP ${status}: ${(error as Error).name}`);
    }
    const cause = error as NodeJS.ErrnoException;
    const reason =
      cause.name === 'TimeoutError' || cause.name === 'AbortError' ? `no answer in ${timeoutMs} ms` : cause.message;
    throw new BootError(
      `${where} is unreachable: ${reason}${settings.endpoint ? ' — is the S3-compatible store running?' : ''}`,
    );
  } finally {
    client.destroy();
  }
}
