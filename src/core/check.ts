/**
 * A deployment check (`pgbackups doctor`): one worker task, started the way transfers start theirs, connects to an
 * attached database and writes, reads back and deletes a small object in the bucket, then records what it found.
 * Checks are their own catalog records (with an expiry), never transfers: they do not show in backup lists,
 * counters or retention. The words that explain a failure live here, so the API, the worker and the CLI agree.
 */
import { randomBytes } from 'node:crypto';
import { ValidationError } from './errors.js';

export const CHECK_STATUSES = ['pending', 'running', 'passed', 'failed'] as const;
export type CheckStatus = (typeof CHECK_STATUSES)[number];
export const ACTIVE_CHECK_STATUSES: readonly CheckStatus[] = ['pending', 'running'];

/** What a check looks at, in the order it looks. */
export const CHECK_STEP_NAMES = ['worker', 'database', 'bucket'] as const;
export type CheckStepName = (typeof CHECK_STEP_NAMES)[number];

export interface CheckStep {
  readonly name: CheckStepName;
  readonly ok: boolean;
  /** What was found, in words (no secret: database messages are redacted by the worker). */
  readonly message: string;
  /** When not ok: what to do about it. */
  readonly hint?: string;
}

export interface Check {
  readonly app: string;
  /** `chk-` and 12 hex digits. */
  readonly id: string;
  /** The attachment the worker connects to. */
  readonly database: string;
  readonly status: CheckStatus;
  readonly createdAt: string;
  readonly startedAt?: string;
  readonly finishedAt?: string;
  /** Epoch seconds after which the catalog may drop the record (DynamoDB TTL). */
  readonly expiresAt: number;
  readonly steps: readonly CheckStep[];
  /** `16.4`, when the database answered. */
  readonly serverVersion?: string;
  /** The pg_dump major a capture of this database would run (src/core/pg-compat.ts). */
  readonly dumpClient?: number;
  /** The client majors in the worker image. */
  readonly clients?: readonly number[];
  /** ECS task ARN or local process id. */
  readonly taskRef?: string;
}

export type CheckPatch = Partial<
  Pick<
    Check,
    'status' | 'startedAt' | 'finishedAt' | 'steps' | 'serverVersion' | 'dumpClient' | 'clients' | 'taskRef'
  >
>;

/** How long a check's record is kept: long enough to read the result, short enough not to pile up. */
export const CHECK_TTL_SECONDS = 24 * 3600;
/**
 * A check still pending or running after this long has lost its worker (a task that never started and whose
 * stop event was missed): reading it fails it. Fargate normally starts a task in well under two minutes.
 */
export const CHECK_DEADLINE_MS = 10 * 60 * 1000;

const CHECK_ID = /^chk-[0-9a-f]{12}$/;

export function newCheckId(): string {
  return `chk-${randomBytes(6).toString('hex')}`;
}

export function parseCheckId(input: unknown): string {
  if (typeof input !== 'string' || !CHECK_ID.test(input)) {
    throw new ValidationError(
      'Invalid check id: use the id POST /v1/apps/{app}/checks returned, like chk-0123456789ab',
    );
  }
  return input;
}

/** S3 key of a check's probe object; `checks/` expires by lifecycle should the worker fail to delete it. */
export function checkObjectKey(app: string, id: string): string {
  return `${CHECK_OBJECT_PREFIX}${app}/${id}`;
}
export const CHECK_OBJECT_PREFIX = 'checks/';
/** Lifecycle backstop for probe objects the worker could not delete (lib/constructs/backups-bucket.ts). */
export const CHECK_OBJECT_EXPIRY_DAYS = 1;

/** Why a worker task could not start (RunTask failures, or the message of the local spawn), and what to do. */
export function workerStartHint(reason: string): string {
  if (/capacity|RESOURCE:|limit|quota|throttl/i.test(reason)) {
    return 'The account is at a Fargate limit (vCPU quota or capacity): wait for running tasks to end, or ask for a higher "Fargate On-Demand vCPU" quota in Service Quotas (docs/deploy.md).';
  }
  if (/subnet|security ?group|network|ENI|VPC/i.test(reason)) {
    return "The task could not be placed in the subnets or security groups the stack gives it: check the stack's VPC props (vpcId, subnets) and that those subnets still exist.";
  }
  if (/AccessDenied|not authorized|iam:PassRole/i.test(reason)) {
    return 'The API may not start the worker task: redeploy the stack so its role gets ecs:RunTask and iam:PassRole on the task definition again.';
  }
  return 'Look at the reason above; in AWS, the ECS console shows the task and its stopped reason (cluster of the PgBackups stack).';
}

/** Why a started worker task stopped without reporting (ECS stop reason), and what to do. */
export function workerStoppedHint(reason: string): string {
  if (/CannotPullContainer|pull image|manifest|ECR|repository/i.test(reason)) {
    return 'The worker image could not be pulled: the task needs a route to ECR (public IP in a public subnet, a NAT gateway, or ECR and S3 endpoints in a private VPC), and the image must exist (redeploy the stack).';
  }
  if (/ResourceInitializationError|secrets|unable to retrieve|log/i.test(reason)) {
    return 'The task could not initialize (image, logs or secrets): a task in a private subnet needs a NAT gateway or interface endpoints for ECR, CloudWatch Logs and Secrets Manager (docs/deploy.md).';
  }
  if (/OutOfMemory|OOM|exit code 137/i.test(reason)) {
    return 'The worker ran out of memory: raise workerMemoryMiB in the stack context.';
  }
  if (/timed out|did not report/i.test(reason)) {
    return 'The task may never have started: look for it in the ECS console (cluster of the PgBackups stack) and at the worker log group; a first run can take minutes while the image is pulled.';
  }
  return "The worker logs (CloudWatch log group of the stack's worker, or the local stack's terminal) say why.";
}

/** Why the worker could not use an attached database, from libpq's or the host guard's message, and what to do. */
export function databaseHint(message: string): string {
  if (/password authentication failed|no password supplied|authentication failed|SCRAM/i.test(message)) {
    return 'The database refused the user or password in the attached URL: attach it again with the right credentials (pgbackups databases:add NAME --url -).';
  }
  if (/no pg_hba\.conf entry/i.test(message)) {
    return "The server's pg_hba.conf does not let this host in (or requires SSL): allow the worker's address, or add sslmode=require to the URL.";
  }
  if (/database "[^"]*" does not exist|role "[^"]*" does not exist/i.test(message)) {
    return 'The URL names a database or user the server does not have: check the name and attach the URL again.';
  }
  if (/Database host refused|databaseHostAllowlist/i.test(message)) {
    return "The database's address is outside what the stack lets workers reach: add its network to the databaseHostAllowlist context of the stack, or use its public address.";
  }
  if (
    /timeout expired|timed out|Connection refused|could not connect|No route to host|Network is unreachable|could not translate host name|Name or service not known/i.test(
      message,
    )
  ) {
    return "The worker cannot reach the database's host and port: check the host and port in the URL, that the database accepts connections from the worker's security group or address (RDS: its security group's inbound rule), and that the worker's subnets have a route to it.";
  }
  if (/SSL|certificate/i.test(message)) {
    return 'The TLS handshake failed: check sslmode in the URL (sslrootcert=system verifies against the system CAs).';
  }
  return 'See the message above; pgbackups databases shows where the attachment points.';
}

/** Why the worker could not write, read or delete the probe object, and what to do. */
export function bucketHint(message: string): string {
  if (/KMS|kms:|key/i.test(message)) {
    return "The worker's role may not use the bucket's KMS key: redeploy the stack so the task role gets kms:GenerateDataKey and kms:Decrypt on it again (an adopted bucket must use the key the stack is given).";
  }
  if (/AccessDenied|Forbidden|403/i.test(message)) {
    return "The worker's role may not write or read the bucket: redeploy the stack (its task role gets s3:PutObject, s3:GetObject and s3:DeleteObject there), and check that no bucket policy denies it.";
  }
  if (/NoSuchBucket|does not exist/i.test(message)) {
    return 'The bucket the worker is told to use does not exist: redeploy the stack, or check the existing-bucket prop.';
  }
  if (/ENOTFOUND|ECONNREFUSED|ETIMEDOUT|timed out|socket/i.test(message)) {
    return 'The worker cannot reach S3: a task in a private subnet needs a NAT gateway or an S3 gateway endpoint.';
  }
  return 'The worker logs say more.';
}
