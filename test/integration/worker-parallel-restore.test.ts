/**
 * `--parallel N` restores (src/worker/parallel-restore.ts) against a real throwaway cluster and s3rver: schema and
 * data are restored atomically from the stream while it is copied to a temp file, then indexes and constraints
 * with `pg_restore --section=post-data --jobs` from that file; the temp file never outlives the transfer, whatever
 * the outcome.
 */
import { createHash } from 'node:crypto';
import type * as fsPromises from 'node:fs/promises';
import { mkdtemp, open, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { localS3Client, S3BlobStore } from '../../src/adapters/aws/s3-blob-store.js';
import { backupObjectKey } from '../../src/core/object-keys.js';
import type { Transfer } from '../../src/core/transfer.js';
import { discoverPgClients } from '../../src/worker/pg-clients.js';
import { readArchiveHead } from '../../src/worker/restore-plan.js';
import { runTransfer } from '../../src/worker/run-transfer.js';
import { fingerprint } from '../helpers/db-fingerprint.js';
import { type PgCluster, run as runProgram, startCluster } from '../helpers/pg-cluster.js';
import { type LocalS3, startS3rver } from '../helpers/s3rver.js';
import {
  attachClusterDatabase,
  createPendingTransfer,
  type TestWorkerDeps,
  type TransferFields,
  workerDeps,
} from '../helpers/worker-deps.js';

/**
 * While a test sets `under`, a file opened there (the worker's temp file) fails its writes with ENOSPC after
 * `bytes`, as a too-small ephemeral storage would.
 */
const diskFull = vi.hoisted(() => ({ under: undefined as string | undefined, bytes: 0 }));
vi.mock('node:fs/promises', async (importOriginal) => {
  const fs = await importOriginal<typeof fsPromises>();
  const open: typeof fs.open = async (path, flags, mode) => {
    const handle = await fs.open(path, flags, mode);
    const { under, bytes } = diskFull;
    if (under === undefined || !String(path).startsWith(under)) return handle;
    const write = handle.write.bind(handle) as (chunk: Buffer) => Promise<unknown>;
    let written = 0;
    handle.write = ((chunk: Buffer) => {
      written += chunk.length;
      if (written <= bytes) return write(chunk);
      return Promise.reject(
        Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' }),
      );
    }) as typeof handle.write;
    return handle;
  };
  return { ...fs, open };
});

const APP = 'parallel-app';
const FIXTURE = fileURLToPath(new URL('../helpers/fixtures/awkward.sql', import.meta.url));
const UNRELATED = `CREATE SCHEMA billing;
  CREATE TABLE billing.invoices (id int PRIMARY KEY, total numeric);
  INSERT INTO billing.invoices SELECT i, i * 10 FROM generate_series(1, 50) i;`;

let cluster: PgCluster;
let s3: LocalS3;
let deps: TestWorkerDeps<S3BlobStore>;
const attach = (name: string, db: string) => attachClusterDatabase(deps, cluster, APP, name, db);
let downloads: string;
const savedTmp = process.env.PGBACKUPS_TMPDIR;

beforeAll(async () => {
  [cluster, s3] = await Promise.all([startCluster(), startS3rver()]);
  downloads = await mkdtemp(join(tmpdir(), 'pgbackups-parallel-test-'));
  process.env.PGBACKUPS_TMPDIR = downloads;
  deps = workerDeps(new S3BlobStore({ client: localS3Client(s3.endpoint), bucket: s3.bucket }));
  await cluster.createDatabase('source');
  await cluster.psqlFile('source', FIXTURE);
  // More rows than the fixture alone, so the jobs have several tables' data and indexes to share.
  await cluster.psql(
    'source',
    `CREATE TABLE public.events (id bigint PRIMARY KEY, body text, at timestamptz);
     INSERT INTO public.events SELECT i, md5(i::text), '2024-01-01'::timestamptz + i * interval '1 minute'
       FROM generate_series(1, 20000) i;
     CREATE INDEX events_at ON public.events (at);`,
  );
  await cluster.createDatabase('target');
  for (const db of ['source', 'target']) await attach(db.toUpperCase(), db);
});

afterAll(async () => {
  if (savedTmp === undefined) delete process.env.PGBACKUPS_TMPDIR;
  else process.env.PGBACKUPS_TMPDIR = savedTmp;
  await Promise.all([cluster?.stop(), s3?.stop()]);
  if (downloads) await rm(downloads, { recursive: true, force: true });
});

beforeEach(async () => {
  await cluster.dropDatabase('target');
  await cluster.createDatabase('target');
  await cluster.psql('target', UNRELATED);
});

const create = (kind: Transfer['kind'], fields: (id: string) => TransferFields) =>
  createPendingTransfer(deps, APP, kind, fields);

async function run(t: Transfer): Promise<Transfer> {
  await runTransfer(deps, t, new AbortController().signal, { progressIntervalMs: 200 });
  return (await deps.catalog.getTransfer(APP, t.num, { logs: true }))!;
}

function restoreOf(backup: Transfer, parallel: number, sha256 = backup.sha256!) {
  const key = (backup.target as { key: string }).key;
  return create('restore', () => ({
    database: 'TARGET',
    source: {
      type: 'backup',
      app: APP,
      id: backup.id,
      num: backup.num,
      key,
      sha256,
      bytes: backup.backupBytes!,
    },
    target: { type: 'database', app: APP, database: 'TARGET' },
    extensions: ['public.hstore', 'pgcrypto'],
    parallel,
  }));
}

const messages = (t: Transfer) => (t.logs ?? []).map((l) => l.message);

const STEP_1 =
  /^parallel restore with 2 jobs: everything but \d+ index and constraint builds first, in one transaction$/;
const COMMITTED = 'schema and data restored and committed';
const STEP_2 = 'building indexes and constraints with 2 jobs; waiting for pg_restore to complete';

/** Indexes, constraints and triggers: what the post-data step creates. */
const postDataObjects = (db: string) =>
  cluster.psql(
    db,
    `SELECT 'index ' || c.oid::regclass FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname NOT IN ('pg_catalog', 'pg_toast')
     UNION ALL SELECT 'constraint ' || c.conrelid::regclass || ' ' || c.conname FROM pg_constraint c
       JOIN pg_namespace n ON n.oid = c.connamespace WHERE n.nspname <> 'pg_catalog'
     UNION ALL SELECT 'trigger ' || tgrelid::regclass || ' ' || tgname FROM pg_trigger WHERE NOT tgisinternal
     ORDER BY 1`,
  );

async function backupOf(database: string): Promise<Transfer> {
  const b = await run(
    await create('backup', (id) => ({
      database,
      source: { type: 'database', app: APP, database },
      target: { type: 'blob', key: backupObjectKey(APP, database, 'manual', id) },
    })),
  );
  expect(b.status, b.error).toBe('completed');
  return b;
}

/** Waits until `count` sessions match `where` in pg_stat_activity. */
async function waitFor(where: string, count = 1): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const n = await cluster.psql('postgres', `SELECT count(*) FROM pg_stat_activity WHERE ${where}`);
    if (Number(n) === count) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`never saw ${count} session(s) where ${where}`);
}

describe('parallel restore', () => {
  let backup: Transfer;

  beforeAll(async () => {
    const b = await create('backup', (id) => ({
      database: 'SOURCE',
      source: { type: 'database', app: APP, database: 'SOURCE' },
      target: { type: 'blob', key: backupObjectKey(APP, 'SOURCE', 'manual', id) },
    }));
    backup = await run(b);
    expect(backup.status, backup.error).toBe('completed');
  });

  it('restores schema and data atomically, then indexes and constraints with --jobs: identical to the source, temp file removed', async () => {
    const done = await run(await restoreOf(backup, 2));
    expect(done.status, done.error).toBe('completed');
    expect(done).toMatchObject({ sha256: backup.sha256, processedBytes: backup.backupBytes, parallel: 2 });
    const log = messages(done);
    expect(log).toEqual(
      expect.arrayContaining([
        expect.stringMatching(STEP_1),
        'checksum verified',
        'all checks passed: sending COMMIT',
        COMMITTED,
        STEP_2,
        'pg_restore finished successfully',
        'restore finished successfully',
      ]),
    );
    // The temp file kept only the archive's table of contents, and the post-data step worked from it.
    const kept = log
      .map(
        (m) => /^read the archive's table of contents \(\d+ entries, (\d+) bytes read ahead\)/.exec(m)?.[1],
      )
      .find(Boolean);
    expect(Number(kept)).toBeGreaterThan(0);
    expect(Number(kept)).toBeLessThan(backup.backupBytes!);
    // The post-data step starts only once the checksum was verified and the schema and data committed.
    expect(log.indexOf('checksum verified')).toBeLessThan(log.indexOf(COMMITTED));
    expect(log.indexOf(COMMITTED)).toBeLessThan(log.indexOf(STEP_2));
    expect(log.at(-1)).toBe('restore completed');
    expect(await fingerprint(cluster, 'target')).toEqual(await fingerprint(cluster, 'source'));
    const objects = await postDataObjects('target');
    expect(objects).toEqual(await postDataObjects('source'));
    expect(objects).toContain('index events_at');
    expect(objects).toContain('constraint events events_pkey');
    expect(await cluster.psql('target', "SELECT count(*) FROM pg_namespace WHERE nspname = 'billing'")).toBe(
      '0\n',
    );
    expect(await readdir(downloads)).toEqual([]);
    expect(JSON.stringify(done)).not.toContain(cluster.password);
  });

  it('restores every step into a database whose name holds `=`, never into the database that name spells', async () => {
    // libpq reads a bare `--dbname=dbname=decoy` as a connection string naming database `decoy`.
    const tricky = 'dbname=decoy';
    const asName = (db: string) => `dbname='${db}'`; // the test cluster's psql also expands -d
    for (const db of [tricky, 'decoy']) {
      await cluster.dropDatabase(db);
      await cluster.createDatabase(db);
    }
    await attach('TRICKY', tricky);
    const key = (backup.target as { key: string }).key;
    const done = await run(
      await create('restore', () => ({
        database: 'TRICKY',
        source: {
          type: 'backup',
          app: APP,
          id: backup.id,
          num: backup.num,
          key,
          sha256: backup.sha256!,
          bytes: backup.backupBytes!,
        },
        target: { type: 'database', app: APP, database: 'TRICKY' },
        extensions: ['public.hstore', 'pgcrypto'],
        parallel: 2,
      })),
    );
    expect(done.status, done.error).toBe('completed');
    const objects = await postDataObjects(asName(tricky));
    expect(objects).toEqual(await postDataObjects('source'));
    expect(objects).toContain('index events_at');
    // The decoy holds only what every new database holds.
    expect(await postDataObjects('decoy')).toEqual(await postDataObjects('postgres'));
  });

  it("reads ahead only until pg_restore can list the archive's table of contents, then replays every byte", async () => {
    const archive = Buffer.concat(
      await (await deps.blobs.download((backup.target as { key: string }).key)).toArray(),
    );
    const dir = await mkdtemp(join(tmpdir(), 'pgbackups-toc-'));
    const listOf = async (file: string) =>
      runProgram(join(cluster.binDir, 'pg_restore'), ['--list', file]).then((r) =>
        r.code === 0 ? r.stdout : undefined,
      );
    try {
      const file = join(dir, 'toc.dump');
      const handle = await open(file, 'wx', 0o600);
      // Small chunks, so the checkpoints fall inside the archive however small the test's dump is.
      const chunks = Array.from({ length: Math.ceil(archive.length / 128) }, (_, i) =>
        archive.subarray(i * 128, (i + 1) * 128),
      );
      const ctx = { secrets: [], signal: new AbortController().signal };
      const client = (await discoverPgClients([cluster.clientBinDir])).newest();
      const head = await readArchiveHead(
        ctx,
        client,
        Readable.from(chunks),
        handle,
        file,
        [4096, 32768, 131072],
      );
      await handle.close();
      const kept = (await stat(file)).size;
      expect(head.headBytes).toBe(kept);
      expect(kept).toBeLessThan(archive.length);
      expect(head.toc.some((e) => e.rest.startsWith('CONSTRAINT public events events_pkey'))).toBe(true);
      // The same table of contents as the whole archive's (pg_restore --list prints when it read it).
      const full = join(dir, 'full.dump');
      await writeFile(full, archive);
      const strip = (l: string | undefined) => l?.replace(/^;\s+Archive created at.*$/m, '');
      expect(strip(await listOf(file))).toBe(strip(await listOf(full)));
      // What the restore reads is the whole archive, byte for byte.
      expect(Buffer.concat(await head.replay.toArray()).equals(archive)).toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses an object whose checksum does not match: rolled back, the target unchanged', async () => {
    const before = await fingerprint(cluster, 'target');
    const done = await run(await restoreOf(backup, 4, 'f'.repeat(64)));
    expect(done.status).toBe('failed');
    expect(done.error).toMatch(/Checksum mismatch.*left unchanged/);
    expect(await fingerprint(cluster, 'target')).toEqual(before);
    expect(await readdir(downloads)).toEqual([]);
    // The mismatch is only known at the end of the stream: the schema and data were restored, then rolled back.
    expect(messages(done)).toContain('rolled back: the target database was left unchanged');
    expect(messages(done)).not.toContain(COMMITTED);
    expect(messages(done).some((m) => m.startsWith('building indexes'))).toBe(false);
  });

  it('rolls back an archive cut short (its recorded checksum matching): the target unchanged', async () => {
    const key = (backup.target as { key: string }).key;
    const chunks: Buffer[] = [];
    for await (const c of await deps.blobs.download(key)) chunks.push(c as Buffer);
    const cut = Buffer.concat(chunks).subarray(0, Math.floor(backup.backupBytes! * 0.8));
    const cutKey = `${key}.truncated`;
    await deps.blobs.upload(cutKey, Readable.from([cut]));
    const before = await fingerprint(cluster, 'target');

    const done = await run(
      await restoreOf(
        { ...backup, target: { type: 'blob', key: cutKey }, backupBytes: cut.length },
        2,
        createHash('sha256').update(cut).digest('hex'),
      ),
    );
    expect(done.status).toBe('failed');
    expect(done.error).toMatch(/pg_restore failed \(exit code 1\).*left unchanged/);
    expect(await fingerprint(cluster, 'target')).toEqual(before);
    expect(await readdir(downloads)).toEqual([]);
  });

  it('rolls back when the temp file cannot be written (ephemeral storage full): the target unchanged', async () => {
    const before = await fingerprint(cluster, 'target');
    diskFull.under = downloads;
    // Full before the archive's table of contents is written (the copy keeps no more than that).
    diskFull.bytes = 1000;
    let done: Transfer;
    try {
      done = await run(await restoreOf(backup, 2));
    } finally {
      diskFull.under = undefined;
    }
    expect(done.status).toBe('failed');
    expect(done.error).toMatch(
      /^Reading the archive's table of contents failed: ENOSPC: no space left on device.*; the target database was left unchanged$/,
    );
    expect(messages(done)).not.toContain(COMMITTED);
    expect(await fingerprint(cluster, 'target')).toEqual(before);
    expect(await readdir(downloads)).toEqual([]);
  });

  it('cancels while the schema and data are restored: rolled back, the target unchanged', async () => {
    const before = await fingerprint(cluster, 'target');
    // A session using the target holds a lock, so the wipe waits inside the restore's transaction.
    const user = await cluster.session('target');
    await user.run('BEGIN; LOCK TABLE billing.invoices IN ACCESS SHARE MODE');
    const stop = new AbortController();
    const r = await restoreOf(backup, 2);
    const running = runTransfer(deps, r, stop.signal, { progressIntervalMs: 100 });
    await waitFor("application_name = 'pgbackups' AND wait_event_type = 'Lock'");
    stop.abort();
    expect(await running).toBe('cancelled');
    await user.close();
    await waitFor("application_name = 'pgbackups'", 0);
    expect(await fingerprint(cluster, 'target')).toEqual(before);
    expect(await readdir(downloads)).toEqual([]);
  });

  it('reports a failed post-data step: the data is restored, some constraints are missing, the temp file removed', async () => {
    // Rows loaded with triggers off (session_replication_role = replica, as logical replication or a careless
    // bulk load does) can break a foreign key the source never re-checked: pg_dump dumps them as they are, and
    // the constraint only fails when it is built again, in the post-data step.
    await cluster.createDatabase('orphans');
    await cluster.psql(
      'orphans',
      `CREATE TABLE accounts (id int PRIMARY KEY, name text);
       CREATE TABLE orders (id int PRIMARY KEY, account_id int REFERENCES accounts (id), total numeric);
       CREATE INDEX orders_account ON orders (account_id);
       INSERT INTO accounts SELECT i, 'account ' || i FROM generate_series(1, 100) i;
       INSERT INTO orders SELECT i, 1 + i % 100, i FROM generate_series(1, 1000) i;
       SET session_replication_role = replica;
       INSERT INTO orders VALUES (1001, 4242, 1);`,
    );
    await attach('ORPHANS', 'orphans');
    const orphans = await backupOf('ORPHANS');

    const done = await run(await restoreOf(orphans, 2));
    expect(done.status).toBe('failed');
    expect(done.error).toMatch(
      /^pg_restore failed \(exit code 1\).*violates foreign key constraint "orders_account_id_fkey".*; the target database is only partially restored: its tables, data, row-level security, policies, triggers and rules were committed, but some indexes or constraints are missing \(1 of \d+ missing: FK CONSTRAINT public orders orders_account_id_fkey\)\. Once the cause is fixed, build them with: pgbackups restore --finish r\d+ -a parallel-app$/,
    );
    expect(messages(done)).toContain(COMMITTED);
    expect(messages(done)).toContain('pg_restore finished with errors');
    // The data is there (the wipe committed with it), the foreign key is not.
    expect(await cluster.psql('target', 'SELECT count(*) FROM accounts; SELECT count(*) FROM orders')).toBe(
      '100\n1001\n',
    );
    expect(await cluster.psql('target', "SELECT count(*) FROM pg_namespace WHERE nspname = 'billing'")).toBe(
      '0\n',
    );
    expect(
      await cluster.psql(
        'target',
        "SELECT count(*) FROM pg_constraint WHERE conname = 'orders_account_id_fkey'",
      ),
    ).toBe('0\n');
    expect(await readdir(downloads)).toEqual([]);
  });

  it('restores over a target holding a publication of the same name, the publication in the atomic step', async () => {
    // A publication lives outside any schema: the wipe drops it, and the dump's own one is created with the data.
    await cluster.createDatabase('pubsrc');
    await cluster.psql(
      'pubsrc',
      'CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1); CREATE PUBLICATION p FOR TABLE t;',
    );
    await attach('PUBSRC', 'pubsrc');
    const pubBackup = await backupOf('PUBSRC');
    await cluster.psql('target', 'CREATE PUBLICATION p');

    const done = await run(await restoreOf(pubBackup, 2));
    expect(done.status, done.error).toBe('completed');
    expect(
      await cluster.psql('target', 'SELECT count(*) FROM t; SELECT tablename FROM pg_publication_tables'),
    ).toBe('1\nt\n');
    expect(await readdir(downloads)).toEqual([]);
  });
});
