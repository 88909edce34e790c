/**
 * Benchmark databases on the throwaway cluster:
 * - a "realistic" table like the (md5 text, jsonb, timestamps, ints; primary key and one index), filled
 *   until its heap reaches the requested size;
 * - pgbench's tables (very compressible: blank-padded fillers), at a given scale.
 * Both are VACUUM FREEZE ANALYZEd so the first timed read does not set hint bits (writes) that later ones skip.
 */
import { join } from 'node:path';
import type { PgCluster } from '../../test/helpers/pg-cluster.js';
import { findPgBinDir, run } from '../../test/helpers/pg-cluster.js';

const CREATE = `CREATE TABLE public.events (
  id bigint NOT NULL,
  account_id integer NOT NULL,
  kind smallint NOT NULL,
  amount_cents bigint,
  created_at timestamptz NOT NULL,
  updated_at timestamptz,
  user_hash text NOT NULL,
  session_hash text,
  payload jsonb NOT NULL
);`;

const insert = (from: number, to: number) => `INSERT INTO public.events
SELECT i,
       (hashint8(i) & 65535)::int,
       (i % 7)::smallint,
       CASE WHEN i % 5 = 0 THEN NULL ELSE (hashint8(i) % 1000000) END,
       timestamptz '2020-01-01 00:00:00+00' + i * interval '7 seconds',
       CASE WHEN i % 3 = 0 THEN NULL ELSE timestamptz '2020-01-01 00:00:00+00' + i * interval '9 seconds' END,
       md5(i::text),
       md5((i * 7919)::text || 'session'),
       jsonb_build_object(
         'user', md5((i % 100000)::text),
         'plan', (ARRAY['free','hobby','standard','premium'])[1 + i % 4],
         'n', i % 1000,
         'score', round((hashint8(i * 3) % 100000) / 1000.0, 3),
         'tags', jsonb_build_array('t' || (i % 13), 't' || (i % 29)),
         'ok', i % 2 = 0)
  FROM generate_series(${from}::bigint, ${to}::bigint) AS i;`;

/** Builds the realistic database `db` with a heap of about `sizeMb` MB; returns its total size in bytes. */
export async function buildRealistic(cluster: PgCluster, db: string, sizeMb: number): Promise<number> {
  await cluster.createDatabase(db);
  await cluster.psql(db, CREATE);
  const probe = 100_000;
  await cluster.psql(db, insert(1, probe));
  const heap = Number(await cluster.psql(db, "SELECT pg_table_size('public.events')"));
  const rows = Math.max(probe, Math.round((sizeMb * 1e6 * probe) / heap));
  const batch = 1_000_000;
  for (let from = probe + 1; from <= rows; from += batch) {
    await cluster.psql(db, insert(from, Math.min(rows, from + batch - 1)));
  }
  await cluster.psql(
    db,
    `ALTER TABLE public.events ADD PRIMARY KEY (id);
     CREATE INDEX events_account_created ON public.events (account_id, created_at);
     VACUUM (FREEZE, ANALYZE) public.events;`,
  );
  return Number(await cluster.psql(db, 'SELECT pg_database_size(current_database())'));
}

/** pgbench -i at `scale` (about 15 MB per unit); returns the database size in bytes. */
export async function buildPgbench(cluster: PgCluster, db: string, scale: number): Promise<number> {
  await cluster.createDatabase(db);
  const r = await run(
    join(await findPgBinDir(), 'pgbench'),
    ['-i', '-q', '-s', String(scale), '-h', '127.0.0.1', '-p', String(cluster.port), '-U', 'postgres', db],
    { env: { PATH: process.env.PATH, PGPASSWORD: cluster.password } },
  );
  if (r.code !== 0) throw new Error(`pgbench -i failed: ${r.stderr}`);
  await cluster.psql(db, 'VACUUM (FREEZE, ANALYZE);');
  return Number(await cluster.psql(db, 'SELECT pg_database_size(current_database())'));
}

export async function rowCount(cluster: PgCluster, db: string, table: string): Promise<number> {
  return Number(await cluster.psql(db, `SELECT count(*) FROM ${table}`));
}
