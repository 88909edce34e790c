import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
  type UploadPartCommandInput,
  type UploadPartCommandOutput,
} from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import fc from 'fast-check';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import {
  MAX_PARTS,
  MIN_PART_SIZE,
  partSizer,
  UNSIZED_PART_SIZE,
  uploadStream,
} from '../../../../src/adapters/aws/multipart-upload.js';
import { S3BlobStore } from '../../../../src/adapters/aws/s3-blob-store.js';

const s3 = mockClient(S3Client);

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const PART = 5 * MiB;
const CHUNK = 64 * 1024;
const BUCKET = 'pgbackups-dumps';
const KEY = 'example-app/DATABASE/a012.dump';
const UPLOAD_ID = 'upload-1';
/** The module's queue rule: parts waiting to be sent, beyond the one filling. */
const maxQueued = (partSize: number) => Math.max(1, Math.floor((32 * MiB) / partSize));

/** An S3Client as the worker builds one: the SDK's default checksum setting (WHEN_SUPPORTED). */
const defaultClient = () =>
  new S3Client({ region: 'eu-west-1', credentials: { accessKeyId: 'AKID', secretAccessKey: 'SECRET' } });

/** `data` as a stream of 64 KiB chunks. */
function chunked(data: Buffer, chunk = CHUNK): Readable {
  return Readable.from(
    (function* () {
      for (let at = 0; at < data.length; at += chunk) yield Buffer.from(data.subarray(at, at + chunk));
    })(),
  );
}

/**
 * A generated body of `total` bytes in 64 KiB chunks that counts what was pulled from it (a byte stream with a
 * one-chunk high-water mark, so the count is what the uploader asked for plus at most about a chunk) and hashes it.
 */
function generated(total: number) {
  const hash = createHash('sha256');
  const state = { pulled: 0, digest: () => hash.digest('hex') };
  const body = Readable.from(
    (function* () {
      for (let i = 0; state.pulled < total; i++) {
        const b = Buffer.alloc(Math.min(CHUNK, total - state.pulled), i % 251);
        b.writeUInt32BE(i, 0);
        hash.update(b);
        state.pulled += b.length;
        yield b;
      }
    })(),
    { objectMode: false, highWaterMark: CHUNK },
  );
  return { body, state };
}

const ticks = async (n: number) => {
  for (let i = 0; i < n; i++) await new Promise<void>((resolve) => setImmediate(resolve));
};
/** Lets a stalled uploader run as far as it would (no assertion on time, only on how far it got). */
const settle = async () => {
  await ticks(20);
  await new Promise<void>((resolve) => setTimeout(resolve, 50));
  await ticks(20);
};

interface Recorded {
  /** Each UploadPart's Body as it was when the request was sent, in send order. */
  readonly bodies: Buffer[];
  /** Part numbers whose Body changed while their request was in flight. */
  readonly overwritten: number[];
  /** The Body objects sent, by identity. */
  readonly buffers: Set<unknown>;
}

/**
 * UploadPart mocked to copy its Body when sent, wait for `gate` and a few turns of the event loop (so the reader
 * keeps filling parts meanwhile), check the Body was not touched, then answer `respond(part)`.
 */
function recordParts(
  respond: (part: number) => Partial<UploadPartCommandOutput> | Promise<Partial<UploadPartCommandOutput>> = (
    n,
  ) => ({ ETag: `"etag-${n}"` }),
  gate: Promise<unknown> = Promise.resolve(),
): Recorded {
  const recorded: Recorded = { bodies: [], overwritten: [], buffers: new Set() };
  s3.on(UploadPartCommand).callsFake(async (input: UploadPartCommandInput) => {
    const body = input.Body as Buffer;
    const copy = Buffer.from(body);
    recorded.bodies.push(copy);
    recorded.buffers.add(body);
    await gate;
    await ticks(3);
    if (!body.equals(copy)) recorded.overwritten.push(input.PartNumber!);
    return respond(input.PartNumber!);
  });
  return recorded;
}

const partInputs = () => s3.commandCalls(UploadPartCommand).map((c) => c.args[0].input);

beforeEach(() => {
  s3.reset();
  s3.on(CreateMultipartUploadCommand).resolves({ UploadId: UPLOAD_ID });
  s3.on(CompleteMultipartUploadCommand).resolves({ ETag: '"final-3"' });
  s3.on(AbortMultipartUploadCommand).resolves({});
  s3.on(PutObjectCommand).resolves({ ETag: '"single"' });
  s3.on(DeleteObjectCommand).resolves({});
});

/** The multipart upload was aborted, once, and never completed. */
function expectAbortedUpload(): void {
  expect(s3).toHaveReceivedCommandExactlyOnceWith(AbortMultipartUploadCommand, {
    Bucket: BUCKET,
    Key: KEY,
    UploadId: UPLOAD_ID,
  });
  expect(s3).not.toHaveReceivedCommand(CompleteMultipartUploadCommand);
}

describe('partSizer', () => {
  it('cuts 64 MiB parts when there is no estimate', () => {
    expect(UNSIZED_PART_SIZE).toBe(64 * MiB);
    expect(partSizer()(1)).toBe(64 * MiB);
    expect(partSizer(0)(1)).toBe(64 * MiB);
    expect(partSizer()(8_000)).toBe(64 * MiB);
  });

  it('cuts 8 MiB parts for a small estimate', () => {
    expect(MIN_PART_SIZE).toBe(8 * MiB);
    for (const estimate of [1, 1_000_000, 1e9, 40e9]) {
      expect(partSizer(estimate)(1)).toBe(8 * MiB);
      expect(partSizer(estimate)(8_000)).toBe(8 * MiB);
    }
  });

  it('fits 1.5 × a 500 GB estimate in 8,000 parts of a whole number of MiB', () => {
    const estimate = 500e9;
    const size = partSizer(estimate)(1);
    expect(size % MiB).toBe(0);
    expect(size * 8_000).toBeGreaterThanOrEqual(1.5 * estimate);
    // The smallest such size: one MiB less would not fit.
    expect((size - MiB) * 8_000).toBeLessThan(1.5 * estimate);
    expect(size).toBe(90 * MiB);
    expect(partSizer(estimate)(8_000)).toBe(size);
  });

  it('doubles the part size every 500 parts after part 8,000', () => {
    const size = partSizer(500e9);
    const base = size(1);
    expect(size(8_000)).toBe(base);
    expect(size(8_001)).toBe(2 * base);
    expect(size(8_500)).toBe(2 * base);
    expect(size(8_501)).toBe(4 * base);
    expect(size(9_000)).toBe(4 * base);
    expect(size(9_001)).toBe(8 * base);
    expect(size(9_500)).toBe(8 * base);
    expect(size(9_501)).toBe(16 * base);
    expect(size(MAX_PARTS)).toBe(16 * base);
  });

  it('never cuts a part larger than 5 GiB', () => {
    // A base just over 512 MiB: 16 × base would be over 8 GiB.
    const grown = partSizer(3e12);
    expect(grown(1)).toBe(537 * MiB);
    expect(grown(9_001)).toBe(8 * 537 * MiB);
    expect(grown(9_501)).toBe(5 * GiB);
    expect(grown(MAX_PARTS)).toBe(5 * GiB);
    // An estimate beyond what 8,000 parts of 5 GiB hold.
    const huge = partSizer(1e15);
    expect(huge(1)).toBe(5 * GiB);
    expect(huge(MAX_PARTS)).toBe(5 * GiB);
  });

  it('holds 1.5 × the estimate in 10,000 parts, each a whole MiB between 5 MiB and 5 GiB', () => {
    // Up to the largest estimate whose 1.5 × fits in 8,000 parts of 5 GiB.
    const capacityOf = (estimate: number) => {
      const size = partSizer(estimate);
      let total = 0;
      for (let n = 1; n <= MAX_PARTS; n++) {
        const s = size(n);
        if (s % MiB !== 0 || s < 5 * MiB || s > 5 * GiB) return -1;
        total += s;
      }
      return total;
    };
    for (const estimate of [1, 5e6, 1e9, 53.7e9, 54e9, 100e9, 500e9, 1e12, 10e12, 28e12]) {
      expect(capacityOf(estimate), `estimate ${estimate}`).toBeGreaterThanOrEqual(1.5 * estimate);
    }
    fc.assert(
      fc.property(fc.double({ min: 1, max: 28e12, noNaN: true }), (estimate) => {
        expect(capacityOf(estimate)).toBeGreaterThanOrEqual(1.5 * estimate);
      }),
      { numRuns: 50 },
    );
  });

  it('lets an 8 MiB-based stream reach ~180 GiB in 10,000 parts', () => {
    const size = partSizer(1e9);
    let total = 0;
    for (let n = 1; n <= MAX_PARTS; n++) total += size(n);
    expect(total).toBe((8_000 * 8 + 500 * (16 + 32 + 64 + 128)) * MiB);
    expect(total).toBeGreaterThan(179 * GiB);
  });
});

describe('uploadStream', () => {
  it('sends a body smaller than one part as a single PutObject', async () => {
    const data = randomBytes(300 * 1024 + 17);
    const result = await uploadStream({
      client: defaultClient(),
      bucket: BUCKET,
      key: KEY,
      body: chunked(data),
      partSize: () => PART,
    });
    expect(result).toEqual({ bytes: data.length, parts: 1 });
    expect(s3).toHaveReceivedCommandTimes(PutObjectCommand, 1);
    const input = s3.commandCalls(PutObjectCommand)[0]!.args[0].input;
    expect(input).toEqual({
      Bucket: BUCKET,
      Key: KEY,
      Body: expect.any(Buffer),
      ContentLength: data.length,
      ContentType: 'application/octet-stream',
    });
    expect(Buffer.compare(input.Body as Buffer, data)).toBe(0);
    expect(s3).not.toHaveReceivedCommand(CreateMultipartUploadCommand);
    expect(s3).not.toHaveReceivedCommand(UploadPartCommand);
    expect(s3).not.toHaveReceivedCommand(CompleteMultipartUploadCommand);
  });

  it('sends an empty body as an empty PutObject', async () => {
    const result = await uploadStream({
      client: defaultClient(),
      bucket: BUCKET,
      key: KEY,
      body: Readable.from([]),
      partSize: () => PART,
    });
    expect(result).toEqual({ bytes: 0, parts: 1 });
    const input = s3.commandCalls(PutObjectCommand)[0]!.args[0].input;
    expect(input.ContentLength).toBe(0);
    expect((input.Body as Buffer).length).toBe(0);
    expect(s3).not.toHaveReceivedCommand(CreateMultipartUploadCommand);
  });

  it('uploads 2.5 parts as Create, three UploadParts in order, and Complete with their ETags', async () => {
    const data = randomBytes(2.5 * PART);
    const recorded = recordParts((n) => ({
      ETag: `"etag-${n}"`,
      ...(n !== 2 && { ChecksumCRC32: `crc-${n}` }),
    }));

    const result = await uploadStream({
      client: defaultClient(),
      bucket: BUCKET,
      key: KEY,
      body: chunked(data),
      partSize: () => PART,
    });

    expect(result).toEqual({ bytes: data.length, parts: 3 });
    expect(s3).toHaveReceivedCommandExactlyOnceWith(CreateMultipartUploadCommand, {
      Bucket: BUCKET,
      Key: KEY,
      ContentType: 'application/octet-stream',
      ChecksumAlgorithm: 'CRC32',
    });
    expect(partInputs()).toEqual(
      [1, 2, 3].map((n) => ({
        Bucket: BUCKET,
        Key: KEY,
        UploadId: UPLOAD_ID,
        PartNumber: n,
        Body: expect.anything(),
        ContentLength: n === 3 ? PART / 2 : PART,
        ChecksumAlgorithm: 'CRC32',
      })),
    );
    expect(recorded.bodies.map((b) => b.length)).toEqual([PART, PART, PART / 2]);
    expect(Buffer.compare(Buffer.concat(recorded.bodies), data)).toBe(0);
    expect(recorded.overwritten).toEqual([]);
    expect(s3).toHaveReceivedCommandTimes(CompleteMultipartUploadCommand, 1);
    expect(s3.commandCalls(CompleteMultipartUploadCommand)[0]!.args[0].input).toStrictEqual({
      Bucket: BUCKET,
      Key: KEY,
      UploadId: UPLOAD_ID,
      MultipartUpload: {
        Parts: [
          { PartNumber: 1, ETag: '"etag-1"', ChecksumCRC32: 'crc-1' },
          { PartNumber: 2, ETag: '"etag-2"' },
          { PartNumber: 3, ETag: '"etag-3"', ChecksumCRC32: 'crc-3' },
        ],
      },
    });
    expect(s3).not.toHaveReceivedCommand(PutObjectCommand);
    expect(s3).not.toHaveReceivedCommand(AbortMultipartUploadCommand);
  });

  it('ends a body of exactly two parts with Complete, sending no empty third part', async () => {
    const data = randomBytes(2 * PART);
    const recorded = recordParts();
    const result = await uploadStream({
      client: defaultClient(),
      bucket: BUCKET,
      key: KEY,
      body: chunked(data),
      partSize: () => PART,
    });
    expect(result).toEqual({ bytes: data.length, parts: 2 });
    expect(partInputs().map((i) => [i.PartNumber, i.ContentLength])).toEqual([
      [1, PART],
      [2, PART],
    ]);
    expect(Buffer.compare(Buffer.concat(recorded.bodies), data)).toBe(0);
    expect(
      s3
        .commandCalls(CompleteMultipartUploadCommand)[0]!
        .args[0].input.MultipartUpload!.Parts!.map((p) => p.PartNumber),
    ).toEqual([1, 2]);
  });

  it('reuses part buffers, but never while their request is in flight', async () => {
    const parts = 14;
    const data = randomBytes(parts * PART + 1234);
    const recorded = recordParts();
    const result = await uploadStream({
      client: defaultClient(),
      bucket: BUCKET,
      key: KEY,
      body: chunked(data),
      partSize: () => PART,
    });
    expect(result).toEqual({ bytes: data.length, parts: parts + 1 });
    expect(partInputs().map((i) => i.PartNumber)).toEqual(Array.from({ length: parts + 1 }, (_, i) => i + 1));
    expect(Buffer.compare(Buffer.concat(recorded.bodies), data)).toBe(0);
    expect(recorded.overwritten).toEqual([]);
    // Full parts come from a bounded pool (the short last part is a view of one of them).
    expect(recorded.buffers.size).toBeLessThan(parts);
  });

  it('asks for no checksums when the client calculates them only when required', async () => {
    const data = randomBytes(2.5 * PART);
    const recorded = recordParts();
    await uploadStream({
      client: new S3Client({ region: 'eu-west-1', requestChecksumCalculation: 'WHEN_REQUIRED' }),
      bucket: BUCKET,
      key: KEY,
      body: chunked(data),
      partSize: () => PART,
    });
    expect(s3.commandCalls(CreateMultipartUploadCommand)[0]!.args[0].input.ChecksumAlgorithm).toBeUndefined();
    expect(partInputs()).toHaveLength(3);
    for (const input of partInputs()) expect(input.ChecksumAlgorithm).toBeUndefined();
    expect(Buffer.compare(Buffer.concat(recorded.bodies), data)).toBe(0);
    expect(s3).toHaveReceivedCommandTimes(CompleteMultipartUploadCommand, 1);
  });

  it('aborts the upload and rethrows when an UploadPart fails', async () => {
    const error = Object.assign(new Error('We encountered an internal error'), { name: 'InternalError' });
    recordParts((n) => {
      if (n === 2) throw error;
      return { ETag: `"etag-${n}"` };
    });
    await expect(
      uploadStream({
        client: defaultClient(),
        bucket: BUCKET,
        key: KEY,
        body: chunked(randomBytes(3.5 * PART)),
        partSize: () => PART,
      }),
    ).rejects.toBe(error);
    expectAbortedUpload();
    // Parts are sent one after another: nothing after the failed one.
    expect(partInputs().map((i) => i.PartNumber)).toEqual([1, 2]);
  });

  it('stops reading, aborts and rethrows the part error when an UploadPart fails mid-stream', async () => {
    const error = Object.assign(new Error('We encountered an internal error'), { name: 'InternalError' });
    recordParts((n) => {
      if (n === 2) throw error;
      return { ETag: `"etag-${n}"` };
    });
    const total = 40 * PART;
    const { body, state } = generated(total);
    const outcome = await uploadStream({
      client: defaultClient(),
      bucket: BUCKET,
      key: KEY,
      body,
      partSize: () => PART,
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(state.pulled).toBeLessThan(total);
    expectAbortedUpload();
    expect(outcome).toBe(error);
  });

  it('rethrows a CreateMultipartUpload failure, sending no part', async () => {
    const error = Object.assign(new Error('Access Denied'), { name: 'AccessDenied' });
    s3.on(CreateMultipartUploadCommand).rejects(error);
    recordParts();
    const outcome = await uploadStream({
      client: defaultClient(),
      bucket: BUCKET,
      key: KEY,
      body: chunked(randomBytes(2.5 * PART)),
      partSize: () => PART,
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(s3).not.toHaveReceivedCommand(UploadPartCommand);
    expect(s3).not.toHaveReceivedCommand(AbortMultipartUploadCommand);
    expect(s3).not.toHaveReceivedCommand(CompleteMultipartUploadCommand);
    expect(outcome).toBe(error);
  });

  it('aborts the upload and throws the body’s own error when the body fails mid-stream', async () => {
    const bodyError = new Error('pg_dump exited with code 1');
    let pushed = 0;
    const body = new Readable({
      read() {
        if (pushed >= 3 * PART) {
          this.destroy(bodyError);
          return;
        }
        pushed += CHUNK;
        this.push(randomBytes(CHUNK));
      },
    });
    recordParts();
    await expect(
      uploadStream({ client: defaultClient(), bucket: BUCKET, key: KEY, body, partSize: () => PART }),
    ).rejects.toBe(bodyError);
    expectAbortedUpload();
    expect(s3).not.toHaveReceivedCommand(PutObjectCommand);
  });

  it('throws the body’s error, not the part error it caused', async () => {
    // 16 MiB parts: a queue of two, so the reader is waiting on part 1 when it fails.
    const partSize = 16 * MiB;
    expect(maxQueued(partSize)).toBe(2);
    const partError = Object.assign(new Error('Your socket connection to the server was not read'), {
      name: 'RequestTimeout',
    });
    const bodyError = new Error('pg_dump exited with code 1');
    let fail!: () => void;
    const failed = new Promise<void>((resolve) => {
      fail = resolve;
    });
    recordParts(() => {
      throw partError;
    }, failed);
    const { body, state } = generated(20 * partSize);
    const upload = uploadStream({
      client: defaultClient(),
      bucket: BUCKET,
      key: KEY,
      body,
      partSize: () => partSize,
    });
    const outcome = upload.then(
      () => undefined,
      (e: unknown) => e,
    );
    // Parts 1 and 2 queued, part 3 full and waiting for room.
    await vi.waitFor(() => expect(state.pulled).toBeGreaterThanOrEqual(3 * partSize), { timeout: 10_000 });
    await settle();
    body.destroy(bodyError);
    fail();
    expect(await outcome).toBe(bodyError);
    expect(s3).toHaveReceivedCommandTimes(AbortMultipartUploadCommand, 1);
    expect(s3).not.toHaveReceivedCommand(CompleteMultipartUploadCommand);
  });

  it('rejects and aborts the upload when the signal is aborted mid-stream', async () => {
    const controller = new AbortController();
    const reason = new Error('transfer cancelled');
    const total = 40 * PART;
    const { body, state } = generated(total);
    // Cancelled while part 2 is being sent.
    recordParts((n) => {
      if (n === 2) controller.abort(reason);
      return { ETag: `"etag-${n}"` };
    });
    const outcome = await uploadStream({
      client: defaultClient(),
      bucket: BUCKET,
      key: KEY,
      body,
      partSize: () => PART,
      signal: controller.signal,
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(outcome).toBe(reason);
    expect(state.pulled).toBeLessThan(total);
    expectAbortedUpload();
    expect(s3).not.toHaveReceivedCommand(PutObjectCommand);
  });

  it('sends nothing when the signal is already aborted', async () => {
    const controller = new AbortController();
    controller.abort(new Error('transfer cancelled'));
    await expect(
      uploadStream({
        client: defaultClient(),
        bucket: BUCKET,
        key: KEY,
        body: chunked(randomBytes(1024)),
        partSize: () => PART,
        signal: controller.signal,
      }),
    ).rejects.toThrow('transfer cancelled');
    expect(s3.calls()).toHaveLength(0);
  });

  it('stops reading the body while parts wait to be sent, and finishes once S3 answers', async () => {
    const queue = maxQueued(PART);
    expect(queue).toBe(6);
    const parts = 24;
    const total = parts * PART;
    let release!: () => void;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    const sent = createHash('sha256');
    s3.on(UploadPartCommand).callsFake(async (input: UploadPartCommandInput) => {
      sent.update(input.Body as Buffer);
      await released;
      return { ETag: `"etag-${input.PartNumber}"` };
    });
    const { body, state } = generated(total);
    const upload = uploadStream({
      client: defaultClient(),
      bucket: BUCKET,
      key: KEY,
      body,
      partSize: () => PART,
    });
    let settled = false;
    void upload.finally(() => {
      settled = true;
    });

    // Reading does not wait for part 1: the queue fills (parts 1..maxQueued, and one more full part)...
    await vi.waitFor(() => expect(state.pulled).toBeGreaterThanOrEqual((queue + 1) * PART), {
      timeout: 10_000,
    });
    await settle();
    // ...and then stops, with one request in flight.
    expect(state.pulled).toBeLessThanOrEqual((queue + 2) * PART + CHUNK);
    expect(partInputs().map((i) => i.PartNumber)).toEqual([1]);
    expect(settled).toBe(false);

    release();
    await expect(upload).resolves.toEqual({ bytes: total, parts });
    expect(state.pulled).toBe(total);
    expect(sent.digest('hex')).toBe(state.digest());
    expect(partInputs().map((i) => i.PartNumber)).toEqual(Array.from({ length: parts }, (_, i) => i + 1));
    expect(
      s3
        .commandCalls(CompleteMultipartUploadCommand)[0]!
        .args[0].input.MultipartUpload!.Parts!.map((p) => p.PartNumber),
    ).toEqual(Array.from({ length: parts }, (_, i) => i + 1));
  });
});

describe('S3BlobStore.upload', () => {
  const store = () => new S3BlobStore({ client: defaultClient(), bucket: BUCKET, partSize: PART });

  it('uploads in parts of the fixed size and deletes nothing', async () => {
    const data = randomBytes(2.5 * PART);
    const recorded = recordParts();
    await expect(store().upload(KEY, chunked(data))).resolves.toEqual({ bytes: data.length });
    expect(recorded.bodies.map((b) => b.length)).toEqual([PART, PART, PART / 2]);
    expect(Buffer.compare(Buffer.concat(recorded.bodies), data)).toBe(0);
    expect(s3).not.toHaveReceivedCommand(DeleteObjectCommand);
  });

  it('deletes the key when a multipart upload fails', async () => {
    const error = new Error('SlowDown');
    recordParts((n) => {
      if (n === 2) throw error;
      return { ETag: `"etag-${n}"` };
    });
    await expect(store().upload(KEY, chunked(randomBytes(2.5 * PART)))).rejects.toBe(error);
    expect(s3).toHaveReceivedCommandTimes(AbortMultipartUploadCommand, 1);
    expect(s3).toHaveReceivedCommandExactlyOnceWith(DeleteObjectCommand, { Bucket: BUCKET, Key: KEY });
  });

  it('deletes the key when a single PutObject fails', async () => {
    const error = new Error('connection reset');
    s3.on(PutObjectCommand).rejects(error);
    await expect(store().upload(KEY, chunked(randomBytes(1000)))).rejects.toBe(error);
    expect(s3).toHaveReceivedCommandExactlyOnceWith(DeleteObjectCommand, { Bucket: BUCKET, Key: KEY });
  });
});
