/**
 * s3rver's filesystem store, with multipart uploads stored the way S3 behaves: CompleteMultipartUpload makes no
 * second pass over the data. s3rver writes each part to its own file, then on completion re-reads them all through
 * JavaScript, MD5s the whole object and writes it a second time — for a 345 MB dump 2.3 s after the upload's last
 * byte, on the same two cores as PostgreSQL (issue #7 profile). Here parts that arrive in order (what our uploader
 * sends) are appended to one data file, which completion renames into place; any other order falls back to a
 * file per part, concatenated at completion. ETags are S3's multipart form, `<md5 of the parts' ETags>-<parts>`.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readFile, rename, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import S3rver from 's3rver';

interface FilesystemStoreBase {
  getResourcePath(bucket: string, key: string | undefined, resource: string): string;
  putMetadata(bucket: string, key: string, metadata: unknown, md5: string): Promise<void>;
}
type FilesystemStoreClass = new (directory: string) => FilesystemStoreBase;

const require = createRequire(import.meta.url);
const FilesystemStore = require('s3rver/lib/stores/filesystem') as FilesystemStoreClass;
const S3Error = require('s3rver/lib/models/error') as new (code: string, message: string) => Error;

/** Where a part's bytes are: a range of the upload's data file, or a file of its own. */
type PartLocation = { offset: number; size: number } | { file: string; size: number };

/** In-order parts appended so far to an upload's data file (kept in memory: an upload dies with the stack). */
interface Appended {
  /** Parts 1..n are in the data file, contiguous, in order. */
  n: number;
  size: number;
  writing: boolean;
  parts: Map<number, PartLocation>;
}

class AppendingStore extends FilesystemStore {
  private readonly uploads = new Map<string, Appended>();

  private uploadDir(bucket: string, uploadId: string): string {
    return join(this.getResourcePath(bucket, undefined, 'uploads'), uploadId);
  }

  private state(uploadId: string): Appended {
    let s = this.uploads.get(uploadId);
    if (!s) {
      s = { n: 0, size: 0, writing: false, parts: new Map() };
      this.uploads.set(uploadId, s);
    }
    return s;
  }

  /**
   * A part goes straight from the socket to disk, unhashed: with SSE-KMS (the deployed bucket's encryption) S3's
   * ETags are not MD5s of the data either, so no caller may rely on that, and hashing cost ~1 s per GB here.
   */
  async putPart(
    bucket: string,
    uploadId: string,
    partNumber: string | number,
    content: Readable,
  ): Promise<{ size: number; md5: string }> {
    const dir = this.uploadDir(bucket, uploadId);
    await mkdir(dir, { recursive: true });
    const n = Number(partNumber);
    const s = this.state(uploadId);
    let loc: PartLocation;
    // Only the next part in order is appended. A retry of a stored part gets a file of its own, so that if the
    // retry fails the part already stored is still whole, as in S3.
    if (n === s.n + 1 && !s.writing) {
      s.writing = true;
      const data = join(dir, 'data');
      const offset = s.size;
      try {
        const out = createWriteStream(data, { flags: offset ? 'r+' : 'w', start: offset });
        await pipeline(content, out);
        const size = out.bytesWritten;
        loc = { offset, size };
        s.n = n;
        s.size = offset + size;
      } catch (e) {
        // Silent: the write's own error is what the caller needs; the next write starts at this offset anyway.
        await truncate(data, offset).catch(() => {});
        throw e;
      } finally {
        s.writing = false;
      }
    } else {
      const file = join(dir, String(n));
      const out = createWriteStream(file);
      await pipeline(content, out);
      loc = { file, size: out.bytesWritten };
    }
    s.parts.set(n, loc);
    const etag = createHash('md5').update(`${uploadId}:${n}:${loc.size}:${randomUUID()}`).digest('hex');
    await writeFile(join(dir, `${n}.etag`), etag);
    return { size: loc.size, md5: etag };
  }

  async putObjectMultipart(
    bucket: string,
    uploadId: string,
    parts: readonly { number: number }[],
  ): Promise<{ size: number; md5: string }> {
    const dir = this.uploadDir(bucket, uploadId);
    const s = this.state(uploadId);
    const [key, metadata] = await Promise.all([
      readFile(join(dir, 'key'), 'utf8'),
      readFile(join(dir, 'metadata'), 'utf8').then((t) => JSON.parse(t) as unknown),
    ]);
    const numbers = parts.map((p) => p.number).sort((a, b) => a - b);
    const locations = numbers.map((n) => {
      const loc = s.parts.get(n);
      if (!loc) throw new S3Error('InvalidPart', `Part ${n} was not uploaded`);
      return loc;
    });
    const etags = await Promise.all(numbers.map((n) => readFile(join(dir, `${n}.etag`), 'utf8')));
    const etag = `${createHash('md5')
      .update(Buffer.concat(etags.map((h) => Buffer.from(h.trim(), 'hex'))))
      .digest('hex')}-${numbers.length}`;
    const objectPath = this.getResourcePath(bucket, key, 'object');
    await mkdir(dirname(objectPath), { recursive: true });
    const contiguous = locations.every((l, i) => 'offset' in l && numbers[i] === i + 1);
    let size: number;
    if (contiguous) {
      // The usual case: the data file already is the object.
      size = locations.reduce((sum, l) => sum + l.size, 0);
      await truncate(join(dir, 'data'), size);
      await rename(join(dir, 'data'), objectPath);
    } else {
      const out = createWriteStream(objectPath);
      for (const l of locations) {
        const from =
          'file' in l
            ? createReadStream(l.file)
            : createReadStream(join(dir, 'data'), { start: l.offset, end: l.offset + l.size - 1 });
        if (l.size > 0) await pipeline(from, out, { end: false });
        else from.destroy();
      }
      await new Promise<void>((resolve, reject) =>
        out.end((e?: Error | null) => (e ? reject(e) : resolve())),
      );
      size = (await stat(objectPath)).size;
    }
    await this.putMetadata(bucket, key, metadata, etag);
    this.uploads.delete(uploadId);
    await rm(dir, { recursive: true, force: true });
    return { size, md5: etag };
  }
}

/** s3rver on `address`, with the store above; `port` 0 picks a free one. */
export async function startS3rver(opts: {
  readonly address: string;
  readonly port: number;
  readonly directory: string;
  readonly buckets: readonly string[];
}): Promise<{ server: S3rver; port: number }> {
  const server = new S3rver({
    address: opts.address,
    port: opts.port,
    silent: true,
    directory: opts.directory,
    configureBuckets: opts.buckets.map((name) => ({ name, configs: [] })),
  });
  // s3rver's controllers reach the store through the Koa context; both references must be replaced.
  const s = server as unknown as { store: FilesystemStoreBase; context: { store: FilesystemStoreBase } };
  s.store = s.context.store = new AppendingStore(opts.directory);
  const { port } = await server.run();
  return { server, port };
}
