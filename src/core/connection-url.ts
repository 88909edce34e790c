/**
 * Connection URL query parameters pgbackups understands, and the libpq environment variable each becomes. The
 * API refuses any other parameter when a database is attached; the worker turns these into its children's
 * environment.
 */
export const LIBPQ_URL_PARAMS: Record<string, string> = {
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
export function refusedParameter(name: string, value: string): string | undefined {
  if (!FILE_PARAMS.has(name) || (name === 'sslrootcert' && value === 'system')) return undefined;
  return `parameter ${name} names a file on the backup worker, which tenants may not choose${
    name === 'sslrootcert' ? '; use sslrootcert=system to verify against the system CAs' : ''
  }`;
}

/** The host and hostaddr libpq will use for a parsed `postgres://` URL: a `host=` parameter wins over the URL's. */
export function connectionTarget(u: URL): { host?: string; hostaddr?: string } {
  const last = (name: string) => u.searchParams.getAll(name).at(-1);
  // Non-special schemes keep the host percent-encoded (a unix socket directory is written %2Fvar%2Frun…).
  let urlHost: string | undefined;
  try {
    urlHost = decodeURIComponent(u.hostname).replace(/^\[(.*)\]$/, '$1') || undefined;
  } catch {
    urlHost = u.hostname;
  }
  return { host: last('host') ?? urlHost, hostaddr: last('hostaddr') };
}
