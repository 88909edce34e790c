import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ECSClient } from '@aws-sdk/client-ecs';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { S3Client } from '@aws-sdk/client-s3';
import { SchedulerClient } from '@aws-sdk/client-scheduler';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SNSClient } from '@aws-sdk/client-sns';
import { z } from 'zod';
import type { CoreDeps } from '../../core/deps.js';
import { jsonLogger } from '../../core/logger.js';
import { systemClock } from '../../core/ports.js';
import { databaseHostGuard, parseCidrList } from '../net/url-guard.js';
import { AwsNotifier } from './aws-notifier.js';
import { DynamoDbCatalog } from './dynamodb-catalog.js';
import { EcsTaskRunner } from './ecs-task-runner.js';
import { EventBridgeSchedulerAdapter } from './eventbridge-scheduler.js';
import { S3BlobStore } from './s3-blob-store.js';
import { SecretsManagerSecrets } from './secrets-manager-secrets.js';

const required = z.string().min(1);
const list = required.transform((v) =>
  v
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0),
);

/**
 * The environment every pgbackups function gets from the stack (lib/pgbackups-stack.ts sets exactly these names;
 * a test checks that the two agree). Resource names only, never a secret.
 */
export const AwsFunctionEnv = z.object({
  PGBACKUPS_TABLE: required,
  PGBACKUPS_BUCKET: required,
  PGBACKUPS_CLUSTER: required,
  PGBACKUPS_TASK_DEFINITION: required,
  PGBACKUPS_SUBNETS: list,
  PGBACKUPS_SECURITY_GROUPS: list,
  PGBACKUPS_ASSIGN_PUBLIC_IP: z.enum(['true', 'false']).transform((v) => v === 'true'),
  PGBACKUPS_SECRETS_PREFIX: required,
  PGBACKUPS_SCHEDULE_GROUP: required,
  PGBACKUPS_SCHEDULER_ROLE_ARN: required,
  PGBACKUPS_DEAD_LETTER_QUEUE_ARN: required,
  PGBACKUPS_SCHEDULED_CAPTURE_ARN: required,
  PGBACKUPS_ALERTS_TOPIC_ARN: required,
  PGBACKUPS_EVENT_BUS: required.default('default'),
  /** CIDRs inside which private database hosts may be reached (lib/context.ts: databaseHostAllowlist). */
  PGBACKUPS_DB_HOST_ALLOWLIST: z.string().transform((v, ctx) => {
    try {
      return parseCidrList(v);
    } catch (e) {
      ctx.addIssue({ code: 'custom', message: (e as Error).message });
      return z.NEVER;
    }
  }),
  // Set by the Lambda runtime itself (it may not be set in a function's configuration).
  AWS_REGION: z.string().min(1).optional(),
});
export type AwsFunctionEnv = z.infer<typeof AwsFunctionEnv>;

/** Names the stack must set on every function (AWS_REGION comes from the runtime). */
export const AWS_FUNCTION_ENV_NAMES = Object.keys(AwsFunctionEnv.shape).filter((k) => k !== 'AWS_REGION');

/** Parses the function environment once; the error names every missing or malformed variable. */
export function parseAwsFunctionEnv(env: NodeJS.ProcessEnv): AwsFunctionEnv {
  const parsed = AwsFunctionEnv.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) =>
      env[String(i.path[0])] === undefined
        ? `${String(i.path[0])} is not set`
        : `${String(i.path[0])}: ${i.message}`,
    );
    throw new Error(`Invalid pgbackups environment: ${problems.join('; ')}`);
  }
  return parsed.data;
}

/**
 * The composition root of every Lambda function: real AWS adapters over clients built once per cold start
 * (docs/architecture.md, "Core and ports"). Call it at module scope.
 */
export function buildAwsDeps(env: NodeJS.ProcessEnv = process.env): CoreDeps {
  const cfg = parseAwsFunctionEnv(env);
  const region = cfg.AWS_REGION;
  return {
    catalog: DynamoDbCatalog.fromClient(new DynamoDBClient({ region }), cfg.PGBACKUPS_TABLE),
    blobs: new S3BlobStore({ client: new S3Client({ region }), bucket: cfg.PGBACKUPS_BUCKET }),
    secrets: new SecretsManagerSecrets({
      client: new SecretsManagerClient({ region }),
      prefix: cfg.PGBACKUPS_SECRETS_PREFIX,
    }),
    runner: new EcsTaskRunner({
      client: new ECSClient({ region }),
      cluster: cfg.PGBACKUPS_CLUSTER,
      taskDefinition: cfg.PGBACKUPS_TASK_DEFINITION,
      subnets: cfg.PGBACKUPS_SUBNETS,
      securityGroups: cfg.PGBACKUPS_SECURITY_GROUPS,
      assignPublicIp: cfg.PGBACKUPS_ASSIGN_PUBLIC_IP,
    }),
    scheduler: new EventBridgeSchedulerAdapter({
      client: new SchedulerClient({ region }),
      groupName: cfg.PGBACKUPS_SCHEDULE_GROUP,
      targetArn: cfg.PGBACKUPS_SCHEDULED_CAPTURE_ARN,
      roleArn: cfg.PGBACKUPS_SCHEDULER_ROLE_ARN,
      deadLetterArn: cfg.PGBACKUPS_DEAD_LETTER_QUEUE_ARN,
    }),
    notifier: new AwsNotifier({
      events: new EventBridgeClient({ region }),
      sns: new SNSClient({ region }),
      topicArn: cfg.PGBACKUPS_ALERTS_TOPIC_ARN,
      eventBusName: cfg.PGBACKUPS_EVENT_BUS,
    }),
    clock: systemClock,
    log: jsonLogger({ service: 'pgbackups' }),
    // In AWS a tenant never reaches the function's or the worker's own host.
    databaseHosts: databaseHostGuard({ allowLoopback: false, allowlist: cfg.PGBACKUPS_DB_HOST_ALLOWLIST }),
  };
}
