import { describeSchedule } from '../../core/schedule-time.js';
import { appPath } from '../client.js';
import { action, type Command, cmd, databaseArg, err, printJson, requireKnownApp } from '../command.js';
import { CliError, UsageError } from '../errors.js';
import { jsonFlag } from '../flags.js';
import { app, db } from '../format.js';
import type { ScheduleJson } from '../types.js';

export function renderSchedules(schedules: readonly ScheduleJson[]): string {
  return `=== Backup Schedules\n${schedules.map((s) => `${s.database}: ${describeSchedule(s)}`).join('\n')}\n`;
}

export const schedule: Command = {
  name: 'schedule',
  usage: '[DATABASE] --at "HH:00 [TIMEZONE]"',
  summary: 'schedule daily backups of a database (one schedule per database)',
  description: [
    "--at takes Heroku's '02:00 America/Los_Angeles' (also any HH:MM); the time zone is an IANA name or one of",
    'PST, MST, CST, EST, GMT, CET (and their summer forms), Z or UTC; none means UTC.',
  ].join('\n'),
  flags: { at: { type: 'string', value: "'HH:00 [TIMEZONE]'", description: 'when to back up each day' } },
  maxArgs: 1,
  async run(ctx) {
    const at = ctx.flags.at;
    if (typeof at !== 'string') {
      throw new UsageError(
        "Missing required flag at: give --at 'HH:00 [TIMEZONE]', e.g. --at '02:00 America/Los_Angeles'",
      );
    }
    const database = databaseArg(ctx, ctx.args[0] ?? 'DATABASE');
    const shown = at.trim();
    await action(
      ctx,
      `Scheduling automatic daily backups of ${db(database)} at ${shown}`,
      () => ctx.client.put<ScheduleJson>(appPath(ctx.app, 'schedules', database), { at }),
      (s) => ` (${describeSchedule(s)})`,
    );
    return 0;
  },
};

export const unschedule: Command = {
  name: 'unschedule',
  usage: '[DATABASE]',
  summary: 'stop daily backups of a database (its existing backups are kept)',
  flags: {},
  maxArgs: 1,
  async run(ctx) {
    let database: string;
    if (ctx.args[0]) database = databaseArg(ctx, ctx.args[0]);
    else {
      const { schedules } = await ctx.client.get<{ schedules: ScheduleJson[] }>(
        appPath(ctx.app, 'schedules'),
      );
      if (schedules.length === 0) throw new CliError(`No schedules on ${app(ctx.app)}`);
      if (schedules.length > 1) {
        throw new CliError(
          `Specify schedule on ${app(ctx.app)}. Existing schedules: ${schedules.map((s) => db(s.database)).join(', ')}`,
        );
      }
      database = (schedules[0] as ScheduleJson).database;
    }
    await action(ctx, `Unscheduling ${db(database)} daily backups`, () =>
      ctx.client.delete(appPath(ctx.app, 'schedules', database)),
    );
    return 0;
  },
};

export const schedules: Command = {
  name: 'schedules',
  usage: '',
  summary: 'list backup schedules',
  flags: { json: jsonFlag },
  maxArgs: 0,
  async run(ctx) {
    const { schedules: list } = await ctx.client.get<{ schedules: ScheduleJson[] }>(
      appPath(ctx.app, 'schedules'),
    );
    if (ctx.json) {
      printJson(ctx, list);
      return 0;
    }
    if (list.length === 0) {
      await requireKnownApp(ctx);
      err(
        ctx,
        `No backup schedules found on ${app(ctx.app)}\nUse ${cmd(ctx, "schedule DATABASE --at '02:00 UTC'")} to set one up`,
      );
      return 0;
    }
    ctx.io.stdout.write(renderSchedules(list));
    return 0;
  },
};
