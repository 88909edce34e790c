/**
 * Connection URL → libpq environment variables for pg_dump, pg_restore and psql. Credentials reach the child only
 * through its environment: never argv (visible in `ps` and /proc), never a log line or error message.
 */

import {
  ConnectionUrlError,
  type ConnectionUrlProblem,
  type PostgresUrl,
  parsePostgresUrl,
} from '../core/connection-url.js';
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
  let u: PostgresUrl;
  try {
    u = parsePostgresUrl(url);
  } catch (e) {
    throw e instanceof ConnectionUrlError ? new Error(workerWording(e.problem)) : e;
  }
  const env: Record<string, string> = {};
  if (u.host) env.PGHOST = u.host;
  if (u.port) env.PGPORT = u.port;
  if (u.user) env.PGUSER = u.user;
  if (u.password) env.PGPASSWORD = u.password;
  if (u.database) env.PGDATABASE = u.database;
  for (const { variable, value } of u.params) if (variable) env[variable] = value;
  env.PGCONNECT_TIMEOUT ??= DEFAULT_CONNECT_TIMEOUT;
  env.PGAPPNAME = APPLICATION_NAME;
  return env;
}

/** The worker's words for a URL it cannot use (attached before the API refused it, or stored by hand). */
function workerWording(p: ConnectionUrlProblem): string {
  switch (p.kind) {
    case 'unparseable':
      return 'The database URL is not a valid postgres:// URL';
    case 'scheme':
      return `The database URL must start with postgres:// (got ${p.protocol}//)`;
    case 'unsupported-parameter':
      return `Unsupported parameter ${JSON.stringify(p.name)} in the database URL`;
    case 'refused-parameter':
      return `The database URL is refused: ${p.reason}`;
    case 'malformed-escape':
      return `The database URL's ${p.part} has a malformed %-escape`;
  }
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
