import { createHash } from 'node:crypto';
import { DescribeTasksCommand, type ECSClient, RunTaskCommand, StopTaskCommand } from '@aws-sdk/client-ecs';
import { ENV, WORKER_CONTAINER } from '../../config/env-names.js';
import type { CheckTaskRequest, TaskRequest, TaskRunner } from '../../core/ports.js';

/** `startedBy` of every worker task: visible in the console and filterable in ListTasks. */
export const STARTED_BY = 'pgbackups';

export interface EcsTaskRunnerOptions {
  readonly client: ECSClient;
  /** Cluster name or ARN. */
  readonly cluster: string;
  /** Task definition ARN (family:revision). */
  readonly taskDefinition: string;
  readonly subnets: readonly string[];
  readonly securityGroups: readonly string[];
  /** Public IP for tasks in public subnets without NAT. */
  readonly assignPublicIp: boolean;
}

/**
 * RunTask's idempotency token for a transfer: the same app+num on the same cluster always gives the same token, so
 * a retried start cannot launch a second worker. SHA-256 hex is exactly RunTask's 64-character limit.
 */
export function runTaskClientToken(cluster: string, app: string, num: number): string {
  return createHash('sha256').update(`${cluster}\n${app}\n${num}`).digest('hex');
}

const GiB = 1024 ** 3;
/** Fargate's ephemeral storage range per task. */
export const MIN_EPHEMERAL_GIB = 21;
export const MAX_EPHEMERAL_GIB = 200;

/**
 * Ephemeral storage for a task that may keep `scratchBytes` on disk: the bytes plus 10 % and 4 GiB for the image
 * and the filesystem's own overhead, within Fargate's 21–200 GiB. A `--parallel` restore normally keeps only the
 * archive's table of contents and needs the whole archive only for a TOC over 128 MiB; should that not fit, the
 * restore's first step rolls back and leaves the target unchanged.
 */
export function ephemeralStorageGiB(scratchBytes: number): number {
  const need = Math.ceil((scratchBytes * 11) / (10 * GiB)) + 4;
  return Math.min(MAX_EPHEMERAL_GIB, Math.max(MIN_EPHEMERAL_GIB, need));
}

/** Starts one Fargate task per transfer; the task's only input is which transfer to run (no URL, no secret). */
export class EcsTaskRunner implements TaskRunner {
  constructor(private readonly opts: EcsTaskRunnerOptions) {}

  async start(req: TaskRequest): Promise<{ taskRef: string }> {
    // Sized per task: the task definition's default fits captures and streamed restores, which use no disk.
    const ephemeralStorage =
      req.scratchBytes === undefined ? undefined : { sizeInGiB: ephemeralStorageGiB(req.scratchBytes) };
    return this.runTask({
      app: req.app,
      what: `${req.app} ${req.id}`,
      environment: [
        { name: ENV.APP, value: req.app },
        { name: ENV.TRANSFER_NUM, value: String(req.num) },
      ],
      ephemeralStorage,
      clientToken: runTaskClientToken(this.opts.cluster, req.app, req.num),
      tag: { key: 'pgbackups:transfer', value: req.id },
    });
  }

  /** The same task definition and network as a transfer; the worker runs the check named in its environment. */
  async startCheck(req: CheckTaskRequest): Promise<{ taskRef: string }> {
    return this.runTask({
      app: req.app,
      what: `${req.app} check ${req.checkId}`,
      environment: [
        { name: ENV.APP, value: req.app },
        { name: ENV.CHECK_ID, value: req.checkId },
      ],
      clientToken: createHash('sha256')
        .update(`${this.opts.cluster}\n${req.app}\ncheck\n${req.checkId}`)
        .digest('hex'),
      tag: { key: 'pgbackups:check', value: req.checkId },
    });
  }

  private async runTask(task: {
    app: string;
    what: string;
    environment: { name: string; value: string }[];
    ephemeralStorage?: { sizeInGiB: number };
    clientToken: string;
    tag: { key: string; value: string };
  }): Promise<{ taskRef: string }> {
    const { client, cluster, taskDefinition } = this.opts;
    const { ephemeralStorage } = task;
    const out = await client.send(
      new RunTaskCommand({
        cluster,
        taskDefinition,
        launchType: 'FARGATE',
        count: 1,
        networkConfiguration: {
          awsvpcConfiguration: {
            subnets: [...this.opts.subnets],
            securityGroups: [...this.opts.securityGroups],
            assignPublicIp: this.opts.assignPublicIp ? 'ENABLED' : 'DISABLED',
          },
        },
        overrides: {
          containerOverrides: [{ name: WORKER_CONTAINER, environment: task.environment }],
          ...(ephemeralStorage && { ephemeralStorage }),
        },
        clientToken: task.clientToken,
        startedBy: STARTED_BY,
        tags: [{ key: 'pgbackups:app', value: task.app }, task.tag],
        enableECSManagedTags: true,
      }),
    );
    // Capacity and placement problems come back as failures[], not as an exception.
    const failure = out.failures?.[0];
    if (failure) {
      const detail = [failure.reason, failure.detail].filter(Boolean).join(': ') || 'unknown reason';
      throw new Error(`ECS could not start the worker for ${task.what}: ${detail}`);
    }
    const taskArn = out.tasks?.[0]?.taskArn;
    if (!taskArn)
      throw new Error(`ECS could not start the worker for ${task.what}: RunTask returned no task`);
    return { taskRef: taskArn };
  }

  async stop(taskRef: string, reason: string): Promise<void> {
    // ECS limits the reason to 255 characters; it shows up as the task's stoppedReason.
    await this.opts.client.send(
      new StopTaskCommand({ cluster: this.opts.cluster, task: taskRef, reason: reason.slice(0, 255) }),
    );
  }

  async isAlive(taskRef: string): Promise<boolean> {
    const out = await this.opts.client.send(
      new DescribeTasksCommand({ cluster: this.opts.cluster, tasks: [taskRef] }),
    );
    const task = out.tasks?.find((t) => t.taskArn === taskRef) ?? out.tasks?.[0];
    // A task ECS no longer knows (failures: MISSING) is as dead as a STOPPED one.
    return task !== undefined && task.lastStatus !== 'STOPPED';
  }
}

/** What the task-events handler needs from a stopped worker task that ran a check. */
export interface StoppedCheckWorker {
  readonly app: string;
  readonly checkId: string;
  readonly exitCode?: number;
  readonly reason: string;
}

/** What the task-events handler needs from a stopped worker task. */
export interface StoppedWorker {
  readonly app: string;
  readonly num: number;
  readonly exitCode?: number;
  readonly reason: string;
}

interface TaskStateDetail {
  lastStatus?: string;
  stoppedReason?: string;
  stopCode?: string;
  containers?: { name?: string; exitCode?: number; reason?: string }[];
  overrides?: { containerOverrides?: { name?: string; environment?: { name?: string; value?: string }[] }[] };
}

/**
 * Reads an `ECS Task State Change` event's detail: the transfer comes from the worker container's environment
 * overrides (set by {@link EcsTaskRunner.start}). Undefined when the task is not a stopped pgbackups worker.
 */
export function stoppedWorkerFromEvent(detail: unknown): StoppedWorker | undefined {
  if (!detail || typeof detail !== 'object') return undefined;
  const d = detail as TaskStateDetail;
  if (d.lastStatus !== 'STOPPED') return undefined;
  const env = d.overrides?.containerOverrides?.find((c) => c.name === WORKER_CONTAINER)?.environment ?? [];
  const value = (name: string) => env.find((e) => e.name === name)?.value;
  const app = value(ENV.APP);
  const num = Number(value(ENV.TRANSFER_NUM));
  if (!app || !Number.isInteger(num) || num <= 0) return undefined;
  const container = d.containers?.find((c) => c.name === WORKER_CONTAINER);
  const reason =
    [d.stopCode, d.stoppedReason, container?.reason].filter((s): s is string => Boolean(s)).join(': ') ||
    'the task stopped';
  return { app, num, exitCode: container?.exitCode ?? undefined, reason };
}

/** Like {@link stoppedWorkerFromEvent}, for a worker started by {@link EcsTaskRunner.startCheck}. */
export function stoppedCheckFromEvent(detail: unknown): StoppedCheckWorker | undefined {
  if (!detail || typeof detail !== 'object') return undefined;
  const d = detail as TaskStateDetail;
  if (d.lastStatus !== 'STOPPED') return undefined;
  const env = d.overrides?.containerOverrides?.find((c) => c.name === WORKER_CONTAINER)?.environment ?? [];
  const value = (name: string) => env.find((e) => e.name === name)?.value;
  const app = value(ENV.APP);
  const checkId = value(ENV.CHECK_ID);
  if (!app || !checkId) return undefined;
  const container = d.containers?.find((c) => c.name === WORKER_CONTAINER);
  const reason =
    [d.stopCode, d.stoppedReason, container?.reason].filter((s): s is string => Boolean(s)).join(': ') ||
    'the task stopped';
  return { app, checkId, exitCode: container?.exitCode ?? undefined, reason };
}
