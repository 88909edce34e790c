/**
 * The local stack restarted while transfers run (docs/reliability.md): stopped in order (Ctrl-C: workers are told
 * to stop and record `cancelled`), and killed outright with SIGKILL (its workers are orphaned and its catalog is
 * left saying `running`; the next start fails those transfers). Either way: afterwards nothing is pending or
 * running, no half-made object is listed, and the restore target is exactly as it was.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/core/logger.js';
import { type LocalStack, startLocalStack } from '../../src/local/stack.js';
import { fingerprint } from '../helpers/db-fingerprint.js';
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
const MAIN = fileURLToPath(new URL('../../src/local/main.ts', import.meta.url));
const TSX = createRequire(import.meta.url).resolve('tsx');
const TARGET_CONTENT = `CREATE SCHEMA keep; CREATE TABLE keep.things (id int PRIMARY KEY, v text);
  INSERT INTO keep.things SELECT i, 'thing ' || i FROM generate_series(1, 100) i;`;

let pg: PgCluster;
const dirs: string[] = [];
let stack: LocalStack | undefined;
let stackUrl = '';
const api = new StackApi(() => stackUrl, APP);

const stackOptions = (dataDir: string) => ({
  dataDir,
  port: 0,
  log: silentLogger,
  progressIntervalMs: 200,
  workerOutput: 'ignore' as const,
});

async function useStack(dataDir: string): Promise<LocalStack> {
  stack = await startLocalStack(stackOptions(dataDir));
  stackUrl = stack.apiUrl;
  return stack;
}

async function lockSession(db: string, sql: string): Promise<PgSession> {
  const s = await pg.session(db);
  await s.run(`BEGIN; ${sql}`);
  return s;
}

/** A capture blocked on the source's lock, a restore and a copy blocked on the targets' locks: all running. */
async function startBlockedTransfers(): Promise<TransferJson[]> {
  const capture = await api.appCall('POST', '/backups');
  const restore = await api.appCall('POST', '/restores', { backup: 'b001', database: 'TARGET' });
  const copy = await api.appCall('POST', '/copies', { from: 'DATABASE', to: 'COPY_TARGET' });
  const all = [capture, restore, copy].map((r) => {
    expect(r.status, r.text).toBe(202);
    return r.body as TransferJson;
  });
  for (const t of all) await api.waitFor(t.id, (x) => x.status === 'running', 'running');
  // The capture and the copy's pg_dump both wait on the source's lock: a copy reads the archive's table of
  // contents (src/worker/restore-plan.ts) before it touches its target.
  await waitForWorkerSessions(pg, 'source', { waitingOnLock: true, atLeast: 2 });
  await waitForWorkerSessions(pg, 'target', { waitingOnLock: true });
  return all;
}

async function holdAll(): Promise<PgSession[]> {
  return [
    await lockSession('source', 'LOCK TABLE app.people IN ACCESS EXCLUSIVE MODE'),
    await lockSession('target', 'LOCK TABLE keep.things IN ACCESS SHARE MODE'),
    await lockSession('copy_target', 'LOCK TABLE keep.things IN ACCESS SHARE MODE'),
  ];
}

async function setUpApp(): Promise<TransferJson> {
  await api.attach('DATABASE', pg.url('source'));
  await api.attach('TARGET', pg.url('target'));
  await api.attach('COPY_TARGET', pg.url('copy_target'));
  const first = await api.appCall('POST', '/backups');
  const b001 = await api.waitFinished(first.body.id);
  expect(b001.status, b001.error ?? '').toBe('completed');
  return b001;
}

async function expectSettled(b001: TransferJson, blocked: TransferJson[], before: Record<string, unknown>) {
  const s = stack as LocalStack;
  expect(await s.deps.catalog.listActiveTransfers()).toEqual([]);
  const list = await api.appCall('GET', '/transfers');
  expect(
    list.body.transfers.filter((t: TransferJson) => !['completed', 'failed', 'cancelled'].includes(t.status)),
  ).toEqual([]);
  // The only objects: the first backup (intact) and the safety backups taken before the target was touched.
  const keys = await s.deps.blobs.list('');
  expect(keys).toContain(b001.target.key);
  expect(keys).not.toContain(blocked[0]?.target.key);
  expect(keys.filter((k) => !k.startsWith('safety/'))).toEqual([b001.target.key]);
  expect(await fingerprint(pg, 'target')).toEqual(before.target);
  expect(await fingerprint(pg, 'copy_target')).toEqual(before.copy_target);
  // And the restarted stack works.
  const next = await api.appCall('POST', '/backups');
  const done = await api.waitFinished(next.body.id);
  expect(done.status, done.error ?? '').toBe('completed');
}

beforeAll(async () => {
  pg = await startCluster();
  await pg.createDatabase('source');
  await pg.psqlFile('source', FIXTURE);
  for (const db of ['target', 'copy_target']) {
    await pg.createDatabase(db);
    await pg.psql(db, TARGET_CONTENT);
  }
});

afterAll(async () => {
  await stack?.stop();
  if (pg) await terminateWorkerSessions(pg).catch(() => {});
  await pg?.stop();
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('the local stack restarted while transfers run', () => {
  it('stopped in order: its workers record cancelled, and after the restart nothing is left running', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'pgbackups-restart-'));
    dirs.push(dataDir);
    await useStack(dataDir);
    const b001 = await setUpApp();
    const before = {
      target: await fingerprint(pg, 'target'),
      copy_target: await fingerprint(pg, 'copy_target'),
    };
    const locks = await holdAll();
    let blocked: TransferJson[];
    try {
      blocked = await startBlockedTransfers();
      await stack?.stop();
      stack = undefined;
    } finally {
      for (const l of locks) await l.close();
    }
    const restarted = await useStack(dataDir);
    for (const t of blocked) {
      expect(await api.transfer(t.id)).toMatchObject({ status: 'cancelled' });
    }
    await expectSettled(b001, blocked, before);
    await restarted.stop();
    stack = undefined;
  });

  it('killed with SIGKILL: the next start fails what it left running, and nothing is left behind', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'pgbackups-crash-'));
    dirs.push(dataDir);
    let child: ChildProcess | undefined;
    const orphans: number[] = [];
    try {
      // `npm run local` in a child process, so it can be killed outright.
      child = spawn(process.execPath, ['--import', TSX, MAIN], {
        env: {
          ...process.env,
          PGBACKUPS_DATA_DIR: dataDir,
          PGBACKUPS_PORT: '0',
          AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      // Its and its workers' output is read to the end, so nobody dies of a closed pipe.
      child.stdout?.resume();
      let stderr = '';
      child.stderr?.setEncoding('utf8').on('data', (t: string) => {
        stderr += t;
      });
      stackUrl = await until(
        'npm run local to start',
        async () => /pgbackups is running at (http:\/\/\S+)/.exec(stderr)?.[1],
        30_000,
      );
      const b001 = await setUpApp();
      const before = {
        target: await fingerprint(pg, 'target'),
        copy_target: await fingerprint(pg, 'copy_target'),
      };
      const locks = await holdAll();
      let blocked: TransferJson[];
      try {
        blocked = await startBlockedTransfers();
        const exited = new Promise((r) => child?.once('exit', r));
        child.kill('SIGKILL');
        await exited;

        // The same data directory, a new process: what the dead one left running is failed at start.
        const restarted = await useStack(dataDir);
        for (const t of blocked) {
          const now = await api.transfer(t.id);
          expect(now).toMatchObject({ status: 'failed' });
          expect(now.error).toMatch(/the local stack restarted while it ran/);
          const ref = (await restarted.deps.catalog.getTransfer(APP, t.num))?.taskRef ?? '';
          orphans.push(Number(ref.replace(/^local:/, '')));
        }
      } catch (e) {
        for (const l of locks) await l.close();
        throw e;
      }
      // The dead stack's workers live on, orphaned. Release what they wait on and let them run to their end:
      // before COMMIT each one checks with the catalog that its transfer is still running — it is not (and here
      // its catalog endpoint is gone too) — so it rolls back and the targets stay as they were.
      for (const l of locks) await l.close();
      await until(
        'the orphaned workers to exit',
        async () => (orphans.every((pid) => !alive(pid)) ? true : undefined),
        60_000,
      );
      await waitForWorkerSessions(pg, 'target', { none: true, timeoutMs: 30_000 });
      await waitForWorkerSessions(pg, 'copy_target', { none: true, timeoutMs: 30_000 });
      for (const t of blocked) expect((await api.transfer(t.id)).status).toBe('failed');
      await expectSettled(b001, blocked, before);
    } finally {
      if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      for (const pid of orphans) if (pid > 0 && alive(pid)) process.kill(-pid, 'SIGKILL');
    }
  });
});

/** True while `pid` runs (a zombie waiting for whoever adopted it to reap it does not count). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true;
  }
}
