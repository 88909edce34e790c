/**
 * A comparable summary of a database's content, so a test can assert that a restore or copy reproduced the
 * source exactly: `expect(await fingerprint(c, 'b')).toEqual(await fingerprint(c, 'a'))`.
 */
import { join } from 'node:path';
import { type PgCluster, run, withoutPgEnv } from './pg-cluster.js';

export interface DbFingerprint {
  /** `pg_dump --schema-only` without comment lines, `\restrict` keys and blank-line noise. */
  readonly schema: string;
  /** `schema.table` → `rows:md5` of the table's rows as text, sorted (tables, partitions, materialized views). */
  readonly tables: Record<string, string>;
  /** `schema.sequence` → `last_value/is_called`. */
  readonly sequences: Record<string, string>;
  /** Large object oid → md5 of its content. */
  readonly largeObjects: Record<string, string>;
}

const SYSTEM_SCHEMAS = `n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
  AND n.nspname NOT LIKE 'pg\\_temp\\_%' AND n.nspname NOT LIKE 'pg\\_toast\\_temp\\_%'`;

/** Removes what differs between two dumps of identical databases: comments, `\restrict` keys, blank runs. */
export function normaliseSchemaDump(text: string): string {
  return text
    .split('\n')
    .filter((line) => !line.startsWith('--') && !/^\\(un)?restrict\b/.test(line))
    .join('\n')
    .replace(/\n{2,}/g, '\n')
    .trim();
}

/**
 * `clientBinDir`: the pg_dump that writes the schema part; comparing databases on servers of two majors needs the
 * same one for both (at least the newer major). @default the cluster's own client
 */
export async function fingerprint(
  cluster: PgCluster,
  db: string,
  clientBinDir = cluster.clientBinDir,
): Promise<DbFingerprint> {
  const dump = await run(
    join(clientBinDir, 'pg_dump'),
    ['--schema-only', '-h', '127.0.0.1', '-p', String(cluster.port), '-U', 'postgres', '-d', db],
    { env: { ...withoutPgEnv(process.env), PGPASSWORD: cluster.password } },
  );
  if (dump.code !== 0) throw new Error(`pg_dump --schema-only ${db} failed: ${dump.stderr.trim()}`);

  const relations = rows(
    await cluster.psql(
      db,
      `SELECT format('%I.%I', n.nspname, c.relname), c.relkind FROM pg_class c
         JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'm', 'S') AND ${SYSTEM_SCHEMAS}
        ORDER BY 1`,
    ),
  );
  const tables = relations.filter(([, kind]) => kind !== 'S').map(([name]) => name as string);
  const sequences = relations.filter(([, kind]) => kind === 'S').map(([name]) => name as string);

  const literal = (s: string) => `'${s.replaceAll("'", "''")}'`;
  const tableRows = tables.length
    ? rows(
        await cluster.psql(
          db,
          tables
            .map(
              (t) =>
                `SELECT ${literal(t)}, count(*) || ':' || md5(coalesce(string_agg(x::text, E'\\n' ORDER BY x::text), '')) FROM ${t} x`,
            )
            .join('\nUNION ALL\n'),
        ),
      )
    : [];
  const sequenceRows = sequences.length
    ? rows(
        await cluster.psql(
          db,
          sequences
            .map((s) => `SELECT ${literal(s)}, last_value || '/' || is_called FROM ${s}`)
            .join('\nUNION ALL\n'),
        ),
      )
    : [];
  const loRows = rows(
    await cluster.psql(db, 'SELECT oid, md5(lo_get(oid)) FROM pg_largeobject_metadata ORDER BY oid'),
  );

  return {
    schema: normaliseSchemaDump(dump.stdout),
    tables: Object.fromEntries(tableRows),
    sequences: Object.fromEntries(sequenceRows),
    largeObjects: Object.fromEntries(loRows),
  };
}

/** psql -At output split into rows of `|`-separated fields (names here never contain a newline or `|`). */
function rows(out: string): [string, string][] {
  return out
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => {
      const i = l.lastIndexOf('|');
      return [l.slice(0, i), l.slice(i + 1)];
    });
}
