import { COMPRESSION_LEVEL_MAX, describePlans, PLANS, RETENTION_LIMIT_MAX } from '../../core/settings.js';
import { parseWholeNumber } from '../args.js';
import { appPath } from '../client.js';
import { type Command, type Context, printJson } from '../command.js';
import { UsageError } from '../errors.js';
import { jsonFlag } from '../flags.js';
import { app, keyValues } from '../format.js';
import type { SettingsJson } from '../types.js';

/** Numeric overrides: flag → [API field, max]. `default` clears an override back to the plan's value. */
const NUMBERS: Record<string, [keyof SettingsJson, number]> = {
  'manual-limit': ['manualLimit', RETENTION_LIMIT_MAX.manual],
  daily: ['daily', RETENTION_LIMIT_MAX.daily],
  weekly: ['weekly', RETENTION_LIMIT_MAX.weekly],
  monthly: ['monthly', RETENTION_LIMIT_MAX.monthly],
  'compression-level': ['compressionLevel', COMPRESSION_LEVEL_MAX],
};

export function renderSettings(s: SettingsJson): string {
  const source = (v: unknown) => (v === undefined || v === null ? ' (plan)' : ' (override)');
  return `=== Settings for ${app(s.app)}\n${keyValues([
    ['Plan', s.plan],
    ['Manual backups kept', `${s.limits.manual} per database${source(s.manualLimit)}`],
    ['Daily backups kept', `${s.limits.daily}${source(s.daily)}`],
    ['Weekly backups kept', `${s.limits.weekly}${source(s.weekly)}`],
    ['Monthly backups kept', `${s.limits.monthly}${source(s.monthly)}`],
    [
      'Compression level',
      s.compressionLevel === undefined || s.compressionLevel === null
        ? 'default'
        : String(s.compressionLevel),
    ],
    ['Notify on success', s.notifyOnSuccess ? 'yes' : 'no'],
  ])}\n`;
}

function patchFrom(ctx: Context): Record<string, unknown> {
  const patch: Record<string, unknown> = {};
  const plan = ctx.flags.plan;
  if (typeof plan === 'string') {
    if (!(PLANS as readonly string[]).includes(plan.toLowerCase()))
      throw new UsageError(`Unknown plan ${plan}: use one of ${PLANS.join(', ')}`);
    patch.plan = plan.toLowerCase();
  }
  for (const [flag, [field, max]] of Object.entries(NUMBERS)) {
    const raw = ctx.flags[flag];
    if (typeof raw !== 'string') continue;
    patch[field] = raw === 'default' ? null : parseWholeNumber(raw, flag, 0, max);
  }
  const notify = ctx.flags['notify-on-success'];
  if (typeof notify === 'string') {
    if (!['yes', 'no', 'true', 'false'].includes(notify))
      throw new UsageError('Use --notify-on-success yes or no');
    patch.notifyOnSuccess = notify === 'yes' || notify === 'true';
  }
  return patch;
}

const numberFlag = (what: string) => ({
  type: 'string' as const,
  value: 'N|default',
  description: `${what}; "default" returns to the plan's value`,
});

export const settings: Command = {
  name: 'settings',
  usage: '[--plan PLAN] [--manual-limit N] …',
  summary: "show or change the app's plan, retention and notification settings",
  // The numbers come from the plan table the API enforces (src/core/settings.ts).
  description: `Plans: ${describePlans()}.`,
  flags: {
    plan: { type: 'string', value: 'PLAN', description: `the retention plan: ${PLANS.join(', ')}` },
    'manual-limit': numberFlag('manual backups kept per database'),
    daily: numberFlag('daily scheduled backups kept'),
    weekly: numberFlag('weekly scheduled backups kept'),
    monthly: numberFlag('monthly scheduled backups kept'),
    'compression-level': numberFlag('pg_dump compression level (gzip 0–9, zstd 1–19)'),
    'notify-on-success': {
      type: 'string',
      value: 'yes|no',
      description: 'alert on success too, not only on failure',
    },
    json: jsonFlag,
  },
  maxArgs: 0,
  async run(ctx) {
    const patch = patchFrom(ctx);
    const path = appPath(ctx.app, 'settings');
    const s =
      Object.keys(patch).length > 0
        ? await ctx.client.put<SettingsJson>(path, patch)
        : await ctx.client.get<SettingsJson>(path);
    if (ctx.json) printJson(ctx, s);
    else ctx.io.stdout.write(renderSettings(s));
    return 0;
  },
};
