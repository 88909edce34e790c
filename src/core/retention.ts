/**
 * Retention: which transfers of an app to delete, and why. A pure function of the app's transfers, its database
 * attachments, its limits and the time; the prune use case applies the plan. docs/schedules-and-retention.md has
 * the rules with examples.
 *
 * Buckets are UTC calendar weeks (Monday 00:00 UTC) and UTC calendar months. "The last W weeks" are the W whole
 * weeks before the current one, and the current week's oldest backup is protected too, so the backup that will
 * represent a week is never deleted while the week is still under way (a rolling window would keep a different
 * backup each day and delete yesterday's pick). Months likewise.
 */
import type { DatabaseAttachment } from './ports.js';
import type { RetentionLimits } from './settings.js';
import { isActive, isUnsuccessful, type Transfer } from './transfer.js';

export const DAY_MS = 24 * 3_600_000;
/** Failed and cancelled transfers are deleted once they are this many days old. */
export const FAILED_TRANSFER_DAYS = 7;
/** Backups of a removed database are kept this many days after its removal, then all deleted. */
export const REMOVED_DATABASE_GRACE_DAYS = 7;
/** Safety backups (taken before a restore or copy overwrote the database) are kept this long. */
export const SAFETY_BACKUP_DAYS = 7;
/** The longest transfer pgbackups supports: the watchdog ends one still running after this many days. */
export const MAX_TRANSFER_DAYS = 6;
/** Days the daily prune may lag behind its plan (it runs once a day and is retried); every backstop allows it. */
export const PRUNE_SLACK_DAYS = 2;
/** Days a deleted or replaced dump stays recoverable in S3 as a noncurrent version. */
export const NONCURRENT_VERSION_DAYS = 7;

/**
 * The S3 lifecycle of the backups bucket, derived from the rules above so S3 never removes an object the catalog
 * still lists (lib/constructs/backups-bucket.ts applies it; test/unit/core/retention-lifecycle.test.ts ties it
 * to planRetention).
 *
 * - Incomplete multipart uploads are aborted only after the longest supported transfer, plus a day.
 * - `safety/` objects expire once the longest keep planRetention can give them is over: SAFETY_BACKUP_DAYS, or a
 *   removal of their database just before that plus REMOVED_DATABASE_GRACE_DAYS, plus the prune's slack.
 * - `scheduled/` and `manual/` objects never expire by age: the newest completed backup of an attached database is
 *   kept whatever its age, and scheduled expiry pauses while a schedule is failing, so no age is safe. The daily
 *   prune reaches every app (Catalog.listApps) and is alarmed when it fails.
 */
export const BUCKET_LIFECYCLE = {
  abortIncompleteUploadDays: MAX_TRANSFER_DAYS + 1,
  safetyExpirationDays: SAFETY_BACKUP_DAYS + REMOVED_DATABASE_GRACE_DAYS + PRUNE_SLACK_DAYS,
  noncurrentVersionDays: NONCURRENT_VERSION_DAYS,
} as const;

export interface RetentionInput {
  /** Every transfer of one app (all kinds and statuses). */
  readonly transfers: readonly Transfer[];
  /** The app's attachments, removed ones included. A database with no record is treated as attached. */
  readonly databases: readonly DatabaseAttachment[];
  readonly limits: RetentionLimits;
  readonly now: Date;
}

export interface RetentionDecision {
  readonly transfer: Transfer;
  /** Why, in words a user reads in `pgbackups retention --dry-run`. */
  readonly reason: string;
}

/** Every input transfer is in exactly one of the two lists, in input order. */
export interface RetentionPlan {
  readonly delete: RetentionDecision[];
  readonly keep: RetentionDecision[];
}

/** Monday 00:00 UTC of the week holding `ms`. */
export function weekStart(ms: number): number {
  const d = new Date(ms);
  const midnight = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate());
  return midnight - ((d.getUTCDay() + 6) % 7) * DAY_MS;
}

/** The 1st 00:00 UTC of the month holding `ms`. */
export function monthStart(ms: number): number {
  const d = new Date(ms);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
}

function days(ms: number): string {
  const n = Math.floor(ms / DAY_MS);
  return n === 1 ? '1 day' : `${n} days`;
}

const isoDate = (ms: number) => new Date(ms).toISOString().slice(0, 10);
const isoMonth = (ms: number) => new Date(ms).toISOString().slice(0, 7);
const createdMs = (t: Transfer) => Date.parse(t.createdAt);
/** Newest first; the transfer number breaks ties (it only grows). */
const newestFirst = (a: Transfer, b: Transfer) => createdMs(b) - createdMs(a) || b.num - a.num;

interface Bucket {
  readonly start: number;
  readonly end: number;
  readonly label: string;
}

/** The current bucket and the `count` before it, or none when count is 0. */
function buckets(count: number, now: number, kind: 'week' | 'month'): Bucket[] {
  if (count <= 0) return [];
  const out: Bucket[] = [];
  const current = kind === 'week' ? weekStart(now) : monthStart(now);
  for (let k = 0; k <= count; k++) {
    if (kind === 'week') {
      const start = current - k * 7 * DAY_MS;
      out.push({ start, end: start + 7 * DAY_MS, label: `the week of ${isoDate(start)}` });
    } else {
      const d = new Date(current);
      const start = Date.UTC(d.getUTCFullYear(), d.getUTCMonth() - k, 1);
      const end = Date.UTC(d.getUTCFullYear(), d.getUTCMonth() - k + 1, 1);
      out.push({ start, end, label: isoMonth(start) });
    }
  }
  return out;
}

/** For each bucket, its oldest backup among `sorted` (oldest first), mapped to the bucket's label. */
function representatives(
  sortedOldestFirst: readonly Transfer[],
  bs: readonly Bucket[],
): Map<Transfer, string> {
  const reps = new Map<Transfer, string>();
  for (const b of bs) {
    const oldest = sortedOldestFirst.find((t) => createdMs(t) >= b.start && createdMs(t) < b.end);
    if (oldest && !reps.has(oldest)) reps.set(oldest, b.label);
  }
  return reps;
}

export function planRetention(input: RetentionInput): RetentionPlan {
  const now = input.now.getTime();
  const { limits } = input;
  const decisions = new Map<Transfer, { keep: boolean; reason: string }>();
  const decide: Decide = {
    keep: (t, reason) => decisions.set(t, { keep: true, reason }),
    drop: (t, reason) => decisions.set(t, { keep: false, reason }),
    kept: (t) => decisions.get(t)?.keep !== false,
  };
  const attachments = new Map(input.databases.map((d) => [`${d.app}\u0000${d.name}`, d]));
  const scope: Scope = {
    now,
    limits,
    weeks: buckets(limits.weekly, now, 'week'),
    months: buckets(limits.monthly, now, 'month'),
  };

  for (const [k, transfers] of byDatabase(input.transfers)) {
    const db = transfers[0]!.database;
    const removedAt = attachments.get(k)?.removedAt;
    if (removedAt !== undefined) planRemovedDatabase(transfers, db, now - Date.parse(removedAt), decide);
    else planAttachedDatabase(transfers, db, scope, decide);
  }

  const plan: RetentionPlan = { delete: [], keep: [] };
  for (const t of input.transfers) {
    const d = decisions.get(t)!;
    (d.keep ? plan.keep : plan.delete).push({ transfer: t, reason: d.reason });
  }
  return plan;
}

/** Records a decision about a transfer; `kept` tells whether one was kept (or not yet decided). */
interface Decide {
  keep(t: Transfer, reason: string): void;
  drop(t: Transfer, reason: string): void;
  kept(t: Transfer): boolean;
}

/** What every database's plan is made against: the time, the app's limits and their kept buckets. */
interface Scope {
  readonly now: number;
  readonly limits: RetentionLimits;
  readonly weeks: readonly Bucket[];
  readonly months: readonly Bucket[];
}

/** An app's transfers per database (`app NUL database`), each list in input order. */
function byDatabase(transfers: readonly Transfer[]): Map<string, Transfer[]> {
  const out = new Map<string, Transfer[]>();
  for (const t of transfers) {
    const k = `${t.app}\u0000${t.database}`;
    const list = out.get(k) ?? [];
    list.push(t);
    out.set(k, list);
  }
  return out;
}

/** A removed database: everything finished goes once the grace period since its removal (`since` ms) is over. */
function planRemovedDatabase(
  transfers: readonly Transfer[],
  db: string,
  since: number,
  decide: Decide,
): void {
  const { keep, drop } = decide;
  for (const t of transfers) {
    if (isActive(t.status)) keep(t, `${t.status}, not finished`);
    else if (since > REMOVED_DATABASE_GRACE_DAYS * DAY_MS)
      drop(t, `database ${db} removed ${days(since)} ago`);
    else {
      keep(t, `database ${db} removed ${days(since)} ago; kept for ${REMOVED_DATABASE_GRACE_DAYS} days`);
    }
  }
}

/**
 * An attached database: unfinished, failed, restores and copies, and safety backups by their own rules; then
 * manual and scheduled backups by the limits; and whatever the limits say, its newest completed backup stays.
 */
function planAttachedDatabase(
  transfers: readonly Transfer[],
  db: string,
  scope: Scope,
  decide: Decide,
): void {
  const { now } = scope;
  const { keep, drop } = decide;
  const manual: Transfer[] = [];
  const scheduled: Transfer[] = [];
  for (const t of transfers) {
    if (isActive(t.status)) keep(t, `${t.status}, not finished`);
    else if (isUnsuccessful(t.status)) {
      const age = now - Date.parse(t.finishedAt ?? t.createdAt);
      if (age > FAILED_TRANSFER_DAYS * DAY_MS) drop(t, `${t.status} ${days(age)} ago`);
      else keep(t, `${t.status} ${days(age)} ago; cleaned after ${FAILED_TRANSFER_DAYS} days`);
    } else if (t.kind !== 'backup')
      keep(t, `completed ${t.kind}: restores and copies are history, not storage`);
    else if (t.type === 'safety') {
      // Outside the manual limit and the newest-backup rule: it records what a restore replaced, for a week.
      const age = now - Date.parse(t.createdAt);
      if (age > SAFETY_BACKUP_DAYS * DAY_MS)
        drop(t, `safety backup taken ${days(age)} ago; kept ${SAFETY_BACKUP_DAYS} days`);
      else keep(t, `safety backup taken ${days(age)} ago; kept ${SAFETY_BACKUP_DAYS} days`);
    } else if (t.type === 'manual') manual.push(t);
    else scheduled.push(t);
  }

  planManual(manual, db, scope.limits, decide);
  planScheduled(scheduled, transfers, db, scope, decide);

  // Whatever the limits say, an attached database keeps its newest completed backup.
  const newest = [...manual, ...scheduled].sort(newestFirst)[0];
  if (newest && !decide.kept(newest)) keep(newest, `newest completed backup of ${db}`);
}

/** Manual: the newest N completed per database. Sorts `manual` newest first. */
function planManual(manual: Transfer[], db: string, limits: RetentionLimits, { keep, drop }: Decide): void {
  manual.sort(newestFirst);
  manual.forEach((t, i) => {
    if (i < limits.manual) keep(t, `one of the newest ${limits.manual} manual backups of ${db}`);
    else
      drop(t, `manual limit ${limits.manual} exceeded (${manual.length} completed manual backups of ${db})`);
  });
}

/**
 * Scheduled: everything of the last `daily` days, the oldest of each kept week and month; nothing expires while
 * the database's schedule is failing. Sorts `scheduled` oldest first; `transfers` are all of the database's.
 */
function planScheduled(
  scheduled: Transfer[],
  transfers: readonly Transfer[],
  db: string,
  { now, limits, weeks, months }: Scope,
  { keep, drop }: Decide,
): void {
  const dailyMs = limits.daily * DAY_MS;
  scheduled.sort((a, b) => -newestFirst(a, b));
  const newestScheduled = scheduled.length ? createdMs(scheduled[scheduled.length - 1]!) : -Infinity;
  // Failing: a scheduled run newer than the last good one failed, and is not itself old enough to be cleaned
  // (so applying the plan twice changes nothing).
  const failing = transfers.some(
    (t) =>
      t.kind === 'backup' &&
      t.type === 'scheduled' &&
      isUnsuccessful(t.status) &&
      createdMs(t) > newestScheduled &&
      now - Date.parse(t.finishedAt ?? t.createdAt) <= FAILED_TRANSFER_DAYS * DAY_MS,
  );
  const weekReps = representatives(scheduled, weeks);
  const monthReps = representatives(scheduled, months);
  const oldestWeek = weeks[weeks.length - 1]?.start ?? now;
  const oldestMonth = months[months.length - 1]?.start ?? now;
  for (const t of scheduled) {
    const created = createdMs(t);
    const week = weekReps.get(t);
    const month = monthReps.get(t);
    if (now - created <= dailyMs) keep(t, `scheduled backup within the last ${limits.daily} days`);
    else if (week) keep(t, `oldest scheduled backup of ${week}`);
    else if (month) keep(t, `oldest scheduled backup of ${month}`);
    else if (failing) keep(t, `scheduled expiry paused: the latest scheduled backup of ${db} failed`);
    else {
      const inWeek = created >= oldestWeek;
      const inMonth = created >= oldestMonth;
      const why =
        inWeek && inMonth
          ? 'not the oldest of its week or month'
          : inWeek
            ? 'not the oldest of its week'
            : inMonth
              ? 'not the oldest of its month'
              : `before the kept ${limits.weekly} weeks and ${limits.monthly} months`;
      drop(t, `scheduled backup older than ${limits.daily} days, ${why}`);
    }
  }
}
