/**
 * Secrets never leak (docs/reliability.md). Known passwords — one full of URL metacharacters, the cluster's
 * superuser password, and a wrong one — go through attach, capture, restore, copy, failures and refusals on a
 * running local stack. Then every place a password could end up is scanned: the stack's log lines, every line
 * the workers wrote, every API answer (transfers with their logs and errors included), the argv of every process
 * on the machine sampled while pg_dump, pg_restore and psql ran, and the catalog's and S3's files on disk.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { jsonLogger } from '../../src/core/logger.js';
import { type LocalStack, startLocalStack } from '../../src/local/stack.js';
import { type PgCluster, type PgSession, startCluster } from '../helpers/pg-cluster.js';
import { StackApi, type TransferJson, waitForWorkerSessions } from '../helpers/stack-api.js';

const APP = 'example-app';
const TRICKY = 'Tr1cky/p@ss:w0rd%&?#=+ s3cr3t';
const WRONG = 'wrong-Pa55word-for-sure';

let pg: PgCluster;
let stack: LocalStack;
let dataDir: string;
const api = new StackApi(() => stack.apiUrl, APP);
const stackLog: string[] = [];
const workerLines: string[] = [];
const argvSeen = new Set<string>();
let sampler: NodeJS.Timeout | undefined;

const secrets = () => [TRICKY, encodeURIComponent(TRICKY), pg.password, WRONG];
const userUrl = (db: string, password = TRICKY) =>
  `postgres://app_user:${encodeURIComponent(password)}@127.0.0.1:${pg.port}/${db}`;

/** Every process's command line, as `ps` or /proc would show it to anyone on the machine. */
async function sampleArgv(): Promise<void> {
  for (const pid of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(pid)) continue;
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (cmdline) argvSeen.add(cmdline.replaceAll('\0', ' ').trim());
  }
}

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await filesUnder(p)));
    else if (e.isFile()) out.push(p);
  }
  return out;
}

async function holding(db: string, sql: string, during: () => Promise<void>) {
  const s: PgSession = await pg.session(db);
  try {
    await s.run(`BEGIN; ${sql}`);
    await during();
  } finally {
    await s.close();
  }
}

beforeAll(async () => {
  pg = await startCluster();
  await pg.psql('postgres', `CREATE ROLE app_user LOGIN PASSWORD '${TRICKY.replaceAll("'", "''")}'`);
  for (const db of ['shop', 'shop_target', 'shop_copy']) {
    await pg.psql('postgres', `CREATE DATABASE ${db} OWNER app_user`);
  }
  await pg.psql(
    'shop',
    `SET ROLE app_user; CREATE TABLE orders (id int PRIMARY KEY, note text);
     INSERT INTO orders SELECT i, repeat('order ' || i || ' ', 40) FROM generate_series(1, 5000) i;
     SELECT lo_from_bytea(0, 'a large object');`,
  );
  await pg.psql('shop_target', 'SET ROLE app_user; CREATE TABLE keep (id int); INSERT INTO keep VALUES (1);');
  dataDir = await mkdtemp(join(tmpdir(), 'pgbackups-secrets-'));
  stack = await startLocalStack({
    dataDir,
    port: 0,
    log: jsonLogger({ service: 'pgbackups-local' }, (line) => stackLog.push(line)),
    progressIntervalMs: 200,
    workerOutput: (line) => workerLines.push(line),
  });
  sampler = setInterval(() => void sampleArgv(), 20);
});

afterAll(async () => {
  clearInterval(sampler);
  await stack?.stop();
  await pg?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

it('no password reaches a log, an answer, an error, a process argv or the catalog', async () => {
  // Attach: the superuser's URL for one database, the tricky user's for the others.
  await api.attach('DATABASE', userUrl('shop'));
  await api.attach('TARGET', pg.url('shop_target'));
  await api.attach('COPY_TARGET', userUrl('shop_copy'));
  expect((await api.appCall('GET', '/databases')).status).toBe(200);

  // Refusals that hold a password: a malformed URL, another scheme, a URL restore.
  for (const url of [
    `postgres://app_user:${encodeURIComponent(TRICKY)}@127.0.0.1:notaport/shop`,
    `mysql://app_user:${encodeURIComponent(TRICKY)}@127.0.0.1/shop`,
  ]) {
    const res = await api.appCall('PUT', '/databases/BROKEN', { url });
    expect(res.status, res.text).toBe(400);
  }
  // Parsed some way or refused, never echoed (an unknown parameter is only refused later, by the worker).
  for (const url of [`postgres://app_user:${TRICKY}@127.0.0.1/shop`, `${userUrl('shop')}?bogus=1`]) {
    expect((await api.appCall('PUT', '/databases/ODD', { url })).status).toBeLessThan(500);
  }
  const urlRestore = await api.appCall('POST', '/restores', {
    backup: `https://app_user:${encodeURIComponent(TRICKY)}@8.8.8.8/b001.dump`,
  });
  expect(urlRestore.status).toBe(400);

  // A wrong password: the failure says why without repeating it.
  await api.attach('WRONG', userUrl('shop', WRONG));
  const wrong = await api.appCall('POST', '/backups', { database: 'WRONG' });
  const wrongDone = await api.waitFinished(wrong.body.id);
  expect(wrongDone.status).toBe('failed');
  expect(wrongDone.error).toMatch(/password authentication failed/);

  // A capture held on a lock so its pg_dump is sampled while it runs.
  let backup: TransferJson | undefined;
  await holding('shop', 'LOCK TABLE orders IN ACCESS EXCLUSIVE MODE', async () => {
    const started = await api.appCall('POST', '/backups');
    await waitForWorkerSessions(pg, 'shop', { waitingOnLock: true });
    await sampleArgv();
    backup = started.body;
  });
  const captured = await api.waitFinished((backup as TransferJson).id);
  expect(captured.status, captured.error ?? '').toBe('completed');

  // A restore held inside the target's transaction, so psql and pg_restore are sampled while they run. The
  // script (~2 MB of rows) is far larger than the pipes between them: pg_restore cannot finish writing it, and
  // exit before it is sampled, while psql waits on the lock.
  let restoreId = '';
  await holding('shop_target', 'LOCK TABLE keep IN ACCESS SHARE MODE', async () => {
    const started = await api.appCall('POST', '/restores', { backup: captured.id, database: 'TARGET' });
    restoreId = started.body.id;
    await api.waitFor(restoreId, (t) => t.status === 'running', 'running');
    await waitForWorkerSessions(pg, 'shop_target', { waitingOnLock: true });
    await sampleArgv();
  });
  expect((await api.waitFinished(restoreId)).status).toBe('completed');

  const copy = await api.appCall('POST', '/copies', { from: 'DATABASE', to: 'COPY_TARGET' });
  expect((await api.waitFinished(copy.body.id)).status).toBe('completed');
  // Presigned URLs: an hour by default, at most 12 hours, and S3 is told so in the signature.
  const byDefault = await api.appCall('POST', `/backups/${captured.id}/url`);
  expect(new URL(byDefault.body.url).searchParams.get('X-Amz-Expires')).toBe('3600');
  const longest = await api.appCall('POST', `/backups/${captured.id}/url`, { expiresInSeconds: 43_200 });
  expect(new URL(longest.body.url).searchParams.get('X-Amz-Expires')).toBe('43200');
  for (const expiresInSeconds of [43_201, 59, 0, -1, 1.5]) {
    const refused = await api.appCall('POST', `/backups/${captured.id}/url`, { expiresInSeconds });
    expect(refused.status, String(expiresInSeconds)).toBe(400);
  }

  // Everything the API says about those transfers, logs included.
  const list = await api.appCall('GET', '/transfers');
  for (const t of list.body.transfers as TransferJson[]) await api.transfer(t.id);
  clearInterval(sampler);
  await sampleArgv();

  // The scan saw the tools it had to see, and the logs it scanned are real.
  const argv = [...argvSeen];
  for (const tool of ['pg_dump', 'pg_restore', 'psql']) {
    expect(
      argv.some((a) => a.includes(`/${tool} `) || a.startsWith(`${tool} `)),
      tool,
    ).toBe(true);
  }
  expect(workerLines.some((l) => l.includes('transfer finished'))).toBe(true);
  expect(stackLog.some((l) => l.includes('worker started'))).toBe(true);
  expect(api.answers.some((a) => a.includes('password authentication failed'))).toBe(true);

  // The one place the passwords are meant to be: the secret store (proof that the file scan can find them).
  const secretFiles = await Promise.all(
    (await filesUnder(join(dataDir, 'secrets'))).map((f) => readFile(f, 'latin1')),
  );
  expect(secretFiles.some((f) => f.includes(encodeURIComponent(TRICKY)))).toBe(true);
  expect(secretFiles.some((f) => f.includes(pg.password))).toBe(true);

  const onDisk: string[] = [];
  for (const dir of ['dynamodb', 's3']) {
    for (const f of await filesUnder(join(dataDir, dir))) onDisk.push((await readFile(f)).toString('latin1'));
  }
  const places: Record<string, string[]> = {
    'stack log': stackLog,
    'worker output': workerLines,
    'API answers': api.answers,
    'process argv': argv,
    'catalog and S3 files': onDisk,
  };
  for (const [place, texts] of Object.entries(places)) {
    for (const secret of secrets()) {
      const leaks = texts.filter((t) => t.includes(secret));
      expect(
        leaks.map((l) => l.slice(0, 300)),
        `${place} holds ${JSON.stringify(secret)}`,
      ).toEqual([]);
    }
  }
});
