/**
 * Restoring again over an earlier restore (a nightly staging refresh), on a real throwaway cluster and s3rver:
 * the wipe removes everything a dump can recreate, so a source using every object class pg_dump emits restores
 * over itself again and again — atomically, with --parallel, and by copy — also as a non-superuser owner; a
 * --parallel restore whose last step fails leaves nothing that guards data missing; kept extensions; and a
 * transaction too big for the server's lock table is refused before anything is touched.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localS3Client, S3BlobStore } from '../../src/adapters/aws/s3-blob-store.js';
import { backupObjectKey } from '../../src/core/object-keys.js';
import type { Transfer } from '../../src/core/transfer.js';
import { runTransfer } from '../../src/worker/run-transfer.js';
import { fingerprint } from '../helpers/db-fingerprint.js';
import { type PgCluster, startCluster } from '../helpers/pg-cluster.js';
import { type LocalS3, startS3rver } from '../helpers/s3rver.js';
import {
  attachClusterDatabase,
  createPendingTransfer,
  type TestWorkerDeps,
  workerDeps,
} from '../helpers/worker-deps.js';

const APP = 'again-app';
const OWNER = { user: 'app_owner', password: 'owner-pw-123' };

/** Every object class pg_dump emits outside a schema, and the usual ones inside (superuser-only ones included). */
const EVERY_CLASS = `CREATE SCHEMA app;
  CREATE TABLE app.t (id int PRIMARY KEY, owner text, v text);
  INSERT INTO app.t SELECT i, 'role' || i % 3, md5(i::text) FROM generate_series(1, 500) i;
  ALTER TABLE app.t ENABLE ROW LEVEL SECURITY;
  CREATE POLICY own ON app.t USING (owner = current_user);
  CREATE INDEX t_v ON app.t (v);
  COMMENT ON INDEX app.t_v IS 'an index comment';
  CREATE FUNCTION app.trg() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$;
  CREATE TRIGGER t_trg BEFORE INSERT ON app.t FOR EACH ROW EXECUTE FUNCTION app.trg();
  CREATE PUBLICATION pub FOR TABLE app.t;
  CREATE TYPE app.mood AS ENUM ('a', 'b');
  CREATE FUNCTION app.mood_int(app.mood) RETURNS int LANGUAGE sql AS 'SELECT 1';
  CREATE CAST (app.mood AS int) WITH FUNCTION app.mood_int(app.mood);
  CREATE FUNCTION app.mood_from(internal) RETURNS internal LANGUAGE internal IMMUTABLE STRICT AS 'int4recv';
  CREATE FUNCTION app.mood_to(internal) RETURNS app.mood LANGUAGE internal IMMUTABLE STRICT AS 'int4recv';
  CREATE TRANSFORM FOR app.mood LANGUAGE plpgsql
    (FROM SQL WITH FUNCTION app.mood_from(internal), TO SQL WITH FUNCTION app.mood_to(internal));
  CREATE FUNCTION app.lang_handler() RETURNS language_handler LANGUAGE c
    AS '$libdir/plpgsql', 'plpgsql_call_handler';
  CREATE LANGUAGE mylang HANDLER app.lang_handler;
  CREATE FUNCTION public.evt() RETURNS event_trigger LANGUAGE plpgsql AS $$BEGIN END$$;
  CREATE EVENT TRIGGER evt ON ddl_command_end EXECUTE FUNCTION public.evt();
  CREATE FOREIGN DATA WRAPPER fdw;
  CREATE SERVER srv FOREIGN DATA WRAPPER fdw;
  CREATE USER MAPPING FOR postgres SERVER srv;
  CREATE ACCESS METHOD myheap TYPE TABLE HANDLER heap_tableam_handler;
  CREATE SUBSCRIPTION sub CONNECTION 'host=127.0.0.1 dbname=nowhere' PUBLICATION pub WITH (connect = false);
  CREATE EXTENSION hstore;
  CREATE SCHEMA ext;
  CREATE EXTENSION pgcrypto WITH SCHEMA ext;
  SELECT lo_from_bytea(0, 'a large object');`;

/** What a non-superuser owner can own: run as that role (SET ROLE), so it owns every object. */
const OWNED = `SET ROLE ${OWNER.user};
  CREATE TABLE accounts (id int PRIMARY KEY, owner text, secret text);
  INSERT INTO accounts SELECT i, 'r' || i % 2, md5(i::text) FROM generate_series(1, 200) i;
  ALTER TABLE accounts ENABLE ROW LEVEL SECURITY;
  CREATE POLICY mine ON accounts USING (owner = current_user);
  CREATE PUBLICATION owned_pub FOR TABLE accounts;
  CREATE TYPE level AS ENUM ('low', 'high');
  CREATE FUNCTION level_int(level) RETURNS int LANGUAGE sql AS 'SELECT 1';
  CREATE CAST (level AS int) WITH FUNCTION level_int(level);
  CREATE EXTENSION hstore;
  CREATE SCHEMA ext;
  CREATE EXTENSION pgcrypto WITH SCHEMA ext;
  SELECT lo_from_bytea(0, 'owned large object');`;

let cluster: PgCluster;
let s3: LocalS3;
let deps: TestWorkerDeps<S3BlobStore>;
let downloads: string;
const savedTmp = process.env.PGBACKUPS_TMPDIR;

beforeAll(async () => {
  [cluster, s3] = await Promise.all([startCluster(), startS3rver()]);
  downloads = await mkdtemp(join(tmpdir(), 'pgbackups-again-test-'));
  process.env.PGBACKUPS_TMPDIR = downloads;
  deps = workerDeps(new S3BlobStore({ client: localS3Client(s3.endpoint), bucket: s3.bucket }));
  await cluster.psql('postgres', `CREATE ROLE ${OWNER.user} LOGIN PASSWORD '${OWNER.password}'`);
  for (const db of ['every', 'again', 'copy_again']) {
    await cluster.createDatabase(db);
    await attachClusterDatabase(deps, cluster, APP, db.toUpperCase(), db);
  }
  await cluster.psql('every', EVERY_CLASS);
});

afterAll(async () => {
  if (savedTmp === undefined) delete process.env.PGBACKUPS_TMPDIR;
  else process.env.PGBACKUPS_TMPDIR = savedTmp;
  await Promise.all([cluster?.stop(), s3?.stop()]);
  if (downloads) await rm(downloads, { recursive: true, force: true });
});

async function run(t: Transfer): Promise<Transfer> {
  await runTransfer(deps, t, new AbortController().signal, { progressIntervalMs: 200 });
  return (await deps.catalog.getTransfer(APP, t.num, { logs: true }))!;
}

async function backupOf(database: string): Promise<Transfer> {
  const b = await run(
    await createPendingTransfer(deps, APP, 'backup', (id) => ({
      database,
      source: { type: 'database', app: APP, database },
      target: { type: 'blob', key: backupObjectKey(APP, database, 'manual', id) },
    })),
  );
  expect(b.status, b.error).toBe('completed');
  return b;
}

function restore(backup: Transfer, into: string, extra: Partial<Transfer> = {}): Promise<Transfer> {
  const key = (backup.target as { key: string }).key;
  return createPendingTransfer(deps, APP, 'restore', () => ({
    database: into,
    source: {
      type: 'backup',
      app: APP,
      id: backup.id,
      num: backup.num,
      key,
      sha256: backup.sha256!,
      bytes: backup.backupBytes!,
    },
    target: { type: 'database', app: APP, database: into },
    ...extra,
  }));
}

const copy = (from: string, to: string) =>
  createPendingTransfer(deps, APP, 'copy', () => ({
    database: to,
    source: { type: 'database', app: APP, database: from },
    target: { type: 'database', app: APP, database: to },
  }));

const messages = (t: Transfer) => (t.logs ?? []).map((l) => l.message);

/** Indexes and constraints, by name. */
const postDataOf = (db: string) =>
  cluster.psql(
    db,
    `SELECT indexname FROM pg_indexes WHERE schemaname = 'public'
     UNION ALL SELECT conname FROM pg_constraint WHERE connamespace = 'public'::regnamespace ORDER BY 1`,
  );

describe('restoring again over an earlier restore', () => {
  let every: Transfer;

  beforeAll(async () => {
    every = await backupOf('EVERY');
  });

  it('restores a source using every object class over itself three times: atomic, parallel, and by copy', async () => {
    const source = await fingerprint(cluster, 'every');
    // The fingerprint's schema dump (as a superuser) holds every class, so equality covers them all.
    for (const what of [
      'PUBLICATION pub',
      'SUBSCRIPTION sub',
      'EVENT TRIGGER evt',
      'SERVER srv',
      'CAST (app.mood',
    ]) {
      expect(source.schema).toContain(`CREATE ${what}`);
    }
    for (const parallel of [undefined, 2]) {
      for (let i = 1; i <= 3; i++) {
        const done = await run(await restore(every, 'AGAIN', parallel ? { parallel } : {}));
        expect(done.status, `${parallel ? 'parallel' : 'atomic'} restore ${i}: ${done.error}`).toBe(
          'completed',
        );
        expect(await fingerprint(cluster, 'again')).toEqual(source);
      }
    }
    for (let i = 1; i <= 3; i++) {
      const done = await run(await copy('EVERY', 'COPY_AGAIN'));
      expect(done.status, `copy ${i}: ${done.error}`).toBe('completed');
      expect(await fingerprint(cluster, 'copy_again')).toEqual(source);
    }
    // Also over a database that was restored from something else in between.
    const done = await run(await copy('EVERY', 'AGAIN'));
    expect(done.status, done.error).toBe('completed');
    expect(await readdir(downloads)).toEqual([]);
  });

  it('pre-installs --extensions schema.name even when the dump creates that schema itself', async () => {
    const done = await run(await restore(every, 'AGAIN', { extensions: ['ext.pgcrypto', 'hstore'] }));
    expect(done.status, done.error).toBe('completed');
    expect(messages(done).find((m) => m.startsWith("read the archive's table of contents"))).toMatch(
      /skipping SCHEMA - ext$/,
    );
    expect(await fingerprint(cluster, 'again')).toEqual(await fingerprint(cluster, 'every'));
  });

  it('with --parallel, a failed last step leaves row-level security, policies and triggers in place, lists what is missing, and --finish builds it after a restart', async () => {
    await cluster.createDatabase('orphans');
    await cluster.psql(
      'orphans',
      `CREATE TABLE accounts (id int PRIMARY KEY, owner text);
       ALTER TABLE accounts ENABLE ROW LEVEL SECURITY;
       CREATE POLICY mine ON accounts USING (owner = current_user);
       CREATE FUNCTION stamp() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$;
       CREATE TRIGGER stamp BEFORE INSERT ON accounts FOR EACH ROW EXECUTE FUNCTION stamp();
       CREATE TABLE orders (id int PRIMARY KEY, account_id int REFERENCES accounts (id));
       CREATE INDEX orders_account ON orders (account_id);
       INSERT INTO accounts VALUES (1, 'a');
       SET session_replication_role = replica;
       INSERT INTO orders VALUES (1, 4242);`,
    );
    await attachClusterDatabase(deps, cluster, APP, 'ORPHANS', 'orphans');
    const orphans = await backupOf('ORPHANS');
    const done = await run(await restore(orphans, 'AGAIN', { parallel: 2 }));
    expect(done.status).toBe('failed');
    expect(done.error).toMatch(
      /violates foreign key constraint "orders_account_id_fkey".*only partially restored.*\(1 of 4 missing: FK CONSTRAINT public orders orders_account_id_fkey\)\. Once the cause is fixed, build them with: pgbackups restore --finish r\d+ -a again-app$/,
    );
    expect(
      await cluster.psql(
        'again',
        `SELECT relrowsecurity FROM pg_class WHERE relname = 'accounts';
         SELECT count(*) FROM pg_policy WHERE polname = 'mine';
         SELECT count(*) FROM pg_trigger WHERE tgname = 'stamp';
         SELECT count(*) FROM pg_indexes WHERE indexname IN ('orders_account', 'accounts_pkey', 'orders_pkey')`,
      ),
    ).toBe('t\n1\n1\n3\n');
    expect(await readdir(downloads)).toEqual([]);

    // The cause fixed in the target, and the server restarted meanwhile: --finish builds only what is missing.
    await cluster.psql('again', 'DELETE FROM orders WHERE account_id = 4242');
    await cluster.restart();
    const key = (orphans.target as { key: string }).key;
    const finish = await createPendingTransfer(deps, APP, 'restore', () => ({
      database: 'AGAIN',
      // As restoreBackup({ finish }) records it: the bytes the failed restore read.
      source: {
        type: 'backup',
        app: APP,
        id: orphans.id,
        num: orphans.num,
        key,
        sha256: done.sha256!,
        bytes: done.processedBytes!,
      },
      target: { type: 'database', app: APP, database: 'AGAIN' },
      parallel: 2,
      finishOf: { id: done.id, num: done.num },
    }));
    const finished = await run(finish);
    expect(finished.status, finished.error).toBe('completed');
    expect(messages(finished)).toEqual(
      expect.arrayContaining([
        `finishing ${done.id}: building its indexes and constraints again`,
        'checksum verified',
      ]),
    );
    expect(messages(finished).join('\n')).not.toMatch(/wipe|waiting for pg_restore to complete\n.*COMMIT/);
    expect(
      await cluster.psql(
        'again',
        `SELECT count(*) FROM pg_constraint WHERE conname = 'orders_account_id_fkey';
         SELECT count(*) FROM accounts; SELECT relrowsecurity FROM pg_class WHERE relname = 'accounts'`,
      ),
    ).toBe('1\n1\nt\n');
    expect(await postDataOf('again')).toEqual(await postDataOf('orphans'));
    expect(await readdir(downloads)).toEqual([]);
  });
});

describe('as the target database owner, without superuser', () => {
  beforeAll(async () => {
    for (const db of ['owned_src', 'owned_tgt', 'kept_src', 'kept_tgt']) {
      await cluster.psql('postgres', `CREATE DATABASE ${db} OWNER ${OWNER.user}`);
      await attachClusterDatabase(deps, cluster, APP, db.toUpperCase(), db, OWNER);
    }
    await cluster.psql('owned_src', OWNED);
    // An administrator installed an extension only a superuser can create, in both.
    for (const db of ['kept_src', 'kept_tgt']) {
      await cluster.psql(db, `CREATE EXTENSION postgres_fdw; GRANT CREATE ON SCHEMA public TO ${OWNER.user}`);
    }
    await cluster.psql(
      'kept_src',
      `SET ROLE ${OWNER.user}; CREATE TABLE notes (id int PRIMARY KEY, body text);
      INSERT INTO notes SELECT i, 'note ' || i FROM generate_series(1, 50) i;`,
    );
  });

  it('restores over itself three times, and once with --parallel', async () => {
    const backup = await backupOf('OWNED_SRC');
    const source = await fingerprint(cluster, 'owned_src');
    for (const parallel of [undefined, undefined, undefined, 2]) {
      const done = await run(await restore(backup, 'OWNED_TGT', parallel ? { parallel } : {}));
      expect(done.status, done.error).toBe('completed');
      expect(await fingerprint(cluster, 'owned_tgt')).toEqual(source);
    }
    expect(await cluster.psql('owned_tgt', 'SELECT pubowner::regrole FROM pg_publication')).toBe(
      `${OWNER.user}\n`,
    );
  });

  it('keeps an extension only a superuser can create, and names that option when it is missing', async () => {
    const backup = await backupOf('KEPT_SRC');
    const before = await fingerprint(cluster, 'kept_tgt');
    const refused = await run(await restore(backup, 'KEPT_TGT'));
    expect(refused.status).toBe('failed');
    expect(refused.error).toMatch(/must be owner of extension postgres_fdw.*--keep-extensions postgres_fdw/);
    expect(await fingerprint(cluster, 'kept_tgt')).toEqual(before);

    const done = await run(await restore(backup, 'KEPT_TGT', { keepExtensions: ['postgres_fdw'] }));
    expect(done.status, done.error).toBe('completed');
    expect(messages(done).find((m) => m.startsWith("read the archive's table of contents"))).toMatch(
      /skipping EXTENSION - postgres_fdw, COMMENT - EXTENSION "postgres_fdw"$/,
    );
    expect(await fingerprint(cluster, 'kept_tgt')).toEqual(await fingerprint(cluster, 'kept_src'));
    expect(
      await cluster.psql(
        'kept_tgt',
        "SELECT extowner::regrole FROM pg_extension WHERE extname = 'postgres_fdw'",
      ),
    ).toBe('postgres\n');
  });
});

describe("the server's lock table", () => {
  it('refuses, before touching anything, a restore that cannot fit in one transaction; fits once the setting is raised', async () => {
    await cluster.createDatabase('tenants');
    await cluster.psql(
      'tenants',
      `DO $$BEGIN FOR i IN 1..30 LOOP
         EXECUTE format('CREATE SCHEMA tenant%s', i);
         FOR j IN 1..3 LOOP
           EXECUTE format('CREATE TABLE tenant%s.t%s (id serial PRIMARY KEY, body text, n int CHECK (n > 0))', i, j);
         END LOOP;
       END LOOP; END$$;`,
    );
    await attachClusterDatabase(deps, cluster, APP, 'TENANTS', 'tenants');
    const backup = await backupOf('TENANTS');
    await cluster.psql('postgres', 'ALTER SYSTEM SET max_locks_per_transaction = 10');
    await cluster.restart();
    try {
      const before = await fingerprint(cluster, 'tenants');
      const refused = await run(await restore(backup, 'TENANTS'));
      expect(refused.status).toBe('failed');
      expect(refused.error).toMatch(
        /^The restore needs about \d+ locks in one transaction .* max_locks_per_transaction \(10\) × \(max_connections \(40\) \+ max_prepared_transactions \(0\)\) = 400\. Set max_locks_per_transaction to at least \d+ \(a server restart\), or restore without one transaction, not atomically: .*; the target database was left unchanged$/,
      );
      expect(messages(refused)).not.toContain('waiting for pg_restore to complete');
      expect(await fingerprint(cluster, 'tenants')).toEqual(before);
    } finally {
      await cluster.psql('postgres', 'ALTER SYSTEM RESET max_locks_per_transaction');
      await cluster.restart();
    }
    const done = await run(await restore(backup, 'TENANTS'));
    expect(done.status, done.error).toBe('completed');
  });
});
