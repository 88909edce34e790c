import { appPath } from '../client.js';
import type { Command } from '../command.js';
import { printJson } from '../command.js';
import { jsonFlag } from '../flags.js';
import { app, table } from '../format.js';
import type { RetentionJson } from '../types.js';

export function renderRetention(r: RetentionJson, appName: string): string {
  if (r.delete.length === 0) {
    return `=== Retention for ${app(appName)}\n\nNothing to delete: every backup is within the retention policy.\n`;
  }
  const n = r.delete.length;
  return `=== Retention for ${app(appName)}\n\n${n} transfer${n === 1 ? '' : 's'} would be deleted:\n\n${table(
    ['Id', 'Database', 'Reason'],
    r.delete.map((d) => [d.id, d.database, d.reason]),
  )}\n`;
}

export const retention: Command = {
  name: 'retention',
  usage: '[--dry-run]',
  summary: 'show which backups the retention policy would delete now, and why',
  description:
    'Retention runs by itself after each backup and daily; this command only reports. --dry-run is accepted for clarity.',
  flags: { 'dry-run': { type: 'boolean', description: 'only report (the default)' }, json: jsonFlag },
  maxArgs: 0,
  async run(ctx) {
    const plan = await ctx.client.get<RetentionJson>(appPath(ctx.app, 'retention'));
    if (ctx.json) printJson(ctx, plan);
    else ctx.io.stdout.write(renderRetention(plan, ctx.app));
    return 0;
  },
};
