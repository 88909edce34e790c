/**
 * Connection URL query parameters pgbackups understands, and the libpq environment variable each becomes. The
 * API refuses any other parameter when a database is attached; the worker turns these into its children's
 * environment.
 */
const LIBPQ_URL_PARAMS: Record<string, string> = {
  host: 'PGHOST',
  hostaddr: 'PGHOSTADDR',
  port: 'PGPORT',
  user: 'PGUSER',
  password: 'PGPASSWORD',
  dbname: 'PGDATABASE',
  sslmode: 'PGSSLMODE',
  sslrootcert: 'PGSSLROOTCERT',
  sslcert: 'PGSSLCERT',
  sslkey: 'PGSSLKEY',
  sslcrl: 'PGSSLCRL',
  sslcompression: 'PGSSLCOMPRESSION',
  sslsni: 'PGSSLSNI',
  ssl_min_protocol_version: 'PGSSLMINPROTOCOLVERSION',
  ssl_max_protocol_version: 'PGSSLMAXPROTOCOLVERSION',
  channel_binding: 'PGCHANNELBINDING',
  connect_timeout: 'PGCONNECT_TIMEOUT',
  options: 'PGOPTIONS',
  target_session_attrs: 'PGTARGETSESSIONATTRS',
  gssencmode: 'PGGSSENCMODE',
  krbsrvname: 'PGKRBSRVNAME',
  requirepeer: 'PGREQUIREPEER',
  // Ignored on purpose: the worker always names itself (see APPLICATION_NAME).
  application_name: '',
  fallback_application_name: '',
};

/**
 * Parameters that make libpq read a file on the machine that connects (the worker): a tenant may not point them at
 * the worker's own files (`sslkey=/etc/shadow`). Only `sslrootcert=system` (the system's CA store) is allowed.
 */
const FILE_PARAMS = new Set(['sslkey', 'sslcert', 'sslcrl', 'sslrootcert']);

/** Why a URL parameter is refused even though libpq knows it, or undefined. */
function refusedParameter(name: string, value: string): string | undefined {
  if (!FILE_PARAMS.has(name) || (name === 'sslrootcert' && value === 'system')) return undefined;
  return `parameter ${name} names a file on the backup worker, which tenants may not choose${
    name === 'sslrootcert' ? '; use sslrootcert=system to verify against the system CAs' : ''
  }`;
}

/** The host and hostaddr libpq will use for a parsed `postgres://` URL: a `host=` parameter wins over the URL's. */
function connectionTarget(u: URL): { host?: string; hostaddr?: string } {
  const last = (name: string) => u.searchParams.getAll(name).at(-1);
  return { host: last('host') ?? authorityHost(u), hostaddr: last('hostaddr') };
}

/** The URL's own host, decoded, without IPv6 brackets; undefined when empty. */
function authorityHost(u: URL): string | undefined {
  // Non-special schemes keep the host percent-encoded (a unix socket directory is written %2Fvar%2Frun…).
  try {
    return decodeURIComponent(u.hostname).replace(/^\[(.*)\]$/, '$1') || undefined;
  } catch {
    return u.hostname || undefined;
  }
}

/**
 * Why a connection URL cannot be used. Each caller words it for its reader (the API's 400, the worker's failure)
 * and never repeats the URL: it may hold a password.
 */
export type ConnectionUrlProblem =
  | { readonly kind: 'unparseable' }
  | { readonly kind: 'scheme'; readonly protocol: string }
  | { readonly kind: 'unsupported-parameter'; readonly name: string }
  | { readonly kind: 'refused-parameter'; readonly reason: string }
  | { readonly kind: 'malformed-escape'; readonly part: 'database name' | 'user' | 'password' };

export class ConnectionUrlError extends Error {
  constructor(readonly problem: ConnectionUrlProblem) {
    super(`Invalid connection URL (${problem.kind})`);
    this.name = 'ConnectionUrlError';
  }
}

/** A `postgres://` URL taken apart, every part decoded; absent parts are undefined. */
export interface PostgresUrl {
  /** The host written in the URL's authority (a unix-socket directory when it starts with `/`). */
  readonly host?: string;
  readonly port?: string;
  readonly user?: string;
  readonly password?: string;
  readonly database?: string;
  /** The query parameters, each with its libpq variable (`''`: understood and ignored). */
  readonly params: readonly { readonly name: string; readonly value: string; readonly variable: string }[];
  /** Where libpq will connect: `host=` and `hostaddr=` parameters win over the authority. */
  readonly target: { host?: string; hostaddr?: string };
}

/**
 * The one parser of PostgreSQL connection URLs, for the API (when a database is attached) and the worker (each
 * time it connects): `postgres://` or `postgresql://`, only the parameters of {@link LIBPQ_URL_PARAMS}, none of
 * those {@link refusedParameter} refuses. Throws {@link ConnectionUrlError}.
 */
export function parsePostgresUrl(url: string): PostgresUrl {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new ConnectionUrlError({ kind: 'unparseable' });
  }
  if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:') {
    throw new ConnectionUrlError({ kind: 'scheme', protocol: u.protocol });
  }
  const params = [...u.searchParams].map(([name, value]) => {
    if (!Object.hasOwn(LIBPQ_URL_PARAMS, name)) {
      throw new ConnectionUrlError({ kind: 'unsupported-parameter', name });
    }
    const refused = refusedParameter(name, value);
    if (refused) throw new ConnectionUrlError({ kind: 'refused-parameter', reason: refused });
    return { name, value, variable: LIBPQ_URL_PARAMS[name] as string };
  });
  const decode = (raw: string, part: 'database name' | 'user' | 'password') => {
    try {
      return decodeURIComponent(raw) || undefined;
    } catch {
      throw new ConnectionUrlError({ kind: 'malformed-escape', part });
    }
  };
  const database = decode(u.pathname.replace(/^\//, ''), 'database name');
  const user = decode(u.username, 'user');
  const password = decode(u.password, 'password');
  const target = connectionTarget(u);
  return {
    host: authorityHost(u),
    port: u.port || undefined,
    user,
    password,
    database,
    params,
    target,
  };
}
