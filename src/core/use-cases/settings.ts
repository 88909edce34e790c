import type { CoreDeps } from '../deps.js';
import { ValidationError } from '../errors.js';
import { parseAppName } from '../names.js';
import {
  type AppSettings,
  defaultSettings,
  effectiveLimits,
  PLANS,
  type RetentionLimits,
  settingsPatchSchema,
} from '../settings.js';

export interface SettingsView extends AppSettings {
  readonly limits: RetentionLimits;
}

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
