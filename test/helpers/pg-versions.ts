/**
 * A version lab for the compatibility tests (docs/compatibility.md): one throwaway server per PostgreSQL major,
 * each with the awkward fixture as `source`, the worker run in-process with the clients the image would choose
 * among (those installed here), backups stored through the real S3 adapter on s3rver.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { localS3Client, S3BlobStore } from '../../src/adapters/aws/s3-blob-store.js';
import { backupObjectKey } from '../../src/core/object-keys.js';
import type { Transfer } from '../../src/core/transfer.js';
import type { PgClients } from '../../src/worker/pg-clients.js';
import { runTransfer } from '../../src/worker/run-transfer.js';
import { type DbFingerprint, fingerprint } from './db-fingerprint.js';
import { type PgCluster, run, startCluster, withoutPgEnv } from './pg-cluster.js';
import { exactClientBinDir, workerClients } from './pg-toolchain.js';
import { startS3rver } from './s3rver.js';
import {
  attachClusterDatabase,
  createPendingTransfer,
  type TestWorkerDeps,
  workerDeps,
} from './worker-deps.js';

const APP = 'versions';
const FIXTURE = fileURLToPath(new URL('./fixtures/awkward.sql', import.meta.url));
/** What a target held before: a restore must replace all of it, or leave all of it. */
export const UNRELATED = `CREATE SCHEMA billing;
  CREATE TABLE billing.invoices (id int PRIMARY KEY, total numeric);
  INSERT INTO billing.invoices SELECT i, i * 10 FROM generate_series(1, 50) i;
  SELECT lo_from_bytea(0, 'unrelated large object');`;

export interface VersionLab {
  readonly clusters: ReadonlyMap<number, PgCluster>;
  readonly deps: TestWorkerDeps<S3BlobStore>;
  readonly clients: PgClients;
  /** Captures `source` of the server of `major`. */
  capture(major: number): Promise<Transfer>;
  /** A fresh target database on the server of `major`, holding UNRELATED; returns its attachment name. */
  freshTarget(major: number): Promise<{ name: string; db: string }>;
  restore(
    backup: Transfer,
    targetMajor: number,
    opts?: { parallel?: number; target?: { name: string; db: string } },
  ): Promise<Outcome>;
  copy(sourceMajor: number, targetMajor: number, target?: { name: string; db: string }): Promise<Outcome>;
  /**
   * [expected, actual] fingerprints of a target restored or copied from the server of `sourceMajor`. Same major:
   * the source itself. Across majors, the rows, sequences and large objects are still the source's, but the schema
   * is compared with what raw `pg_dump | pg_restore` (the same clients, no pgbackups) gives on the target's server:
   * a server prints some definitions in its own way (16+ leaves view columns unqualified, for one).
   */
  compare(sourceMajor: number, targetMajor: number, db: string): Promise<[DbFingerprint, DbFingerprint]>;
  /** The fingerprint of a database, by the cluster's own client. */
  fingerprintOf(major: number, db: string): Promise<DbFingerprint>;
  /**
   * Downloads a backup's object and restores it with `pg_restore` of exactly `clientMajor` (what a user keeps
   * beside their server) into a fresh database of the server of `serverMajor`; returns that database.
   */
  readBack(backup: Transfer, clientMajor: number, serverMajor: number): Promise<string>;
  stop(): Promise<void>;
}

export interface Outcome {
  readonly transfer: Transfer;
  /** The target database. */
  readonly db: string;
}

let seq = 0;

/**
 * A restore recreates `public` (the wipe drops every schema). On 13 and 14 that new schema gets the same rights as
 * before but no initial-privileges record (pg_init_privs, written only by initdb), and pg_dump prints a schema's
 * privileges relative to that record: the same rights come out as other GRANT/REVOKE lines. There the lines are
 * set aside and the rights themselves (pg_namespace.nspacl) compared instead.
 */
async function comparablePublicAcl(c: PgCluster, db: string, f: DbFingerprint): Promise<DbFingerprint> {
  if (c.major > 14) return f;
  const acl = await c.psql(db, "SELECT nspacl FROM pg_namespace WHERE nspname = 'public'");
  const schema = f.schema.replace(/\n(GRANT|REVOKE) [A-Z ]+ ON SCHEMA public (TO|FROM) PUBLIC;(?=\n|$)/g, '');
  return { ...f, schema, publicSchemaAcl: acl.trim() } as DbFingerprint;
}

export async function startVersionLab(
  majors: readonly number[],
  clientMajors?: number[],
): Promise<VersionLab> {
  const s3 = await startS3rver();
  const clusters = new Map<number, PgCluster>();
  const deps = workerDeps(new S3BlobStore({ client: localS3Client(s3.endpoint), bucket: s3.bucket }));
  const clients = await workerClients(clientMajors);
  const work = await mkdtemp(join(tmpdir(), 'pgbackups-versions-'));
  try {
    for (const m of majors) {
      const c = await startCluster({ major: m });
      clusters.set(m, c);
      await c.createDatabase('source');
      await c.psqlFile('source', FIXTURE);
      await attachClusterDatabase(deps, c, APP, `SRC${m}`, 'source');
    }
  } catch (e) {
    await Promise.all([...clusters.values()].map((c) => c.stop()));
    await s3.stop();
    throw e;
  }
  const cluster = (m: number) => {
    const c = clusters.get(m);
    if (!c) throw new Error(`no PostgreSQL ${m} server in this lab`);
    return c;
  };
  const runIt = async (t: Transfer) => {
    await runTransfer(deps, t, new AbortController().signal, { progressIntervalMs: 200, clients });
    return (await deps.catalog.getTransfer(APP, t.num, { logs: true })) as Transfer;
  };
  const references = new Map<string, Promise<string>>();
  /** `source` of one server put on another by raw pg_dump | pg_restore, with the clients the worker would use. */
  const rawReference = (sourceMajor: number, targetMajor: number) => {
    const key = `${sourceMajor}-${targetMajor}`;
    let ref = references.get(key);
    if (!ref) {
      ref = (async () => {
        const major = clients.forDump(sourceMajor).major;
        const bin = exactClientBinDir(major) as string;
        const [from, to] = [cluster(sourceMajor), cluster(targetMajor)];
        const db = `ref${++seq}`;
        await to.createDatabase(db);
        const file = join(work, `${db}.dump`);
        const pgArgs = (c: PgCluster) => ['-h', '127.0.0.1', '-p', String(c.port), '-U', 'postgres'];
        const env = (c: PgCluster) => ({ ...withoutPgEnv(process.env), PGPASSWORD: c.password });
        const dump = await run(join(bin, 'pg_dump'), ['-Fc', '-f', file, ...pgArgs(from), 'source'], {
          env: env(from),
        });
        if (dump.code !== 0) throw new Error(`raw pg_dump failed: ${dump.stderr}`);
        const restore = await run(
          join(bin, 'pg_restore'),
          ['--no-owner', '--no-privileges', '--exit-on-error', ...pgArgs(to), '-d', db, file],
          { env: env(to) },
        );
        if (restore.code !== 0) throw new Error(`raw pg_restore failed: ${restore.stderr}`);
        return db;
      })();
      references.set(key, ref);
    }
    return ref;
  };
  const lab: VersionLab = {
    clusters,
    deps,
    clients,
    capture: async (m) => {
      const database = `SRC${m}`;
      const t = await createPendingTransfer(deps, APP, 'backup', (id) => ({
        database,
        source: { type: 'database', app: APP, database },
        target: { type: 'blob', key: backupObjectKey(APP, database, 'manual', id) },
      }));
      return runIt(t);
    },
    freshTarget: async (m) => {
      const db = `t${++seq}`;
      const name = `T${seq}`;
      await cluster(m).createDatabase(db);
      await cluster(m).psql(db, UNRELATED);
      await attachClusterDatabase(deps, cluster(m), APP, name, db);
      return { name, db };
    },
    restore: async (backup, targetMajor, opts = {}) => {
      const { name, db } = opts.target ?? (await lab.freshTarget(targetMajor));
      const target = backup.target;
      if (target.type !== 'blob') throw new Error('not a backup');
      const t = await createPendingTransfer(deps, APP, 'restore', () => ({
        database: name,
        source: {
          type: 'backup',
          app: APP,
          id: backup.id,
          num: backup.num,
          key: target.key,
          sha256: backup.sha256 as string,
          bytes: backup.backupBytes as number,
        },
        target: { type: 'database', app: APP, database: name },
        parallel: opts.parallel,
      }));
      return { transfer: await runIt(t), db };
    },
    copy: async (sourceMajor, targetMajor, existing) => {
      const { name, db } = existing ?? (await lab.freshTarget(targetMajor));
      const t = await createPendingTransfer(deps, APP, 'copy', () => ({
        database: name,
        source: { type: 'database', app: APP, database: `SRC${sourceMajor}` },
        target: { type: 'database', app: APP, database: name },
      }));
      return { transfer: await runIt(t), db };
    },
    compare: async (sourceMajor, targetMajor, db) => {
      const to = cluster(targetMajor);
      const target = await comparablePublicAcl(to, db, await fingerprint(to, db));
      if (sourceMajor === targetMajor) {
        return [await comparablePublicAcl(to, 'source', await fingerprint(to, 'source')), target];
      }
      const source = await fingerprint(cluster(sourceMajor), 'source', to.clientBinDir);
      const refDb = await rawReference(sourceMajor, targetMajor);
      const reference = await comparablePublicAcl(to, refDb, await fingerprint(to, refDb));
      return [
        {
          ...reference,
          tables: source.tables,
          sequences: source.sequences,
          largeObjects: source.largeObjects,
        },
        target,
      ];
    },
    fingerprintOf: (major, db) => fingerprint(cluster(major), db),
    readBack: async (backup, clientMajor, serverMajor) => {
      const bin = exactClientBinDir(clientMajor);
      if (!bin) throw new Error(`No PostgreSQL ${clientMajor} client here`);
      const target = backup.target;
      if (target.type !== 'blob') throw new Error('not a backup');
      const file = join(work, `${backup.id}.dump`);
      const chunks: Buffer[] = [];
      for await (const c of await deps.blobs.download(target.key)) chunks.push(c as Buffer);
      await writeFile(file, Buffer.concat(chunks));
      const c = cluster(serverMajor);
      const db = `rb${++seq}`;
      await c.createDatabase(db);
      const r = await run(
        join(bin, 'pg_restore'),
        [
          '--no-owner',
          '--exit-on-error',
          '--single-transaction',
          '-h',
          '127.0.0.1',
          '-p',
          String(c.port),
        ].concat(['-U', 'postgres', '-d', db, file]),
        { env: { ...withoutPgEnv(process.env), PGPASSWORD: c.password } },
      );
      if (r.code !== 0) throw new Error(`pg_restore ${clientMajor} failed: ${r.stderr.trim()}`);
      return db;
    },
    stop: async () => {
      await Promise.all([...clusters.values()].map((c) => c.stop()));
      await s3.stop();
      await rm(work, { recursive: true, force: true });
    },
  };
  return lab;
}
