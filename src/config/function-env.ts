import * as z from 'zod';
import { ENV } from './env-names.js';
import { booleanFlag, cidrList, parseEnv, splitCommas } from './parse-env.js';

const required = z.string().min(1);
const list = required.transform(splitCommas);

/**
 * The environment every pgbackups Lambda function gets from the stack (lib/pgbackups-stack.ts sets exactly these
 * names; test/infra checks the template against them). Resource names only, never a secret.
 */
export const AwsFunctionEnv = z.object({
  [ENV.TABLE]: required,
  [ENV.BUCKET]: required,
  [ENV.CLUSTER]: required,
  [ENV.TASK_DEFINITION]: required,
  [ENV.SUBNETS]: list,
  [ENV.SECURITY_GROUPS]: list,
  [ENV.ASSIGN_PUBLIC_IP]: booleanFlag,
  [ENV.SECRETS_PREFIX]: required,
  [ENV.SCHEDULE_GROUP]: required,
  [ENV.SCHEDULER_ROLE_ARN]: required,
  [ENV.DEAD_LETTER_QUEUE_ARN]: required,
  [ENV.SCHEDULED_CAPTURE_ARN]: required,
  [ENV.ALERTS_TOPIC_ARN]: required,
  [ENV.EVENT_BUS]: required.default('default'),
  /** CIDRs inside which private database hosts may be reached (lib/context.ts: databaseHostAllowlist). */
  [ENV.DB_HOST_ALLOWLIST]: cidrList(true),
  // Set by the Lambda runtime itself (it may not be set in a function's configuration).
  AWS_REGION: z.string().min(1).optional(),
});
export type AwsFunctionEnv = z.infer<typeof AwsFunctionEnv>;

/** Names the stack must set on every function (AWS_REGION comes from the runtime). */
export const AWS_FUNCTION_ENV_NAMES = Object.keys(AwsFunctionEnv.shape).filter((k) => k !== 'AWS_REGION');

/** Parses the function environment once; the error names every missing or malformed variable. */
export function parseAwsFunctionEnv(env: NodeJS.ProcessEnv): AwsFunctionEnv {
  return parseEnv(AwsFunctionEnv, env, 'pgbackups environment');
}

/** What the stack sets on every function (lib/pgbackups-stack.ts): a name missing there fails to compile. */
export type FunctionEnvironment = Record<Exclude<keyof typeof AwsFunctionEnv.shape, 'AWS_REGION'>, string>;
