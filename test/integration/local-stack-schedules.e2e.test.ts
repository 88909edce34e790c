/**
 * Schedules on the local stack: a schedule set through the API fires from the timer scheduler at its local time
 * and produces a completed `a###` backup; the retention preview reads the same catalog.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { silentLogger } from '../../src/core/logger.js';
import type { Clock } from '../../src/core/ports.js';
import { type LocalStack, startLocalStack } from '../../src/local/stack.js';
import { type PgCluster, startCluster } from '../helpers/pg-cluster.js';

const APP = 'sched-app';
let pg: PgCluster;
let stack: LocalStack;
let dataDir: string;

// "Now" stays at 1.5 s before 02:00 Tokyo time until the schedule is set, then runs in real time: the schedule's
// timer fires for real, however long the stack took to start and answer (a clock running from the start lost its
// 1.5 s margin on a loaded machine).
const base = new Date('2026-03-07T16:59:58.500Z'); // 01:59:58.5 on 8 March in Asia/Tokyo (UTC+9)
let runningSince: number | undefined;
const clock: Clock = {
  now: () => new Date(base.getTime() + (runningSince === undefined ? 0 : Date.now() - runningSince)),
};

async function api(method: string, path: string, body?: unknown) {
  const res = await fetch(`${stack.apiUrl}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

beforeAll(async () => {
  pg = await startCluster();
  await pg.createDatabase('app');
  await pg.psql('app', 'CREATE TABLE t AS SELECT g AS id FROM generate_series(1, 1000) g;');
  dataDir = await mkdtemp(join(tmpdir(), 'pgbackups-sched-'));
  stack = await startLocalStack({
    dataDir,
    port: 0,
    log: silentLogger,
    progressIntervalMs: 200,
    workerOutput: 'ignore',
    clock,
  });
  await api('PUT', `/v1/apps/${APP}/databases/DATABASE`, { url: pg.url('app') });
});

afterAll(async () => {
  await stack?.stop();
  await pg?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

it('runs a scheduled backup at the local time it was set for', async () => {
  const set = await api('PUT', `/v1/apps/${APP}/schedules/DATABASE`, { at: '02:00 Asia/Tokyo' });
  runningSince = Date.now();
  expect(set.body.description).toBe('daily at 2:00 Asia/Tokyo');
  let transfers: { id: string; status: string; type: string }[] = [];
  for (let i = 0; i < 200 && !transfers.some((t) => t.status === 'completed'); i++) {
    await new Promise((r) => setTimeout(r, 100));
    transfers = (await api('GET', `/v1/apps/${APP}/transfers`)).body.transfers;
  }
  expect(transfers).toEqual([
    expect.objectContaining({ id: 'a001', type: 'scheduled', status: 'completed' }),
  ]);
  const retention = await api('GET', `/v1/apps/${APP}/retention`);
  expect(retention.body.delete).toEqual([]);
  expect((await api('DELETE', `/v1/apps/${APP}/schedules/DATABASE`)).status).toBe(204);
  expect((await api('GET', `/v1/apps/${APP}/schedules`)).body.schedules).toEqual([]);
});
