/**
 * Faults injected into a running local stack (docs/reliability.md): a worker killed with SIGKILL mid-restore and
 * mid-copy, PostgreSQL restarted mid-restore, the S3 endpoint gone mid-upload. Each transfer is held at a chosen
 * point deterministically — a session holds a lock on the target so the restore's wipe waits inside its
 * transaction — and the fault strikes there. Afterwards: the transfer ended `failed` with a reason, the target is
 * exactly as it was, and the earlier backup is intact.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/core/logger.js';
import { type LocalStack, startLocalStack } from '../../src/local/stack.js';
import { fingerprint } from '../helpers/db-fingerprint.js';
import { FaultProxy } from '../helpers/fault-proxy.js';
import { type PgCluster, type PgSession, startCluster } from '../helpers/pg-cluster.js';
import {
  StackApi,
  type TransferJson,
  terminateWorkerSessions,
  until,
  waitForWorkerSessions,
} from '../helpers/stack-api.js';

const APP = 'example-app';
const BULK_APP = 'bulk-app';
const FIXTURE = fileURLToPath(new URL('../helpers/fixtures/awkward.sql', import.meta.url));
const TARGET_CONTENT = `CREATE SCHEMA keep; CREATE TABLE keep.things (id int PRIMARY KEY, v text);
  INSERT INTO keep.things SELECT i, 'thing ' || i FROM generate_series(1, 100) i;
  SELECT lo_from_bytea(0, 'a large object that must survive');`;

let pg: PgCluster;
let stack: LocalStack;
let dataDir: string;
let s3Proxy: FaultProxy;
const api = new StackApi(() => stack.apiUrl, APP);
const bulk = new StackApi(() => stack.apiUrl, BULK_APP);
let b001: TransferJson;

async function objectSha256(key: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of await stack.deps.blobs.download(key)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

async function expectFirstBackupIntact() {
  const t = await api.transfer('b001');
  expect(t).toMatchObject({ status: 'completed', sha256: b001.sha256 });
  expect(await objectSha256(b001.target.key as string)).toBe(b001.sha256);
}

async function workerPid(app: string, num: number): Promise<number> {
  const t = await stack.deps.catalog.getTransfer(app, num);
  const pid = Number(t?.taskRef?.replace(/^local:/, ''));
  if (!(pid > 0)) throw new Error(`no local worker recorded for ${t?.id}: ${t?.taskRef}`);
  return pid;
}

/** A session holding ACCESS SHARE on the target: a safety backup can still read it, the restore's wipe waits. */
async function holdTarget(db: string): Promise<PgSession> {
  const s = await pg.session(db);
  await s.run('BEGIN; LOCK TABLE keep.things IN ACCESS SHARE MODE');
  return s;
}

/** Starts a restore or copy and returns once its worker is inside the target's transaction, waiting on the lock. */
async function overwriteWaitingOnLock(
  db: string,
  start: () => Promise<{ status: number; body: TransferJson }>,
) {
  const started = await start();
  expect(started.status, JSON.stringify(started.body)).toBe(202);
  const id = started.body.id;
  await api.waitFor(id, (t) => t.status === 'running', 'running');
  await waitForWorkerSessions(pg, db, { waitingOnLock: true });
  return started.body;
}

beforeAll(async () => {
  pg = await startCluster();
  await pg.createDatabase('source');
  await pg.psqlFile('source', FIXTURE);
  for (const db of ['target', 'copy_target', 'restart_target']) {
    await pg.createDatabase(db);
    await pg.psql(db, TARGET_CONTENT);
  }
  // ~40 MB dumped without compression: with 5 MiB parts a real multipart upload, and more than the upload
  // buffers hold, so pg_dump is still writing when the endpoint goes away.
  await pg.createDatabase('bulk');
  await pg.psql(
    'bulk',
    `CREATE TABLE big AS SELECT i, md5(i::text) || md5((i * 7)::text) AS v FROM generate_series(1, 550000) i`,
  );

  s3Proxy = new FaultProxy(() => Number(new URL(stack.s3Endpoint).port));
  await s3Proxy.start();
  dataDir = await mkdtemp(join(tmpdir(), 'pgbackups-faults-'));
  stack = await startLocalStack({
    dataDir,
    port: 0,
    log: silentLogger,
    progressIntervalMs: 200,
    workerOutput: 'ignore',
    // Workers reach S3 through the proxy, with 5 MiB parts so a small dump is a real multipart upload.
    workerEnv: { PGBACKUPS_S3_ENDPOINT: s3Proxy.url, PGBACKUPS_PART_SIZE_MB: '5' },
  });
  await api.attach('DATABASE', pg.url('source'));
  await api.attach('TARGET', pg.url('target'));
  await api.attach('COPY_TARGET', pg.url('copy_target'));
  await api.attach('RESTART_TARGET', pg.url('restart_target'));
  await bulk.attach('DATABASE', pg.url('bulk'));
  expect((await bulk.appCall('PUT', '/settings', { compressionLevel: 0 })).status).toBe(200);

  expect((await api.appCall('POST', '/backups')).status).toBe(202);
  b001 = await api.waitFinished('b001');
  expect(b001.status, b001.error ?? '').toBe('completed');
});

afterAll(async () => {
  await stack?.stop();
  await s3Proxy?.stop();
  await pg?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

describe('faults injected into real workers', () => {
  it('worker SIGKILLed mid-restore: failed with the reason, target unchanged even after the orphans finish', async () => {
    const before = await fingerprint(pg, 'target');
    const lock = await holdTarget('target');
    let restore: TransferJson;
    try {
      restore = await overwriteWaitingOnLock('target', () =>
        api.appCall('POST', '/restores', { backup: 'b001', database: 'TARGET' }),
      );
      // Only the worker itself dies: its psql and pg_restore live on as orphans, psql still inside the
      // transaction. Nothing may COMMIT it.
      process.kill(await workerPid(APP, restore.num), 'SIGKILL');
      const failed = await api.waitFinished(restore.id);
      expect(failed.status).toBe('failed');
      expect(failed.error).toMatch(/The worker stopped before finishing: worker killed by SIGKILL/);
    } finally {
      await lock.close();
    }
    // The lock is gone, so the orphaned psql's wipe runs, then it reads end-of-input and exits: rollback.
    await waitForWorkerSessions(pg, 'target', { none: true, timeoutMs: 30_000 });
    expect(await fingerprint(pg, 'target')).toEqual(before);
    expect(stack.runner.running).toBe(0);
    await expectFirstBackupIntact();
  });

  it('worker SIGKILLed mid-copy (its whole process group, like a stopped task): failed, target unchanged', async () => {
    const before = await fingerprint(pg, 'copy_target');
    const lock = await holdTarget('copy_target');
    try {
      const copy = await overwriteWaitingOnLock('copy_target', () =>
        api.appCall('POST', '/copies', { from: 'DATABASE', to: 'COPY_TARGET' }),
      );
      process.kill(-(await workerPid(APP, copy.num)), 'SIGKILL');
      const failed = await api.waitFinished(copy.id);
      expect(failed.status).toBe('failed');
      expect(failed.error).toMatch(/worker killed by SIGKILL/);
    } finally {
      await lock.close();
    }
    await waitForWorkerSessions(pg, 'copy_target', { none: true, timeoutMs: 30_000 });
    expect(await fingerprint(pg, 'copy_target')).toEqual(before);
    await expectFirstBackupIntact();
  });

  it('PostgreSQL restarted mid-restore: failed with the reason, target unchanged, the next restore works', async () => {
    const before = await fingerprint(pg, 'restart_target');
    const lock = await holdTarget('restart_target');
    let restore: TransferJson;
    try {
      restore = await overwriteWaitingOnLock('restart_target', () =>
        api.appCall('POST', '/restores', { backup: 'b001', database: 'RESTART_TARGET' }),
      );
      await pg.restart();
    } finally {
      await lock.close();
    }
    const failed = await api.waitFinished(restore.id);
    expect(failed.status).toBe('failed');
    expect(failed.error).toMatch(
      /^psql failed \(exit code 2\): .*terminating connection.*; the target database was left unchanged$/,
    );
    expect(await fingerprint(pg, 'restart_target')).toEqual(before);

    // Once the server is back, the same restore goes through.
    const again = await api.appCall('POST', '/restores', { backup: 'b001', database: 'RESTART_TARGET' });
    const done = await api.waitFinished(again.body.id);
    expect(done.status, done.error ?? '').toBe('completed');
    expect(await fingerprint(pg, 'restart_target')).toEqual(await fingerprint(pg, 'source'));
    await expectFirstBackupIntact();
  });

  it('S3 endpoint gone mid-upload: failed with the reason, nothing listed, the earlier backup intact', async () => {
    let cut = false;
    void s3Proxy.cutAfter(7 * 1024 * 1024).then(() => {
      cut = true;
    });
    const started = await bulk.appCall('POST', '/backups');
    expect(started.status).toBe(202);
    await until('the S3 endpoint to be cut mid-upload', async () => (cut ? true : undefined));
    const failed = await bulk.waitFinished(started.body.id, 90_000);
    // Back up, so what is stored can be listed (through the stack's own client, not the proxy).
    await s3Proxy.start();
    expect(failed.status).toBe('failed');
    // The upload is to blame, not pg_dump, whose broken pipe is only a consequence.
    expect(failed.error).toMatch(/^Upload of the backup failed: /);
    expect(failed.logs?.map((l) => l.message)).toContain('upload finished with errors');
    expect(failed.logs?.map((l) => l.message)).not.toContain('pg_dump finished with errors');
    expect(failed.processedBytes).toBeGreaterThan(5 * 1024 * 1024);
    expect(await stack.deps.blobs.list(`manual/${BULK_APP}/`)).toEqual([]);
    expect(await stack.deps.blobs.head(started.body.target.key)).toBeUndefined();
    const listed = await bulk.appCall('GET', '/transfers?kind=backup');
    expect(listed.body.transfers.map((t: TransferJson) => `${t.id} ${t.status}`)).toEqual([
      `${started.body.id} failed`,
    ]);
    await expectFirstBackupIntact();

    // And with the endpoint back, a capture of the same database completes.
    const next = await bulk.appCall('POST', '/backups');
    const ok = await bulk.waitFinished(next.body.id, 90_000);
    expect(ok.status, ok.error ?? '').toBe('completed');
    expect(await objectSha256(ok.target.key as string)).toBe(ok.sha256);
  });

  afterAll(async () => {
    if (pg) await terminateWorkerSessions(pg).catch(() => {});
  });
});
