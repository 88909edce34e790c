import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import { ChildStdinSink, HashCounter } from '../../../src/worker/streams.js';

const data = Buffer.alloc(2 * 1024 * 1024, 'abc');
const sha = createHash('sha256').update(data).digest('hex');
const chunks = () =>
  Readable.from(Array.from({ length: 32 }, (_, i) => data.subarray(i * 65536, (i + 1) * 65536)));
const discard = () => new Writable({ write: (_c, _e, cb) => cb() });

describe('HashCounter', () => {
  it('counts and hashes what passes through', async () => {
    const seen: number[] = [];
    const counter = new HashCounter({ onBytes: (n) => seen.push(n) });
    await pipeline(chunks(), counter, discard());
    expect(counter.bytes).toBe(data.length);
    expect(counter.sha256).toBe(sha);
    expect(seen.at(-1)).toBe(data.length);
  });

  it('only counts when hashing is off (a copy: nothing stored to verify against)', async () => {
    const counter = new HashCounter({ hash: false });
    const out: Buffer[] = [];
    await pipeline(
      chunks(),
      counter,
      new Writable({
        write: (c: Buffer, _e, cb) => {
          out.push(c);
          cb();
        },
      }),
    );
    expect(counter.bytes).toBe(data.length);
    expect(counter.sha256).toBeUndefined();
    expect(Buffer.concat(out).equals(data)).toBe(true);
  });

  it('fails the end of the stream when beforeEnd fails (a producer that exited non-zero)', async () => {
    const counter = new HashCounter({
      beforeEnd: async () => {
        throw new Error('pg_dump failed (exit code 1)');
      },
    });
    await expect(pipeline(chunks(), counter, discard())).rejects.toThrow('pg_dump failed');
    expect(counter.sha256).toBeUndefined();
  });
});

describe('ChildStdinSink', () => {
  it('keeps consuming after the child stops reading, so the hash covers the whole stream', async () => {
    // Reads 1 KiB, then exits 0 with the rest unread, as pg_restore may do with trailing archive bytes.
    const child = spawn(process.execPath, ['-e', 'process.stdin.once("data", () => process.exit(0))'], {
      stdio: ['pipe', 'ignore', 'ignore'],
    });
    const counter = new HashCounter();
    const sink = new ChildStdinSink(child.stdin);
    await pipeline(chunks(), counter, sink);
    expect(counter.bytes).toBe(data.length);
    expect(counter.sha256).toBe(sha);
    expect(sink.childClosedEarly).toBe(true);
  });

  it('passes everything to a child that reads it all', async () => {
    const child = spawn(
      process.execPath,
      [
        '-e',
        'let n = 0; process.stdin.on("data", (c) => { n += c.length }).on("end", () => process.stdout.write(String(n)))',
      ],
      { stdio: ['pipe', 'pipe', 'ignore'] },
    );
    let out = '';
    child.stdout.on('data', (c) => {
      out += c;
    });
    const closed = new Promise((r) => child.on('close', r));
    await pipeline(chunks(), new ChildStdinSink(child.stdin));
    await closed;
    expect(Number(out)).toBe(data.length);
  });
});
