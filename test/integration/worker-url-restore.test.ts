/**
 * Restore from an https URL (Heroku's `pg:backups:restore 'https://…'`): the worker fetches through the SSRF
 * guard and restores atomically; a URL that turns out to point somewhere forbidden fails without touching the
 * target.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { isPublicAddress, openGuardedUrl, type Resolver } from '../../src/adapters/net/url-guard.js';
import { runTransfer } from '../../src/worker/run-transfer.js';
import { MemoryBlobStore } from '../fakes/index.js';
import { fingerprint } from '../helpers/db-fingerprint.js';
import { type PgCluster, run, startCluster, withoutPgEnv } from '../helpers/pg-cluster.js';
import { selfSignedCert } from '../helpers/tls.js';
import { attachClusterDatabase, workerDeps } from '../helpers/worker-deps.js';

const APP = 'url-app';
let cluster: PgCluster;
let server: Server;
let port: number;
let dir: string;
let ca: Buffer;
let dump: Buffer;
const deps = workerDeps(new MemoryBlobStore());

// dump.test plays a public host (its test address is allowed); metadata.test resolves to the metadata endpoint.
const resolve: Resolver = async (host) => {
  if (host === 'dump.test') return [{ address: '127.0.0.1', family: 4 }];
  if (host === 'metadata.test') return [{ address: '169.254.169.254', family: 4 }];
  throw new Error('ENOTFOUND');
};
const openUrl = (url: string, signal: AbortSignal) =>
  openGuardedUrl(url, { signal, resolve, ca, allowAddress: (a) => a === '127.0.0.1' || isPublicAddress(a) });

beforeAll(async () => {
  cluster = await startCluster();
  await cluster.createDatabase('source');
  await cluster.psql(
    'source',
    `CREATE TABLE items (id int PRIMARY KEY, name text); INSERT INTO items SELECT g, md5(g::text) FROM generate_series(1, 2000) g;
     SELECT lo_from_bytea(0, 'a large object');`,
  );
  await cluster.createDatabase('target');
  await cluster.psql('target', 'CREATE TABLE keep (v text); INSERT INTO keep VALUES ($$before$$);');
  dir = mkdtempSync(join(tmpdir(), 'url-restore-'));
  const dumped = await run(
    join(cluster.binDir, 'pg_dump'),
    [
      '-Fc',
      '-f',
      join(dir, 'b001.dump'),
      '-h',
      '127.0.0.1',
      '-p',
      String(cluster.port),
      '-U',
      'postgres',
      '-d',
      'source',
    ],
    { env: { ...withoutPgEnv(process.env), PGPASSWORD: cluster.password } },
  );
  expect(dumped.code, dumped.stderr).toBe(0);
  dump = readFileSync(join(dir, 'b001.dump'));

  const tls = selfSignedCert(dir, ['dump.test', 'metadata.test']);
  ca = tls.cert;
  server = createServer({ key: tls.key, cert: ca }, (req, res) => {
    if (req.url === '/b001.dump') {
      res.end(dump);
    } else {
      res.writeHead(302, { location: `https://metadata.test:${port}/b001.dump` });
      res.end();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;

  await attachClusterDatabase(deps, cluster, APP, 'DATABASE', 'target');
});

afterAll(async () => {
  await new Promise((r) => server?.close(r));
  await cluster?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function restoreFrom(path: string) {
  const num = await deps.catalog.nextTransferNum(APP);
  await deps.catalog.createTransfer({
    app: APP,
    num,
    id: `r00${num}`,
    kind: 'restore',
    type: 'manual',
    status: 'pending',
    database: 'DATABASE',
    source: { type: 'url', url: `https://dump.test:${port}${path}` },
    target: { type: 'database', app: APP, database: 'DATABASE' },
    createdAt: new Date().toISOString(),
  });
  await runTransfer(deps, { app: APP, num }, new AbortController().signal, {
    progressIntervalMs: 100,
    openUrl,
  });
  return deps.catalog.getTransfer(APP, num, { logs: true });
}

it('fails a URL that redirects to the metadata endpoint, leaving the target as it was', async () => {
  const before = await fingerprint(cluster, 'target');
  const t = await restoreFrom('/redirect');
  expect(t).toMatchObject({
    status: 'failed',
    error: expect.stringMatching(/private, loopback or link-local/),
  });
  expect(await fingerprint(cluster, 'target')).toEqual(before);
});

it('restores a dump served over https and records its checksum', async () => {
  const t = await restoreFrom('/b001.dump');
  expect(t).toMatchObject({ status: 'completed', processedBytes: dump.length });
  expect(t?.sha256).toMatch(/^[0-9a-f]{64}$/);
  expect(await fingerprint(cluster, 'target')).toEqual(await fingerprint(cluster, 'source'));
});
