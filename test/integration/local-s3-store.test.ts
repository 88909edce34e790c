/**
 * The local s3rver store (src/local/s3-store.ts) driven by raw S3 commands: in-order parts appended to one data
 * file, out-of-order and retried parts, partial and invalid completions; and a round trip through S3BlobStore.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  type S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localS3Client, S3BlobStore } from '../../src/adapters/aws/s3-blob-store.js';
import { type LocalS3, startS3rver } from '../helpers/s3rver.js';

const MiB = 1024 * 1024;

let s3: LocalS3;
let client: S3Client;
let keys = 0;
const newKey = () => `example-app/DATABASE/${++keys}.dump`;

beforeAll(async () => {
  s3 = await startS3rver();
  client = localS3Client(s3.endpoint);
});

afterAll(async () => {
  client?.destroy();
  await s3?.stop();
});

/** A part of 5 MiB and some random bytes (a full one), or `bytes` random bytes. */
const partData = (bytes = 5 * MiB + Math.floor(Math.random() * 64 * 1024) + 1) => randomBytes(bytes);

async function create(key: string): Promise<string> {
  const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: s3.bucket, Key: key }));
  expect(UploadId).toBeTruthy();
  return UploadId!;
}

async function uploadPart(key: string, uploadId: string, n: number, body: Buffer): Promise<string> {
  const { ETag } = await client.send(
    new UploadPartCommand({
      Bucket: s3.bucket,
      Key: key,
      UploadId: uploadId,
      PartNumber: n,
      Body: body,
      ContentLength: body.length,
    }),
  );
  expect(ETag).toMatch(/^"[0-9a-f]{32}"$/);
  return ETag!;
}

function complete(key: string, uploadId: string, parts: readonly (readonly [number, string])[]) {
  return client.send(
    new CompleteMultipartUploadCommand({
      Bucket: s3.bucket,
      Key: key,
      UploadId: uploadId,
      MultipartUpload: { Parts: parts.map(([PartNumber, ETag]) => ({ PartNumber, ETag })) },
    }),
  );
}

async function getObject(key: string): Promise<Buffer> {
  const res = await client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: key }));
  return Buffer.from(await res.Body!.transformToByteArray());
}

const head = (key: string) => client.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: key }));

/** Where the store keeps an upload's parts until completion (s3rver's layout), when the helper exposes it. */
const uploadDir = (uploadId: string) =>
  s3.directory ? join(s3.directory, s3.bucket, '._S3rver_uploads', uploadId) : undefined;

/** The files of an upload's part storage that hold one part each (the fallback for parts out of order). */
const partFiles = (dir: string) => readdirSync(dir).filter((f) => /^\d+$/.test(f));

/** Checks the stored object is exactly `expected`, made of `parts` parts. */
async function expectObject(key: string, expected: Buffer, parts: number): Promise<void> {
  const got = await getObject(key);
  expect(got.length).toBe(expected.length);
  expect(Buffer.compare(got, expected)).toBe(0);
  const meta = await head(key);
  expect(meta.ContentLength).toBe(expected.length);
  expect(meta.ETag).toMatch(new RegExp(`^"[0-9a-f]{32}-${parts}"$`));
}

describe('local s3rver store: multipart uploads', () => {
  it('stores parts sent in order as their concatenation, with a multipart ETag, and cleans up', async () => {
    const key = newKey();
    const id = await create(key);
    const data = [partData(), partData(), partData(123_457)];
    const etags: string[] = [];
    for (const [i, d] of data.entries()) etags.push(await uploadPart(key, id, i + 1, d));
    const dir = uploadDir(id);
    if (dir) {
      expect(existsSync(dir)).toBe(true);
      // All appended to the one data file: completion has nothing to copy.
      expect(partFiles(dir)).toEqual([]);
    }

    const res = await complete(
      key,
      id,
      etags.map((e, i) => [i + 1, e]),
    );
    expect(res.ETag).toMatch(/^"[0-9a-f]{32}-3"$/);
    await expectObject(key, Buffer.concat(data), 3);
    expect((await head(key)).ETag).toBe(res.ETag);
    if (dir) expect(existsSync(dir)).toBe(false);
  });

  it('stores parts sent out of order in part order', async () => {
    const key = newKey();
    const id = await create(key);
    const data = [partData(), partData(), partData(77_777)];
    const e2 = await uploadPart(key, id, 2, data[1]!);
    const e1 = await uploadPart(key, id, 1, data[0]!);
    const e3 = await uploadPart(key, id, 3, data[2]!);
    const res = await complete(key, id, [
      [1, e1],
      [2, e2],
      [3, e3],
    ]);
    expect(res.ETag).toMatch(/^"[0-9a-f]{32}-3"$/);
    await expectObject(key, Buffer.concat(data), 3);
    const dir = uploadDir(id);
    if (dir) expect(existsSync(dir)).toBe(false);
  });

  it('stores parts whose last part came first', async () => {
    const key = newKey();
    const id = await create(key);
    const data = [partData(), partData(), partData(4_321)];
    const e3 = await uploadPart(key, id, 3, data[2]!);
    const e1 = await uploadPart(key, id, 1, data[0]!);
    const e2 = await uploadPart(key, id, 2, data[1]!);
    await complete(key, id, [
      [1, e1],
      [2, e2],
      [3, e3],
    ]);
    await expectObject(key, Buffer.concat(data), 3);
  });

  it('keeps the last content sent for a part retried right after it was appended', async () => {
    const key = newKey();
    const id = await create(key);
    const p1 = partData();
    // The retry is shorter than the first attempt: nothing of the first may remain.
    const p2a = partData(5 * MiB + 900_000);
    const p2b = partData(5 * MiB + 10);
    const p3 = partData(300_000);
    const e1 = await uploadPart(key, id, 1, p1);
    await uploadPart(key, id, 2, p2a);
    const e2 = await uploadPart(key, id, 2, p2b);
    const e3 = await uploadPart(key, id, 3, p3);
    const dir = uploadDir(id);
    // The retry went to a file of its own: had it failed, the part 2 already stored would still be whole.
    if (dir) expect(partFiles(dir)).toEqual(['2']);
    await complete(key, id, [
      [1, e1],
      [2, e2],
      [3, e3],
    ]);
    await expectObject(key, Buffer.concat([p1, p2b, p3]), 3);
  });

  it('keeps the last content sent for a part retried after later parts were appended', async () => {
    const key = newKey();
    const id = await create(key);
    const p1a = partData();
    const p1b = partData(5 * MiB + 3);
    const p2a = partData();
    const p2b = partData(5 * MiB + 200_000);
    const p3 = partData(1_000);
    await uploadPart(key, id, 1, p1a);
    await uploadPart(key, id, 2, p2a);
    const e3 = await uploadPart(key, id, 3, p3);
    const e1 = await uploadPart(key, id, 1, p1b);
    const e2 = await uploadPart(key, id, 2, p2b);
    await complete(key, id, [
      [1, e1],
      [2, e2],
      [3, e3],
    ]);
    await expectObject(key, Buffer.concat([p1b, p2b, p3]), 3);
  });

  it('stores only the parts a completion lists', async () => {
    const key = newKey();
    const id = await create(key);
    const data = [partData(), partData(), partData(55_555)];
    const etags: string[] = [];
    for (const [i, d] of data.entries()) etags.push(await uploadPart(key, id, i + 1, d));
    const res = await complete(key, id, [
      [1, etags[0]!],
      [2, etags[1]!],
    ]);
    expect(res.ETag).toMatch(/^"[0-9a-f]{32}-2"$/);
    await expectObject(key, Buffer.concat([data[0]!, data[1]!]), 2);
    const dir = uploadDir(id);
    if (dir) expect(existsSync(dir)).toBe(false);
  });

  it('refuses a completion naming a part never uploaded, creating no object', async () => {
    const key = newKey();
    const id = await create(key);
    const data = [partData(), partData(10_000)];
    const e1 = await uploadPart(key, id, 1, data[0]!);
    const e2 = await uploadPart(key, id, 2, data[1]!);
    const error = await complete(key, id, [
      [1, e1],
      [2, e2],
      [3, '"00000000000000000000000000000000"'],
    ]).then(
      () => undefined,
      (e: unknown) => e as { name?: string; $metadata?: { httpStatusCode?: number } },
    );
    expect(error?.name).toBe('InvalidPart');
    expect(error?.$metadata?.httpStatusCode).toBe(400);
    await expect(head(key)).rejects.toMatchObject({ name: 'NotFound' });

    // The upload is untouched: it can still be completed with the parts it has.
    await complete(key, id, [
      [1, e1],
      [2, e2],
    ]);
    await expectObject(key, Buffer.concat(data), 2);
  });
});

describe('S3BlobStore on the local store', () => {
  it('round-trips a multipart upload', async () => {
    const store = new S3BlobStore({ client, bucket: s3.bucket, partSize: 5 * MiB });
    const key = newKey();
    const data = randomBytes(3 * 5 * MiB + 765_432);
    const body = Readable.from(
      (function* () {
        for (let at = 0; at < data.length; at += 64 * 1024) yield data.subarray(at, at + 64 * 1024);
      })(),
    );
    await expect(store.upload(key, body, { expectedBytes: data.length })).resolves.toEqual({
      bytes: data.length,
    });
    await expect(store.head(key)).resolves.toEqual({ bytes: data.length });
    expect((await head(key)).ETag).toMatch(/^"[0-9a-f]{32}-4"$/);
    const chunks: Buffer[] = [];
    for await (const chunk of await store.download(key)) chunks.push(chunk as Buffer);
    expect(Buffer.compare(Buffer.concat(chunks), data)).toBe(0);
  });
});
