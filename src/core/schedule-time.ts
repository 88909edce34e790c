/**
 * Daily schedule times: parsing Heroku's `--at`, the next run with EventBridge Scheduler's DST rules, and the
 * Heroku-style description (`daily at 2:00 America/Los_Angeles`).
 */
import { ValidationError } from './errors.js';
import { TIME_ZONE_ALIASES, TIME_ZONES } from './time-zones.js';

/** When a schedule runs: every day at hour:minute, wall-clock time in `timezone` (a canonical IANA name). */
export interface ScheduleTime {
  readonly hour: number;
  readonly minute: number;
  readonly timezone: string;
}

/** Heroku's abbreviations (pg:backups:schedule), matched case-insensitively; nothing else is accepted short. */
export const TIME_ZONE_ABBREVIATIONS: Readonly<Record<string, string>> = {
  PST: 'America/Los_Angeles',
  PDT: 'America/Los_Angeles',
  MST: 'America/Boise',
  MDT: 'America/Boise',
  CST: 'America/Chicago',
  CDT: 'America/Chicago',
  EST: 'America/New_York',
  EDT: 'America/New_York',
  GMT: 'Europe/London',
  BST: 'Europe/London',
  CET: 'Europe/Paris',
  CEST: 'Europe/Paris',
  Z: 'UTC',
  UTC: 'UTC',
};

// Case-insensitive lookup of canonical names; the stored spelling is always the canonical one.
const BY_LOWER = new Map(TIME_ZONES.map((z) => [z.toLowerCase(), z]));
const ALIASES_BY_LOWER = new Map(Object.entries(TIME_ZONE_ALIASES).map(([a, z]) => [a.toLowerCase(), z]));

const AT_FORMAT = "expected --at 'HH:MM [TIMEZONE]', for example '02:00 America/Los_Angeles' or '2:00 PST'";

/**
 * Resolves a time zone as typed by a user: empty means UTC, Heroku's abbreviations map to their zones, anything
 * else must be a canonical IANA name (any case). Throws a ValidationError saying what to use instead.
 */
export function resolveTimeZone(input: string): string {
  const name = input.trim();
  if (name === '') return 'UTC';
  const abbreviation = TIME_ZONE_ABBREVIATIONS[name.toUpperCase()];
  if (abbreviation) return abbreviation;
  const canonical = BY_LOWER.get(name.toLowerCase());
  if (canonical) return canonical;
  const shown = JSON.stringify(name.slice(0, 60));
  const alias = ALIASES_BY_LOWER.get(name.toLowerCase());
  if (alias) {
    throw new ValidationError(
      `Unknown time zone ${shown}: it is an old alias, use the canonical name ${alias}`,
    );
  }
  throw new ValidationError(
    `Unknown time zone ${shown}: use a canonical IANA name such as America/Los_Angeles or Europe/Paris ` +
      '(see https://en.wikipedia.org/wiki/List_of_tz_database_time_zones), UTC, or one of ' +
      `${Object.keys(TIME_ZONE_ABBREVIATIONS).join(', ')}`,
  );
}

/** Whether `name` is exactly (case included) a time zone a schedule may be stored with. */
export function isCanonicalTimeZone(name: string): boolean {
  return BY_LOWER.get(name.toLowerCase()) === name;
}

/**
 * Parses Heroku's `--at`: `H:00` or `HH:00` (and, beyond Heroku, any `HH:MM`), then an optional time zone.
 * `'2:00'` → 02:00 UTC; `'02:00 PST'` → 02:00 America/Los_Angeles; `'23:30 europe/paris'` → 23:30 Europe/Paris.
 */
export function parseScheduleAt(input: unknown): ScheduleTime {
  if (typeof input !== 'string' || input.length > 100) {
    throw new ValidationError(`Invalid schedule format: ${AT_FORMAT}`);
  }
  // Heroku's own pattern is `^(0?\d|1\d|2[0-3]):00 ?(\S*)$`; ranges are checked apart for a precise message.
  const match = /^\s*(\d{1,2}):(\d{2})(?:\s*([A-Za-z]\S*))?\s*$/.exec(input);
  if (!match) throw new ValidationError(`Invalid schedule format: ${AT_FORMAT}`);
  const hour = Number(match[1]);
  const minute = Number(match[2]);
  if (hour > 23 || minute > 59) {
    throw new ValidationError(
      `Invalid schedule time ${match[1]}:${match[2]}: the hour must be 0–23 and the minute 00–59; ${AT_FORMAT}`,
    );
  }
  return { hour, minute, timezone: resolveTimeZone(match[3] ?? '') };
}

/** `daily at 2:00 America/Los_Angeles`: Heroku's wording, hour not zero-padded. */
export function describeSchedule(s: ScheduleTime): string {
  return `daily at ${s.hour}:${String(s.minute).padStart(2, '0')} ${s.timezone}`;
}

/**
 * The EventBridge Scheduler expression of a daily HH:MM, `cron(M H * * ? *)` (6 fields, year included), to use with
 * `ScheduleExpressionTimezone: timezone` (src/adapters/aws/eventbridge-scheduler.ts).
 */
export function cronExpression(s: ScheduleTime): string {
  return `cron(${s.minute} ${s.hour} * * ? *)`;
}

// --- Time zone arithmetic -------------------------------------------------------------------------------------
// Intl is used only to compute offsets of a zone that already passed the allow-list above.

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timezone: string): Intl.DateTimeFormat {
  let f = formatters.get(timezone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: timezone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timezone, f);
  }
  return f;
}

interface WallClock {
  readonly year: number;
  readonly month: number; // 1–12
  readonly day: number;
  readonly hour: number;
  readonly minute: number;
  readonly second: number;
}

/** The wall-clock time in `timezone` at instant `ms`. */
export function wallClock(timezone: string, ms: number): WallClock {
  const parts: Record<string, number> = {};
  for (const p of formatter(timezone).formatToParts(new Date(ms))) {
    if (p.type !== 'literal') parts[p.type] = Number(p.value);
  }
  return {
    year: parts.year ?? 0,
    month: parts.month ?? 1,
    day: parts.day ?? 1,
    hour: parts.hour ?? 0,
    minute: parts.minute ?? 0,
    second: parts.second ?? 0,
  };
}

/** UTC offset of `timezone` at instant `ms`, in milliseconds (local = UTC + offset). */
function offsetAt(timezone: string, ms: number): number {
  const w = wallClock(timezone, ms);
  const asUtc = Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second);
  return asUtc - Math.floor(ms / 1000) * 1000;
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/**
 * The instants at which the local date (y, m, d) shows hour:minute in `timezone`: none in a spring-forward gap,
 * two in a fall-back overlap, else one. Sorted.
 */
export function localTimeInstants(
  timezone: string,
  date: { year: number; month: number; day: number },
  hour: number,
  minute: number,
): number[] {
  const naive = Date.UTC(date.year, date.month - 1, date.day, hour, minute);
  // Offsets that can apply near that wall time: DST transitions are never closer than a day apart, so the
  // offsets a day either side (and at the naive instant) cover both sides of any transition.
  const offsets = new Set([
    offsetAt(timezone, naive - DAY),
    offsetAt(timezone, naive),
    offsetAt(timezone, naive + DAY),
  ]);
  const found = new Set<number>();
  for (const offset of offsets) {
    const candidate = naive - offset;
    const w = wallClock(timezone, candidate);
    if (
      w.year === date.year &&
      w.month === date.month &&
      w.day === date.day &&
      w.hour === hour &&
      w.minute === minute
    ) {
      found.add(candidate);
    }
  }
  return [...found].sort((a, b) => a - b);
}

/**
 * The first run strictly after `after`, with EventBridge Scheduler's DST semantics: on a day when hour:minute
 * does not exist locally (spring forward) the run is skipped; on a day when it happens twice (fall back) it runs
 * once, at the first occurrence.
 */
export function nextRunAt(s: ScheduleTime, after: Date): Date {
  const afterMs = after.getTime();
  // Start a day early: the local date at `after` may be behind the UTC date.
  const start = wallClock(s.timezone, afterMs - DAY);
  for (let i = 0; i < 14; i++) {
    const d = new Date(Date.UTC(start.year, start.month - 1, start.day + i));
    const instants = localTimeInstants(
      s.timezone,
      { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate() },
      s.hour,
      s.minute,
    );
    const first = instants[0];
    if (first !== undefined && first > afterMs) return new Date(first);
  }
  // Unreachable for real zones: no zone skips a given wall time two weeks running.
  throw new Error(`No run of ${describeSchedule(s)} within two weeks after ${after.toISOString()}`);
}

/** The latest run at or before `at` (same DST rules as nextRunAt). */
export function previousRunAt(s: ScheduleTime, at: Date): Date {
  const atMs = at.getTime();
  const start = wallClock(s.timezone, atMs + DAY);
  for (let i = 0; i < 14; i++) {
    const d = new Date(Date.UTC(start.year, start.month - 1, start.day - i));
    const instants = localTimeInstants(
      s.timezone,
      { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate() },
      s.hour,
      s.minute,
    );
    const first = instants[0];
    if (first !== undefined && first <= atMs) return new Date(first);
  }
  throw new Error(`No run of ${describeSchedule(s)} within two weeks before ${at.toISOString()}`);
}

/**
 * Scheduled captures start at a random moment within this many minutes after the database's time (EventBridge
 * Scheduler's flexible time window), so databases scheduled at the same time do not all start their Fargate task in
 * the same second (docs/deploy.md, "Fargate quota").
 */
export const SCHEDULE_WINDOW_MINUTES = 15;
