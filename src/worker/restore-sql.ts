/**
 * The SQL psql runs before a restore script, inside the restore's single transaction: empty the target (as
 * Heroku's "restore deletes all data" promises) and pre-install the requested extensions. Being in the same
 * transaction as the script, a failed or rolled-back restore also undoes the wipe.
 */

const IDENT = /^[A-Za-z_][A-Za-z0-9_$-]{0,62}$/;

const quoteIdent = (name: string) => `"${name.replaceAll('"', '""')}"`;

/**
 * Parses `--extensions` entries: `name` or `schema.name`. Strict on purpose — the names are spliced into SQL fed
 * to psql, where a stray backslash could start a meta-command.
 */
export function parseExtensions(list: readonly string[] = []): { schema?: string; name: string }[] {
  return list.map((entry) => {
    const parts = entry.trim().split('.');
    if (parts.length > 2 || parts.some((p) => !IDENT.test(p))) {
      throw new Error(`Invalid extension ${JSON.stringify(entry).slice(0, 80)}: use name or schema.name`);
    }
    const [a, b] = parts as [string, string | undefined];
    return b === undefined ? { name: a } : { schema: a, name: b };
  });
}

/**
 * Drops every non-system schema (CASCADE takes the extensions living in them), unlinks every large object and
 * recreates `public` the way CREATE DATABASE makes it on this server version, so that a dump — which never
 * creates `public` itself — lands in the same place it came from.
 */
const WIPE = `DO $pgbackups_wipe$
DECLARE
  r record;
BEGIN
  FOR r IN
    SELECT nspname FROM pg_catalog.pg_namespace
     WHERE nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
       AND nspname NOT LIKE 'pg\\_temp\\_%' AND nspname NOT LIKE 'pg\\_toast\\_temp\\_%'
  LOOP
    EXECUTE format('DROP SCHEMA %I CASCADE', r.nspname);
  END LOOP;
  PERFORM pg_catalog.lo_unlink(oid) FROM pg_catalog.pg_largeobject_metadata;
  IF current_setting('server_version_num')::int >= 150000 THEN
    BEGIN
      -- PostgreSQL 15+ gives public to pg_database_owner; only the database owner (or a superuser) may do the same.
      EXECUTE 'CREATE SCHEMA public AUTHORIZATION pg_database_owner';
    EXCEPTION WHEN insufficient_privilege THEN
      EXECUTE 'CREATE SCHEMA public';
    END;
  ELSE
    -- 13 and 14 give it to the bootstrap superuser: the restoring user, when that is postgres.
    EXECUTE 'CREATE SCHEMA public';
  END IF;
  EXECUTE 'COMMENT ON SCHEMA public IS ''standard public schema''';
  IF current_setting('server_version_num')::int >= 150000 THEN
    EXECUTE 'GRANT USAGE ON SCHEMA public TO PUBLIC';
  ELSE
    EXECUTE 'GRANT ALL ON SCHEMA public TO PUBLIC';
  END IF;
END
$pgbackups_wipe$;`;

/**
 * Everything psql receives before the script. `lockTimeout` bounds how long the wipe waits for sessions using the
 * target to release their locks (the script's own header then resets lock_timeout to 0).
 */
export function restorePrelude(opts: { extensions?: readonly string[]; lockTimeout: string }): string {
  const extensions = parseExtensions(opts.extensions).map(({ schema, name }) =>
    schema
      ? `CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)};\nCREATE EXTENSION IF NOT EXISTS ${quoteIdent(name)} WITH SCHEMA ${quoteIdent(schema)};`
      : `CREATE EXTENSION IF NOT EXISTS ${quoteIdent(name)};`,
  );
  return [
    'BEGIN;',
    "SET client_min_messages = 'warning';",
    `SET lock_timeout = '${opts.lockTimeout.replaceAll("'", "''")}';`,
    WIPE,
    ...extensions,
    '',
  ].join('\n');
}
