import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import { chooseCompression } from '../../../src/worker/capture.js';
import {
  downloadDir,
  parallelRestoreArgs,
  SCHEMA_AND_DATA,
  targetDbName,
} from '../../../src/worker/parallel-restore.js';
import { Tee } from '../../../src/worker/streams.js';

describe('parallel restore parts', () => {
  it('restores schema and data first (atomically, streamed), and only those', () => {
    expect(SCHEMA_AND_DATA).toEqual(['--section=pre-data', '--section=data']);
  });

  it('then runs pg_restore on the post-data section with N jobs, no owner or privileges, stopping at the first error, from the file', () => {
    expect(parallelRestoreArgs(4, 'app_db', '/tmp/x/archive.dump')).toEqual([
      '--format=custom',
      '--section=post-data',
      '--jobs=4',
      '--no-owner',
      '--no-privileges',
      '--exit-on-error',
      '--verbose',
      "--dbname=dbname='app_db'",
      '/tmp/x/archive.dump',
    ]);
  });

  it('passes the database name as a quoted conninfo value, which libpq cannot read as a connection string', () => {
    // Bare, `dbname=other passfile=/x` would be expanded by libpq into two parameters.
    expect(parallelRestoreArgs(2, "dbname=other passfile=/x o'k\\", '/f')).toContain(
      "--dbname=dbname='dbname=other passfile=/x o\\'k\\\\'",
    );
  });

  it('names the target database only (credentials stay in the environment)', () => {
    expect(targetDbName({ PGDATABASE: 'd', PGUSER: 'u', PGPASSWORD: 'secret' })).toBe('d');
    expect(targetDbName({ PGUSER: 'u' })).toBe('u');
    expect(targetDbName({})).toBe('postgres');
  });

  it('downloads under PGBACKUPS_TMPDIR, else the OS temp dir', () => {
    expect(downloadDir({ PGBACKUPS_TMPDIR: '/scratch' })).toBe('/scratch');
    expect(downloadDir({})).toMatch(/\S/);
  });
});

const CHUNK = 64 * 1024;
const data = Buffer.from(Array.from({ length: 2 * 1024 * 1024 }, (_, i) => i % 251));
const chunks = () =>
  Readable.from(
    Array.from({ length: data.length / CHUNK }, (_, i) => data.subarray(i * CHUNK, (i + 1) * CHUNK)),
  );
/** A writable that keeps what it gets, taking `delayMs` per chunk. */
const collector = (opts: { highWaterMark?: number; delayMs?: number } = {}) => {
  const got: Buffer[] = [];
  const w = new Writable({
    highWaterMark: opts.highWaterMark,
    write: (c: Buffer, _e, cb) => {
      got.push(c);
      setTimeout(cb, opts.delayMs ?? 0);
    },
  });
  return { w, bytes: () => Buffer.concat(got) };
};

describe('Tee (the archive copied to the temp file while it streams into pg_restore)', () => {
  it('passes every byte through and writes the same bytes to the copy, ending once the copy is closed', async () => {
    const copy = collector();
    const down = collector();
    let copyClosed = false;
    copy.w.on('close', () => {
      copyClosed = true;
    });
    let closedAtFinish: boolean | undefined;
    down.w.on('finish', () => {
      closedAtFinish = copyClosed;
    });
    await pipeline(chunks(), new Tee(copy.w), down.w);
    expect(down.bytes().equals(data)).toBe(true);
    expect(copy.bytes().equals(data)).toBe(true);
    expect(closedAtFinish).toBe(true);
  });

  it('waits for a slow copy instead of buffering the stream in memory', async () => {
    const hwm = 128 * 1024;
    const copy = collector({ highWaterMark: hwm, delayMs: 2 });
    let maxBuffered = 0;
    const tee = new Tee(copy.w);
    tee.on('data', () => {
      maxBuffered = Math.max(maxBuffered, copy.w.writableLength);
    });
    await pipeline(chunks(), tee, collector().w);
    expect(copy.bytes().equals(data)).toBe(true);
    // Ignoring write()'s false would leave most of the 2 MiB queued in the copy.
    expect(maxBuffered).toBeLessThanOrEqual(hwm + CHUNK);
  });

  it("fails the stream with the copy's own error (a full disk)", async () => {
    const full = Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    let written = 0;
    const copy = new Writable({
      write: (c: Buffer, _e, cb) => {
        written += c.length;
        cb(written > 5 * CHUNK ? full : null);
      },
    });
    const down = collector();
    let finished = false;
    down.w.on('finish', () => {
      finished = true;
    });
    await expect(pipeline(chunks(), new Tee(copy), down.w)).rejects.toThrow('ENOSPC');
    expect(finished).toBe(false);
    expect(down.bytes().length).toBeLessThan(data.length);
  });
});

describe('compression on a pre-16 client', () => {
  it('caps a zstd-sized level at gzip 9', () => {
    expect(chooseCompression(15, 19)).toEqual({ args: ['--compress=9'], label: 'gzip:9' });
    expect(chooseCompression(16, 19)).toEqual({ args: ['--compress=zstd:19'], label: 'zstd:19' });
  });
});
