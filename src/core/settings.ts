import { ValidationError } from './errors.js';

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

export function parsePlan(input: unknown): Plan {
  if (typeof input === 'string' && (PLANS as readonly string[]).includes(input.toLowerCase())) {
    return input.toLowerCase() as Plan;
  }
  throw new ValidationError(`Unknown plan ${JSON.stringify(input)}: use one of ${PLANS.join(', ')}`);
}
