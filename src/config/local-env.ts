import * as z from 'zod';
import { ENV } from './env-names.js';
import { booleanFlag, cidrList, optionalText, parseEnv, splitCommas } from './parse-env.js';

/** `npm run local` (src/local/main.ts): its configuration, from the environment. */
export const localEnvSchema = z.object({
  [ENV.PORT]: z.coerce.number().int().min(0).max(65535).default(8787),
  [ENV.DATA_DIR]: z.string().min(1).default('.pgbackups'),
  [ENV.APP]: z.string().min(1).default('local'),
  [ENV.DATABASE_URL]: z.string().min(1).optional(),
  // Which database hosts tenants may reach: loopback and unix sockets (on by default here, never in AWS), and
  // private ranges as CIDRs.
  [ENV.DB_ALLOW_LOOPBACK]: booleanFlag.default(true),
  [ENV.DB_HOST_ALLOWLIST]: cidrList(false),
  // What the API answers besides its own address: extra Host values (name:port) and Origins, comma-separated.
  [ENV.ALLOWED_HOSTS]: z.string().optional().transform(splitCommas),
  [ENV.ALLOWED_ORIGINS]: z.string().optional().transform(splitCommas),
  /** Alerts also go to this URL as a signed POST (src/adapters/local/webhook-notifier.ts). */
  [ENV.WEBHOOK_URL]: optionalText,
  /** The HMAC key of those POSTs; unset, they go unsigned (with a warning). */
  [ENV.WEBHOOK_SECRET]: optionalText,
});

export type LocalEnv = z.infer<typeof localEnvSchema>;

/** Parses the local stack's environment or throws one error naming every missing or bad variable. */
export function parseLocalEnv(env: NodeJS.ProcessEnv): LocalEnv {
  return parseEnv(localEnvSchema, env, 'local stack environment');
}

/** Variables a local worker inherits from the stack's own environment when set, as the image sets them on ECS. */
const PASSED_TO_WORKERS = [ENV.PG_BINDIRS] as const;

/**
 * What the local stack's workers take from the stack's process (src/adapters/local/process-runner.ts): PATH and
 * HOME, the PostgreSQL clients to use (PGBACKUPS_PG_BINDIRS), and extra `node` flags
 * (PGBACKUPS_WORKER_NODE_ARGS, e.g. `--cpu-prof --cpu-prof-dir=DIR`, which NODE_OPTIONS does not allow). Read at
 * each spawn, so tests and the benchmark that start the stack in-process set them like `npm run local` does.
 */
export function localWorkerInheritance(env: Readonly<Record<string, string | undefined>> = process.env): {
  env: Record<string, string>;
  nodeArgs: string[];
} {
  const passed = Object.fromEntries(
    PASSED_TO_WORKERS.flatMap((k) => (env[k] ? [[k, env[k] as string]] : [])),
  );
  return {
    env: { PATH: env.PATH ?? '/usr/bin:/bin', HOME: env.HOME ?? '/tmp', ...passed },
    nodeArgs: env[ENV.WORKER_NODE_ARGS]?.split(' ').filter(Boolean) ?? [],
  };
}
