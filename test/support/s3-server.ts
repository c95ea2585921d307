import type { Server } from 'node:http';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import S3rver from 's3rver';

/**
 * An S3-compatible server in the test's own process (s3rver, files under a temporary folder) on a free loopback port,
 * with one bucket: what the file store's S3 settings point at in tests, since no S3 service runs here.
 */
export interface TestS3 {
  bucket: string;
  endpoint: string;
  /** The S3_* variables of a process that keeps file content in this server's bucket under `prefix`. */
  env(prefix?: string): Record<string, string>;
  /** Keys of the bucket's objects under `prefix`, sorted. */
  objectKeys(prefix: string): Promise<string[]>;
  /** Multipart uploads begun and neither completed nor aborted (their parts still stored). */
  pendingUploads(): string[];
  /** Every request the server received since the last `takeRequests`, as `METHOD path?query`. */
  takeRequests(): string[];
  close(): Promise<void>;
}

/** What of s3rver's Koa application the abort below needs (its types do not declare these). */
interface S3rverInternals {
  middleware: Array<(ctx: KoaContext, next: () => Promise<void>) => Promise<void>>;
  store: { getResourcePath(bucket: string, key: undefined, resource: string): string };
}
interface KoaContext {
  method: string;
  path: string;
  query: Record<string, string | string[] | undefined>;
  status: number;
}

/**
 * AbortMultipartUpload, which s3rver 3.7 lacks (it answers 405): deletes the upload's stored parts and answers 204,
 * or 404 when there is no such upload, as S3 does. lib-storage aborts a multipart upload whose content failed.
 */
function addAbortMultipartUpload(server: S3rver): (bucket: string) => string {
  const internals = server as unknown as S3rverInternals;
  const uploadsOf = (bucket: string) => internals.store.getResourcePath(bucket, undefined, 'uploads');
  internals.middleware.unshift(async (ctx, next) => {
    const uploadId = ctx.query.uploadId;
    if (ctx.method !== 'DELETE' || typeof uploadId !== 'string') return next();
    const parts = join(uploadsOf(decodeURIComponent(ctx.path.split('/')[1])), uploadId);
    if (!/^[0-9a-f]+$/.test(uploadId) || !existsSync(parts)) {
      ctx.status = 404;
      return;
    }
    rmSync(parts, { recursive: true, force: true });
    ctx.status = 204;
  });
  return uploadsOf;
}

/** s3rver accepts any key pair; these only have to be sent. */
const ACCESS_KEY_ID = 'S3RVER';
const SECRET_ACCESS_KEY = 'S3RVER';

export async function startTestS3(bucket = 'fuli-test'): Promise<TestS3> {
  const directory = mkdtempSync(join(tmpdir(), 'fuli-s3-'));
  const server = new S3rver({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory,
    configureBuckets: [{ name: bucket, configs: [] }],
  });
  const uploadsOf = addAbortMultipartUpload(server);
  const { port } = await server.run();
  let requests: string[] = [];
  (server as unknown as { httpServer: Server }).httpServer.on('request', (req) =>
    requests.push(`${req.method} ${req.url}`),
  );
  const endpoint = `http://127.0.0.1:${port}`;
  const client = new S3Client({
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: ACCESS_KEY_ID, secretAccessKey: SECRET_ACCESS_KEY },
  });
  return {
    bucket,
    endpoint,
    env: (prefix = 'fuli/') => ({
      S3_BUCKET: bucket,
      S3_REGION: 'us-east-1',
      S3_ENDPOINT: endpoint,
      S3_FORCE_PATH_STYLE: 'true',
      S3_ACCESS_KEY_ID: ACCESS_KEY_ID,
      S3_SECRET_ACCESS_KEY: SECRET_ACCESS_KEY,
      S3_PREFIX: prefix,
    }),
    async objectKeys(prefix) {
      const keys: string[] = [];
      let token: string | undefined;
      do {
        const page = await client.send(
          new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
        );
        keys.push(...(page.Contents ?? []).map((object) => object.Key!));
        token = page.NextContinuationToken;
      } while (token);
      return keys.sort();
    },
    pendingUploads() {
      const uploads = uploadsOf(bucket);
      return existsSync(uploads) ? readdirSync(uploads) : [];
    },
    takeRequests() {
      const taken = requests;
      requests = [];
      return taken;
    },
    async close() {
      client.destroy();
      await server.close();
      rmSync(directory, { recursive: true, force: true });
    },
  };
}
