/**
 * The foundation slice end to end, on real parts: the local stack's HTTP API, the production DynamoDB and S3
 * adapters against dynalite and s3rver, worker child processes running the container's entrypoint, and a
 * throwaway PostgreSQL cluster.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/core/logger.js';
import { type LocalStack, startLocalStack } from '../../src/local/stack.js';
import { fingerprint } from '../helpers/db-fingerprint.js';
import { type PgCluster, startCluster, withoutPgEnv } from '../helpers/pg-cluster.js';

const APP = 'example-app';
const FIXTURE = fileURLToPath(new URL('../helpers/fixtures/awkward.sql', import.meta.url));

let pg: PgCluster;
let stack: LocalStack;
let dataDir: string;

interface TransferJson {
  id: string;
  status: string;
  sha256: string | null;
  backupBytes: number | null;
  processedBytes: number;
  error: string | null;
  logs?: { message: string }[];
  target: { type: string; key?: string };
}

async function api(method: string, path: string, body?: unknown) {
  const res = await fetch(`${stack.apiUrl}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

async function waitFor(
  id: string,
  done: (t: TransferJson) => boolean,
  timeoutMs = 60_000,
): Promise<TransferJson> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { body } = await api('GET', `/v1/apps/${APP}/transfers/${id}?logs=true`);
    if (done(body)) return body;
    if (Date.now() > deadline)
      throw new Error(`transfer ${id} still ${body.status}: ${JSON.stringify(body)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const finished = (t: TransferJson) => ['completed', 'failed', 'cancelled'].includes(t.status);

/** Holds an ACCESS EXCLUSIVE lock on a table so pg_dump blocks on it: a capture that stays running on demand. */
function holdLock(db: string, table: string): ChildProcess {
  return spawn(
    join(pg.binDir, 'psql'),
    ['-X', '-h', '127.0.0.1', '-p', String(pg.port), '-U', 'postgres', '-d', db, '-v', 'ON_ERROR_STOP=1'],
    { env: { ...withoutPgEnv(process.env), PGPASSWORD: pg.password }, stdio: ['pipe', 'ignore', 'ignore'] },
  ).once('spawn', function (this: ChildProcess) {
    this.stdin?.write(`BEGIN; LOCK TABLE ${table} IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(120);\n`);
  });
}

async function waitForBlockedDump(db: string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    const n = await pg.psql(
      db,
      "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pgbackups' AND wait_event_type = 'Lock'",
    );
    if (n.trim() === '1') return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('pg_dump never blocked on the lock');
}

/** Objects of manual backups: what a failed or cancelled capture must not add to. */
async function objectKeys(): Promise<string[]> {
  return stack.deps.blobs.list('manual/');
}

beforeAll(async () => {
  pg = await startCluster();
  await pg.createDatabase('source');
  await pg.psqlFile('source', FIXTURE);
  await pg.createDatabase('target');
  await pg.psql(
    'target',
    `CREATE SCHEMA unrelated; CREATE TABLE unrelated.keep_me (id int); INSERT INTO unrelated.keep_me VALUES (1);
     CREATE TABLE public.old_stuff (x text); INSERT INTO public.old_stuff VALUES ('old');`,
  );
  dataDir = await mkdtemp(join(tmpdir(), 'pgbackups-local-'));
  stack = await startLocalStack({
    dataDir,
    port: 0,
    log: silentLogger,
    progressIntervalMs: 200,
    workerOutput: 'ignore',
  });
  expect((await api('PUT', `/v1/apps/${APP}/databases/DATABASE_URL`, { url: pg.url('source') })).status).toBe(
    201,
  );
  expect((await api('PUT', `/v1/apps/${APP}/databases/STAGING`, { url: pg.url('target') })).status).toBe(201);
});

afterAll(async () => {
  await stack?.stop();
  await pg?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

describe('local stack, end to end', () => {
  let backup: TransferJson;

  it('captures the awkward database through the API into a verified object', async () => {
    const started = await api('POST', `/v1/apps/${APP}/backups`);
    expect(started.status).toBe(202);
    expect(started.body).toMatchObject({ id: 'b001', status: 'pending', database: 'DATABASE' });
    backup = await waitFor('b001', finished);
    expect(backup).toMatchObject({ status: 'completed', error: null });
    expect(backup.sha256).toMatch(/^[0-9a-f]{64}$/);

    const body = await stack.deps.blobs.download(backup.target.key as string);
    const hash = createHash('sha256');
    let bytes = 0;
    for await (const chunk of body) {
      hash.update(chunk as Buffer);
      bytes += (chunk as Buffer).length;
    }
    expect(hash.digest('hex')).toBe(backup.sha256);
    expect(bytes).toBe(backup.backupBytes);
    expect(backup.logs?.some((l) => l.message.includes('pg_dump'))).toBe(true);
    expect(JSON.stringify(backup)).not.toContain(pg.password);

    const list = await api('GET', `/v1/apps/${APP}/transfers`);
    expect(list.body.transfers.map((t: TransferJson) => `${t.id} ${t.status}`)).toEqual(['b001 completed']);
  });

  it('serves a download URL whose bytes match the recorded checksum', async () => {
    const { body } = await api('POST', `/v1/apps/${APP}/backups/b001/url`, { expiresInSeconds: 600 });
    const res = await fetch(body.url);
    expect(res.status).toBe(200);
    const bytes = Buffer.from(await res.arrayBuffer());
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(backup.sha256);
    expect(bytes.subarray(0, 5).toString()).toBe('PGDMP');
  });

  it('restores into a database holding unrelated tables and makes it identical to the source', async () => {
    const before = await fingerprint(pg, 'target');
    const started = await api('POST', `/v1/apps/${APP}/restores`, { backup: 'b001', database: 'STAGING' });
    expect(started.status).toBe(202);
    const r = await waitFor(started.body.id, finished);
    expect(r).toMatchObject({ status: 'completed', error: null });

    // The safety backup, taken first by the same worker, holds exactly what the restore replaced.
    const safetyId = started.body.safetyBackup.id;
    const safety = await waitFor(safetyId, finished);
    expect(safety).toMatchObject({ status: 'completed', type: 'safety', database: 'STAGING' });
    expect(safety.target.key).toBe(`safety/${APP}/STAGING/${safetyId}.dump`);
    await pg.createDatabase('probe');
    await api('PUT', `/v1/apps/${APP}/databases/PROBE`, { url: pg.url('probe') });
    const probe = await api('POST', `/v1/apps/${APP}/restores`, {
      backup: safetyId,
      database: 'PROBE',
      safetyBackup: false,
    });
    expect(probe.body.safetyBackup).toBeNull();
    expect((await waitFor(probe.body.id, finished)).status).toBe('completed');
    expect(await fingerprint(pg, 'probe')).toEqual(before);
    await api('DELETE', `/v1/apps/${APP}/databases/PROBE`);

    expect(await fingerprint(pg, 'target')).toEqual(await fingerprint(pg, 'source'));
    const leftovers = await pg.psql(
      'target',
      "SELECT count(*) FROM pg_class WHERE relname IN ('keep_me', 'old_stuff')",
    );
    expect(leftovers.trim()).toBe('0');
  });

  it('fails a restore whose object was tampered with and leaves the target exactly as it was', async () => {
    await pg.createDatabase('untouched');
    await pg.psql('untouched', 'CREATE TABLE precious (v text); INSERT INTO precious VALUES ($$mine$$);');
    await api('PUT', `/v1/apps/${APP}/databases/UNTOUCHED`, { url: pg.url('untouched') });
    const before = await fingerprint(pg, 'untouched');

    // Same size, one flipped byte near the end: only the checksum can tell.
    const original = Buffer.concat(
      await (async () => {
        const out: Buffer[] = [];
        for await (const c of await stack.deps.blobs.download(backup.target.key as string))
          out.push(c as Buffer);
        return out;
      })(),
    );
    const tampered = Buffer.from(original);
    tampered[tampered.length - 10] = (tampered[tampered.length - 10] as number) ^ 0xff;
    const { Readable } = await import('node:stream');
    await stack.deps.blobs.upload(backup.target.key as string, Readable.from([tampered]));
    try {
      const started = await api('POST', `/v1/apps/${APP}/restores`, {
        backup: 'b001',
        database: 'UNTOUCHED',
      });
      const r = await waitFor(started.body.id, finished);
      expect(r.status).toBe('failed');
      expect(r.error).toMatch(/checksum|sha-?256|pg_restore/i);
      expect(await fingerprint(pg, 'untouched')).toEqual(before);
    } finally {
      await stack.deps.blobs.upload(backup.target.key as string, Readable.from([original]));
    }
  });

  it('cancels a running capture: cancelled, and no object left behind', async () => {
    const lock = holdLock('source', 'app.people');
    try {
      const started = await api('POST', `/v1/apps/${APP}/backups`);
      await waitForBlockedDump('source');
      expect((await api('GET', `/v1/apps/${APP}/transfers/${started.body.id}`)).body.status).toBe('running');
      const cancel = await api('POST', `/v1/apps/${APP}/transfers/${started.body.id}/cancel`);
      expect(cancel.status).toBe(200);
      const t = await waitFor(started.body.id, finished);
      expect(t.status).toBe('cancelled');
      expect(await objectKeys()).toEqual([backup.target.key]);
      const again = await api('POST', `/v1/apps/${APP}/transfers/${started.body.id}/cancel`);
      expect(again.status).toBe(409);
    } finally {
      lock.kill();
    }
  });

  it('fails a capture whose source connection is terminated mid-dump, with no object and a clear log line', async () => {
    const lock = holdLock('source', 'app.people');
    try {
      const started = await api('POST', `/v1/apps/${APP}/backups`);
      await waitForBlockedDump('source');
      await pg.psql(
        'source',
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'pgbackups'",
      );
      const t = await waitFor(started.body.id, finished);
      expect(t.status).toBe('failed');
      expect(t.error).toMatch(/pg_dump/);
      expect(t.logs?.some((l) => /terminat|connection|server closed/i.test(l.message))).toBe(true);
      expect(await objectKeys()).toEqual([backup.target.key]);
    } finally {
      lock.kill();
    }
  });

  it('marks a transfer failed when its worker is killed outright', async () => {
    const lock = holdLock('source', 'app.people');
    try {
      const started = await api('POST', `/v1/apps/${APP}/backups`);
      await waitForBlockedDump('source');
      const t = await stack.deps.catalog.getTransfer(APP, started.body.num);
      const pid = Number(t?.taskRef?.replace('local:', ''));
      expect(pid).toBeGreaterThan(0);
      process.kill(pid, 'SIGKILL');
      const failed = await waitFor(started.body.id, finished);
      expect(failed.status).toBe('failed');
      expect(failed.error).toMatch(/worker stopped before finishing: worker killed by SIGKILL/);
      expect(await objectKeys()).toEqual([backup.target.key]);
    } finally {
      lock.kill();
      // The killed worker's pg_dump is orphaned; make sure it cannot hold the source.
      await pg.psql(
        'source',
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'pgbackups'",
      );
    }
  });

  it('answers bad input over HTTP with 4xx and a message, never 5xx', async () => {
    const cases: [string, string, unknown, number][] = [
      ['POST', `/v1/apps/${APP}/restores`, '{not json', 400],
      ['GET', `/v1/apps/${APP}/transfers/b999`, undefined, 404],
      ['GET', '/v1/apps/NOT_AN_APP/transfers', undefined, 400],
      ['PUT', `/v1/apps/${APP}/databases/bad-name`, { url: pg.url('source') }, 400],
      ['POST', `/v1/apps/${APP}/backups`, { database: 'NOPE' }, 404],
      ['POST', `/v1/apps/${APP}/restores`, { backup: 'b999' }, 404],
      // The SSRF guard answers before any transfer exists or anything is fetched.
      [
        'POST',
        `/v1/apps/${APP}/restores`,
        { backup: `http://127.0.0.1:${new URL(stack.apiUrl).port}/x` },
        400,
      ],
      [
        'POST',
        `/v1/apps/${APP}/restores`,
        { backup: `https://127.0.0.1:${new URL(stack.apiUrl).port}/x` },
        400,
      ],
      ['POST', `/v1/apps/${APP}/restores`, { backup: 'https://169.254.169.254/latest/meta-data/' }, 400],
      ['POST', `/v1/apps/${APP}/restores`, { backup: 'file:///etc/passwd' }, 400],
    ];
    const before = (await api('GET', `/v1/apps/${APP}/transfers`)).body.transfers.length;
    for (const [method, path, body, status] of cases) {
      const res = await api(method, path, body);
      expect(res.status, `${method} ${path}`).toBe(status);
      expect(res.body.error.message.length).toBeGreaterThan(10);
    }
    expect((await api('GET', `/v1/apps/${APP}/transfers`)).body.transfers.length).toBe(before);
  });

  it('keeps its data across a restart and fails nothing that had finished', async () => {
    await stack.stop();
    stack = await startLocalStack({
      dataDir,
      port: 0,
      log: silentLogger,
      progressIntervalMs: 200,
      workerOutput: 'ignore',
    });
    const list = await api('GET', `/v1/apps/${APP}/transfers?kind=backup`);
    const b001 = list.body.transfers.find((t: TransferJson) => t.id === 'b001');
    expect(b001).toMatchObject({ status: 'completed', sha256: backup.sha256 });
    expect(
      (await api('GET', `/v1/apps/${APP}/databases`)).body.databases.map((d: { name: string }) => d.name),
    ).toEqual(['DATABASE', 'STAGING', 'UNTOUCHED']);
    expect(await objectKeys()).toEqual([backup.target.key]);
  });
});
