import type { CoreDeps } from '../deps.js';
import { ConflictError, NotFoundError, UnprocessableError, ValidationError } from '../errors.js';
import { errorMessage } from '../logger.js';
import { mirrorSides, type TransferMirror, type TransferRef } from '../mirror.js';
import { parseAppName } from '../names.js';
import { paginate } from '../paginate.js';
import type { TransferPage } from '../ports.js';
import {
  applyUpdate,
  askToCancel,
  attachTask,
  cancelPending,
  failOrCancel,
  failTransfer,
  isFinished,
  parseTransferId,
  scratchBytesOf,
  type Transfer,
  type TransferKind,
} from '../transfer.js';
import { afterTransferFinished } from './after-transfer.js';

/** The mirror record `ref` of the copy `t` (src/core/mirror.ts). */
function mirrorOf(t: Transfer, ref: TransferRef): TransferMirror {
  const side = mirrorSides(t).find((s) => s.app === ref.app);
  return {
    ...ref,
    kind: t.kind,
    database: side?.database ?? t.database,
    mirrorOf: { app: t.app, num: t.num, id: t.id },
  };
}

/** Creates a pending transfer and starts its worker; a worker that cannot start fails the transfer at once. */
export async function launchTransfer(deps: CoreDeps, t: Transfer): Promise<Transfer> {
  await deps.catalog.createTransfer(t);
  const log = deps.log.child({ app: t.app, transfer: t.id });
  log.info('transfer created', { kind: t.kind, type: t.type, database: t.database });
  let step = 'start the worker';
  try {
    // The other apps a copy touches list it from the start; each mirror is written after the copy it reads.
    for (const m of t.mirrors ?? []) {
      step = `list ${t.id} on ${m.app}`;
      await deps.catalog.createMirror(mirrorOf(t, m));
      log.info('transfer mirrored', { mirrorApp: m.app, mirror: m.id });
    }
    step = 'start the worker';
    const scratchBytes = scratchBytesOf(t);
    const { taskRef } = await deps.runner.start({
      app: t.app,
      num: t.num,
      id: t.id,
      ...(scratchBytes === undefined ? {} : { scratchBytes }),
    });
    // The worker may already have moved the transfer to running; either way record where it runs.
    const updated = await applyUpdate(deps.catalog, t, attachTask(taskRef));
    return updated ?? (await deps.catalog.getTransfer(t.app, t.num)) ?? t;
  } catch (e) {
    log.error('transfer failed to start', { step, error: errorMessage(e) });
    const failed = await applyUpdate(
      deps.catalog,
      t,
      failTransfer(deps.clock.now().toISOString(), `Could not ${step}: ${errorMessage(e)}`, 'pending'),
    );
    if (failed) await afterTransferFinished(deps, failed);
    return failed ?? t;
  }
}

export async function requireTransfer(
  deps: CoreDeps,
  app: string,
  idInput: string,
  opts: { logs?: boolean } = {},
): Promise<Transfer> {
  const num = parseTransferId(idInput);
  const t = await deps.catalog.getTransfer(app, num, opts);
  if (!t) {
    throw new NotFoundError(
      `Transfer ${idInput} not found for ${app}. List transfers with GET /v1/apps/${app}/transfers (pgbackups list -a ${app})`,
    );
  }
  return t;
}

export async function getTransfer(
  deps: CoreDeps,
  input: { app: string; id: string; logs?: boolean },
): Promise<Transfer> {
  return requireTransfer(deps, parseAppName(input.app), input.id, { logs: input.logs });
}

export const KINDS = ['backup', 'restore', 'copy'] as const satisfies readonly TransferKind[];
/** The most transfers one page lists (`?limit=`); the API document shows it. */
export const TRANSFER_PAGE_MAX = 1000;

export async function listTransfers(
  deps: CoreDeps,
  input: { app: string; kind?: string; limit?: number; cursor?: string },
): Promise<TransferPage> {
  const app = parseAppName(input.app);
  if (input.kind !== undefined && !(KINDS as readonly string[]).includes(input.kind)) {
    throw new ValidationError(`Invalid kind ${JSON.stringify(input.kind)}: use backup, restore or copy`);
  }
  const limit = input.limit ?? 100;
  if (!Number.isInteger(limit) || limit < 1 || limit > TRANSFER_PAGE_MAX) {
    throw new ValidationError(`Invalid limit: use a whole number from 1 to ${TRANSFER_PAGE_MAX}`);
  }
  return deps.catalog.listTransfers(app, {
    kind: input.kind as TransferKind | undefined,
    limit,
    cursor: input.cursor,
  });
}

/** The newest transfer matching `pred`, reading pages until one is found. */
export async function findNewestTransfer(
  deps: CoreDeps,
  app: string,
  kind: TransferKind,
  pred: (t: Transfer) => boolean,
): Promise<Transfer | undefined> {
  const pages = paginate(async (cursor: string | undefined) => {
    const page = await deps.catalog.listTransfers(app, { kind, limit: 100, cursor });
    return { items: page.transfers, next: page.cursor };
  });
  for await (const page of pages) {
    const hit = page.items.find(pred);
    if (hit) return hit;
  }
  return undefined;
}

/**
 * Cancels a transfer. A pending one is cancelled at once; a running one is asked to stop, and its worker
 * records `cancelled` once the child processes are stopped and nothing is left behind.
 *
 * A mirror (another app's copy that reads or overwrites this app's database) cancels the copy itself: the owner
 * of either database may stop it — a copy holds locks on the source and replaces the target atomically, so
 * stopping it leaves both as they were. The answer is the copy seen from this app.
 */
export async function cancelTransfer(deps: CoreDeps, input: { app: string; id: string }): Promise<Transfer> {
  const app = parseAppName(input.app);
  const seen = await requireTransfer(deps, app, input.id);
  if (isFinished(seen.status)) {
    throw new ConflictError(
      `Transfer ${seen.id} cannot be cancelled: it has already finished (${seen.status})`,
    );
  }
  const owner = seen.mirrorOf ?? seen;
  const now = deps.clock.now().toISOString();
  const cancelled = await applyUpdate(deps.catalog, owner, cancelPending(now));
  const result = cancelled ?? (await applyUpdate(deps.catalog, owner, askToCancel()));
  if (!result) {
    const latest = await requireTransfer(deps, app, input.id);
    throw new ConflictError(
      `Transfer ${seen.id} cannot be cancelled: it has already finished (${latest.status})`,
    );
  }
  const via = seen.mirrorOf ? `, from ${app}::${seen.id}` : '';
  if (result.taskRef) await deps.runner.stop(result.taskRef, `Cancelled by user (${owner.id}${via})`);
  deps.log.info('transfer cancel requested', {
    app: owner.app,
    transfer: owner.id,
    was: seen.status,
    ...(seen.mirrorOf ? { via: `${app}::${seen.id}` } : {}),
  });
  return seen.mirrorOf ? ((await deps.catalog.getTransfer(app, seen.num)) ?? seen) : result;
}

export const DEFAULT_URL_EXPIRY_SECONDS = 3600;
export const MIN_URL_EXPIRY_SECONDS = 60;
export const MAX_URL_EXPIRY_SECONDS = 12 * 3600;

/**
 * The backup a command without an id means: the newest completed manual or scheduled backup of `database`.
 * Never a safety backup (every restore and copy takes one, of whatever it overwrote) and never a backup of
 * another database; with none, the error lists the app's backups so one can be named.
 */
export async function defaultBackup(deps: CoreDeps, app: string, database: string): Promise<Transfer> {
  const latest = await findNewestTransfer(
    deps,
    app,
    'backup',
    (t) => t.status === 'completed' && t.type !== 'safety' && t.database === database,
  );
  if (latest) return latest;
  const page = await deps.catalog.listTransfers(app, { kind: 'backup', limit: 20 });
  const others = page.transfers
    .filter((t) => t.status === 'completed')
    .map((t) => `${t.id} (${t.type} backup of ${t.database})`);
  throw new UnprocessableError(
    `No completed manual or scheduled backup of ${database} on ${app}, so there is no default to use. ` +
      (others.length > 0
        ? `Name one of the app's backups: ${others.join(', ')}${page.cursor ? ', …' : ''}`
        : `Capture one with pgbackups capture ${database} -a ${app}`),
  );
}

/** A completed backup, by id or (when omitted) the {@link defaultBackup} of `database` (default DATABASE). */
export async function requireCompletedBackup(
  deps: CoreDeps,
  app: string,
  id?: string,
  database = 'DATABASE',
): Promise<Transfer> {
  if (id === undefined) return defaultBackup(deps, app, database);
  const t = await requireTransfer(deps, app, id);
  if (t.kind !== 'backup') throw new UnprocessableError(`${t.id} is a ${t.kind}, not a backup`);
  if (t.status !== 'completed' || t.target.type !== 'blob') {
    throw new UnprocessableError(`Backup ${t.id} is ${t.status}; only a completed backup can be used`);
  }
  return t;
}

export async function backupUrl(
  deps: CoreDeps,
  input: { app: string; id: string; expiresInSeconds?: number },
): Promise<{ url: string; expiresAt: string }> {
  const app = parseAppName(input.app);
  const expires = input.expiresInSeconds ?? DEFAULT_URL_EXPIRY_SECONDS;
  if (!Number.isInteger(expires) || expires < MIN_URL_EXPIRY_SECONDS || expires > MAX_URL_EXPIRY_SECONDS) {
    throw new ValidationError(
      `Invalid expiresInSeconds: use a whole number from ${MIN_URL_EXPIRY_SECONDS} to ${MAX_URL_EXPIRY_SECONDS} (12 h)`,
    );
  }
  const t = await requireCompletedBackup(deps, app, input.id);
  if (t.target.type !== 'blob') throw new UnprocessableError(`Backup ${t.id} has no stored object`);
  const url = await deps.blobs.presignGet(t.target.key, expires, `${app}-${t.id}.dump`);
  return { url, expiresAt: new Date(deps.clock.now().getTime() + expires * 1000).toISOString() };
}

/**
 * Records the end of a worker whose task stopped (ECS task-state event, or a local child's exit). A transfer the
 * worker already finished is left alone (the write is conditional); otherwise it failed — or was cancelled, if
 * that was asked for — and any object it may have written is removed so nothing half-made looks good.
 */
export async function reconcileStoppedTask(
  deps: CoreDeps,
  input: { app: string; num: number; exitCode?: number; reason: string },
): Promise<Transfer | undefined> {
  const t = await deps.catalog.getTransfer(input.app, input.num);
  if (!t) return undefined;
  // The safety backup ran in the same task: if it was still going, it died with it.
  const safety = t.safetyBackup;
  const reconcileSafety = async () => {
    if (safety) await reconcileStoppedTask(deps, { ...input, app: safety.app, num: safety.num });
  };
  if (isFinished(t.status)) {
    // The worker recorded its own end; the rest (alert, retention) happens here, once.
    await afterTransferFinished(deps, t);
    await reconcileSafety();
    return t;
  }
  const exit = input.exitCode === undefined ? '' : ` (exit code ${input.exitCode})`;
  const end = failOrCancel(deps.clock.now().toISOString(), {
    cancelled: t.cancelRequested,
    error: `The worker stopped before finishing: ${input.reason}${exit}`,
  });
  const updated = await applyUpdate(deps.catalog, t, end);
  if (!updated) return reconcileStoppedTask(deps, input); // the worker finished meanwhile
  if (t.kind === 'backup' && t.target.type === 'blob') await deps.blobs.delete(t.target.key);
  deps.log.warn('transfer reconciled after worker stopped', {
    app: t.app,
    transfer: t.id,
    status: updated.status,
    reason: input.reason,
    exitCode: input.exitCode,
  });
  await afterTransferFinished(deps, updated);
  await reconcileSafety();
  return updated;
}
