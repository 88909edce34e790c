import { tmpdir } from 'node:os';
// A namespace import lets the worker bundle drop zod's locales (about 0.35 MB of its start-up).
import * as z from 'zod';
import type { DatabaseHostPolicy } from '../adapters/net/url-guard.js';
import { ENV } from './env-names.js';
import { booleanFlag, cidrList, optionalText, parseEnv } from './parse-env.js';

/**
 * The worker's environment, parsed once at startup. Per task: which transfer. Per deployment: where the catalog
 * and bucket are. The local stack adds endpoints and a secrets dir; on ECS those are absent and the real AWS
 * services (and Secrets Manager) are used.
 */
export const workerEnvSchema = z.object({
  [ENV.APP]: z.string().min(1),
  [ENV.TRANSFER_NUM]: z.coerce.number().int().positive(),
  [ENV.TABLE]: z.string().min(1),
  [ENV.BUCKET]: z.string().min(1),
  [ENV.DYNAMODB_ENDPOINT]: z.url().optional(),
  [ENV.S3_ENDPOINT]: z.url().optional(),
  [ENV.SECRETS_DIR]: z.string().min(1).optional(),
  [ENV.PROGRESS_INTERVAL_MS]: z.coerce.number().int().min(50).max(60_000).optional(),
  [ENV.PART_SIZE_MB]: z.coerce.number().int().min(5).max(5120).optional(),
  /**
   * `:`-separated directories of PostgreSQL clients (pg_dump, pg_restore, psql), one major each. Unset: every
   * /usr/lib/postgresql/<major>/bin (the image's 13–18), else the pg_dump on PATH (src/worker/pg-clients.ts).
   */
  [ENV.PG_BINDIRS]: z.string().min(1).optional(),
  /** CIDRs inside which private database hosts may be reached (lib/context.ts: databaseHostAllowlist). */
  [ENV.DB_HOST_ALLOWLIST]: cidrList(false),
  /** Loopback and unix-socket database hosts: only the local stack sets this. */
  [ENV.DB_ALLOW_LOOPBACK]: booleanFlag.default(false),
  /** Where a restore keeps the archive's head (src/worker/restore-plan.ts); unset: the OS temp dir. */
  [ENV.TMPDIR]: optionalText,
  AWS_REGION: z.string().min(1).default('us-east-1'),
});

export type WorkerEnv = z.infer<typeof workerEnvSchema>;

/** Parses the environment or throws one error naming every missing or bad variable. */
export function parseWorkerEnv(env: NodeJS.ProcessEnv): WorkerEnv {
  return parseEnv(workerEnvSchema, env, 'worker environment');
}

/**
 * The environment of a worker started for a deployment check (`pgbackups doctor`): the same as a transfer's, with
 * PGBACKUPS_CHECK_ID instead of PGBACKUPS_TRANSFER_NUM.
 */
export const checkEnvSchema = workerEnvSchema
  .omit({ [ENV.TRANSFER_NUM]: true })
  .extend({ [ENV.CHECK_ID]: z.string().regex(/^chk-[0-9a-f]{12}$/) });

export type CheckEnv = z.infer<typeof checkEnvSchema>;

/** Parses a check worker's environment, or throws one error naming every missing or bad variable. */
export function parseCheckEnv(env: NodeJS.ProcessEnv): CheckEnv {
  return parseEnv(checkEnvSchema, env, 'worker environment');
}

/** The database-host policy the worker enforces at connect time. */
export function workerHostPolicy(
  env: Pick<WorkerEnv, typeof ENV.DB_ALLOW_LOOPBACK | typeof ENV.DB_HOST_ALLOWLIST>,
): DatabaseHostPolicy {
  return { allowLoopback: env[ENV.DB_ALLOW_LOOPBACK], allowlist: env[ENV.DB_HOST_ALLOWLIST] };
}

/**
 * The directory for a restore's temporary files: `$PGBACKUPS_TMPDIR`, else the OS temp dir (`$TMPDIR`). Read when
 * a restore starts rather than from the parsed startup environment, so the worker's functions run the same when
 * called in-process (tests) as in the worker; {@link workerEnvSchema} checks it at startup.
 */
export function workerTmpDir(env: Readonly<Record<string, string | undefined>> = process.env): string {
  return env[ENV.TMPDIR] || tmpdir();
}
