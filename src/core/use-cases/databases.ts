import { ConnectionUrlError, type PostgresUrl, parsePostgresUrl } from '../connection-url.js';
import type { CoreDeps } from '../deps.js';
import { NotFoundError, ValidationError } from '../errors.js';
import { normaliseDatabaseName, parseAppName } from '../names.js';
import type { DatabaseAttachment } from '../ports.js';

/** What the API shows of an attachment: never the password, never the secret reference. */
export interface DatabaseView {
  readonly name: string;
  readonly host: string;
  /** Present when the URL gives `hostaddr=`: the address connected to, whatever `host` says. */
  readonly hostaddr?: string;
  readonly port: number;
  readonly database: string;
  readonly user: string;
  readonly createdAt: string;
}

export function databaseView(db: DatabaseAttachment): DatabaseView {
  return {
    name: db.name,
    host: db.host,
    ...(db.hostaddr === undefined ? {} : { hostaddr: db.hostaddr }),
    port: db.port,
    database: db.database,
    user: db.user,
    createdAt: db.createdAt,
  };
}

interface ParsedUrl {
  host: string;
  hostaddr?: string;
  port: number;
  database: string;
  user: string;
}

/**
 * Checks a connection URL's shape. Error messages never repeat the URL: it may hold a password.
 */
export function parseConnectionUrl(url: unknown): ParsedUrl {
  const hint = 'use postgres://USER:PASSWORD@HOST:PORT/DATABASE';
  if (typeof url !== 'string' || url.length > 2048)
    throw new ValidationError(`Invalid connection URL: ${hint}`);
  let u: PostgresUrl;
  try {
    u = parsePostgresUrl(url);
  } catch (e) {
    if (!(e instanceof ConnectionUrlError)) throw e;
    const p = e.problem;
    switch (p.kind) {
      case 'unparseable':
        throw new ValidationError(`Invalid connection URL: it could not be parsed; ${hint}`);
      case 'scheme':
        throw new ValidationError(
          `Invalid connection URL: the scheme must be postgres:// or postgresql://; ${hint}`,
        );
      case 'unsupported-parameter': {
        // Only a name that looks like a parameter is repeated: the URL is part of the body and may hold secrets.
        const shown = /^[a-z_]{1,40}$/.test(p.name) ? ` "${p.name}"` : '';
        throw new ValidationError(
          `Invalid connection URL: unsupported parameter${shown}; use libpq parameters such as sslmode, connect_timeout or options`,
        );
      }
      case 'refused-parameter':
        throw new ValidationError(`Invalid connection URL: ${p.reason}`);
      case 'malformed-escape':
        throw new ValidationError(`Invalid connection URL: the ${p.part} has a malformed %-escape; ${hint}`);
    }
  }
  if (!u.host) throw new ValidationError(`Invalid connection URL: the host is missing; ${hint}`);
  if (!u.database) throw new ValidationError(`Invalid connection URL: the database name is missing; ${hint}`);
  const port = u.port ? Number(u.port) : 5432;
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new ValidationError(`Invalid connection URL: the port must be 1–65535; ${hint}`);
  }
  if (!u.user) throw new ValidationError(`Invalid connection URL: the user is missing; ${hint}`);
  return {
    host: u.target.host ?? '',
    ...(u.target.hostaddr === undefined ? {} : { hostaddr: u.target.hostaddr }),
    port,
    database: u.database,
    user: u.user,
  };
}

export async function attachDatabase(
  deps: CoreDeps,
  input: { app: string; name: string; url: unknown },
): Promise<DatabaseView> {
  const app = parseAppName(input.app);
  const name = normaliseDatabaseName(input.name);
  const parsed = parseConnectionUrl(input.url);
  // Where the worker would connect, resolved and checked now; the worker checks again each time it connects.
  await deps.databaseHosts.vet({ host: parsed.host || undefined, hostaddr: parsed.hostaddr });
  const secretRef = await deps.secrets.put(app, name, input.url as string);
  const db: DatabaseAttachment = {
    app,
    name,
    secretRef,
    ...parsed,
    createdAt: deps.clock.now().toISOString(),
  };
  await deps.catalog.putDatabase(db);
  deps.log.info('database attached', { app, database: name, host: parsed.host });
  return databaseView(db);
}

export async function listDatabases(deps: CoreDeps, appInput: string): Promise<DatabaseView[]> {
  const app = parseAppName(appInput);
  return (await deps.catalog.listDatabases(app)).map(databaseView);
}

/** Resolves an attachment that must exist, with Heroku's wording when it does not. */
export async function requireDatabase(
  deps: CoreDeps,
  app: string,
  nameInput: string,
): Promise<DatabaseAttachment> {
  const name = normaliseDatabaseName(nameInput);
  const db = await deps.catalog.getDatabase(app, name);
  if (db && !db.removedAt) return db;
  const valid = (await deps.catalog.listDatabases(app)).map((d) => d.name);
  throw new NotFoundError(
    valid.length === 0
      ? `${app} has no databases. Attach one with PUT /v1/apps/${app}/databases/DATABASE {"url": "postgres://…"} (pgbackups databases:add DATABASE --url …)`
      : `Unknown database: ${name}. Valid options are: ${valid.join(', ')}`,
  );
}

/**
 * Detaches a database. Its secret is deleted now; the attachment is kept as `removed` so its backups stay
 * restorable for the grace period before the pruner removes them.
 */
export async function removeDatabase(deps: CoreDeps, input: { app: string; name: string }): Promise<void> {
  const app = parseAppName(input.app);
  const db = await requireDatabase(deps, app, input.name);
  await deps.secrets.delete(db.secretRef);
  await deps.catalog.putDatabase({ ...db, removedAt: deps.clock.now().toISOString() });
  const schedule = await deps.catalog.getSchedule(app, db.name);
  if (schedule) {
    await deps.scheduler.remove(app, db.name);
    await deps.catalog.deleteSchedule(app, db.name);
  }
  deps.log.info('database removed', { app, database: db.name });
}
