import { z } from 'zod';

export const PLANS = ['essential', 'standard', 'premium', 'enterprise'] as const;
export type Plan = (typeof PLANS)[number];

/** How many backups a plan keeps: `manual` newest manual backups per database; daily/weekly/monthly scheduled. */
export interface RetentionLimits {
  readonly manual: number;
  readonly daily: number;
  readonly weekly: number;
  readonly monthly: number;
}

export const PLAN_LIMITS: Record<Plan, RetentionLimits> = {
  essential: { manual: 5, daily: 7, weekly: 1, monthly: 0 },
  standard: { manual: 25, daily: 7, weekly: 4, monthly: 0 },
  premium: { manual: 50, daily: 7, weekly: 8, monthly: 12 },
  enterprise: { manual: 50, daily: 7, weekly: 8, monthly: 12 },
};

export const DEFAULT_PLAN: Plan = 'standard';

/**
 * The largest override each limit accepts. S3 never expires a listed scheduled or manual dump by age
 * (BUCKET_LIFECYCLE in retention.ts), so these bound cost and the catalog's size, not safety.
 */
export const RETENTION_LIMIT_MAX: RetentionLimits = { manual: 1000, daily: 366, weekly: 520, monthly: 120 };

/** The highest compression level a setting accepts: zstd's 19 (gzip, on a pre-16 client, stops at 9). */
export const COMPRESSION_LEVEL_MAX = 19;

/** Per-app settings as stored; unset overrides fall back to the plan. */
export interface AppSettings {
  readonly app: string;
  readonly plan: Plan;
  readonly manualLimit?: number;
  readonly daily?: number;
  readonly weekly?: number;
  readonly monthly?: number;
  /** Compression level for pg_dump (gzip 0–9 on a pre-16 client, zstd 1–19 on 16+); unset: the worker's default. */
  readonly compressionLevel?: number;
  /** Send an alert when a transfer completes, not only when it fails. */
  readonly notifyOnSuccess?: boolean;
  readonly updatedAt?: string;
}

export function defaultSettings(app: string): AppSettings {
  return { app, plan: DEFAULT_PLAN };
}

/** The limits in force for an app: plan values with per-app overrides applied. */
export function effectiveLimits(s: AppSettings): RetentionLimits {
  const plan = PLAN_LIMITS[s.plan];
  return {
    manual: s.manualLimit ?? plan.manual,
    daily: s.daily ?? plan.daily,
    weekly: s.weekly ?? plan.weekly,
    monthly: s.monthly ?? plan.monthly,
  };
}

const count = (max: number) => z.number().int().min(0).max(max);

/**
 * Body of PUT settings: every field optional; `null` clears an override. The API document shows this schema
 * (src/api/contract.ts), so its bounds are the ones above.
 */
export const settingsPatchSchema = z
  .object({
    plan: z.enum(PLANS),
    manualLimit: count(RETENTION_LIMIT_MAX.manual).nullable(),
    daily: count(RETENTION_LIMIT_MAX.daily).nullable(),
    weekly: count(RETENTION_LIMIT_MAX.weekly).nullable(),
    monthly: count(RETENTION_LIMIT_MAX.monthly).nullable(),
    compressionLevel: count(COMPRESSION_LEVEL_MAX).nullable(),
    notifyOnSuccess: z.boolean(),
  })
  .partial()
  .strict();

/** One line per group of plans with the same limits, for help text: `premium and enterprise (50; 7, 8, 12)`. */
export function describePlans(): string {
  const groups: { plans: Plan[]; limits: RetentionLimits }[] = [];
  for (const plan of PLANS) {
    const l = PLAN_LIMITS[plan];
    const last = groups.at(-1);
    if (last && JSON.stringify(last.limits) === JSON.stringify(l)) last.plans.push(plan);
    else groups.push({ plans: [plan], limits: l });
  }
  return groups
    .map(({ plans, limits: l }, i) => {
      const names = plans.length > 1 ? `${plans.slice(0, -1).join(', ')} and ${plans.at(-1)}` : plans[0];
      const numbers =
        i === 0
          ? `${l.manual} manual; ${l.daily} daily, ${l.weekly} weekly, ${l.monthly} monthly`
          : `${l.manual}; ${l.daily}, ${l.weekly}, ${l.monthly}`;
      return `${names} (${numbers})`;
    })
    .join(', ');
}
