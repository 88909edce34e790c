/**
 * Connection URL → libpq environment variables for pg_dump, pg_restore and psql. Credentials reach the child only
 * through its environment: never argv (visible in `ps` and /proc), never a log line or error message.
 */

import { LIBPQ_URL_PARAMS as QUERY_PARAMS, refusedParameter } from '../core/connection-url.js';
import type { DatabaseHostGuard } from '../core/ports.js';

/** Every child of the worker identifies itself in `pg_stat_activity` under this name. */
export const APPLICATION_NAME = 'pgbackups';

/** Seconds libpq waits for a connection when the URL does not say; a dead host must not hang a worker. */
const DEFAULT_CONNECT_TIMEOUT = '30';

/**
 * Parses a `postgres://` or `postgresql://` URL into libpq variables. Errors never include the URL: it holds the
 * password.
 */
export function libpqEnv(url: string): Record<string, string> {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error('The database URL is not a valid postgres:// URL');
  }
  if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:') {
    throw new Error(`The database URL must start with postgres:// (got ${u.protocol}//)`);
  }
  const env: Record<string, string> = {};
  // Non-special schemes keep the host percent-encoded (a unix socket directory is written %2Fvar%2Frun…).
  const host = decodeURIComponent(u.hostname).replace(/^\[(.*)\]$/, '$1');
  if (host) env.PGHOST = host;
  if (u.port) env.PGPORT = u.port;
  if (u.username) env.PGUSER = decodeURIComponent(u.username);
  if (u.password) env.PGPASSWORD = decodeURIComponent(u.password);
  const db = decodeURIComponent(u.pathname.replace(/^\//, ''));
  if (db) env.PGDATABASE = db;
  for (const [name, value] of u.searchParams) {
    const variable = QUERY_PARAMS[name];
    if (variable === undefined)
      throw new Error(`Unsupported parameter ${JSON.stringify(name)} in the database URL`);
    // Attached before the API refused these, or written to the secret store by hand: refused here too.
    const refused = refusedParameter(name, value);
    if (refused) throw new Error(`The database URL is refused: ${refused}`);
    if (variable) env[variable] = value;
  }
  env.PGCONNECT_TIMEOUT ??= DEFAULT_CONNECT_TIMEOUT;
  env.PGAPPNAME = APPLICATION_NAME;
  return env;
}

/**
 * {@link libpqEnv} after the database-host guard: the host is resolved and checked now, at connect time, and the
 * vetted address is handed to libpq as `PGHOSTADDR` — libpq then connects there without resolving `PGHOST` again
 * (which still serves TLS verification and SNI), so a DNS change after the check cannot move the connection.
 */
export async function vettedLibpqEnv(url: string, guard: DatabaseHostGuard): Promise<Record<string, string>> {
  const env = libpqEnv(url);
  const address = await guard.vet({ host: env.PGHOST, hostaddr: env.PGHOSTADDR });
  if (address !== undefined) env.PGHOSTADDR = address;
  return env;
}

/**
 * A database name as a libpq `dbname` argument (`-d`, `--dbname`): programs pass it with expand_dbname, so a bare
 * name holding `=` (or starting `postgres://`) would be read as a connection string — `dbname=other` would go
 * to another database, and `passfile=`/`service=` could ride along. Written as a quoted conninfo value it can
 * only ever be a name; host, user and password stay in the environment.
 */
export function dbnameArg(name: string): string {
  return `dbname='${name.replace(/[\\']/g, (c) => `\\${c}`)}'`;
}

/**
 * The environment of a pg child process: the worker's own minus any inherited libpq variable (a stray PGPASSFILE
 * or PGSERVICE must not change where a dump comes from), plus the connection's.
 */
export function childEnv(
  pg: Record<string, string>,
  base: NodeJS.ProcessEnv = process.env,
): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(base)) if (!k.startsWith('PG')) env[k] = v;
  // Messages stay in English so log lines and the error matching below are predictable.
  return { ...env, LC_MESSAGES: 'C', ...pg };
}

/** Strings that must never appear in a log line or error: the password, and the URL that carries it. */
export function secretsOf(url: string, env: Record<string, string>): string[] {
  return [url, env.PGPASSWORD].filter((s): s is string => typeof s === 'string' && s.length >= 3);
}
