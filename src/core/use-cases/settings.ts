import { z } from 'zod';
import type { CoreDeps } from '../deps.js';
import { ValidationError } from '../errors.js';
import { parseAppName } from '../names.js';
import {
  type AppSettings,
  defaultSettings,
  effectiveLimits,
  PLANS,
  RETENTION_LIMIT_MAX,
  type RetentionLimits,
} from '../settings.js';

export interface SettingsView extends AppSettings {
  readonly limits: RetentionLimits;
}

const count = (max: number) => z.number().int().min(0).max(max);

/** Body of PUT settings: every field optional; `null` clears an override. */
export const settingsPatchSchema = z
  .object({
    plan: z.enum(PLANS),
    manualLimit: count(RETENTION_LIMIT_MAX.manual).nullable(),
    daily: count(RETENTION_LIMIT_MAX.daily).nullable(),
    weekly: count(RETENTION_LIMIT_MAX.weekly).nullable(),
    monthly: count(RETENTION_LIMIT_MAX.monthly).nullable(),
    compressionLevel: z.number().int().min(0).max(19).nullable(),
    notifyOnSuccess: z.boolean(),
  })
  .partial()
  .strict();

export type SettingsPatch = z.infer<typeof settingsPatchSchema>;

export async function getSettings(deps: CoreDeps, appInput: string): Promise<SettingsView> {
  const app = parseAppName(appInput);
  const s = (await deps.catalog.getSettings(app)) ?? defaultSettings(app);
  return { ...s, limits: effectiveLimits(s) };
}

export async function updateSettings(
  deps: CoreDeps,
  appInput: string,
  patch: unknown,
): Promise<SettingsView> {
  const app = parseAppName(appInput);
  const parsed = settingsPatchSchema.safeParse(patch);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ValidationError(
      `Invalid settings: ${issue?.path.join('.') || 'body'}: ${issue?.message ?? 'invalid'}. Fields: plan (${PLANS.join('|')}), manualLimit, daily, weekly, monthly, compressionLevel, notifyOnSuccess`,
    );
  }
  const current: Record<string, unknown> = {
    ...((await deps.catalog.getSettings(app)) ?? defaultSettings(app)),
  };
  for (const [k, v] of Object.entries(parsed.data)) {
    if (v === null) delete current[k];
    else current[k] = v;
  }
  const next = { ...current, app, updatedAt: deps.clock.now().toISOString() } as AppSettings;
  await deps.catalog.putSettings(next);
  return { ...next, limits: effectiveLimits(next) };
}
