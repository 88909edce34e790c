/**
 * The ports of docs/architecture.md ("Core and ports"). The core depends only on these interfaces;
 * `src/adapters/aws` and `src/adapters/local` implement them, and `test/fakes` has in-memory versions for
 * unit tests. Nothing here imports `@aws-sdk`.
 */
import type { Readable } from 'node:stream';
import type { Check, CheckPatch, CheckStatus } from './check.js';
import type { TransferMirror } from './mirror.js';
import type { AppSettings } from './settings.js';
import type { LogLine, Transfer, TransferKind, TransferPatch, TransferStatus } from './transfer.js';

/** A database attached to an app. The connection URL itself lives only in the secret store. */
export interface DatabaseAttachment {
  readonly app: string;
  readonly name: string;
  /** Reference into the secret store (a Secrets Manager ARN, or a local secret id). */
  readonly secretRef: string;
  readonly host: string;
  /** The `hostaddr=` of the URL, when it gives one: the address libpq connects to instead of resolving `host`. */
  readonly hostaddr?: string;
  readonly port: number;
  readonly database: string;
  readonly user: string;
  readonly createdAt: string;
  /** Set when the attachment was removed; its backups are kept for a grace period, then pruned. */
  readonly removedAt?: string;
}

/** One daily schedule per database, at HH:MM in an IANA time zone. */
export interface Schedule {
  readonly app: string;
  readonly database: string;
  readonly hour: number;
  readonly minute: number;
  readonly timezone: string;
  readonly createdAt: string;
}

export interface ListTransfersOptions {
  readonly kind?: TransferKind;
  /** Page size; the adapter may return fewer. */
  readonly limit?: number;
  /** Opaque cursor from a previous page. */
  readonly cursor?: string;
}

export interface TransferPage {
  readonly transfers: Transfer[];
  readonly cursor?: string;
}

/** Metadata store. Every write that changes a transfer's status is conditional on its current status. */
export interface Catalog {
  /**
   * Every app that ever had a database attached or a transfer numbered, sorted by name, by Query on a sparse index
   * (never a Scan): the daily prune visits each, so a removed database's backups go after their grace period.
   */
  listApps(): Promise<string[]>;
  getSettings(app: string): Promise<AppSettings | undefined>;
  putSettings(settings: AppSettings): Promise<void>;

  putDatabase(db: DatabaseAttachment): Promise<void>;
  getDatabase(app: string, name: string): Promise<DatabaseAttachment | undefined>;
  /** Attached databases (removed ones excluded unless asked). */
  listDatabases(app: string, opts?: { includeRemoved?: boolean }): Promise<DatabaseAttachment[]>;
  deleteDatabase(app: string, name: string): Promise<void>;

  /** Atomically increments the app's transfer counter and returns the new value. */
  nextTransferNum(app: string): Promise<number>;
  /** Creates a transfer; throws ConflictError if that app+num exists. */
  createTransfer(t: Transfer): Promise<void>;
  /**
   * Records a mirror of another app's copy under this app's number (src/core/mirror.ts); throws ConflictError if
   * that app+num exists. It is never in the active-transfer index.
   */
  createMirror(m: TransferMirror): Promise<void>;
  /**
   * A mirror is returned as its primary seen from the mirror's app (`seenFrom`, with the primary's logs when
   * asked), read at that moment; a mirror whose primary is gone reads as absent.
   */
  getTransfer(app: string, num: number, opts?: { logs?: boolean }): Promise<Transfer | undefined>;
  /** Newest first, paginated by Query (never Scan); mirrors are resolved as by getTransfer (orphans left out). */
  listTransfers(app: string, opts?: ListTransfersOptions): Promise<TransferPage>;
  /**
   * Applies `patch`. When `expectStatus` is given the write happens only if the current status is one of them;
   * returns the updated transfer, or undefined when the condition did not hold (or the transfer is gone, or is a
   * mirror: a copy's state is written only on the copy itself). Status changes are built, patch and condition
   * together, by the lifecycle helpers of src/core/transfer.ts.
   */
  updateTransfer(
    app: string,
    num: number,
    patch: TransferPatch,
    expectStatus?: readonly TransferStatus[],
  ): Promise<Transfer | undefined>;
  /**
   * Marks a finished transfer's aftermath (alert, prune) as handled. True for exactly one caller, however many
   * observers (reconciler, watchdog, duplicate ECS events) see the same end. Never for a mirror.
   */
  claimFinish(app: string, num: number): Promise<boolean>;
  /** Replaces the stored log lines of a transfer (the worker is their only writer). */
  putTransferLogs(app: string, num: number, logs: readonly LogLine[]): Promise<void>;
  /** Deletes a transfer or a mirror, and its log lines (nothing else: a copy's mirrors are deleted one by one). */
  deleteTransfer(app: string, num: number): Promise<void>;
  /** Pending and running transfers of every app (a sparse index), for the watchdog. */
  listActiveTransfers(): Promise<Transfer[]>;

  putSchedule(s: Schedule): Promise<void>;
  getSchedule(app: string, database: string): Promise<Schedule | undefined>;
  listSchedules(app: string): Promise<Schedule[]>;
  /** Every schedule of every app (a sparse index), for the watchdog. */
  listAllSchedules(): Promise<Schedule[]>;
  deleteSchedule(app: string, database: string): Promise<void>;

  /** Creates a deployment check (src/core/check.ts); kept apart from transfers, dropped after `expiresAt`. */
  createCheck(c: Check): Promise<void>;
  getCheck(app: string, id: string): Promise<Check | undefined>;
  /** Applies `patch` only when the check's status is one of `expectStatus`; undefined when it was not. */
  updateCheck(
    app: string,
    id: string,
    patch: CheckPatch,
    expectStatus: readonly CheckStatus[],
  ): Promise<Check | undefined>;
}

export interface UploadResult {
  readonly bytes: number;
}

/** Dump objects. Uploads are multipart streams; a failed or aborted upload leaves no object behind. */
export interface BlobStore {
  /** `expectedBytes`, an estimate of the body's length, lets the store size its parts (memory stays flat). */
  upload(
    key: string,
    body: Readable,
    opts?: { signal?: AbortSignal; expectedBytes?: number },
  ): Promise<UploadResult>;
  download(key: string): Promise<Readable>;
  /** Size in bytes, or undefined when there is no such object. */
  head(key: string): Promise<{ bytes: number } | undefined>;
  presignGet(key: string, expiresInSeconds: number, filename?: string): Promise<string>;
  delete(key: string): Promise<void>;
  list(prefix: string): Promise<string[]>;
}

/** Connection URLs. Only references to them are stored anywhere else. */
export interface Secrets {
  /** Stores (or replaces) the URL for app+database and returns its reference. */
  put(app: string, database: string, url: string): Promise<string>;
  get(ref: string): Promise<string>;
  delete(ref: string): Promise<void>;
}

export interface TaskRequest {
  readonly app: string;
  readonly num: number;
  readonly id: string;
  /** Bytes the worker will keep on its own disk (a `--parallel` restore's copy of the archive), when known. */
  readonly scratchBytes?: number;
}

/** A worker task that runs a deployment check (src/core/check.ts) instead of a transfer. */
export interface CheckTaskRequest {
  readonly app: string;
  readonly checkId: string;
}

/** Starts and stops the worker for one transfer (ECS task, or a local child process). */
export interface TaskRunner {
  start(req: TaskRequest): Promise<{ taskRef: string }>;
  /** Starts a worker the same way, on the same task definition and network, to run a check. */
  startCheck(req: CheckTaskRequest): Promise<{ taskRef: string }>;
  /** Asks the worker to stop (SIGTERM); it aborts and records `cancelled`. */
  stop(taskRef: string, reason: string): Promise<void>;
  /** Whether the task is still alive; undefined when the runner cannot tell. */
  isAlive(taskRef: string): Promise<boolean | undefined>;
}

/** Keeps the external timer (EventBridge Scheduler, or the local timer) in step with the catalog's schedules. */
export interface Scheduler {
  upsert(s: Schedule): Promise<void>;
  remove(app: string, database: string): Promise<void>;
}

export type AlertType = 'transfer.failed' | 'transfer.completed' | 'schedule.missed';

export interface Alert {
  readonly type: AlertType;
  readonly app: string;
  readonly database: string;
  readonly transferId?: string;
  readonly message: string;
  readonly at: string;
}

export interface Notifier {
  notify(alert: Alert): Promise<void>;
}

export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

/** Where a connection URL points: its host (`host=` wins over the URL's) and `hostaddr=`, as libpq reads them. */
export interface DatabaseTarget {
  readonly host?: string;
  readonly hostaddr?: string;
}

/** Decides which database hosts may be reached (src/adapters/net/url-guard.ts). */
export interface DatabaseHostGuard {
  /**
   * Resolves the target and throws a ValidationError naming the rule that refuses it; otherwise returns the one
   * address to connect to (undefined for an allowed unix socket).
   */
  vet(target: DatabaseTarget): Promise<string | undefined>;
}
