// A namespace import lets the worker bundle drop zod's locales (about 0.35 MB of its start-up).
import * as z from 'zod';
import { type DatabaseHostPolicy, parseCidrList } from '../adapters/net/url-guard.js';

/**
 * The worker's environment, parsed once at startup. Per task: which transfer. Per deployment: where the catalog
 * and bucket are. The local stack adds endpoints and a secrets dir; on ECS those are absent and the real AWS
 * services (and Secrets Manager) are used.
 */
export const workerEnvSchema = z.object({
  PGBACKUPS_APP: z.string().min(1),
  PGBACKUPS_TRANSFER_NUM: z.coerce.number().int().positive(),
  PGBACKUPS_TABLE: z.string().min(1),
  PGBACKUPS_BUCKET: z.string().min(1),
  PGBACKUPS_DYNAMODB_ENDPOINT: z.url().optional(),
  PGBACKUPS_S3_ENDPOINT: z.url().optional(),
  PGBACKUPS_SECRETS_DIR: z.string().min(1).optional(),
  PGBACKUPS_PROGRESS_INTERVAL_MS: z.coerce.number().int().min(50).max(60_000).optional(),
  PGBACKUPS_PART_SIZE_MB: z.coerce.number().int().min(5).max(5120).optional(),
  /**
   * `:`-separated directories of PostgreSQL clients (pg_dump, pg_restore, psql), one major each. Unset: every
   * /usr/lib/postgresql/<major>/bin (the image's 13–18), else the pg_dump on PATH (src/worker/pg-clients.ts).
   */
  PGBACKUPS_PG_BINDIRS: z.string().min(1).optional(),
  /** CIDRs inside which private database hosts may be reached (lib/context.ts: databaseHostAllowlist). */
  PGBACKUPS_DB_HOST_ALLOWLIST: z.string().optional(),
  /** Loopback and unix-socket database hosts: only the local stack sets this. */
  PGBACKUPS_DB_ALLOW_LOOPBACK: z.enum(['true', 'false']).default('false'),
  AWS_REGION: z.string().min(1).default('us-east-1'),
});

export type WorkerEnv = z.infer<typeof workerEnvSchema>;

/** Parses the environment or throws one error naming every missing or bad variable. */
export function parseWorkerEnv(env: NodeJS.ProcessEnv): WorkerEnv {
  const parsed = workerEnvSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new Error(`Invalid worker environment: ${problems}`);
  }
  try {
    parseCidrList(parsed.data.PGBACKUPS_DB_HOST_ALLOWLIST);
  } catch (e) {
    throw new Error(`Invalid worker environment: PGBACKUPS_DB_HOST_ALLOWLIST: ${(e as Error).message}`);
  }
  return parsed.data;
}

/**
 * The environment of a worker started for a deployment check (`pgbackups doctor`): the same as a transfer's, with
 * PGBACKUPS_CHECK_ID instead of PGBACKUPS_TRANSFER_NUM.
 */
export const checkEnvSchema = workerEnvSchema
  .omit({ PGBACKUPS_TRANSFER_NUM: true })
  .extend({ PGBACKUPS_CHECK_ID: z.string().regex(/^chk-[0-9a-f]{12}$/) });

export type CheckEnv = z.infer<typeof checkEnvSchema>;

/** Parses a check worker's environment, or throws one error naming every missing or bad variable. */
export function parseCheckEnv(env: NodeJS.ProcessEnv): CheckEnv {
  const parsed = checkEnvSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new Error(`Invalid worker environment: ${problems}`);
  }
  try {
    parseCidrList(parsed.data.PGBACKUPS_DB_HOST_ALLOWLIST);
  } catch (e) {
    throw new Error(`Invalid worker environment: PGBACKUPS_DB_HOST_ALLOWLIST: ${(e as Error).message}`);
  }
  return parsed.data;
}

/** The database-host policy the worker enforces at connect time. */
export function workerHostPolicy(
  env: Pick<WorkerEnv, 'PGBACKUPS_DB_ALLOW_LOOPBACK' | 'PGBACKUPS_DB_HOST_ALLOWLIST'>,
): DatabaseHostPolicy {
  return {
    allowLoopback: env.PGBACKUPS_DB_ALLOW_LOOPBACK === 'true',
    allowlist: parseCidrList(env.PGBACKUPS_DB_HOST_ALLOWLIST),
  };
}
