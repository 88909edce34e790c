/**
 * The safety backup a restore takes of its target first: when it cannot be taken, the restore does not touch the
 * target at all.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { runTransfer } from '../../src/worker/run-transfer.js';
import { MemoryBlobStore } from '../fakes/index.js';
import { fingerprint } from '../helpers/db-fingerprint.js';
import { type PgCluster, startCluster } from '../helpers/pg-cluster.js';
import { attachClusterDatabase, workerDeps } from '../helpers/worker-deps.js';

const APP = 'safety-app';
let cluster: PgCluster;
const deps = workerDeps(new MemoryBlobStore());

beforeAll(async () => {
  cluster = await startCluster();
  await cluster.createDatabase('target');
  await cluster.psql('target', 'CREATE TABLE precious (v text); INSERT INTO precious VALUES ($$keep me$$);');
  await attachClusterDatabase(deps, cluster, APP, 'DATABASE', 'target');
  deps.blobs.objects.set('manual/x.dump', Buffer.from('irrelevant: never read'));
});

afterAll(async () => {
  await cluster?.stop();
});

it('fails the restore, leaving the target untouched, when its safety backup cannot be taken', async () => {
  const before = await fingerprint(cluster, 'target');
  const now = new Date().toISOString();
  await deps.catalog.createTransfer({
    app: APP,
    num: 1,
    id: 'b001',
    kind: 'backup',
    type: 'safety',
    status: 'pending',
    database: 'DATABASE',
    source: { type: 'database', app: APP, database: 'DATABASE' },
    target: { type: 'blob', key: 'safety/safety-app/DATABASE/b001.dump' },
    createdAt: now,
  });
  await deps.catalog.createTransfer({
    app: APP,
    num: 2,
    id: 'r002',
    kind: 'restore',
    type: 'manual',
    status: 'pending',
    database: 'DATABASE',
    source: {
      type: 'backup',
      app: APP,
      id: 'b009',
      num: 9,
      key: 'manual/x.dump',
      sha256: 'f'.repeat(64),
      bytes: 22,
    },
    target: { type: 'database', app: APP, database: 'DATABASE' },
    safetyBackup: { app: APP, num: 1, id: 'b001' },
    createdAt: now,
  });
  // A migration holds the table: the safety pg_dump cannot lock it within the lock wait timeout.
  const migration = await cluster.session('target');
  await migration.run('BEGIN; LOCK TABLE precious IN ACCESS EXCLUSIVE MODE;');
  try {
    const status = await runTransfer(deps, { app: APP, num: 2 }, new AbortController().signal, {
      progressIntervalMs: 100,
      lockWaitTimeout: '500ms',
    });
    expect(status).toBe('failed');
  } finally {
    await migration.close();
  }
  expect(await deps.catalog.getTransfer(APP, 1)).toMatchObject({
    status: 'failed',
    error: expect.stringMatching(/lock/i),
  });
  expect(await deps.catalog.getTransfer(APP, 2)).toMatchObject({
    status: 'failed',
    error: 'The safety backup b001 of DATABASE did not complete (failed); DATABASE was not touched',
  });
  expect(deps.blobs.objects.has('safety/safety-app/DATABASE/b001.dump')).toBe(false);
  expect(await fingerprint(cluster, 'target')).toEqual(before);
});

it('does not commit a restore the watchdog has already failed, even though its worker lives on', async () => {
  // A backup to restore from: this database's own dump, captured through the worker.
  await deps.catalog.createTransfer({
    app: APP,
    num: 3,
    id: 'b003',
    kind: 'backup',
    type: 'manual',
    status: 'pending',
    database: 'DATABASE',
    source: { type: 'database', app: APP, database: 'DATABASE' },
    target: { type: 'blob', key: 'manual/safety-app/DATABASE/b003.dump' },
    createdAt: new Date().toISOString(),
  });
  expect(await runTransfer(deps, { app: APP, num: 3 }, new AbortController().signal)).toBe('completed');
  const b003 = await deps.catalog.getTransfer(APP, 3);
  await cluster.psql('target', 'INSERT INTO precious VALUES ($$changed after the backup$$);');
  const before = await fingerprint(cluster, 'target');

  await deps.catalog.createTransfer({
    app: APP,
    num: 4,
    id: 'r004',
    kind: 'restore',
    type: 'manual',
    status: 'pending',
    database: 'DATABASE',
    source: {
      type: 'backup',
      app: APP,
      id: 'b003',
      num: 3,
      key: 'manual/safety-app/DATABASE/b003.dump',
      sha256: b003?.sha256 as string,
      bytes: b003?.backupBytes as number,
    },
    target: { type: 'database', app: APP, database: 'DATABASE' },
    createdAt: new Date().toISOString(),
  });
  // The restore's wipe waits on a migration's lock; meanwhile the watchdog declares the transfer failed.
  const migration = await cluster.session('target');
  await migration.run('BEGIN; LOCK TABLE precious IN ACCESS EXCLUSIVE MODE;');
  const running = runTransfer(deps, { app: APP, num: 4 }, new AbortController().signal, {
    progressIntervalMs: 60_000,
  });
  for (let i = 0; i < 200 && (await deps.catalog.getTransfer(APP, 4))?.status !== 'running'; i++) {
    await new Promise((r) => setTimeout(r, 25));
  }
  await deps.catalog.updateTransfer(APP, 4, { status: 'failed', error: 'Watchdog: no heartbeat' }, [
    'running',
  ]);
  await migration.close();
  await running;

  expect(await deps.catalog.getTransfer(APP, 4)).toMatchObject({
    status: 'failed',
    error: 'Watchdog: no heartbeat',
  });
  expect(await fingerprint(cluster, 'target')).toEqual(before);
});
