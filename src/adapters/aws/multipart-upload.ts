import type { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  ChecksumAlgorithm,
  type CompletedPart,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  type S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';

const MiB = 1024 * 1024;
/** S3's limits: every part but the last ≥ 5 MiB, ≤ 5 GiB, at most 10,000 parts. */
export const MAX_PARTS = 10_000;
const MAX_PART_SIZE = 5 * 1024 * MiB;
/** The smallest part we cut: small enough to keep memory flat, large enough that requests stay few. */
export const MIN_PART_SIZE = 8 * MiB;
/** Without a size estimate: 64 MiB parts reach 625 GiB before the growth below kicks in. */
export const UNSIZED_PART_SIZE = 64 * MiB;
/** Parts cut at the base size before growing; what is left of the 10,000 absorbs an estimate that was low. */
const BASE_PARTS = 8_000;
const GROWTH_STEP = 500;
/** Memory for parts waiting to be sent, beyond the one filling (at least one part). */
const QUEUE_BYTES = 32 * MiB;

/**
 * Part sizes for a stream whose length is only estimated (a dump's size is not known until pg_dump exits).
 * The base size fits 1.5 × the estimate in 8,000 parts (a dump is usually smaller than `pg_database_size`, but
 * an uncompressed one of bytea can be larger); past part 8,000 the size doubles every 500 parts, so a stream far
 * larger than its estimate still fits in S3's 10,000 parts (at 8 MiB base: ~180 GiB) and only then costs memory.
 */
export function partSizer(expectedBytes?: number): (partNumber: number) => number {
  const base =
    expectedBytes && expectedBytes > 0
      ? Math.min(
          MAX_PART_SIZE,
          Math.max(MIN_PART_SIZE, Math.ceil((expectedBytes * 1.5) / BASE_PARTS / MiB) * MiB),
        )
      : UNSIZED_PART_SIZE;
  return (n) =>
    n <= BASE_PARTS ? base : Math.min(MAX_PART_SIZE, base * 2 ** Math.ceil((n - BASE_PARTS) / GROWTH_STEP));
}

/**
 * Sends a part (or a small body) with `x-amz-content-sha256: UNSIGNED-PAYLOAD`, so the SDK does not SHA-256 every
 * byte a second time to sign it: the stream's own SHA-256 (src/worker/streams.ts) is recorded and checked before
 * any restore commits, requests go over TLS, and with the SDK's default checksums each part still carries a
 * CRC32 that S3 verifies. Without it the SigV4 payload hash was a full extra SHA-256 pass over the dump on the
 * worker's CPU (docs/large-databases.md).
 */
type Handler = (args: { request: unknown }) => Promise<unknown>;

function unsignedPayload<C extends { middlewareStack: { add(middleware: unknown, options: unknown): void } }>(
  command: C,
): C {
  const middleware = (next: Handler) => async (args: { request: unknown }) => {
    const request = args.request as { headers?: Record<string, string> };
    if (request.headers) request.headers['x-amz-content-sha256'] = 'UNSIGNED-PAYLOAD';
    return next(args);
  };
  command.middlewareStack.add(middleware, { step: 'build', name: 'pgbackupsUnsignedPayload' });
  return command;
}

const errored = (body: Readable) => (body as Readable & { errored?: Error | null }).errored;

export interface StreamUploadOptions {
  readonly client: S3Client;
  readonly bucket: string;
  readonly key: string;
  readonly body: Readable;
  /** Size of part `n` (1-based). */
  readonly partSize: (partNumber: number) => number;
  readonly signal?: AbortSignal;
}

/**
 * Streams `body` to S3 in parts sent one after another while the next ones fill (a bounded queue, so memory is a
 * few parts however long the stream): reading never waits for a part's upload unless S3 is the slower side. A
 * body that ends before its first part is full is one PutObject. On any failure the multipart upload is aborted
 * and the body's own error, if it has one, is the one thrown.
 */
export async function uploadStream(opts: StreamUploadOptions): Promise<{ bytes: number; parts: number }> {
  const { client, bucket: Bucket, key: Key, body, signal } = opts;
  const sendOpts = { abortSignal: signal };
  const checksum =
    (await client.config.requestChecksumCalculation()) === 'WHEN_SUPPORTED'
      ? ChecksumAlgorithm.CRC32
      : undefined;
  const buffers = new PartBuffers();
  const upload = orderedParts({ client, Bucket, Key, sendOpts, checksum }, buffers);
  let nextPart = 1;
  let total = 0;
  let fill = buffers.acquire(opts.partSize(nextPart));
  let filled = 0;

  let bodyErrorBeforeExit: { error: Error | null | undefined } | undefined;
  const onAbort = () => body.destroy(signal?.reason ?? new Error('upload aborted'));
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    signal?.throwIfAborted();
    for await (const chunk of body as AsyncIterable<Buffer>) {
      try {
        if (upload.failure) throw upload.failure.error;
        total += chunk.length;
        let at = 0;
        while (at < chunk.length) {
          const n = chunk.copy(fill, filled, at);
          filled += n;
          at += n;
          if (filled < fill.length) break;
          if (nextPart > MAX_PARTS) throw new Error(`${Key} needs more than ${MAX_PARTS} parts`);
          await upload.add(nextPart++, fill);
          fill = buffers.acquire(opts.partSize(nextPart));
          filled = 0;
        }
      } catch (error) {
        // Leaving the loop destroys the body with an AbortError: note the body's state before that happens.
        bodyErrorBeforeExit = { error: errored(body) };
        throw error;
      }
    }
    signal?.throwIfAborted();
    const last = fill.subarray(0, filled);
    if (!upload.started) {
      await client.send(
        unsignedPayload(
          new PutObjectCommand({
            Bucket,
            Key,
            Body: last,
            ContentLength: last.length,
            ContentType: 'application/octet-stream',
          }),
        ),
        sendOpts,
      );
      return { bytes: total, parts: 1 };
    }
    return { bytes: total, parts: await upload.complete(last, nextPart++) };
  } catch (e) {
    await upload.abort();
    throw (bodyErrorBeforeExit ? bodyErrorBeforeExit.error : errored(body)) ?? e;
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
}

/**
 * Part buffers, reused once sent: a dump is thousands of parts, and allocating each anew kept the garbage
 * collector busy on the cores pg_dump needs.
 */
class PartBuffers {
  private readonly free: Buffer[] = [];

  acquire(size: number): Buffer {
    const i = this.free.findIndex((b) => b.length === size);
    if (i >= 0) return this.free.splice(i, 1)[0]!;
    this.free.length = 0; // the part size grew: buffers of the old size are garbage now
    return Buffer.allocUnsafeSlow(size);
  }

  release(buffer: Buffer): void {
    this.free.push(buffer);
  }
}

interface UploadTarget {
  readonly client: S3Client;
  readonly Bucket: string;
  readonly Key: string;
  readonly sendOpts: { readonly abortSignal: AbortSignal | undefined };
  readonly checksum: ChecksumAlgorithm | undefined;
}

/**
 * One multipart upload, created with its first part. Parts go out one at a time, in order; up to `maxQueued`
 * wait their turn so that a slow request does not stall the stream (pg_dump blocks on a full pipe) while memory
 * stays about (maxQueued + 1) parts. A sent part's buffer goes back to `buffers`.
 */
function orderedParts(target: UploadTarget, buffers: PartBuffers) {
  const { client, Bucket, Key, sendOpts, checksum } = target;
  let uploadId: string | undefined;
  const parts: CompletedPart[] = [];
  const maxQueued = (size: number) => Math.max(1, Math.floor(QUEUE_BYTES / size));
  let chain: Promise<void> = Promise.resolve();
  const queued: Promise<void>[] = [];
  let partFailure: { error: unknown } | undefined;

  const sendPart = (n: number, data: Buffer, buffer?: Buffer): Promise<void> => {
    const p = client
      .send(
        unsignedPayload(
          new UploadPartCommand({
            Bucket,
            Key,
            UploadId: uploadId,
            PartNumber: n,
            Body: data,
            ContentLength: data.length,
            ChecksumAlgorithm: checksum,
          }),
        ),
        sendOpts,
      )
      .then((r) => {
        if (!r.ETag) throw new Error(`S3 returned no ETag for part ${n} of ${Key}`);
        parts.push({
          PartNumber: n,
          ETag: r.ETag,
          ...(r.ChecksumCRC32 && { ChecksumCRC32: r.ChecksumCRC32 }),
        });
      });
    // Seen by the read loop on its next chunk: a failed part stops the stream before the next part fills.
    p.then(
      () => buffer && buffers.release(buffer),
      (error: unknown) => {
        partFailure ??= { error };
      },
    );
    return p;
  };

  return {
    /** The first part that failed to send, if any. */
    get failure(): { error: unknown } | undefined {
      return partFailure;
    },
    /** Whether a full part was queued, so the body goes as a multipart upload rather than one PutObject. */
    get started(): boolean {
      return uploadId !== undefined;
    },
    /** Queues full part `part`, creating the multipart upload first; waits while the queue is full. */
    async add(part: number, full: Buffer): Promise<void> {
      uploadId ??= (
        await client.send(
          new CreateMultipartUploadCommand({
            Bucket,
            Key,
            ContentType: 'application/octet-stream',
            ChecksumAlgorithm: checksum,
          }),
          sendOpts,
        )
      ).UploadId;
      if (!uploadId) throw new Error(`S3 returned no upload id for ${Key}`);
      // Backpressure: the stream pauses while the queue is full.
      while (queued.length >= maxQueued(full.length)) await queued.shift();
      chain = chain.then(() => sendPart(part, full, full));
      chain.catch(() => {}); // observed where the queue or the end awaits it
      queued.push(chain);
    },
    /** Sends what is left as part `n` once the queue has drained, then completes the upload: its part count. */
    async complete(last: Buffer, n: number): Promise<number> {
      await chain;
      if (last.length) await sendPart(n, last);
      parts.sort((a, b) => a.PartNumber! - b.PartNumber!);
      await client.send(
        new CompleteMultipartUploadCommand({
          Bucket,
          Key,
          UploadId: uploadId,
          MultipartUpload: { Parts: parts },
        }),
        sendOpts,
      );
      return parts.length;
    },
    /** Waits for the parts in flight, then aborts the upload if it was created. */
    async abort(): Promise<void> {
      await chain.catch(() => {}); // settled only: the error the caller throws is the one to report
      if (uploadId) {
        // Best effort (s3rver has no AbortMultipartUpload); the bucket's lifecycle rule reaps what is left.
        await client
          .send(new AbortMultipartUploadCommand({ Bucket, Key, UploadId: uploadId }))
          .catch(() => {});
      }
    },
  };
}
