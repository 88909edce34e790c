/**
 * Captures that must end without an object: the source connection dies mid-dump, the worker is stopped, the user
 * cancels, or pg_dump cannot get its locks. pg_dump is held in place by a session owning an ACCESS EXCLUSIVE lock,
 * so each scenario strikes while a dump is really in progress.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { localS3Client, S3BlobStore } from '../../src/adapters/aws/s3-blob-store.js';
import { backupObjectKey } from '../../src/core/object-keys.js';
import { type Transfer, type TransferStatus, transferName } from '../../src/core/transfer.js';
import { runTransfer } from '../../src/worker/run-transfer.js';
import { type PgCluster, type PgSession, startCluster } from '../helpers/pg-cluster.js';
import { type LocalS3, startS3rver } from '../helpers/s3rver.js';
import { attachClusterDatabase, type TestWorkerDeps, workerDeps } from '../helpers/worker-deps.js';

const APP = 'example-app';

let cluster: PgCluster;
let s3: LocalS3;
let deps: TestWorkerDeps<S3BlobStore>;
let locker: PgSession;

beforeAll(async () => {
  [cluster, s3] = await Promise.all([startCluster(), startS3rver()]);
  deps = workerDeps(new S3BlobStore({ client: localS3Client(s3.endpoint), bucket: s3.bucket }));
  await cluster.createDatabase('shop');
  await cluster.psql(
    'shop',
    `CREATE TABLE a_first (id int); INSERT INTO a_first SELECT generate_series(1, 1000);
     CREATE TABLE orders (id int PRIMARY KEY, note text);
     INSERT INTO orders SELECT i, 'order ' || i FROM generate_series(1, 1000) i;`,
  );
  await attachClusterDatabase(deps, cluster, APP, 'DATABASE', 'shop');
});

afterAll(async () => {
  await locker?.close();
  await Promise.all([cluster?.stop(), s3?.stop()]);
});

beforeEach(async () => {
  await locker?.close();
  locker = await cluster.session('shop');
  await locker.run('BEGIN; LOCK TABLE orders IN ACCESS EXCLUSIVE MODE');
});

async function newBackup(
  database = 'DATABASE',
): Promise<Transfer & { target: { type: 'blob'; key: string } }> {
  const num = await deps.catalog.nextTransferNum(APP);
  const id = transferName('backup', 'manual', num);
  const t = {
    app: APP,
    num,
    id,
    kind: 'backup',
    type: 'manual',
    status: 'pending',
    database,
    source: { type: 'database', app: APP, database },
    target: { type: 'blob', key: backupObjectKey(APP, database, 'manual', id) },
    createdAt: new Date().toISOString(),
  } as const;
  await deps.catalog.createTransfer(t);
  return t;
}

/** Resolves once pg_dump (application_name pgbackups) is waiting for the lock `locker` holds. */
async function pgDumpBlocked(): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const waiting = await cluster.psql(
      'postgres',
      "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pgbackups' AND wait_event_type = 'Lock'",
    );
    if (waiting.trim() === '1') return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('pg_dump never blocked on the lock');
}

async function expectNoObject(t: { target: { key: string } }) {
  expect(await deps.blobs.head(t.target.key)).toBeUndefined();
  expect(await deps.blobs.list(`manual/${APP}/`)).not.toContain(t.target.key);
}

async function expectNoPgBackupsSession() {
  // Once the worker returns, its pg_dump must be gone too (the server may take a moment to notice).
  for (let i = 0; i < 100; i++) {
    const n = await cluster.psql(
      'postgres',
      "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pgbackups'",
    );
    if (n.trim() === '0') return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('a pgbackups session outlived the worker');
}

const messages = (t: Transfer | undefined) => (t?.logs ?? []).map((l) => l.message);

describe('capture failures and cancels', () => {
  it('fails with no object when the source connection is terminated mid-dump', async () => {
    const t = await newBackup();
    const running = runTransfer(deps, t, new AbortController().signal, { progressIntervalMs: 100 });
    await pgDumpBlocked();
    await cluster.psql(
      'postgres',
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'pgbackups'",
    );
    expect(await running).toBe('failed');
    const done = await deps.catalog.getTransfer(APP, t.num, { logs: true });
    expect(done?.error).toMatch(
      /^pg_dump failed \(exit code 1\): .*terminating connection due to administrator command/,
    );
    expect(messages(done)).toContain('pg_dump finished with errors');
    expect(done?.finishedAt).toBeDefined();
    expect(JSON.stringify(done)).not.toContain(cluster.password);
    await expectNoObject(t);
  });

  it('records cancelled with no object when the worker is signalled (SIGTERM)', async () => {
    const t = await newBackup();
    const stop = new AbortController();
    const running = runTransfer(deps, t, stop.signal, { progressIntervalMs: 100 });
    await pgDumpBlocked();
    stop.abort();
    expect(await running).toBe('cancelled');
    const done = await deps.catalog.getTransfer(APP, t.num, { logs: true });
    expect(done).toMatchObject({ status: 'cancelled', finishedAt: expect.any(String) });
    expect(done?.error).toBeUndefined();
    expect(messages(done)).toContain('cancelling: the worker was asked to stop');
    await expectNoObject(t);
    await expectNoPgBackupsSession();
  });

  it('records cancelled with no object when cancel is requested through the catalog', async () => {
    const t = await newBackup();
    const running = runTransfer(deps, t, new AbortController().signal, { progressIntervalMs: 100 });
    await pgDumpBlocked();
    await deps.catalog.updateTransfer(APP, t.num, { cancelRequested: true });
    expect(await running).toBe('cancelled');
    const done = await deps.catalog.getTransfer(APP, t.num, { logs: true });
    expect(messages(done)).toContain('cancelling: cancel requested');
    await expectNoObject(t);
    await expectNoPgBackupsSession();
  });

  it('fails with a hint when pg_dump cannot get a lock within the lock wait timeout', async () => {
    const t = await newBackup();
    const status = await runTransfer(deps, t, new AbortController().signal, {
      progressIntervalMs: 100,
      lockWaitTimeout: '300ms',
    });
    expect(status).toBe('failed');
    const done = await deps.catalog.getTransfer(APP, t.num);
    expect(done?.error).toMatch(/conflicting lock on a table for longer than 300ms/);
    await expectNoObject(t);
  });

  it('fails clearly, without leaking the password, when the credentials are wrong', async () => {
    const wrong = cluster.url('shop').replace(cluster.password, 'wrong-password-123');
    const secretRef = await deps.secrets.put(APP, 'BAD', wrong);
    await deps.catalog.putDatabase({
      ...(await deps.catalog.getDatabase(APP, 'DATABASE'))!,
      name: 'BAD',
      secretRef,
    });
    const t = await newBackup('BAD');
    expect(await runTransfer(deps, t, new AbortController().signal)).toBe('failed');
    const done = await deps.catalog.getTransfer(APP, t.num, { logs: true });
    expect(done?.error).toMatch(/^Could not connect to database BAD: .*password authentication failed/);
    expect(messages(done)).toContain('Could not connect to database to initialize transfer');
    expect(JSON.stringify(done)).not.toContain('wrong-password-123');
    await expectNoObject(t);
  });

  it('leaves a transfer that is no longer pending alone', async () => {
    const t = await newBackup();
    await deps.catalog.updateTransfer(APP, t.num, { status: 'cancelled' }, ['pending']);
    const status: TransferStatus = await runTransfer(deps, t, new AbortController().signal);
    expect(status).toBe('cancelled');
    const after = await deps.catalog.getTransfer(APP, t.num);
    expect(after?.status).toBe('cancelled');
    expect(after?.startedAt).toBeUndefined();
    await expectNoObject(t);
  });

  it('still captures once the lock is released', async () => {
    const t = await newBackup();
    const running = runTransfer(deps, t, new AbortController().signal, { progressIntervalMs: 100 });
    await pgDumpBlocked();
    await locker.run('COMMIT');
    expect(await running).toBe('completed');
    expect(await deps.blobs.head(t.target.key)).toEqual({
      bytes: (await deps.catalog.getTransfer(APP, t.num))?.backupBytes,
    });
  });
});
