/**
 * Lock safety (docs/reliability.md): a capture cannot block a schema migration indefinitely. pg_dump takes ACCESS
 * SHARE locks on every table at its start; while it waits for one that a long transaction holds, the tables it
 * already locked block any ALTER TABLE on them — and that migration blocks every query queued behind it. With
 * `--lock-wait-timeout` pg_dump gives up, releases its locks, and the migration goes through while the long
 * transaction is still open.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { localS3Client, S3BlobStore } from '../../src/adapters/aws/s3-blob-store.js';
import { backupObjectKey } from '../../src/core/object-keys.js';
import { type Transfer, transferName } from '../../src/core/transfer.js';
import { runTransfer } from '../../src/worker/run-transfer.js';
import { type PgCluster, startCluster } from '../helpers/pg-cluster.js';
import { type LocalS3, startS3rver } from '../helpers/s3rver.js';
import { until } from '../helpers/stack-api.js';
import { attachClusterDatabase, type TestWorkerDeps, workerDeps } from '../helpers/worker-deps.js';

const APP = 'example-app';

let cluster: PgCluster;
let s3: LocalS3;
let deps: TestWorkerDeps<S3BlobStore>;

beforeAll(async () => {
  [cluster, s3] = await Promise.all([startCluster(), startS3rver()]);
  deps = workerDeps(new S3BlobStore({ client: localS3Client(s3.endpoint), bucket: s3.bucket }));
  await cluster.createDatabase('shop');
  // a_first is created (and so locked by pg_dump) before orders.
  await cluster.psql(
    'shop',
    `CREATE TABLE a_first (id int); INSERT INTO a_first SELECT generate_series(1, 100);
     CREATE TABLE orders (id int PRIMARY KEY); INSERT INTO orders SELECT generate_series(1, 100);`,
  );
  await attachClusterDatabase(deps, cluster, APP, 'DATABASE', 'shop');
});

afterAll(async () => {
  await Promise.all([cluster?.stop(), s3?.stop()]);
});

const scalar = async (sql: string) => (await cluster.psql('shop', sql)).trim();

it('a migration blocked by a waiting capture goes through once the lock wait timeout ends the capture', async () => {
  const longTransaction = await cluster.session('shop');
  const migration = await cluster.session('shop');
  try {
    await longTransaction.run('BEGIN; LOCK TABLE orders IN ACCESS EXCLUSIVE MODE');
    const num = await deps.catalog.nextTransferNum(APP);
    const id = transferName('backup', 'manual', num);
    const t: Transfer = {
      app: APP,
      num,
      id,
      kind: 'backup',
      type: 'manual',
      status: 'pending',
      database: 'DATABASE',
      source: { type: 'database', app: APP, database: 'DATABASE' },
      target: { type: 'blob', key: backupObjectKey(APP, 'DATABASE', 'manual', id) },
      createdAt: new Date().toISOString(),
    };
    await deps.catalog.createTransfer(t);
    const capture = runTransfer(deps, t, new AbortController().signal, {
      progressIntervalMs: 100,
      lockWaitTimeout: '3s',
    });

    // pg_dump holds a_first and waits for orders.
    const dumpPid = await until('pg_dump to wait for the lock on orders', async () => {
      const pid = await scalar(
        "SELECT pid FROM pg_stat_activity WHERE application_name = 'pgbackups' AND wait_event_type = 'Lock'",
      );
      return pid === '' ? undefined : pid;
    });
    expect(
      await scalar(
        `SELECT mode FROM pg_locks WHERE pid = ${dumpPid} AND relation = 'a_first'::regclass AND granted`,
      ),
    ).toBe('AccessShareLock');

    // The migration queues behind pg_dump.
    const migrated = migration.run('ALTER TABLE a_first ADD COLUMN added_by_migration int');
    const blockers = await until('the migration to wait for pg_dump', async () => {
      const b = await scalar(
        "SELECT pg_blocking_pids(pid) FROM pg_stat_activity WHERE query LIKE 'ALTER TABLE a_first%'",
      );
      return b === '' || b === '{}' ? undefined : b;
    });
    expect(blockers).toBe(`{${dumpPid}}`);

    // pg_dump gives up after the timeout; the migration completes while the long transaction still holds orders.
    expect(await capture).toBe('failed');
    const done = await deps.catalog.getTransfer(APP, num);
    expect(done?.error).toMatch(/conflicting lock on a table for longer than 3s; retry when it is released/);
    await migrated;
    expect(
      await scalar(
        "SELECT count(*) FROM pg_locks WHERE relation = 'orders'::regclass AND mode = 'AccessExclusiveLock' AND granted",
      ),
    ).toBe('1');
    expect(
      await scalar(
        "SELECT count(*) FROM information_schema.columns WHERE table_name = 'a_first' AND column_name = 'added_by_migration'",
      ),
    ).toBe('1');
    expect(await deps.blobs.list('')).toEqual([]);
  } finally {
    await migration.close();
    await longTransaction.close();
  }
});
