/**
 * Every environment variable pgbackups reads or sets, by name, in one place: `lib/` sets them on the Lambda
 * functions and the worker task, the runners set the per-task ones, and the parsers in this folder read them
 * (test/unit/config/env-names.test.ts ties the three together). No imports: the CLI bundle and the CDK app load
 * this file too.
 */
export const ENV = {
  // Per task: which transfer a worker runs (set by the TaskRunner at RunTask / spawn).
  APP: 'PGBACKUPS_APP',
  TRANSFER_NUM: 'PGBACKUPS_TRANSFER_NUM',
  // Per task of a deployment check (`pgbackups doctor`), instead of TRANSFER_NUM.
  CHECK_ID: 'PGBACKUPS_CHECK_ID',

  // Per deployment, worker and functions alike.
  TABLE: 'PGBACKUPS_TABLE',
  BUCKET: 'PGBACKUPS_BUCKET',
  DB_HOST_ALLOWLIST: 'PGBACKUPS_DB_HOST_ALLOWLIST',

  // Worker only.
  DYNAMODB_ENDPOINT: 'PGBACKUPS_DYNAMODB_ENDPOINT',
  S3_ENDPOINT: 'PGBACKUPS_S3_ENDPOINT',
  SECRETS_DIR: 'PGBACKUPS_SECRETS_DIR',
  PROGRESS_INTERVAL_MS: 'PGBACKUPS_PROGRESS_INTERVAL_MS',
  PART_SIZE_MB: 'PGBACKUPS_PART_SIZE_MB',
  PG_BINDIRS: 'PGBACKUPS_PG_BINDIRS',
  DB_ALLOW_LOOPBACK: 'PGBACKUPS_DB_ALLOW_LOOPBACK',
  TMPDIR: 'PGBACKUPS_TMPDIR',

  // Lambda functions only.
  CLUSTER: 'PGBACKUPS_CLUSTER',
  TASK_DEFINITION: 'PGBACKUPS_TASK_DEFINITION',
  SUBNETS: 'PGBACKUPS_SUBNETS',
  SECURITY_GROUPS: 'PGBACKUPS_SECURITY_GROUPS',
  ASSIGN_PUBLIC_IP: 'PGBACKUPS_ASSIGN_PUBLIC_IP',
  SECRETS_PREFIX: 'PGBACKUPS_SECRETS_PREFIX',
  SCHEDULE_GROUP: 'PGBACKUPS_SCHEDULE_GROUP',
  SCHEDULER_ROLE_ARN: 'PGBACKUPS_SCHEDULER_ROLE_ARN',
  DEAD_LETTER_QUEUE_ARN: 'PGBACKUPS_DEAD_LETTER_QUEUE_ARN',
  SCHEDULED_CAPTURE_ARN: 'PGBACKUPS_SCHEDULED_CAPTURE_ARN',
  ALERTS_TOPIC_ARN: 'PGBACKUPS_ALERTS_TOPIC_ARN',
  EVENT_BUS: 'PGBACKUPS_EVENT_BUS',

  // The local stack (`npm run local`).
  PORT: 'PGBACKUPS_PORT',
  DATA_DIR: 'PGBACKUPS_DATA_DIR',
  ALLOWED_HOSTS: 'PGBACKUPS_ALLOWED_HOSTS',
  ALLOWED_ORIGINS: 'PGBACKUPS_ALLOWED_ORIGINS',
  WEBHOOK_URL: 'PGBACKUPS_WEBHOOK_URL',
  WEBHOOK_SECRET: 'PGBACKUPS_WEBHOOK_SECRET',
  WORKER_NODE_ARGS: 'PGBACKUPS_WORKER_NODE_ARGS',
  DATABASE_URL: 'DATABASE_URL',

  // The CLI.
  API_URL: 'PGBACKUPS_API_URL',
  HEROKU_APP: 'HEROKU_APP',
  DEBUG: 'PGBACKUPS_DEBUG',
} as const;

export type EnvName = (typeof ENV)[keyof typeof ENV];

/**
 * The worker's container name in the task definition (lib/constructs/worker.ts). The runner addresses its
 * environment overrides to it, and the task-events reconciler finds the transfer in them by it: renamed in one
 * place only, stopped tasks would no longer be reconciled.
 */
export const WORKER_CONTAINER = 'worker';
