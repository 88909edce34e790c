/**
 * The clients the worker image ships, against the server majors users run (docs/compatibility.md): the
 * production-critical cells of `npm run test:pg-matrix`, inside `npm test`. Servers 13, 15, 17 and 18 as sources
 * and targets, each dumped by its own major's client, as in the image (clients 13–18).
 */
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Transfer } from '../../src/core/transfer.js';
import { discoverPgClients } from '../../src/worker/pg-clients.js';
import { runTransfer } from '../../src/worker/run-transfer.js';
import { exactClientBinDir } from '../helpers/pg-toolchain.js';
import { startVersionLab, type VersionLab } from '../helpers/pg-versions.js';
import { createPendingTransfer } from '../helpers/worker-deps.js';

const MAJORS = [13, 15, 17, 18];
let lab: VersionLab;
const backups = new Map<number, Transfer>();

beforeAll(async () => {
  lab = await startVersionLab(MAJORS);
  for (const m of MAJORS) backups.set(m, await lab.capture(m));
}, 300_000);

afterAll(async () => {
  await lab?.stop();
});

const backup = (m: number) => backups.get(m) as Transfer;

describe.each(MAJORS)('PostgreSQL %i', (m) => {
  const client = m;
  const format = client >= 17 ? '1.16' : '1.14';

  it(`captures with the ${client} client and records the archive format`, () => {
    expect(backup(m), backup(m).error).toMatchObject({
      status: 'completed',
      serverVersion: expect.stringMatching(new RegExp(`^${m}\\.`)),
      pgDumpVersion: expect.stringMatching(new RegExp(`^${client}\\.`)),
      compression: client >= 16 ? 'zstd:1' : 'gzip:1',
      archiveFormat: format,
      oldestPgRestore: client >= 17 ? 17 : 12,
    });
  });

  it('restores atomically into the same major, identical to the source', async () => {
    const { transfer, db } = await lab.restore(backup(m), m);
    expect(transfer.status, transfer.error).toBe('completed');
    const [source, target] = await lab.compare(m, m, db);
    expect(target).toEqual(source);
  });

  it('restores with --parallel 2 into the same major, identical to the source', async () => {
    const { transfer, db } = await lab.restore(backup(m), m, { parallel: 2 });
    expect(transfer.status, transfer.error).toBe('completed');
    const [source, target] = await lab.compare(m, m, db);
    expect(target).toEqual(source);
  });

  it('copies into the same major, identical to the source', async () => {
    const { transfer, db } = await lab.copy(m, m);
    expect(transfer.status, transfer.error).toBe('completed');
    const [source, target] = await lab.compare(m, m, db);
    expect(target).toEqual(source);
  });

  it(`a download restores with the source's own pg_restore ${m}`, async () => {
    const db = await lab.readBack(backup(m), m, m);
    const [source, target] = await lab.compare(m, m, db);
    expect(target).toEqual(source);
  });
});

describe('across majors', () => {
  it.each([
    [13, 18],
    [15, 17],
    [17, 18],
  ])('restores and copies %i → %i, identical to the source', async (s, t) => {
    for (const outcome of [await lab.restore(backup(s), t), await lab.copy(s, t)]) {
      expect(outcome.transfer.status, outcome.transfer.error).toBe('completed');
      const [source, target] = await lab.compare(s, t, outcome.db);
      expect(target).toEqual(source);
    }
  });

  it.each([
    [18, 15],
    [17, 13],
  ])('refuses %i → %i before touching the target, naming both versions', async (s, t) => {
    const target = await lab.freshTarget(t);
    const before = await lab.fingerprintOf(t, target.db);
    for (const outcome of [await lab.restore(backup(s), t, { target }), await lab.copy(s, t, target)]) {
      expect(outcome.transfer.status).toBe('failed');
      expect(outcome.transfer.error).toMatch(
        new RegExp(`PostgreSQL ${s} database and the target runs PostgreSQL ${t}.*left unchanged`),
      );
      expect(await lab.fingerprintOf(t, target.db)).toEqual(before);
    }
  });
});

describe('a pg_restore that writes no \\restrict line (CVE-2025-8714)', () => {
  it('is refused before psql runs anything from the archive; the target is unchanged', async () => {
    // A 15 client whose pg_restore drops the \restrict line, as builds before 15.14 never wrote it.
    const real = exactClientBinDir(15) as string;
    const dir = join(await mkdtemp(join(tmpdir(), 'pgbackups-norestrict-')), '15', 'bin');
    await mkdir(dir, { recursive: true });
    for (const p of ['pg_dump', 'psql']) {
      await writeFile(join(dir, p), `#!/bin/sh\nexec '${join(real, p)}' "$@"\n`);
      await chmod(join(dir, p), 0o755);
    }
    await writeFile(
      join(dir, 'pg_restore'),
      `#!/bin/sh\n'${join(real, 'pg_restore')}' "$@" | sed '/^\\\\restrict /d'\n`,
    );
    await chmod(join(dir, 'pg_restore'), 0o755);
    try {
      const target = await lab.freshTarget(15);
      const before = await lab.fingerprintOf(15, target.db);
      const b = backup(15);
      const t = await createPendingTransfer(lab.deps, 'versions', 'restore', () => ({
        database: target.name,
        source: {
          type: 'backup',
          app: 'versions',
          id: b.id,
          num: b.num,
          key: (b.target as { key: string }).key,
          sha256: b.sha256 as string,
          bytes: b.backupBytes as number,
        },
        target: { type: 'database', app: 'versions', database: target.name },
      }));
      const clients = await discoverPgClients([dir]);
      await runTransfer(lab.deps, t, new AbortController().signal, { progressIntervalMs: 200, clients });
      const done = await lab.deps.catalog.getTransfer('versions', t.num);
      expect(done?.status).toBe('failed');
      expect(done?.error).toMatch(/does not start with a \\restrict line.*CVE-2025-8714.*left unchanged/);
      expect(await lab.fingerprintOf(15, target.db)).toEqual(before);
    } finally {
      await rm(join(dir, '..', '..'), { recursive: true, force: true });
    }
  });
});
