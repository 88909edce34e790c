import { ValidationError } from './errors.js';
import type { TransferRef } from './mirror.js';
import type { Catalog } from './ports.js';

export type TransferKind = 'backup' | 'restore' | 'copy';
/**
 * `safety`: the backup of a target taken automatically right before a restore or copy overwrites it (named b###,
 * kept 7 days, not counted against the manual limit).
 */
export type TransferType = 'manual' | 'scheduled' | 'safety';
/** Every status, in lifecycle order (the API's enum). */
export const TRANSFER_STATUSES = ['pending', 'running', 'completed', 'failed', 'cancelled'] as const;
export type TransferStatus = (typeof TRANSFER_STATUSES)[number];

/** Not finished: a worker may still be running it (the catalog's sparse index of active transfers holds these). */
export const ACTIVE_STATUSES: readonly TransferStatus[] = ['pending', 'running'];
/** Final: no transition leaves these. */
export const FINISHED_STATUSES: readonly TransferStatus[] = ['completed', 'failed', 'cancelled'];
/** Finished without a result: what retention cleans after a grace period and counts as a failing schedule. */
export const UNSUCCESSFUL_STATUSES: readonly TransferStatus[] = ['failed', 'cancelled'];

/** Where a transfer reads from. Never holds a credential: databases are referred to by attachment name. */
export type TransferSource =
  | { type: 'database'; app: string; database: string }
  | { type: 'backup'; app: string; id: string; num: number; key: string; sha256: string; bytes: number }
  | { type: 'url'; url: string };

/** Where a transfer writes to. */
export type TransferTarget =
  | { type: 'database'; app: string; database: string }
  | { type: 'blob'; key: string };

export interface LogLine {
  /** ISO-8601 time the line was produced. */
  readonly at: string;
  readonly level: 'info' | 'warn' | 'error';
  readonly message: string;
}

/** One backup, restore or copy: the record the API, CLI, worker and reconcilers share. */
export interface Transfer {
  readonly app: string;
  /** Per-app counter shared by all kinds. */
  readonly num: number;
  /** Display name: b001, a002, r003, c004. */
  readonly id: string;
  readonly kind: TransferKind;
  readonly type: TransferType;
  readonly status: TransferStatus;
  /** The attachment the transfer is about: the source of a backup, the target of a restore or copy. */
  readonly database: string;
  readonly source: TransferSource;
  readonly target: TransferTarget;
  readonly createdAt: string;
  readonly startedAt?: string;
  readonly finishedAt?: string;
  /** `pg_database_size` of the source, when known. */
  readonly sourceBytes?: number;
  /** Bytes through the pipe so far (compressed dump bytes). */
  readonly processedBytes?: number;
  /** Size of the stored dump object (backups). */
  readonly backupBytes?: number;
  readonly sha256?: string;
  /** e.g. `gzip:1` or `zstd:1`. */
  readonly compression?: string;
  readonly pgDumpVersion?: string;
  readonly serverVersion?: string;
  /** Backups: the custom-format archive version, e.g. `1.16` (src/core/pg-compat.ts). */
  readonly archiveFormat?: string;
  /** Backups: the oldest `pg_restore` major that reads the archive, e.g. 17. */
  readonly oldestPgRestore?: number;
  /** Extensions pre-installed before a restore, as `schema.name` or `name`. */
  readonly extensions?: readonly string[];
  /**
   * Restores and copies: extensions already installed in the target that the wipe keeps, and whose CREATE
   * EXTENSION from the dump is skipped — for extensions only a superuser can create, pre-installed by an
   * administrator, when the target's owner restores without being superuser.
   */
  readonly keepExtensions?: readonly string[];
  /**
   * Restore schema and data atomically, then indexes and constraints with `pg_restore --jobs N`: faster with many
   * big tables, but not atomic (a failure in that last step leaves some of them missing). Unset or 1: the atomic
   * single-transaction restore.
   */
  readonly parallel?: number;
  /**
   * A restore that only finishes an earlier `--parallel` restore whose last step failed: it rebuilds that
   * restore's deferred indexes and constraints, from the same verified backup, and wipes nothing.
   */
  readonly finishOf?: { readonly id: string; readonly num: number };
  /** Restores and copies: the safety backup of the target, taken by the same worker before it overwrites it. */
  readonly safetyBackup?: { readonly app: string; readonly num: number; readonly id: string };
  readonly warnings?: number;
  readonly error?: string;
  /** ECS task ARN or local process id, so cancel and reconcile can reach the worker. */
  readonly taskRef?: string;
  readonly cancelRequested?: boolean;
  /** Last time the worker reported progress; the watchdog fails transfers whose heartbeat is stale. */
  readonly heartbeatAt?: string;
  /** Present only when logs were asked for. */
  readonly logs?: readonly LogLine[];
  /** A copy touching other apps' databases: its mirrors there, which list it too (src/core/mirror.ts). */
  readonly mirrors?: readonly TransferRef[];
  /** Set when this record is another app's copy seen from this app: where the copy itself is recorded. */
  readonly mirrorOf?: TransferRef;
}

/** Fields a status change or progress report may set. */
export type TransferPatch = Partial<
  Pick<
    Transfer,
    | 'status'
    | 'startedAt'
    | 'finishedAt'
    | 'sourceBytes'
    | 'processedBytes'
    | 'backupBytes'
    | 'sha256'
    | 'compression'
    | 'pgDumpVersion'
    | 'serverVersion'
    | 'archiveFormat'
    | 'oldestPgRestore'
    | 'warnings'
    | 'error'
    | 'taskRef'
    | 'cancelRequested'
    | 'heartbeatAt'
  >
>;

const PREFIX: Record<TransferKind, string> = { backup: 'b', restore: 'r', copy: 'c' };

/**
 * b001 (manual backup, and the safety backup before a restore), a002 (scheduled), r003 (restore), c004 (copy);
 * 3-digit padding, b1000 beyond.
 */
export function transferName(kind: TransferKind, type: TransferType, num: number): string {
  const prefix = kind === 'backup' && type === 'scheduled' ? 'a' : PREFIX[kind];
  return `${prefix}${String(num).padStart(3, '0')}`;
}

/**
 * Accepts `b5`, `b005`, `a12`, `r003`, `c4` or a bare `5` and returns the number. As on Heroku the prefix is not
 * checked against the kind: the counter is shared, so the number alone identifies the transfer.
 */
export function parseTransferId(input: unknown): number {
  if (typeof input !== 'string')
    throw new ValidationError('Invalid transfer id: expected a string like b001');
  const match = /^[abcr]?(\d{1,9})$/.exec(input.trim());
  const num = match ? Number(match[1]) : Number.NaN;
  if (!Number.isSafeInteger(num) || num < 1) {
    throw new ValidationError(
      `Invalid transfer id ${JSON.stringify(input).slice(0, 40)}: use an id like b001, a002, r003, c004 or a number`,
    );
  }
  return num;
}

/**
 * The lifecycle: pending → running → completed, and failed or cancelled from either active status. Every status
 * write is built by one of the helpers below, which derive the write's condition from this table.
 */
const ALLOWED: Record<TransferStatus, readonly TransferStatus[]> = {
  pending: ['running', 'failed', 'cancelled'],
  running: ['completed', 'failed', 'cancelled'],
  completed: [],
  failed: [],
  cancelled: [],
};

export function canTransition(from: TransferStatus, to: TransferStatus): boolean {
  return ALLOWED[from].includes(to);
}

/** The statuses from which `to` may be reached. */
export function statusesLeadingTo(to: TransferStatus): TransferStatus[] {
  return (Object.keys(ALLOWED) as TransferStatus[]).filter((from) => ALLOWED[from].includes(to));
}

export function isFinished(status: TransferStatus): boolean {
  return FINISHED_STATUSES.includes(status);
}

export function isActive(status: TransferStatus): boolean {
  return ACTIVE_STATUSES.includes(status);
}

export function isUnsuccessful(status: TransferStatus): boolean {
  return UNSUCCESSFUL_STATUSES.includes(status);
}

/**
 * A conditional write to a transfer: `patch` applies only while its status is one of `expect` (the condition
 * `Catalog.updateTransfer` checks), so a transfer cancelled, reaped or finished meanwhile is never overwritten.
 */
export interface TransferUpdate {
  readonly patch: TransferPatch;
  readonly expect: readonly TransferStatus[];
}

/** Fields written alongside a status change (never the status itself: the helper sets it). */
export type TransferFields = Omit<TransferPatch, 'status'>;

/**
 * A move to `to` from `seen`, the status the caller read (default: any status that may lead there). A move the
 * table forbids is a bug, not a race: races are what the write's condition settles.
 */
function moveTo(to: TransferStatus, fields: TransferFields, seen?: TransferStatus): TransferUpdate {
  if (seen !== undefined && !canTransition(seen, to)) {
    throw new Error(`A transfer cannot become ${to} from ${seen}`);
  }
  return { patch: { ...fields, status: to }, expect: seen === undefined ? statusesLeadingTo(to) : [seen] };
}

/** The worker takes a pending transfer: running, with its first heartbeat. */
export function startRun(at: string): TransferUpdate {
  return moveTo('running', { startedAt: at, heartbeatAt: at }, 'pending');
}

/** The worker recorded its results: completed. */
export function completeRun(at: string, results: TransferFields = {}): TransferUpdate {
  return moveTo('completed', { ...results, finishedAt: at }, 'running');
}

/** Failed with `error`, from the status the caller saw (default: either active one). */
export function failTransfer(
  at: string,
  error: string,
  seen?: TransferStatus,
  fields: TransferFields = {},
): TransferUpdate {
  return moveTo('failed', { ...fields, finishedAt: at, error }, seen);
}

/**
 * The end of a transfer that did not complete: cancelled when a cancel was asked for (the failure is then the
 * cancel's own doing, e.g. the killed child), otherwise failed with `error`. The worker, the reconciler of stopped
 * tasks and the watchdog all end transfers this way.
 */
export function failOrCancel(
  at: string,
  end: { readonly cancelled: boolean | undefined; readonly error: string },
  seen?: TransferStatus,
  fields: TransferFields = {},
): TransferUpdate {
  return end.cancelled
    ? moveTo('cancelled', { ...fields, finishedAt: at }, seen)
    : failTransfer(at, end.error, seen, fields);
}

/** What a worker's pipeline came to: its results, or the error it failed with. */
export type RunResult =
  | { readonly ok: true; readonly results: TransferFields }
  | { readonly ok: false; readonly error: string };

/**
 * The write that ends a worker's run. A cancel wins over a failure, and over a completed backup (its object can
 * still be discarded), but not over a completed restore or copy: what was committed cannot be undone.
 */
export function finishRun(
  kind: TransferKind,
  at: string,
  result: RunResult,
  cancelled: boolean,
  fields: TransferFields = {},
): TransferUpdate {
  if (result.ok && !(cancelled && kind === 'backup')) return completeRun(at, result.results);
  return failOrCancel(at, { cancelled, error: result.ok ? '' : result.error }, 'running', fields);
}

/** A user's cancel of a pending transfer: cancelled at once (no worker has it yet). */
export function cancelPending(at: string): TransferUpdate {
  return moveTo('cancelled', { finishedAt: at, cancelRequested: true }, 'pending');
}

/** A user's cancel of a running transfer: its worker sees the flag, stops, and records `cancelled` itself. */
export function askToCancel(): TransferUpdate {
  return whileStatus('running', { cancelRequested: true });
}

/** Progress, heartbeat or results written while the transfer stays `status` (an active one). */
export function whileStatus(status: TransferStatus, fields: TransferFields): TransferUpdate {
  if (!isActive(status)) throw new Error(`A ${status} transfer takes no more progress`);
  return { patch: fields, expect: [status] };
}

/** Where the worker runs, recorded once it started, whichever active status the worker has reached. */
export function attachTask(taskRef: string): TransferUpdate {
  return { patch: { taskRef }, expect: ACTIVE_STATUSES };
}

/** Applies `update` to transfer `ref`: the updated transfer, or undefined when its condition did not hold. */
export function applyUpdate(
  catalog: Pick<Catalog, 'updateTransfer'>,
  ref: Pick<Transfer, 'app' | 'num'>,
  update: TransferUpdate,
): Promise<Transfer | undefined> {
  return catalog.updateTransfer(ref.app, ref.num, update.patch, update.expect);
}

/** Keeps the newest lines, each bounded, so a chatty pg_dump --verbose cannot outgrow a DynamoDB item. */
export const MAX_LOG_LINES = 500;
export const MAX_LOG_LINE_CHARS = 1000;

/**
 * Disk a transfer's worker needs for temporary files: a `--parallel` restore keeps the archive on disk for
 * `pg_restore --jobs`. Undefined when none is needed or the size is not known in advance (a URL source).
 */
export function scratchBytesOf(t: Transfer): number | undefined {
  return t.kind === 'restore' && (t.parallel ?? 1) > 1 && t.source.type === 'backup'
    ? t.source.bytes
    : undefined;
}
