import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { peekArchiveHeader } from '../../../src/worker/archive-peek.js';
import { discoverPgClients, parseBinDirs } from '../../../src/worker/pg-clients.js';

let root: string;

/** A client dir whose programs print `version` (a stand-in for a real installation). */
async function fakeClient(name: string, version: string): Promise<string> {
  const dir = join(root, name, 'bin');
  await mkdir(dir, { recursive: true });
  for (const p of ['pg_dump', 'pg_restore', 'psql']) {
    await writeFile(join(dir, p), `#!/bin/sh\necho "${p} (PostgreSQL) ${version}"\n`);
    await chmod(join(dir, p), 0o755);
  }
  return dir;
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'pgbackups-clients-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('the worker clients', () => {
  it('takes the major from a …/<major>/bin path, and the choice from src/core/pg-compat.ts', async () => {
    const clients = await discoverPgClients([
      await fakeClient('15', '15.14 (Debian)'),
      await fakeClient('18', '18.1'),
    ]);
    expect(clients.majors).toEqual([15, 18]);
    expect(clients.forDump(14).major).toBe(15);
    expect(clients.forDump(16).major).toBe(18);
    expect(clients.newest().path('psql')).toBe(join(root, '18', 'bin', 'psql'));
    expect(await clients.forDump(18).version('pg_dump')).toBe('18.1');
  });

  it('asks pg_dump --version when the path does not say', async () => {
    const clients = await discoverPgClients([await fakeClient('custom', '17.6')]);
    expect(clients.majors).toEqual([17]);
  });

  it('refuses a build without the \\restrict fix when it is about to be used', async () => {
    const clients = await discoverPgClients([await fakeClient('old/15', '15.13')]);
    await expect(clients.forDump(15).version('pg_restore')).rejects.toThrow(
      /pg_restore 15.13 is too old.*CVE-2025-8714.*15.14 or newer/,
    );
  });

  it('refuses a directory whose programs are of another major than its path says', async () => {
    const clients = await discoverPgClients([await fakeClient('mixed/16', '17.6')]);
    await expect(clients.forDump(16).version('psql')).rejects.toThrow(
      /is PostgreSQL 17.6, expected a 16 client/,
    );
  });

  it('says what to install when there is no client', async () => {
    await expect(discoverPgClients([join(root, 'nothing-here')])).rejects.toThrow(/No working pg_dump/);
    expect(parseBinDirs(' /a/15/bin: /b/18/bin ')).toEqual(['/a/15/bin', '/b/18/bin']);
    expect(parseBinDirs('')).toBeUndefined();
  });
});

describe('peekArchiveHeader', () => {
  const archive = Buffer.concat([
    Buffer.from([...Buffer.from('PGDMP'), 1, 14, 0, 4, 8, 1]),
    ...[-1, 5, 4, 3, 25, 10, 126, 0].map((n) => Buffer.from([n < 0 ? 1 : 0, Math.abs(n), 0, 0, 0])),
    ...['db', '13.2', '15.4'].map((s) =>
      Buffer.concat([Buffer.from([0, s.length, 0, 0, 0]), Buffer.from(s)]),
    ),
    Buffer.from('the rest of the archive'),
  ]);

  it('reads the header and leaves the stream whole, however it is chunked', async () => {
    for (const size of [1, 3, 7, 64, archive.length]) {
      const chunks: Buffer[] = [];
      for (let i = 0; i < archive.length; i += size) chunks.push(archive.subarray(i, i + size));
      const stream = Readable.from(chunks, { objectMode: false });
      const header = await peekArchiveHeader(stream);
      expect(header).toMatchObject({ format: '1.14', serverVersion: '13.2', pgDumpVersion: '15.4' });
      expect(await text(stream)).toBe(archive.toString());
    }
  });

  it('rejects a stream that ends inside the header, or is no archive', async () => {
    await expect(peekArchiveHeader(Readable.from([archive.subarray(0, 20)]))).rejects.toThrow(
      /ended before its header/,
    );
    await expect(peekArchiveHeader(Readable.from([Buffer.from('<html>')]))).rejects.toThrow(/custom-format/);
  });
});
