import type { CoreDeps } from '../deps.js';
import { errorMessage } from '../logger.js';
import { parseAppName } from '../names.js';
import { collectPages, paginate } from '../paginate.js';
import { DAY_MS, planRetention, REMOVED_DATABASE_GRACE_DAYS } from '../retention.js';
import { defaultSettings, effectiveLimits } from '../settings.js';
import type { Transfer, TransferKind, TransferStatus, TransferType } from '../transfer.js';

/** One transfer the pruner deleted (or, in a dry run, would delete), and why. */
export interface PruneEntry {
  readonly id: string;
  readonly num: number;
  readonly kind: TransferKind;
  readonly type: TransferType;
  readonly status: TransferStatus;
  readonly database: string;
  readonly createdAt: string;
  readonly reason: string;
}

export interface PruneResult {
  readonly app: string;
  readonly dryRun: boolean;
  readonly deleted: PruneEntry[];
  /** Removed databases whose grace period is over and whose last transfer is gone: their records go too. */
  readonly removedDatabases: string[];
  /** Deletions that failed this time (the object could not be deleted); the next run retries them. */
  readonly errors: { id: string; error: string }[];
}

async function allTransfers(deps: CoreDeps, app: string): Promise<Transfer[]> {
  return collectPages(
    paginate(async (cursor: string | undefined) => {
      const page = await deps.catalog.listTransfers(app, { limit: 500, cursor });
      return { items: page.transfers, next: page.cursor };
    }),
  );
}

/**
 * Applies the app's retention (src/core/retention.ts). For each transfer to delete: its object first, then its
 * record, so a crash in between leaves a record whose object is gone (retried next run: deleting a missing object
 * is a no-op) rather than an orphan object nobody knows about. Running it twice deletes nothing the second time.
 * With `dryRun` nothing is touched; the result lists what would go and why (GET /v1/apps/{app}/retention).
 */
export async function pruneApp(
  deps: CoreDeps,
  appInput: string,
  opts: { dryRun: boolean },
): Promise<PruneResult> {
  const app = parseAppName(appInput);
  const now = deps.clock.now();
  const settings = (await deps.catalog.getSettings(app)) ?? defaultSettings(app);
  const [listed, databases] = await Promise.all([
    allTransfers(deps, app),
    deps.catalog.listDatabases(app, { includeRemoved: true }),
  ]);
  // Mirrors of other apps' copies are neither counted nor deleted here: each goes with its copy (below).
  const transfers = listed.filter((t) => !t.mirrorOf);
  const plan = planRetention({ transfers, databases, limits: effectiveLimits(settings), now });
  const log = deps.log.child({ app });

  const deleted: PruneEntry[] = [];
  const errors: { id: string; error: string }[] = [];
  for (const { transfer: t, reason } of plan.delete) {
    const entry: PruneEntry = {
      id: t.id,
      num: t.num,
      kind: t.kind,
      type: t.type,
      status: t.status,
      database: t.database,
      createdAt: t.createdAt,
      reason,
    };
    if (!opts.dryRun) {
      try {
        if (t.kind === 'backup' && t.target.type === 'blob') await deps.blobs.delete(t.target.key);
        // Mirrors first, so a failure half-way leaves the copy, which names them, to retry with.
        for (const m of t.mirrors ?? []) await deps.catalog.deleteTransfer(m.app, m.num);
        await deps.catalog.deleteTransfer(app, t.num);
        log.info('transfer pruned', { transfer: t.id, database: t.database, reason });
      } catch (e) {
        errors.push({ id: t.id, error: errorMessage(e) });
        log.error('prune failed', { transfer: t.id, error: errorMessage(e) });
        continue;
      }
    }
    deleted.push(entry);
  }

  const gone = new Set(deleted.map((d) => d.num));
  const remaining = new Set(transfers.filter((t) => !gone.has(t.num)).map((t) => t.database));
  const removedDatabases: string[] = [];
  for (const db of databases) {
    if (!db.removedAt || remaining.has(db.name)) continue;
    if (now.getTime() - Date.parse(db.removedAt) <= REMOVED_DATABASE_GRACE_DAYS * DAY_MS) continue;
    if (!opts.dryRun) {
      await deps.catalog.deleteDatabase(app, db.name);
      log.info('removed database record pruned', { database: db.name });
    }
    removedDatabases.push(db.name);
  }
  return { app, dryRun: opts.dryRun, deleted, removedDatabases, errors };
}

export interface PruneAllResult {
  readonly apps: number;
  readonly deleted: number;
  readonly failedApps: string[];
}

/**
 * Prunes every app of the catalog (Catalog.listApps), so manual backups and a removed database's backups are
 * deleted on time even when nothing else happens in the app. One app failing does not stop the others; the run
 * then throws at the end so the Lambda's error alarm and EventBridge's retry see it (retrying is harmless).
 */
export async function pruneAll(deps: CoreDeps): Promise<PruneAllResult> {
  const apps = await knownApps(deps);
  let deleted = 0;
  const failedApps: string[] = [];
  for (const app of apps) {
    try {
      const r = await pruneApp(deps, app, { dryRun: false });
      deleted += r.deleted.length;
      if (r.errors.length) failedApps.push(app);
    } catch (e) {
      failedApps.push(app);
      deps.log.error('prune of app failed', { app, error: errorMessage(e) });
    }
  }
  const result = { apps: apps.length, deleted, failedApps };
  deps.log.info('prune finished', { ...result });
  if (failedApps.length)
    throw new Error(`Prune failed for ${failedApps.length} app(s): ${failedApps.join(', ')}`);
  return result;
}

async function knownApps(deps: CoreDeps): Promise<string[]> {
  const apps = new Set(await deps.catalog.listApps());
  // Also apps with a schedule or an active transfer: catalogs written before the app index existed register an
  // app only at its next attachment or transfer.
  for (const s of await deps.catalog.listAllSchedules()) apps.add(s.app);
  for (const t of await deps.catalog.listActiveTransfers()) apps.add(t.app);
  return [...apps].sort();
}
