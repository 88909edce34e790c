/**
 * Cancel at every stage through the API of a running local stack (docs/reliability.md): a transfer still pending
 * (its worker is held before it can read the catalog), a running restore and a running copy (held inside the
 * target's transaction by a lock), and the delete of a running backup. Running captures and cancels of finished
 * transfers are proven in local-stack.e2e.test.ts.
 */

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DynamoDBClient, QueryCommand } from '@aws-sdk/client-dynamodb';
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
const FIXTURE = fileURLToPath(new URL('../helpers/fixtures/awkward.sql', import.meta.url));
const TARGET_CONTENT = `CREATE SCHEMA keep; CREATE TABLE keep.things (id int PRIMARY KEY, v text);
  INSERT INTO keep.things SELECT i, 'thing ' || i FROM generate_series(1, 100) i;`;

let pg: PgCluster;
let stack: LocalStack;
let dataDir: string;
let dynamoProxy: FaultProxy;
const api = new StackApi(() => stack.apiUrl, APP);
let b001: TransferJson;

async function lockSession(db: string, sql: string): Promise<PgSession> {
  const s = await pg.session(db);
  await s.run(`BEGIN; ${sql}`);
  return s;
}

async function objectKeys(): Promise<string[]> {
  return stack.deps.blobs.list(`manual/${APP}/`);
}

async function workersGone() {
  await until('every worker to exit', async () => (stack.runner.running === 0 ? true : undefined), 30_000);
}

beforeAll(async () => {
  pg = await startCluster();
  await pg.createDatabase('source');
  await pg.psqlFile('source', FIXTURE);
  for (const db of ['target', 'copy_target']) {
    await pg.createDatabase(db);
    await pg.psql(db, TARGET_CONTENT);
  }
  dynamoProxy = new FaultProxy(() => Number(new URL(stack.dynamoEndpoint).port));
  await dynamoProxy.start();
  dataDir = await mkdtemp(join(tmpdir(), 'pgbackups-cancel-'));
  stack = await startLocalStack({
    dataDir,
    port: 0,
    log: silentLogger,
    progressIntervalMs: 200,
    workerOutput: 'ignore',
    // Workers reach the catalog through the proxy, so a test can hold a worker before it reads its transfer.
    workerEnv: { PGBACKUPS_DYNAMODB_ENDPOINT: dynamoProxy.url },
  });
  await api.attach('DATABASE', pg.url('source'));
  await api.attach('TARGET', pg.url('target'));
  await api.attach('COPY_TARGET', pg.url('copy_target'));
  await api.appCall('POST', '/backups');
  b001 = await api.waitFinished('b001');
  expect(b001.status, b001.error ?? '').toBe('completed');
});

afterAll(async () => {
  dynamoProxy?.release();
  if (pg) await terminateWorkerSessions(pg).catch(() => {});
  await stack?.stop();
  await dynamoProxy?.stop();
  await pg?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

describe('cancel at every stage', () => {
  it('cancels a pending capture at once; its worker, once it starts, does nothing', async () => {
    dynamoProxy.hold();
    let id: string;
    try {
      const started = await api.appCall('POST', '/backups');
      expect(started.body).toMatchObject({ status: 'pending' });
      id = started.body.id;
      const cancel = await api.appCall('POST', `/transfers/${id}/cancel`);
      expect(cancel.status).toBe(200);
      expect(cancel.body).toMatchObject({ id, status: 'cancelled' });
    } finally {
      dynamoProxy.release();
    }
    await workersGone();
    const t = await api.transfer(id);
    expect(t).toMatchObject({ status: 'cancelled', startedAt: null, error: null });
    expect(await objectKeys()).toEqual([b001.target.key]);
    expect((await api.appCall('POST', `/transfers/${id}/cancel`)).status).toBe(409);
  });

  it('cancels a running restore inside its transaction: cancelled, target unchanged', async () => {
    const before = await fingerprint(pg, 'target');
    const lock = await lockSession('target', 'LOCK TABLE keep.things IN ACCESS SHARE MODE');
    let restore: TransferJson;
    try {
      const started = await api.appCall('POST', '/restores', { backup: 'b001', database: 'TARGET' });
      expect(started.status).toBe(202);
      restore = await api.waitFor(started.body.id, (t) => t.status === 'running', 'running');
      await waitForWorkerSessions(pg, 'target', { waitingOnLock: true });
      const cancel = await api.appCall('POST', `/transfers/${restore.id}/cancel`);
      expect(cancel.status).toBe(200);
      expect(cancel.body.status).toBe('running');
      const done = await api.waitFinished(restore.id);
      expect(done).toMatchObject({ status: 'cancelled', error: null });
    } finally {
      await lock.close();
    }
    await waitForWorkerSessions(pg, 'target', { none: true, timeoutMs: 30_000 });
    expect(await fingerprint(pg, 'target')).toEqual(before);
    await workersGone();
  });

  /** Starts a copy, cancels it while `lockDb` is held (the copy waiting on it there), and checks what is left. */
  async function cancelCopyWhileLocked(lockDb: string, lockSql: string) {
    const before = await fingerprint(pg, 'copy_target');
    const lock = await lockSession(lockDb, lockSql);
    try {
      const started = await api.appCall('POST', '/copies', { from: 'DATABASE', to: 'COPY_TARGET' });
      expect(started.status).toBe(202);
      const copy = await api.waitFor(started.body.id, (t) => t.status === 'running', 'running');
      await waitForWorkerSessions(pg, lockDb, { waitingOnLock: true });
      expect((await api.appCall('POST', `/transfers/${copy.id}/cancel`)).status).toBe(200);
      // Still holding the lock: the cancel must not wait for the worker to get it.
      const done = await api.waitFinished(copy.id);
      expect(done).toMatchObject({ status: 'cancelled', error: null });
    } finally {
      await lock.close();
    }
    await waitForWorkerSessions(pg, 'copy_target', { none: true, timeoutMs: 30_000 });
    await waitForWorkerSessions(pg, 'source', { none: true, timeoutMs: 30_000 });
    expect(await fingerprint(pg, 'copy_target')).toEqual(before);
    await workersGone();
  }

  it('cancels a running copy inside its transaction: cancelled, target unchanged', async () => {
    await cancelCopyWhileLocked('copy_target', 'LOCK TABLE keep.things IN ACCESS SHARE MODE');
  });

  it('cancels a copy whose pg_dump waits on a lock in the source: cancelled, target unchanged', async () => {
    await cancelCopyWhileLocked('source', 'LOCK TABLE app.people IN ACCESS EXCLUSIVE MODE');
  });

  it('deletes a running backup: cancelled first, then gone with no object and no worker left', async () => {
    const lock = await lockSession('source', 'LOCK TABLE app.people IN ACCESS EXCLUSIVE MODE');
    let running: TransferJson;
    try {
      const started = await api.appCall('POST', '/backups');
      running = await api.waitFor(started.body.id, (t) => t.status === 'running', 'running');
      await waitForWorkerSessions(pg, 'source', { waitingOnLock: true });
      const del = await api.appCall('DELETE', `/backups/${running.id}`);
      expect(del.status).toBe(204);
      expect((await api.appCall('GET', `/transfers/${running.id}`)).status).toBe(404);
    } finally {
      await lock.close();
    }
    await workersGone();
    await waitForWorkerSessions(pg, 'source', { none: true, timeoutMs: 30_000 });
    expect(await stack.deps.blobs.head(running.target.key as string)).toBeUndefined();
    expect(await objectKeys()).toEqual([b001.target.key]);
    expect(await stack.deps.catalog.listActiveTransfers()).toEqual([]);
    const listed = await api.appCall('GET', '/transfers?kind=backup');
    expect(listed.body.transfers.map((t: TransferJson) => t.id)).not.toContain(running.id);

    // What the catalog still holds for that number: nothing.
    const dynamo = new DynamoDBClient({
      endpoint: stack.dynamoEndpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    try {
      const items = await dynamo.send(
        new QueryCommand({
          TableName: stack.table,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': { S: `APP#${APP}` } },
        }),
      );
      const num = String(running.num).padStart(10, '0');
      const sks = (items.Items ?? []).map((i) => i.sk?.S);
      expect(sks).toContain('XFER#0000000001');
      expect(sks).not.toContain(`XFER#${num}`);
      // Its worker flushed its last log lines after the delete; it removes them again once it sees it is gone.
      expect(sks).not.toContain(`XLOG#${num}`);
    } finally {
      dynamo.destroy();
    }
  });
});
