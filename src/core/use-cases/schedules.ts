import type { CoreDeps } from '../deps.js';
import { NotFoundError } from '../errors.js';
import { parseAppName } from '../names.js';
import type { Schedule } from '../ports.js';
import { describeSchedule, parseScheduleAt } from '../schedule-time.js';
import { requireDatabase } from './databases.js';

export interface ScheduleView {
  readonly database: string;
  readonly hour: number;
  readonly minute: number;
  readonly timezone: string;
  readonly createdAt: string;
  /** `daily at 2:00 America/Los_Angeles` */
  readonly description: string;
}

export function scheduleView(s: Schedule): ScheduleView {
  return {
    database: s.database,
    hour: s.hour,
    minute: s.minute,
    timezone: s.timezone,
    createdAt: s.createdAt,
    description: describeSchedule(s),
  };
}

/**
 * Sets the one daily schedule of a database (Heroku's `--at '02:00 America/Los_Angeles'`). The catalog is written
 * before the timer: if the timer update then fails, the watchdog still sees the schedule and catches up a missed
 * day rather than the schedule stopping silently.
 */
export async function setSchedule(
  deps: CoreDeps,
  input: { app: string; database: string; at: unknown },
): Promise<ScheduleView> {
  const app = parseAppName(input.app);
  const time = parseScheduleAt(input.at);
  const db = await requireDatabase(deps, app, input.database);
  const existing = await deps.catalog.getSchedule(app, db.name);
  const schedule: Schedule = {
    app,
    database: db.name,
    ...time,
    createdAt: existing?.createdAt ?? deps.clock.now().toISOString(),
  };
  await deps.catalog.putSchedule(schedule);
  await deps.scheduler.upsert(schedule);
  deps.log.info('schedule set', { app, database: db.name, schedule: describeSchedule(schedule) });
  return scheduleView(schedule);
}

export async function listSchedules(deps: CoreDeps, appInput: string): Promise<ScheduleView[]> {
  const app = parseAppName(appInput);
  const schedules = await deps.catalog.listSchedules(app);
  return schedules.sort((a, b) => a.database.localeCompare(b.database)).map(scheduleView);
}

export async function removeSchedule(
  deps: CoreDeps,
  input: { app: string; database: string },
): Promise<void> {
  const app = parseAppName(input.app);
  const db = await requireDatabase(deps, app, input.database);
  if (!(await deps.catalog.getSchedule(app, db.name))) {
    throw new NotFoundError(
      `No backup schedule for ${db.name} on ${app}. List them with pgbackups schedules -a ${app}`,
    );
  }
  // Timer first: if it cannot be removed the catalog keeps the schedule, so the two never disagree silently.
  await deps.scheduler.remove(app, db.name);
  await deps.catalog.deleteSchedule(app, db.name);
  deps.log.info('schedule removed', { app, database: db.name });
}
