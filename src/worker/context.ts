import type { Readable } from 'node:stream';
import { NotFoundError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { BlobStore, Catalog, Clock, DatabaseHostGuard, Secrets } from '../core/ports.js';
import type { Transfer, TransferPatch } from '../core/transfer.js';
import { childEnv, secretsOf, vettedLibpqEnv } from './libpq-env.js';
import type { PgClient, PgClients } from './pg-clients.js';
import { describeExit, type ExitInfo, type PgProcess, reasonFrom, runPgCommand } from './pg-process.js';
import type { TransferLog } from './transfer-log.js';

export interface WorkerDeps {
  readonly catalog: Catalog;
  readonly blobs: BlobStore;
  readonly secrets: Secrets;
  readonly clock: Clock;
  readonly log: Logger;
  /** The database-host guard, applied again at every connect (src/adapters/net/url-guard.ts). */
  readonly databaseHosts: DatabaseHostGuard;
}

export interface WorkerOptions {
  /** How often progress, heartbeat and logs are written, and `cancelRequested` re-read. @default 3000 */
  readonly progressIntervalMs?: number;
  /** The PostgreSQL clients to choose from (pg-clients.ts). @default discovered: /usr/lib/postgresql/N/bin, PATH */
  readonly clients?: PgClients;
  /** Where to find the clients when `clients` is not given (PGBACKUPS_PG_BINDIRS). */
  readonly pgBinDirs?: readonly string[];
  /**
   * How long pg_dump waits for each table's lock, and the wipe before a restore for the target's locks, before
   * failing. Bounded because a waiting pg_dump already holds ACCESS SHARE locks on the tables it has locked,
   * blocking migrations on them for as long as it waits. Any PostgreSQL interval (`30s`, `5min`). @default '5min'
   */
  readonly lockWaitTimeout?: string;
  /**
   * Opens an `https://` restore source (after the SSRF guard of docs/architecture.md, "Where the worker may
   * connect"). Without it, restores from URLs fail with a clear message.
   */
  readonly openUrl?: (url: string, signal: AbortSignal) => Promise<Readable>;
}

export const DEFAULT_PROGRESS_INTERVAL_MS = 3000;
export const DEFAULT_LOCK_WAIT_TIMEOUT = '5min';

/** A database to connect to: the child environment carrying its credentials. */
export interface Connection {
  /** Attachment name, for messages. */
  readonly name: string;
  readonly env: NodeJS.ProcessEnv;
}

/** What a pipeline (capture, restore, copy) gets from the run that drives it. */
export interface PipelineContext {
  readonly transfer: Transfer;
  readonly deps: WorkerDeps;
  /** Aborted when the transfer is cancelled (SIGTERM or `cancelRequested`). */
  readonly signal: AbortSignal;
  /** User-visible log lines. */
  readonly tlog: TransferLog;
  readonly log: Logger;
  readonly lockWaitTimeout: string;
  readonly openUrl?: WorkerOptions['openUrl'];
  /** Every password and URL seen so far: scrubbed from all tool output. */
  readonly secrets: string[];
  /** The installed clients; which one runs is decided per server (src/core/pg-compat.ts). */
  readonly clients: PgClients;
  /** Bytes through the pipe so far; the run reports it with each heartbeat. */
  onBytes(total: number): void;
  /** Writes fields known early (sizes, versions) so they show while the transfer runs. */
  record(patch: TransferPatch): Promise<void>;
  connect(app: string, database: string): Promise<Connection>;
}

/** Resolves an attachment to a child environment; its password joins the run's redaction list. */
export async function connectTo(
  deps: WorkerDeps,
  secrets: string[],
  app: string,
  database: string,
): Promise<Connection> {
  const attachment = await deps.catalog.getDatabase(app, database);
  if (!attachment || attachment.removedAt) {
    throw new NotFoundError(`Database ${database} is not attached to ${app}`);
  }
  const url = await deps.secrets.get(attachment.secretRef);
  const env = await vettedLibpqEnv(url, deps.databaseHosts);
  secrets.push(...secretsOf(url, env));
  return { name: database, env: childEnv(env) };
}

export interface ServerInfo {
  /** `15.18` */
  readonly serverVersion: string;
  readonly major: number;
  readonly sizeBytes: number;
}

/** Server version and database size, which also proves the connection works before anything starts. */
export async function inspectServer(ctx: PipelineContext, conn: Connection): Promise<ServerInfo> {
  // Any client can ask: the newest one connects to every supported server.
  const r = await runPgCommand({
    name: 'psql',
    program: ctx.clients.newest().path('psql'),
    args: [
      '-X',
      '-A',
      '-t',
      '-q',
      '-v',
      'ON_ERROR_STOP=1',
      '-c',
      "SELECT current_setting('server_version') || '|' || current_setting('server_version_num') || '|' || pg_database_size(current_database())",
    ],
    env: conn.env,
    secrets: ctx.secrets,
  });
  const [version, num, size] = r.stdout.trim().split('|');
  if (r.exit.code !== 0 || !version || !num || !size) {
    ctx.tlog.error('Could not connect to database to initialize transfer');
    for (const line of r.stderr) ctx.tlog.error(line);
    throw new Error(
      `Could not connect to database ${conn.name}: ${reasonFrom(r.stderr) ?? describeExit(r.exit)}`,
    );
  }
  return {
    serverVersion: version.split(' ')[0] ?? version,
    major: Math.floor(Number(num) / 10000),
    sizeBytes: Number(size),
  };
}

/** Checks the build of each program a pipeline is about to run with `client` (pg-clients.ts). */
export async function checkClient(client: PgClient, ...programs: Parameters<PgClient['version']>[0][]) {
  await Promise.all(programs.map((p) => client.version(p)));
}

/** The error of a pg program that did not exit 0, with its most telling stderr line. */
export function toolError(p: PgProcess, exit: ExitInfo, hint?: string): Error {
  const reason = reasonFrom(p.stderrTail());
  return new Error(
    `${p.name} failed (${describeExit(exit)})${reason ? `: ${reason}` : ''}${hint ? `. ${hint}` : ''}`,
  );
}
