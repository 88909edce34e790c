/**
 * `--parallel N` restores (src/worker/parallel-restore.ts) against a real throwaway cluster and s3rver: the
 * archive is downloaded to a temp file, checked, and restored with `pg_restore --jobs`; the temp file never
 * outlives the transfer, whatever the outcome.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { localS3Client, S3BlobStore } from '../../src/adapters/aws/s3-blob-store.js';
import { silentLogger } from '../../src/core/logger.js';
import { backupObjectKey } from '../../src/core/object-keys.js';
import { systemClock } from '../../src/core/ports.js';
import { type Transfer, transferName } from '../../src/core/transfer.js';
import { runTransfer, type WorkerDeps } from '../../src/worker/run-transfer.js';
import { MemoryCatalog, MemorySecrets } from '../fakes/index.js';
import { fingerprint } from '../helpers/db-fingerprint.js';
import { type PgCluster, startCluster } from '../helpers/pg-cluster.js';
import { type LocalS3, startS3rver } from '../helpers/s3rver.js';

const APP = 'parallel-app';
const FIXTURE = fileURLToPath(new URL('../helpers/fixtures/awkward.sql', import.meta.url));
const UNRELATED = `CREATE SCHEMA billing;
  CREATE TABLE billing.invoices (id int PRIMARY KEY, total numeric);
  INSERT INTO billing.invoices SELECT i, i * 10 FROM generate_series(1, 50) i;`;

let cluster: PgCluster;
let s3: LocalS3;
let deps: WorkerDeps & { catalog: MemoryCatalog; blobs: S3BlobStore };
let downloads: string;
const savedTmp = process.env.PGBACKUPS_TMPDIR;

beforeAll(async () => {
  [cluster, s3] = await Promise.all([startCluster(), startS3rver()]);
  downloads = await mkdtemp(join(tmpdir(), 'pgbackups-parallel-test-'));
  process.env.PGBACKUPS_TMPDIR = downloads;
  deps = {
    catalog: new MemoryCatalog(),
    blobs: new S3BlobStore({ client: localS3Client(s3.endpoint), bucket: s3.bucket }),
    secrets: new MemorySecrets(),
    clock: systemClock,
    log: silentLogger,
  };
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
  for (const db of ['source', 'target']) {
    const secretRef = await deps.secrets.put(APP, db.toUpperCase(), cluster.url(db));
    await deps.catalog.putDatabase({
      app: APP,
      name: db.toUpperCase(),
      secretRef,
      host: '127.0.0.1',
      port: cluster.port,
      database: db,
      user: 'postgres',
      createdAt: new Date().toISOString(),
    });
  }
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

async function create(kind: Transfer['kind'], fields: (id: string) => Partial<Transfer>): Promise<Transfer> {
  const num = await deps.catalog.nextTransferNum(APP);
  const id = transferName(kind, 'manual', num);
  const t = {
    app: APP,
    num,
    id,
    kind,
    type: 'manual',
    status: 'pending',
    createdAt: new Date().toISOString(),
    ...fields(id),
  } as Transfer;
  await deps.catalog.createTransfer(t);
  return t;
}

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

  it('restores with pg_restore --jobs: identical to the source, temp file removed', async () => {
    const done = await run(await restoreOf(backup, 2));
    expect(done.status, done.error).toBe('completed');
    expect(done).toMatchObject({ sha256: backup.sha256, processedBytes: backup.backupBytes, parallel: 2 });
    expect(messages(done)).toEqual(
      expect.arrayContaining([
        'parallel restore with 2 jobs: downloading the archive to ephemeral storage first',
        'checksum verified',
        'pg_restore finished successfully',
        'restore finished successfully',
      ]),
    );
    expect(await fingerprint(cluster, 'target')).toEqual(await fingerprint(cluster, 'source'));
    expect(await cluster.psql('target', "SELECT count(*) FROM pg_namespace WHERE nspname = 'billing'")).toBe(
      '0\n',
    );
    expect(await readdir(downloads)).toEqual([]);
    expect(JSON.stringify(done)).not.toContain(cluster.password);
  });

  it('refuses an object whose checksum does not match before touching the target', async () => {
    const before = await fingerprint(cluster, 'target');
    const done = await run(await restoreOf(backup, 4, 'f'.repeat(64)));
    expect(done.status).toBe('failed');
    expect(done.error).toMatch(/Checksum mismatch.*left unchanged/);
    expect(await fingerprint(cluster, 'target')).toEqual(before);
    expect(await readdir(downloads)).toEqual([]);
  });

  it('reports a failure after the wipe as a partial restore, and still removes the temp file', async () => {
    // A publication lives outside any schema, so it survives the wipe and the dump's own one then fails.
    await cluster.createDatabase('pubsrc');
    await cluster.psql(
      'pubsrc',
      'CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1); CREATE PUBLICATION p;',
    );
    const secretRef = await deps.secrets.put(APP, 'PUBSRC', cluster.url('pubsrc'));
    await deps.catalog.putDatabase({
      app: APP,
      name: 'PUBSRC',
      secretRef,
      host: '127.0.0.1',
      port: cluster.port,
      database: 'pubsrc',
      user: 'postgres',
      createdAt: new Date().toISOString(),
    });
    const pubBackup = await run(
      await create('backup', (id) => ({
        database: 'PUBSRC',
        source: { type: 'database', app: APP, database: 'PUBSRC' },
        target: { type: 'blob', key: backupObjectKey(APP, 'PUBSRC', 'manual', id) },
      })),
    );
    expect(pubBackup.status, pubBackup.error).toBe('completed');
    await cluster.psql('target', 'CREATE PUBLICATION p');

    const done = await run(await restoreOf(pubBackup, 2));
    expect(done.status).toBe('failed');
    expect(done.error).toMatch(
      /pg_restore failed \(exit code 1\).*publication "p" already exists.*partially/,
    );
    expect(await readdir(downloads)).toEqual([]);
  });
});
