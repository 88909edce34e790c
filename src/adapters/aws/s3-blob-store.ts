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
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { collectPages, paginate } from '../../core/paginate.js';
import type { BlobStore, UploadResult } from '../../core/ports.js';
import { partSizer, uploadStream } from './multipart-upload.js';

export interface S3BlobStoreOptions {
  readonly client: S3Client;
  readonly bucket: string;
  /**
   * A fixed multipart part size in bytes (≥ 5 MiB). By default parts are sized from each upload's
   * `expectedBytes` (see `partSizer`).
   */
  readonly partSize?: number;
}

/** Dump objects in S3 (or s3rver locally): multipart streaming uploads, presigned GETs. */
export class S3BlobStore implements BlobStore {
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly partSize: number | undefined;

  constructor(opts: S3BlobStoreOptions) {
    this.client = opts.client;
    this.bucket = opts.bucket;
    this.partSize = opts.partSize;
  }

  async upload(
    key: string,
    body: Readable,
    opts: { signal?: AbortSignal; expectedBytes?: number } = {},
  ): Promise<UploadResult> {
    const fixed = this.partSize;
    try {
      const { bytes } = await uploadStream({
        client: this.client,
        bucket: this.bucket,
        key,
        body,
        partSize: fixed ? () => fixed : partSizer(opts.expectedBytes),
        signal: opts.signal,
      });
      return { bytes };
    } catch (e) {
      // A small body is sent as a single PutObject; make sure a failed transfer leaves nothing behind. Silent: the
      // upload's error is what the caller needs, and the worker deletes the key again, logging a failure.
      await this.delete(key).catch(() => {});
      throw e;
    }
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
    const objects = await collectPages(
      paginate(async (token: string | undefined) => {
        const res = await this.client.send(
          new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token }),
        );
        return { items: res.Contents ?? [], next: res.IsTruncated ? res.NextContinuationToken : undefined };
      }),
    );
    return objects.flatMap((o) => (o.Key ? [o.Key] : []));
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
