/**
 * Worker pipelines against a real throwaway PostgreSQL cluster and the real S3 adapter on s3rver: capture, restore
 * (including the ways it must fail without touching the target) and copy.
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localS3Client, S3BlobStore } from '../../src/adapters/aws/s3-blob-store.js';
import { backupObjectKey } from '../../src/core/object-keys.js';
import type { Transfer } from '../../src/core/transfer.js';
import { runTransfer } from '../../src/worker/run-transfer.js';
import { fingerprint } from '../helpers/db-fingerprint.js';
import { type PgCluster, startCluster } from '../helpers/pg-cluster.js';
import { type LocalS3, startS3rver } from '../helpers/s3rver.js';
import {
  attachClusterDatabase,
  createPendingTransfer,
  type TestWorkerDeps,
  type TransferFields,
  workerDeps,
} from '../helpers/worker-deps.js';

const APP = 'example-app';
const FIXTURE = fileURLToPath(new URL('../helpers/fixtures/awkward.sql', import.meta.url));
const UNRELATED = `CREATE SCHEMA billing;
  CREATE TABLE billing.invoices (id int PRIMARY KEY, total numeric);
  INSERT INTO billing.invoices SELECT i, i * 10 FROM generate_series(1, 50) i;
  CREATE TABLE public.people (id int);
  SELECT lo_from_bytea(0, 'unrelated large object');`;

let cluster: PgCluster;
let s3: LocalS3;
let deps: TestWorkerDeps<S3BlobStore>;

beforeAll(async () => {
  [cluster, s3] = await Promise.all([startCluster(), startS3rver()]);
  deps = workerDeps(new S3BlobStore({ client: localS3Client(s3.endpoint), bucket: s3.bucket }));
  await cluster.createDatabase('source');
  await cluster.psqlFile('source', FIXTURE);
  for (const db of ['source', 'target', 'copy_target']) {
    if (db !== 'source') await cluster.createDatabase(db);
    await attach(db.toUpperCase(), db);
  }
});

const attach = (name: string, db: string) => attachClusterDatabase(deps, cluster, APP, name, db);

afterAll(async () => {
  await Promise.all([cluster?.stop(), s3?.stop()]);
});

const create = (kind: Transfer['kind'], fields: (id: string) => TransferFields) =>
  createPendingTransfer(deps, APP, kind, fields);

async function captureBackup(database = 'SOURCE'): Promise<Transfer> {
  const t = await create('backup', (id) => ({
    database,
    source: { type: 'database', app: APP, database },
    target: { type: 'blob', key: backupObjectKey(APP, database, 'manual', id) },
  }));
  const status = await runTransfer(deps, t, new AbortController().signal, { progressIntervalMs: 200 });
  const done = await deps.catalog.getTransfer(APP, t.num, { logs: true });
  expect(status, done?.error).toBe('completed');
  return done!;
}

function restoreOf(backup: Transfer, overrides: { sha256?: string; extensions?: string[] } = {}) {
  const target = backup.target;
  if (target.type !== 'blob') throw new Error('not a backup');
  return create('restore', () => ({
    database: 'TARGET',
    source: {
      type: 'backup',
      app: APP,
      id: backup.id,
      num: backup.num,
      key: target.key,
      sha256: overrides.sha256 ?? backup.sha256!,
      bytes: backup.backupBytes!,
    },
    target: { type: 'database', app: APP, database: 'TARGET' },
    extensions: overrides.extensions,
  }));
}

async function objectSha256(key: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of await deps.blobs.download(key)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

async function resetTarget() {
  await cluster.dropDatabase('target');
  await cluster.createDatabase('target');
  await cluster.psql('target', UNRELATED);
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

const messages = (t: Transfer | undefined) => (t?.logs ?? []).map((l) => l.message);

describe('worker capture and restore', () => {
  let backup: Transfer;

  beforeAll(async () => {
    backup = await captureBackup();
  });

  it('captures a backup whose object matches what was recorded', async () => {
    expect(backup).toMatchObject({
      status: 'completed',
      compression: 'gzip:1',
      pgDumpVersion: expect.any(String),
    });
    expect(backup.serverVersion).toMatch(/^\d+\.\d+/);
    expect(backup.sourceBytes).toBeGreaterThan(0);
    expect(backup.backupBytes).toBe(backup.processedBytes);
    expect(await deps.blobs.head((backup.target as { key: string }).key)).toEqual({
      bytes: backup.backupBytes,
    });
    expect(await objectSha256((backup.target as { key: string }).key)).toBe(backup.sha256);
    expect(messages(backup)).toEqual(
      expect.arrayContaining([
        'waiting for pg_dump to complete',
        'pg_dump finished successfully',
        'upload finished successfully',
        expect.stringMatching(/^pg_dump: dumping contents of table "app\.people"/),
      ]),
    );
    // pg_dump was given the credentials through its environment only.
    expect(JSON.stringify(backup)).not.toContain(cluster.password);
  });

  it('restores it over unrelated content: identical to the source, nothing else left', async () => {
    await resetTarget();
    const r = await restoreOf(backup, { extensions: ['public.hstore', 'pgcrypto'] });
    const status = await runTransfer(deps, r, new AbortController().signal, { progressIntervalMs: 200 });
    const done = await deps.catalog.getTransfer(APP, r.num, { logs: true });
    expect(status, done?.error).toBe('completed');
    expect(done).toMatchObject({
      status: 'completed',
      sha256: backup.sha256,
      processedBytes: backup.backupBytes,
    });
    expect(messages(done)).toEqual(
      expect.arrayContaining(['checksum verified', 'restore finished successfully']),
    );
    expect(messages(done).join('\n')).not.toMatch(/already a transaction in progress/);

    expect(await fingerprint(cluster, 'target')).toEqual(await fingerprint(cluster, 'source'));
    expect(await cluster.psql('target', "SELECT count(*) FROM pg_namespace WHERE nspname = 'billing'")).toBe(
      '0\n',
    );
  });

  it('rolls back when the object does not match the recorded sha256', async () => {
    await resetTarget();
    const before = await fingerprint(cluster, 'target');
    const r = await restoreOf(backup, { sha256: 'f'.repeat(64) });
    expect(await runTransfer(deps, r, new AbortController().signal)).toBe('failed');
    const done = await deps.catalog.getTransfer(APP, r.num, { logs: true });
    expect(done?.error).toMatch(/Checksum mismatch.*left unchanged/);
    expect(messages(done)).toContain('rolled back: the target database was left unchanged');
    expect(await fingerprint(cluster, 'target')).toEqual(before);
  });

  it("rolls back a restore whose SQL fails part-way, with PostgreSQL's DETAIL in the error", async () => {
    // Rows loaded with triggers off (session_replication_role = replica) can break a foreign key the source never
    // re-checked: pg_dump dumps them as they are, and the constraint fails when it is built again, after the wipe
    // and all the data went in.
    await cluster.createDatabase('orphans');
    await cluster.psql(
      'orphans',
      `CREATE TABLE accounts (id int PRIMARY KEY);
       CREATE TABLE orders (id int PRIMARY KEY, account_id int REFERENCES accounts (id));
       INSERT INTO accounts VALUES (1);
       SET session_replication_role = replica;
       INSERT INTO orders VALUES (1, 4242);`,
    );
    await attach('ORPHANS', 'orphans');
    const orphans = await captureBackup('ORPHANS');
    await resetTarget();
    const before = await fingerprint(cluster, 'target');

    const r = await restoreOf(orphans);
    expect(await runTransfer(deps, r, new AbortController().signal)).toBe('failed');
    const done = await deps.catalog.getTransfer(APP, r.num, { logs: true });
    expect(done?.error).toMatch(
      /psql failed \(exit code 3\).*violates foreign key constraint "orders_account_id_fkey" DETAIL: Key \(account_id\)=\(4242\) is not present in table "accounts"\.; the target database was left unchanged$/,
    );
    expect(messages(done)).toContain('restore finished with errors');
    expect(await fingerprint(cluster, 'target')).toEqual(before);
  });

  it('rolls back a restore whose archive is cut short', async () => {
    // A truncated object with a matching recorded checksum: pg_restore itself fails mid-way through the data.
    const key = (backup.target as { key: string }).key;
    const chunks: Buffer[] = [];
    for await (const c of await deps.blobs.download(key)) chunks.push(c as Buffer);
    const cut = Buffer.concat(chunks).subarray(0, Math.floor(backup.backupBytes! * 0.8));
    await deps.blobs.upload('manual/example-app/SOURCE/truncated.dump', Readable.from([cut]));
    await resetTarget();
    const before = await fingerprint(cluster, 'target');

    const r = await restoreOf(
      {
        ...backup,
        target: { type: 'blob', key: 'manual/example-app/SOURCE/truncated.dump' },
        backupBytes: cut.length,
      },
      { sha256: createHash('sha256').update(cut).digest('hex') },
    );
    expect(await runTransfer(deps, r, new AbortController().signal)).toBe('failed');
    const done = await deps.catalog.getTransfer(APP, r.num, { logs: true });
    expect(done?.error).toMatch(/pg_restore failed \(exit code 1\).*left unchanged/);
    expect(messages(done)).toContain('pg_restore finished with errors');
    expect(await fingerprint(cluster, 'target')).toEqual(before);
  });

  it('cancels a restore that waits for the target, leaving the target unchanged', async () => {
    await resetTarget();
    const before = await fingerprint(cluster, 'target');
    // A session using the target holds a lock, so the wipe waits inside the restore's transaction.
    const user = await cluster.session('target');
    await user.run('BEGIN; LOCK TABLE billing.invoices IN ACCESS SHARE MODE');
    const stop = new AbortController();
    const r = await restoreOf(backup);
    const running = runTransfer(deps, r, stop.signal, { progressIntervalMs: 100 });
    await waitFor("application_name = 'pgbackups' AND wait_event_type = 'Lock'");
    stop.abort();
    expect(await running).toBe('cancelled');
    await user.close();
    await waitFor("application_name = 'pgbackups'", 0);
    expect(await fingerprint(cluster, 'target')).toEqual(before);
  });

  it('fails a restore whose wipe cannot get its locks within the lock wait timeout', async () => {
    await resetTarget();
    const before = await fingerprint(cluster, 'target');
    const user = await cluster.session('target');
    await user.run('BEGIN; LOCK TABLE billing.invoices IN ACCESS SHARE MODE');
    const r = await restoreOf(backup);
    const status = await runTransfer(deps, r, new AbortController().signal, { lockWaitTimeout: '300ms' });
    await user.close();
    expect(status).toBe('failed');
    expect((await deps.catalog.getTransfer(APP, r.num))?.error).toMatch(/lock timeout.*left unchanged/);
    expect(await fingerprint(cluster, 'target')).toEqual(before);
  });

  it('copies one database into another', async () => {
    await cluster.psql('copy_target', UNRELATED);
    const c = await create('copy', () => ({
      database: 'COPY_TARGET',
      source: { type: 'database', app: APP, database: 'SOURCE' },
      target: { type: 'database', app: APP, database: 'COPY_TARGET' },
    }));
    const status = await runTransfer(deps, c, new AbortController().signal, { progressIntervalMs: 200 });
    const done = await deps.catalog.getTransfer(APP, c.num, { logs: true });
    expect(status, done?.error).toBe('completed');
    // A copy stores nothing, so there is no checksum to record (hashing ~1 GB cost ~1 s of CPU for nothing).
    expect(done?.sha256).toBeUndefined();
    expect(done?.processedBytes).toBeGreaterThan(0);
    expect(messages(done)).toEqual(expect.arrayContaining(['pg_dump finished successfully']));
    expect(await fingerprint(cluster, 'copy_target')).toEqual(await fingerprint(cluster, 'source'));
  });
});
