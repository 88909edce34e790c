/**
 * The watchdog (hourly on AWS; on a timer in the local stack). Two jobs:
 * 1. Stuck transfers: an active transfer whose worker is gone, or silent for too long, is marked failed (or
 *    cancelled, if a cancel was asked for) with the reason, and alerted once.
 * 2. Missed schedules: a schedule with no completed backup of its database in the last 25 hours gets a catch-up
 *    capture and one `schedule.missed` alert (a schedule never silently stops: Heroku's top complaint).
 */
import type { CoreDeps } from '../deps.js';
import { errorMessage } from '../logger.js';
import { METRIC_SCHEDULES_MISSED, metricFields } from '../metrics.js';
import { paginate } from '../paginate.js';
import type { Schedule } from '../ports.js';
import { DAY_MS, MAX_TRANSFER_DAYS } from '../retention.js';
import { describeSchedule, nextRunAt, previousRunAt, SCHEDULE_WINDOW_MINUTES } from '../schedule-time.js';
import { applyUpdate, failOrCancel, type Transfer } from '../transfer.js';
import { afterTransferFinished } from './after-transfer.js';
import { captureBackup } from './capture-backup.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

/** A running transfer whose last heartbeat is older than this is failed. */
export const HEARTBEAT_STALE_MS = 10 * MINUTE;
/** A pending transfer not running after this long is failed (Fargate can take minutes to place and pull). */
export const PENDING_START_LIMIT_MS = 30 * MINUTE;
/** A schedule with no completed backup for this long is missed. */
export const SCHEDULE_MISSED_AFTER_MS = 25 * HOUR;
/** No catch-up this close to a scheduled run: the run itself may be starting anywhere in its flexible window. */
export const SCHEDULED_RUN_MARGIN_MS = (SCHEDULE_WINDOW_MINUTES + 10) * MINUTE;

export interface WatchdogResult {
  readonly stuck: { app: string; id: string; status: 'failed' | 'cancelled'; reason: string }[];
  readonly catchUps: { app: string; database: string; transferId?: string; error?: string }[];
}

export async function runWatchdog(deps: CoreDeps): Promise<WatchdogResult> {
  const stuck = await failStuckTransfers(deps);
  const catchUps = await catchUpMissedSchedules(deps);
  deps.log.info('watchdog finished', { stuck: stuck.length, catchUps: catchUps.length });
  return { stuck, catchUps };
}

async function whyStuck(deps: CoreDeps, t: Transfer, now: number): Promise<string | undefined> {
  if (t.taskRef) {
    const alive = await deps.runner.isAlive(t.taskRef).catch((e: unknown) => {
      deps.log.warn('cannot tell whether the worker is alive', {
        app: t.app,
        transfer: t.id,
        error: errorMessage(e),
      });
      return undefined;
    });
    if (alive === false) return 'the worker task is gone';
  }
  if (t.status === 'pending') {
    const waited = now - Date.parse(t.heartbeatAt ?? t.createdAt);
    if (waited > PENDING_START_LIMIT_MS) {
      return `the worker did not start within ${Math.floor(PENDING_START_LIMIT_MS / MINUTE)} minutes`;
    }
    return undefined;
  }
  const ran = now - Date.parse(t.startedAt ?? t.createdAt);
  if (ran > MAX_TRANSFER_DAYS * DAY_MS) {
    // Past this the bucket's lifecycle aborts the multipart upload anyway (BUCKET_LIFECYCLE).
    return `it ran longer than ${MAX_TRANSFER_DAYS} days, the longest transfer pgbackups supports`;
  }
  const silent = now - Date.parse(t.heartbeatAt ?? t.startedAt ?? t.createdAt);
  if (silent > HEARTBEAT_STALE_MS)
    return `no heartbeat from the worker for ${Math.floor(silent / MINUTE)} minutes`;
  return undefined;
}

/**
 * The write is conditional on the status seen, so a transfer that finished meanwhile is left alone and the alert
 * goes out once even if two watchdogs (or the task-events handler) race.
 */
async function failStuckTransfers(deps: CoreDeps): Promise<WatchdogResult['stuck']> {
  const out: WatchdogResult['stuck'] = [];
  const now = deps.clock.now();
  for (const t of await deps.catalog.listActiveTransfers()) {
    const reason = await whyStuck(deps, t, now.getTime());
    if (!reason) continue;
    const end = failOrCancel(
      now.toISOString(),
      { cancelled: t.cancelRequested, error: `Watchdog: ${reason}` },
      t.status,
    );
    const updated = await applyUpdate(deps.catalog, t, end);
    if (!updated) continue;
    const log = deps.log.child({ app: t.app, transfer: t.id });
    log.warn('stuck transfer ended by the watchdog', { status: updated.status, reason });
    // A hung worker must not finish later and upload over what we just declared failed.
    if (t.taskRef) {
      await deps.runner
        .stop(t.taskRef, `pgbackups watchdog: ${reason}`)
        .catch((e: unknown) => log.warn('could not stop the worker', { error: errorMessage(e) }));
    }
    if (t.kind === 'backup' && t.target.type === 'blob') {
      await deps.blobs
        .delete(t.target.key)
        .catch((e: unknown) =>
          log.warn('could not delete a partial backup object', { error: errorMessage(e) }),
        );
    }
    await afterTransferFinished(deps, updated);
    out.push({ app: t.app, id: t.id, status: updated.status as 'failed' | 'cancelled', reason });
  }
  return out;
}

/** Backups of an app created since `since`, newest first. */
async function recentBackups(deps: CoreDeps, app: string, since: number): Promise<Transfer[]> {
  const out: Transfer[] = [];
  const pages = paginate(async (cursor: string | undefined) => {
    const page = await deps.catalog.listTransfers(app, { kind: 'backup', limit: 100, cursor });
    return { items: page.transfers, next: page.cursor };
  });
  for await (const page of pages) {
    for (const t of page.items) if (Date.parse(t.createdAt) >= since) out.push(t);
    // Newest first: once a page ends before `since`, no later page can hold a recent backup.
    const last = page.items.at(-1);
    if (!last || Date.parse(last.createdAt) < since) break;
  }
  return out;
}

/**
 * Why a schedule needs no catch-up now, or undefined when it does.
 *
 * The reference point is the newest completed backup of the database (manual or scheduled: either protects the
 * data), or the schedule's creation when that is later. Once a catch-up was attempted for a miss, another is not
 * started (nor alerted) for 25 hours: a scheduled backup created 25 h or more after the reference, within the last
 * 25 h, marks the miss as handled. So one alert per miss, and one more a day while nothing completes.
 */
function noCatchUpNeeded(
  s: Schedule,
  backups: readonly Transfer[],
  active: readonly Transfer[],
  now: number,
): string | undefined {
  if (active.some((t) => t.app === s.app && t.database === s.database))
    return 'a transfer of the database is active';
  const mine = backups.filter((t) => t.database === s.database);
  const lastCompleted = mine.find((t) => t.status === 'completed');
  const reference = Math.max(
    Date.parse(s.createdAt),
    lastCompleted ? Date.parse(lastCompleted.createdAt) : 0,
  );
  if (now - reference <= SCHEDULE_MISSED_AFTER_MS) return 'not overdue';
  const handled = mine.some((t) => {
    const created = Date.parse(t.createdAt);
    return (
      t.type === 'scheduled' &&
      created >= reference + SCHEDULE_MISSED_AFTER_MS &&
      created > now - SCHEDULE_MISSED_AFTER_MS
    );
  });
  if (handled) return 'a catch-up for this miss was already attempted';
  const prev = previousRunAt(s, new Date(now)).getTime();
  const next = nextRunAt(s, new Date(now)).getTime();
  if (now - prev < SCHEDULED_RUN_MARGIN_MS || next - now < SCHEDULED_RUN_MARGIN_MS)
    return 'a scheduled run is due';
  return undefined;
}

async function catchUpMissedSchedules(deps: CoreDeps): Promise<WatchdogResult['catchUps']> {
  const out: WatchdogResult['catchUps'] = [];
  const now = deps.clock.now().getTime();
  const schedules = await deps.catalog.listAllSchedules();
  if (schedules.length === 0) return out;
  // Read after the stuck pass, so transfers just failed there no longer count as active.
  const active = await deps.catalog.listActiveTransfers();
  const byApp = new Map<string, Transfer[]>();
  for (const s of schedules) {
    const log = deps.log.child({ app: s.app, database: s.database });
    try {
      const db = await deps.catalog.getDatabase(s.app, s.database);
      if (!db || db.removedAt) {
        log.warn('schedule of a database that is not attached; skipped');
        continue;
      }
      let backups = byApp.get(s.app);
      if (!backups) {
        // Two windows back is all the decision needs (see noCatchUpNeeded).
        backups = await recentBackups(deps, s.app, now - 2 * SCHEDULE_MISSED_AFTER_MS);
        byApp.set(s.app, backups);
      }
      const skip = noCatchUpNeeded(s, backups, active, now);
      if (skip) continue;
      out.push(await catchUp(deps, s));
    } catch (e) {
      log.error('missed-schedule check failed', { error: errorMessage(e) });
    }
  }
  return out;
}

async function catchUp(deps: CoreDeps, s: Schedule): Promise<WatchdogResult['catchUps'][number]> {
  const log = deps.log.child({ app: s.app, database: s.database });
  let transfer: Transfer | undefined;
  let error: string | undefined;
  try {
    transfer = await captureBackup(deps, { app: s.app, database: s.database, type: 'scheduled' });
  } catch (e) {
    error = errorMessage(e);
  }
  const what = transfer
    ? `started catch-up backup ${transfer.id}`
    : `the catch-up backup could not start: ${error}`;
  log.warn('schedule missed', {
    transfer: transfer?.id,
    error,
    ...metricFields(METRIC_SCHEDULES_MISSED, deps.clock.now()),
  });
  try {
    await deps.notifier.notify({
      type: 'schedule.missed',
      app: s.app,
      database: s.database,
      transferId: transfer?.id,
      message: `Schedule Missed: no completed backup of ${s.database} in the last 25 hours (${describeSchedule(s)}); ${what}`,
      at: deps.clock.now().toISOString(),
    });
  } catch (e) {
    log.error('alert not delivered', { alert: 'schedule.missed', error: errorMessage(e) });
  }
  return { app: s.app, database: s.database, transferId: transfer?.id, error };
}
