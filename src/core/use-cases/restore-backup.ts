import type { CoreDeps } from '../deps.js';
import { UnprocessableError, ValidationError } from '../errors.js';
import { parseExtensions } from '../extensions.js';
import { parseAppName, splitAppQualified } from '../names.js';
import type { DatabaseAttachment } from '../ports.js';
import { type Transfer, type TransferSource, transferName } from '../transfer.js';
import { requireDatabase } from './databases.js';
import { launchOverwrite, parseSafetyBackup } from './safety-backup.js';
import { requireCompletedBackup, requireTransfer } from './transfers.js';

/**
 * Restores a completed backup into an attached database, atomically: the target's schemas are replaced by the
 * backup's in one transaction that commits only when pg_restore succeeded and the dump's checksum matched.
 */
export async function restoreBackup(
  deps: CoreDeps,
  input: {
    app: string;
    backup?: string;
    database?: string;
    extensions?: unknown;
    keepExtensions?: unknown;
    parallel?: unknown;
    safetyBackup?: unknown;
    /** `r###` of a `--parallel` restore whose last step failed: only that step runs again. */
    finish?: unknown;
  },
): Promise<Transfer> {
  const app = parseAppName(input.app);
  if (input.finish !== undefined) return finishRestore(deps, app, input.finish);
  const extensions = parseExtensions(input.extensions);
  const keep = parseKeepExtensions(input.keepExtensions);
  const parallel = parseParallel(input.parallel);
  const safety = parseSafetyBackup(input.safetyBackup);
  if (input.backup !== undefined && typeof input.backup !== 'string') {
    throw new ValidationError('Invalid backup: give an id like b101');
  }
  if (input.backup !== undefined && /^[a-z][a-z0-9+.-]*:\/\//i.test(input.backup)) {
    return restoreFromUrl(deps, app, input.backup, input.database, { extensions, keep, parallel }, safety);
  }
  // `other-app::b101`: the API has already checked that the caller may read other-app.
  const ref = input.backup === undefined ? undefined : splitAppQualified(input.backup, app);
  const named = ref && (await requireCompletedBackup(deps, ref.app, ref.name));
  const target = await requireDatabase(deps, app, input.database ?? 'DATABASE');
  // Without an id: the newest manual or scheduled backup of the target itself (transfers.ts defaultBackup).
  const backup = named ?? (await requireCompletedBackup(deps, app, undefined, target.name));
  if (backup.target.type !== 'blob' || !backup.sha256 || backup.backupBytes === undefined) {
    throw new UnprocessableError(`Backup ${backup.id} has no verified object to restore from`);
  }
  const source: TransferSource = {
    type: 'backup',
    app: backup.app,
    id: backup.id,
    num: backup.num,
    key: backup.target.key,
    sha256: backup.sha256,
    bytes: backup.backupBytes,
  };
  return launchOverwrite(
    deps,
    await newRestore(deps, app, target, source, { extensions, keep, parallel }),
    target,
    safety,
  );
}

/**
 * `keepExtensions`: names of extensions installed in the target (no schema: an extension's name is unique in a
 * database) that the wipe keeps and the dump does not recreate.
 */
export function parseKeepExtensions(input: unknown): string[] {
  const names = parseExtensions(input);
  const qualified = names.find((n) => n.includes('.'));
  if (qualified) {
    throw new ValidationError(
      `Invalid keepExtensions entry ${JSON.stringify(qualified)}: give the extension's name alone (it is kept where it is installed)`,
    );
  }
  return [...new Set(names)];
}

interface RestoreOptions {
  readonly extensions: string[];
  readonly keep: string[];
  readonly parallel: number;
}

/** `--parallel N`: 1 (the atomic restore) to 16 jobs. */
export const MAX_RESTORE_JOBS = 16;

export function parseParallel(input: unknown): number {
  if (input === undefined) return 1;
  if (typeof input !== 'number' || !Number.isInteger(input) || input < 1 || input > MAX_RESTORE_JOBS) {
    throw new ValidationError(
      `Invalid parallel: use a whole number of jobs from 1 to ${MAX_RESTORE_JOBS} (1 keeps the restore atomic)`,
    );
  }
  return input;
}

/**
 * Restores a dump fetched from a URL (Heroku's `pg:backups:restore 'https://…'`). Only https is accepted here; the
 * API has checked where the name resolves, and the worker checks again, on every redirect, as it connects. There
 * is no recorded checksum to compare, so the transfer records the SHA-256 of what it read.
 */
async function restoreFromUrl(
  deps: CoreDeps,
  app: string,
  url: string,
  database: string | undefined,
  opts: RestoreOptions,
  safety: boolean,
): Promise<Transfer> {
  if (!url.toLowerCase().startsWith('https://') || url.length > 4096) {
    throw new ValidationError(
      'Invalid restore URL: only https:// URLs are accepted (http and other schemes are refused)',
    );
  }
  const target = await requireDatabase(deps, app, database ?? 'DATABASE');
  const restore = await newRestore(deps, app, target, { type: 'url', url }, opts);
  return launchOverwrite(deps, restore, target, safety);
}

/** The pending `r###` record of a restore into `target`, whatever its source. */
async function newRestore(
  deps: CoreDeps,
  app: string,
  target: DatabaseAttachment,
  source: TransferSource,
  { extensions, keep, parallel }: RestoreOptions,
): Promise<Transfer> {
  const num = await deps.catalog.nextTransferNum(app);
  return {
    app,
    num,
    id: transferName('restore', 'manual', num),
    kind: 'restore',
    type: 'manual',
    status: 'pending',
    database: target.name,
    source,
    target: { type: 'database', app, database: target.name },
    extensions,
    ...(keep.length > 0 ? { keepExtensions: keep } : {}),
    ...(parallel > 1 ? { parallel } : {}),
    createdAt: deps.clock.now().toISOString(),
  };
}

/**
 * `pgbackups restore --finish r###`: runs again only the last step of a `--parallel` restore that failed after its
 * atomic step committed (parallel-restore.ts), from the same backup — whose bytes must still hash to what that
 * restore read — into the same target, with the same options. Nothing is wiped, so no safety backup is taken.
 */
async function finishRestore(deps: CoreDeps, app: string, input: unknown): Promise<Transfer> {
  if (typeof input !== 'string') throw new ValidationError('Invalid finish: give a restore id like r105');
  const original = await requireTransfer(deps, app, input);
  const src = original.source;
  const committed = original.sha256 !== undefined && original.processedBytes !== undefined;
  if (
    original.kind !== 'restore' ||
    (original.parallel ?? 1) < 2 ||
    original.status !== 'failed' ||
    !committed ||
    original.finishOf !== undefined
  ) {
    throw new UnprocessableError(
      `${original.id} cannot be finished: only a --parallel restore whose indexes and constraints failed after its data was committed can (restore again instead)`,
    );
  }
  if (src.type !== 'backup' || original.target.type !== 'database') {
    throw new UnprocessableError(
      `${original.id} restored from a URL, which may have changed since: restore it again instead`,
    );
  }
  const target = await requireDatabase(deps, original.target.app, original.target.database);
  const num = await deps.catalog.nextTransferNum(app);
  const finish: Transfer = {
    app,
    num,
    id: transferName('restore', 'manual', num),
    kind: 'restore',
    type: 'manual',
    status: 'pending',
    database: target.name,
    // The bytes the original restore read and committed; the worker checks the object still matches them.
    source: { ...src, sha256: original.sha256 ?? src.sha256, bytes: original.processedBytes ?? src.bytes },
    target: original.target,
    extensions: original.extensions ?? [],
    ...(original.keepExtensions ? { keepExtensions: original.keepExtensions } : {}),
    parallel: original.parallel,
    finishOf: { id: original.id, num: original.num },
    createdAt: deps.clock.now().toISOString(),
  };
  return launchOverwrite(deps, finish, target, false);
}
