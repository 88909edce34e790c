/**
 * The SQL psql runs before a restore script, inside the restore's single transaction: empty the target (as
 * Heroku's "restore deletes all data" promises) and pre-install the requested extensions. Being in the same
 * transaction as the script, a failed or rolled-back restore also undoes the wipe.
 */
import { parseExtensionTargets } from '../core/extensions.js';

const quoteIdent = (name: string) => `"${name.replaceAll('"', '""')}"`;

/**
 * Whether an object belongs to an extension (pg_depend deptype 'e'): it goes, or stays, with its extension.
 * A temporary function, so the wipe's loops stay readable; dropped again at the end of the wipe.
 */
const MEMBER_FUNCTION = `CREATE FUNCTION pg_temp.pgbackups_member(catalog regclass, object oid) RETURNS boolean
  LANGUAGE sql STABLE AS $$SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
    WHERE d.classid = catalog AND d.objid = object AND d.deptype = 'e')$$;`;

/**
 * The wipe, as PL/pgSQL. Everything pg_dump can emit (src/bin/pg_dump/pg_dump.c) goes: first what lives outside
 * any schema — subscriptions, publications, event triggers, foreign servers (with their user mappings) and
 * wrappers, extensions, procedural languages — then every non-system schema, then what the schemas did not take
 * with them (casts, transforms, access methods) and every large object. Left alone: what initdb made (oid below
 * 16384, FirstNormalObjectId; pg_dump skips those too), extension members (they go or stay with their extension),
 * and the extensions in `kept` with their schemas — whose other objects are dropped one by one instead.
 *
 * A subscription can be dropped inside a transaction only once it no longer names a replication slot (dropping the
 * slot on the publisher could not be rolled back), hence DISABLE and slot_name = NONE first. Database-level COMMENT
 * and SECURITY LABEL are not wiped: pg_dump emits them only with --create, which a restore never uses.
 */
const WIPE_BODY = `
  SELECT coalesce(array_agg(DISTINCT e.extnamespace), '{}') INTO keptSchemas
    FROM pg_catalog.pg_extension e WHERE e.extname = ANY (kept);
  FOR r IN SELECT s.subname FROM pg_catalog.pg_subscription s
            WHERE s.subdbid = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database())
  LOOP
    EXECUTE format('ALTER SUBSCRIPTION %I DISABLE', r.subname);
    EXECUTE format('ALTER SUBSCRIPTION %I SET (slot_name = NONE)', r.subname);
    EXECUTE format('DROP SUBSCRIPTION %I', r.subname);
  END LOOP;
  FOR r IN SELECT pubname FROM pg_catalog.pg_publication LOOP
    EXECUTE format('DROP PUBLICATION %I', r.pubname);
  END LOOP;
  FOR r IN SELECT o.evtname AS name FROM pg_catalog.pg_event_trigger o
            WHERE NOT pg_temp.pgbackups_member('pg_event_trigger', o.oid) LOOP
    EXECUTE format('DROP EVENT TRIGGER %I', r.name);
  END LOOP;
  FOR r IN SELECT o.srvname AS name FROM pg_catalog.pg_foreign_server o
            WHERE NOT pg_temp.pgbackups_member('pg_foreign_server', o.oid) LOOP
    EXECUTE format('DROP SERVER %I CASCADE', r.name);
  END LOOP;
  FOR r IN SELECT o.fdwname AS name FROM pg_catalog.pg_foreign_data_wrapper o
            WHERE o.oid >= 16384 AND NOT pg_temp.pgbackups_member('pg_foreign_data_wrapper', o.oid) LOOP
    EXECUTE format('DROP FOREIGN DATA WRAPPER %I CASCADE', r.name);
  END LOOP;
  FOR r IN SELECT o.extname AS name FROM pg_catalog.pg_extension o
            WHERE o.oid >= 16384 AND o.extname <> ALL (kept) LOOP
    EXECUTE format('DROP EXTENSION %I CASCADE', r.name);
  END LOOP;
  FOR r IN SELECT o.lanname AS name FROM pg_catalog.pg_language o
            WHERE o.oid >= 16384 AND NOT pg_temp.pgbackups_member('pg_language', o.oid) LOOP
    EXECUTE format('DROP LANGUAGE %I CASCADE', r.name);
  END LOOP;
  FOR r IN SELECT n.nspname FROM pg_catalog.pg_namespace n
            WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
              AND n.nspname NOT LIKE 'pg\\_temp\\_%' AND n.nspname NOT LIKE 'pg\\_toast\\_temp\\_%'
              AND n.oid <> ALL (keptSchemas)
  LOOP
    EXECUTE format('DROP SCHEMA %I CASCADE', r.nspname);
  END LOOP;
  -- In a kept extension's schema, every object that is not an extension member nor part of another object.
  FOR r IN SELECT d.classid, d.objid FROM pg_catalog.pg_depend d
            WHERE d.refclassid = 'pg_namespace'::regclass AND d.refobjid = ANY (keptSchemas) AND d.deptype = 'n'
              AND d.classid <> 'pg_extension'::regclass
              AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend x
                               WHERE x.classid = d.classid AND x.objid = d.objid AND x.deptype IN ('e', 'i', 'a'))
  LOOP
    SELECT i.type, i.identity INTO obj FROM pg_catalog.pg_identify_object(r.classid, r.objid, 0) i;
    -- Already gone with an object dropped before it (CASCADE).
    CONTINUE WHEN obj.identity IS NULL;
    EXECUTE format('DROP %s %s CASCADE', CASE obj.type
      WHEN 'function' THEN 'ROUTINE' WHEN 'procedure' THEN 'ROUTINE' WHEN 'aggregate' THEN 'ROUTINE'
      WHEN 'partitioned table' THEN 'TABLE' WHEN 'composite type' THEN 'TYPE'
      WHEN 'statistics object' THEN 'STATISTICS' ELSE upper(obj.type) END, obj.identity);
  END LOOP;
  FOR r IN SELECT format('CAST (%s AS %s)', o.castsource::regtype, o.casttarget::regtype) AS what
             FROM pg_catalog.pg_cast o
            WHERE o.oid >= 16384 AND NOT pg_temp.pgbackups_member('pg_cast', o.oid) LOOP
    EXECUTE format('DROP %s CASCADE', r.what);
  END LOOP;
  FOR r IN SELECT format('TRANSFORM FOR %s LANGUAGE %I', o.trftype::regtype, l.lanname) AS what
             FROM pg_catalog.pg_transform o JOIN pg_catalog.pg_language l ON l.oid = o.trflang
            WHERE o.oid >= 16384 AND NOT pg_temp.pgbackups_member('pg_transform', o.oid) LOOP
    EXECUTE format('DROP %s CASCADE', r.what);
  END LOOP;
  FOR r IN SELECT o.amname AS name FROM pg_catalog.pg_am o
            WHERE o.oid >= 16384 AND NOT pg_temp.pgbackups_member('pg_am', o.oid) LOOP
    EXECUTE format('DROP ACCESS METHOD %I CASCADE', r.name);
  END LOOP;
  PERFORM pg_catalog.lo_unlink(oid) FROM pg_catalog.pg_largeobject_metadata;
  -- Recreate public the way CREATE DATABASE makes it on this server version, so that a dump (which never
  -- creates public itself) lands in the same place it came from.
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = 'public') THEN
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
  END IF;`;

const sqlLiteral = (s: string) => `'${s.replaceAll("'", "''")}'`;

/** The wipe, keeping the extensions named in `keep` (checked again by src/core/extensions.ts). */
export function wipeSql(keep: readonly string[] = []): string {
  const kept = `ARRAY[${keep.map(sqlLiteral).join(', ')}]::name[]`;
  return `${MEMBER_FUNCTION}
DO $pgbackups_wipe$
DECLARE
  r record;
  obj record;
  kept name[] := ${kept};
  keptSchemas oid[];
BEGIN${WIPE_BODY}
END
$pgbackups_wipe$;
DROP FUNCTION pg_temp.pgbackups_member(regclass, oid);`;
}

/**
 * Everything psql receives before the script. `lockTimeout` bounds how long the wipe waits for sessions using the
 * target to release their locks (the script's own header then resets lock_timeout to 0). `keep`: extensions
 * installed in the target that survive the wipe (for those only a superuser can create).
 */
export function restorePrelude(opts: {
  extensions?: readonly string[];
  keep?: readonly string[];
  lockTimeout: string;
}): string {
  const keep = parseExtensionTargets(opts.keep).map((e) => e.name);
  const extensions = parseExtensionTargets(opts.extensions).map(({ schema, name }) =>
    schema
      ? `CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)};\nCREATE EXTENSION IF NOT EXISTS ${quoteIdent(name)} WITH SCHEMA ${quoteIdent(schema)};`
      : `CREATE EXTENSION IF NOT EXISTS ${quoteIdent(name)};`,
  );
  return [
    'BEGIN;',
    "SET client_min_messages = 'warning';",
    `SET lock_timeout = ${sqlLiteral(opts.lockTimeout)};`,
    wipeSql(keep),
    ...extensions,
    '',
  ].join('\n');
}

/**
 * A failure to create (or, in the wipe, to drop) an extension only a superuser may create names the way through:
 * keep the one an administrator installed in the target.
 */
export function explainRestoreFailure(e: unknown): unknown {
  if (!(e instanceof Error)) return e;
  // The dump cannot create it, or the wipe cannot drop the one an administrator installed.
  const denied = /permission denied to create extension "([^"]+)"|must be owner of extension ([\w-]+)/.exec(
    e.message,
  );
  const name = denied?.[1] ?? denied?.[2];
  if (!name) return e;
  return new Error(
    `${e.message}. If an administrator installed ${name} in the target, keep it: pgbackups restore or copy ` +
      `with --keep-extensions ${name} (API: keepExtensions)`,
  );
}
