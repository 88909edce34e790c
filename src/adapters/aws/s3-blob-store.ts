import type { Readable } from 'node:stream';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  NoSuchKey,
  NotFound,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import type { BlobStore, UploadResult } from '../../core/ports.js';

/**
 * 64 MiB parts: lib-storage cannot size parts for a stream of unknown length, and its 5 MiB default caps an
 * object at 10,000 parts ≈ 48.8 GiB. 64 MiB allows ~625 GiB; memory stays about partSize × (queueSize + 1).
 * One part in flight while the next one fills: a compressed dump arrives at tens of MB/s, slower than one PUT
 * stream to S3, so a second concurrent part bought no speed in `npm run bench` (docs/benchmarks.md), only peak
 * RSS (1 GB database: 394 MiB with 2, 349 MiB with 1).
 */
export const DEFAULT_PART_SIZE = 64 * 1024 * 1024;
export const DEFAULT_QUEUE_SIZE = 1;

export interface S3BlobStoreOptions {
  readonly client: S3Client;
  readonly bucket: string;
  /** Multipart part size in bytes. @default 64 MiB */
  readonly partSize?: number;
  /** Parts uploaded concurrently. @default 2 */
  readonly queueSize?: number;
}

/** Dump objects in S3 (or s3rver locally): multipart streaming uploads, presigned GETs. */
export class S3BlobStore implements BlobStore {
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly partSize: number;
  private readonly queueSize: number;

  constructor(opts: S3BlobStoreOptions) {
    this.client = opts.client;
    this.bucket = opts.bucket;
    this.partSize = opts.partSize ?? DEFAULT_PART_SIZE;
    this.queueSize = opts.queueSize ?? DEFAULT_QUEUE_SIZE;
  }

  async upload(key: string, body: Readable, opts: { signal?: AbortSignal } = {}): Promise<UploadResult> {
    let bytes = 0;
    body.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
    });
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.bucket, Key: key, Body: body, ContentType: 'application/octet-stream' },
      partSize: this.partSize,
      queueSize: this.queueSize,
      leavePartsOnError: false,
    });
    const onAbort = () => void upload.abort();
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      if (opts.signal?.aborted) throw opts.signal.reason ?? new Error('upload aborted');
      await upload.done();
    } catch (e) {
      // The body's own error (e.g. pg_dump failed) is the one worth reporting; lib-storage may replace it with
      // the error of its abort call (s3rver has no AbortMultipartUpload).
      const bodyError = (body as Readable & { errored?: Error | null }).errored;
      // A small body is sent as a single PutObject; make sure a failed transfer leaves nothing behind.
      await this.delete(key).catch(() => {});
      throw bodyError ?? e;
    } finally {
      opts.signal?.removeEventListener('abort', onAbort);
    }
    return { bytes };
  }

  async download(key: string): Promise<Readable> {
    const res = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
    if (!res.Body) throw new Error(`Object ${key} has no body`);
    return res.Body as Readable;
  }

  async head(key: string): Promise<{ bytes: number } | undefined> {
    try {
      const res = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return { bytes: res.ContentLength ?? 0 };
    } catch (e) {
      if (e instanceof NotFound || e instanceof NoSuchKey || (e as { name?: string }).name === 'NotFound') {
        return undefined;
      }
      throw e;
    }
  }

  presignGet(key: string, expiresInSeconds: number, filename?: string): Promise<string> {
    const cmd = new GetObjectCommand({
      Bucket: this.bucket,
      Key: key,
      ResponseContentDisposition: filename ? `attachment; filename="${filename}"` : undefined,
    });
    return getSignedUrl(this.client, cmd, { expiresIn: expiresInSeconds });
  }

  async delete(key: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
  }

  async list(prefix: string): Promise<string[]> {
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const res = await this.client.send(
        new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token }),
      );
      for (const o of res.Contents ?? []) if (o.Key) keys.push(o.Key);
      token = res.IsTruncated ? res.NextContinuationToken : undefined;
    } while (token);
    return keys;
  }
}

/**
 * An S3 client for a local endpoint (s3rver): path-style addressing, and checksums only when required — with the
 * SDK's default CRC32 trailers s3rver silently stores the aws-chunked framing inside streamed objects.
 */
export function localS3Client(endpoint: string, extra: S3ClientConfig = {}): S3Client {
  return new S3Client({
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    ...extra,
  });
}
