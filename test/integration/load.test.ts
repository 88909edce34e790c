/**
 * Load (docs/reliability.md): 200 concurrent API requests while 20 transfers — 12 captures, 4 restores, 4 copies,
 * each a real worker process — start at the same moment on the local stack. No request is lost, none is a 5xx,
 * every transfer gets its own id and finishes. Latencies are measured and printed (one `LOAD` line), not asserted:
 * the numbers in docs/reliability.md come from this test.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { silentLogger } from '../../src/core/logger.js';
import { type LocalStack, startLocalStack } from '../../src/local/stack.js';
import { fingerprint } from '../helpers/db-fingerprint.js';
import { type PgCluster, startCluster } from '../helpers/pg-cluster.js';
import { isFinished, percentile, StackApi, type TransferJson, until } from '../helpers/stack-api.js';

const APP = 'example-app';
const FIXTURE = fileURLToPath(new URL('../helpers/fixtures/awkward.sql', import.meta.url));
const TARGETS = [1, 2, 3, 4];

let pg: PgCluster;
let stack: LocalStack;
let dataDir: string;
const api = new StackApi(() => stack.apiUrl, APP);

beforeAll(async () => {
  pg = await startCluster();
  await pg.createDatabase('source');
  await pg.psqlFile('source', FIXTURE);
  for (const i of TARGETS) {
    await pg.createDatabase(`restore_${i}`);
    await pg.createDatabase(`copy_${i}`);
  }
  dataDir = await mkdtemp(join(tmpdir(), 'pgbackups-load-'));
  stack = await startLocalStack({
    dataDir,
    port: 0,
    log: silentLogger,
    progressIntervalMs: 1000,
    workerOutput: 'ignore',
  });
  await api.attach('DATABASE', pg.url('source'));
  for (const i of TARGETS) {
    await api.attach(`RESTORE_${i}`, pg.url(`restore_${i}`));
    await api.attach(`COPY_${i}`, pg.url(`copy_${i}`));
  }
  await api.appCall('POST', '/backups');
  const b001 = await api.waitFinished('b001');
  expect(b001.status, b001.error ?? '').toBe('completed');
});

afterAll(async () => {
  await stack?.stop();
  await pg?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

interface Timed {
  what: string;
  status: number;
  ms: number;
  body: unknown;
}

async function timed(what: string, method: string, path: string, body?: unknown): Promise<Timed> {
  const t0 = performance.now();
  const res = await api.appCall(method, path, body);
  return { what, status: res.status, ms: performance.now() - t0, body: res.body };
}

/** The 200 requests: the reads a CLI and a dashboard make, some writes, a presign. */
function readRequests(): Promise<Timed>[] {
  const kinds: [string, string, string, unknown?][] = [
    ['list transfers', 'GET', '/transfers'],
    ['info b001 with logs', 'GET', '/transfers/b001?logs=true'],
    ['list backups', 'GET', '/transfers?kind=backup&limit=50'],
    ['list databases', 'GET', '/databases'],
    ['settings', 'GET', '/settings'],
    ['schedules', 'GET', '/schedules'],
    ['retention preview', 'GET', '/retention'],
    ['download url', 'POST', '/backups/b001/url', { expiresInSeconds: 600 }],
    ['update settings', 'PUT', '/settings', { notifyOnSuccess: false }],
    ['unknown transfer', 'GET', '/transfers/b9999'],
  ];
  return Array.from({ length: 200 }, (_, i) => {
    const [what, method, path, body] = kinds[i % kinds.length] as [string, string, string, unknown?];
    return timed(what, method, path, body);
  });
}

function transferRequests(): Promise<Timed>[] {
  return [
    ...Array.from({ length: 12 }, () => timed('capture', 'POST', '/backups')),
    ...TARGETS.map((i) =>
      timed('restore', 'POST', '/restores', { backup: 'b001', database: `RESTORE_${i}` }),
    ),
    ...TARGETS.map((i) => timed('copy', 'POST', '/copies', { from: 'DATABASE', to: `COPY_${i}` })),
  ];
}

it('200 concurrent requests, then again with 20 concurrent transfers: none lost, no 5xx, unique ids, all finish', async () => {
  // One at a time first: what a single request costs on an idle stack.
  const sequential: number[] = [];
  for (let i = 0; i < 20; i++) {
    const r = await timed('list transfers', 'GET', '/transfers');
    expect(r.status).toBe(200);
    sequential.push(r.ms);
  }

  // Then the 200 requests at once, on an idle stack: the API's own latency under a burst.
  const idle = await Promise.allSettled(readRequests());
  expect(idle.filter((r) => r.status === 'rejected' || r.value.status >= 500)).toEqual([]);
  const idleMs = idle.map((r) => (r as PromiseFulfilledResult<Timed>).value.ms);

  // Then the same 200 at the same moment as 20 transfer requests, whose workers start alongside.
  const t0 = performance.now();
  const settled = await Promise.allSettled([...transferRequests(), ...readRequests()]);
  const answered = performance.now() - t0;

  // No request lost: every one got an HTTP answer.
  const rejected = settled.filter((s) => s.status === 'rejected');
  expect(rejected.map((r) => String((r as PromiseRejectedResult).reason))).toEqual([]);
  const results = settled.map((s) => (s as PromiseFulfilledResult<Timed>).value);
  expect(results).toHaveLength(220);
  expect(results.filter((r) => r.status >= 500)).toEqual([]);
  for (const r of results) {
    const expected =
      r.what === 'unknown transfer' ? 404 : ['capture', 'restore', 'copy'].includes(r.what) ? 202 : 200;
    expect(r.status, `${r.what}: ${JSON.stringify(r.body)}`).toBe(expected);
  }

  // Unique ids: the 20 transfers, and the 8 safety backups their restores and copies took first.
  const launched = results.filter((r) => r.status === 202).map((r) => r.body as TransferJson);
  expect(launched).toHaveLength(20);
  expect(new Set(launched.map((t) => t.id)).size).toBe(20);

  const finished = await until(
    'all 20 transfers to finish',
    async () => {
      const all = await Promise.all(launched.map((t) => api.transfer(t.id)));
      return all.every(isFinished) ? all : undefined;
    },
    240_000,
  );
  const allDone = performance.now() - t0;
  expect(finished.filter((t) => t.status !== 'completed').map((t) => `${t.id}: ${t.error}`)).toEqual([]);

  const everything = (await api.appCall('GET', '/transfers?limit=1000')).body.transfers as TransferJson[];
  const ids = everything.map((t) => t.id);
  expect(new Set(ids).size).toBe(ids.length);
  expect(ids).toHaveLength(1 + 20 + 8);
  expect(everything.filter((t) => !isFinished(t))).toEqual([]);
  expect(await stack.deps.catalog.listActiveTransfers()).toEqual([]);
  await until('every worker to exit', async () => (stack.runner.running === 0 ? true : undefined), 30_000);

  // The work is right, not just finished: one capture's object matches its checksum, the targets match the source.
  const aCapture = finished.find((t) => t.kind === 'backup') as TransferJson;
  const hash = createHash('sha256');
  for await (const c of await stack.deps.blobs.download(aCapture.target.key as string))
    hash.update(c as Buffer);
  expect(hash.digest('hex')).toBe(aCapture.sha256);
  const source = await fingerprint(pg, 'source');
  expect(await fingerprint(pg, 'restore_1')).toEqual(source);
  expect(await fingerprint(pg, 'copy_4')).toEqual(source);

  const ms = (xs: number[]) => ({
    p50: Math.round(percentile(xs, 50)),
    p99: Math.round(percentile(xs, 99)),
    max: Math.round(Math.max(...xs)),
  });
  const summary = {
    sequential: ms(sequential),
    idle200: ms(idleMs),
    requests: results.length,
    all: ms(results.map((r) => r.ms)),
    reads: ms(results.filter((r) => r.status !== 202).map((r) => r.ms)),
    transferStarts: ms(results.filter((r) => r.status === 202).map((r) => r.ms)),
    allAnsweredMs: Math.round(answered),
    allTransfersFinishedMs: Math.round(allDone),
  };
  console.log(`LOAD ${JSON.stringify(summary)}`);
  expect(summary.requests).toBe(220);
});
