/** What `download` and `info` say about which pg_restore reads a backup (docs/compatibility.md). */
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeApi, run, transfer } from './harness.js';

/** The first bytes of a custom-format archive of format 1.`vmin`, written by pg_dump `dump`. */
function archive(vmin: number, dump: string): Buffer {
  const int = (n: number) => Buffer.from([n < 0 ? 1 : 0, Math.abs(n), 0, 0, 0]);
  const str = (s: string) => Buffer.concat([int(s.length), Buffer.from(s)]);
  return Buffer.concat([
    Buffer.from([...Buffer.from('PGDMP'), 1, vmin, 0, 4, 8, 1]),
    vmin >= 15 ? Buffer.from([3]) : int(-1),
    ...[5, 4, 3, 25, 10, 126, 0].map(int),
    str('shop'),
    str('16.4'),
    str(dump),
    Buffer.from('toc and data'.repeat(50)),
  ]);
}

describe('which pg_restore reads a download', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pgbackups-cli-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const api = (dump: Buffer) =>
    new FakeApi()
      .on('GET', '/v1/apps/:app/transfers', {
        status: 200,
        body: {
          transfers: [
            transfer({ id: 'b001', num: 1, sha256: createHash('sha256').update(dump).digest('hex') }),
          ],
        },
      })
      .on('POST', '/v1/apps/:app/backups/:id/url', {
        status: 200,
        body: { url: 'https://s3.example.com/b001.dump?sig=1', expiresAt: '2016-10-08T01:00:00Z' },
      })
      .on('GET', 'https://s3.example.com/b001.dump', { status: 200, raw: dump });

  it("says the archive's format and warns when the pg_restore on PATH is too old for it", async () => {
    const r = await run(api(archive(16, '17.6')), ['download'], {
      cwd: dir,
      pgRestoreVersion: 'pg_restore (PostgreSQL) 16.4',
    });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('Archive format 1.16 (pg_dump 17.6); restore with pg_restore 17 or newer\n');
    expect(r.stderr).toMatch(
      /The pg_restore on your PATH is 16 \(pg_restore \(PostgreSQL\) 16\.4\), too old to read this file: it needs pg_restore 17 or newer \(postgresql-client-17\)/,
    );
  });

  it('does not warn when the local pg_restore reads it, or when there is none', async () => {
    for (const pgRestoreVersion of ['pg_restore (PostgreSQL) 17.2', undefined]) {
      const r = await run(api(archive(15, '16.4')), ['download', '-o', `${pgRestoreVersion}.dump`], {
        cwd: dir,
        pgRestoreVersion,
      });
      expect(r.code).toBe(0);
      expect(r.stderr).toContain('Archive format 1.15 (pg_dump 16.4); restore with pg_restore 16 or newer\n');
      expect(r.stderr).not.toContain('too old');
    }
  });
});

describe('info', () => {
  it('shows the archive format and the oldest pg_restore that reads it', async () => {
    const api = new FakeApi().on('GET', '/v1/apps/:app/transfers/:id', {
      status: 200,
      body: transfer({ id: 'b003', num: 3, archiveFormat: '1.14', oldestPgRestore: 12 }),
    });
    const r = await run(api, ['info', 'b003']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Archive: +format 1\.14; restore with pg_restore 12 or newer$/m);
    expect(r.stdout).toContain(`=== Backup b003`);
  });
});
