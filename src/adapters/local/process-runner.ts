import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { ensureWorkerBundle, WORKER_BUNDLE } from '../../../containers/worker/build.js';
import { ENV } from '../../config/env-names.js';
import { localWorkerInheritance } from '../../config/local-env.js';
import type { Logger } from '../../core/logger.js';
import type { CheckTaskRequest, TaskRequest, TaskRunner } from '../../core/ports.js';

/**
 * The very program the container runs: the worker bundle (containers/worker/build.ts), started with the image's
 * own command line. Rebuilt here when a source is newer, so edits show up at the next worker, as they would in a
 * new image.
 */
export const WORKER_ENTRY = WORKER_BUNDLE;
export const WORKER_ARGS: readonly string[] = ['--enable-source-maps', WORKER_BUNDLE];

export interface TaskExit {
  readonly app: string;
  readonly num: number;
  readonly exitCode?: number;
  readonly signal?: string;
}

export interface CheckExit {
  readonly app: string;
  readonly checkId: string;
  readonly exitCode?: number;
  readonly signal?: string;
}

export interface LocalProcessRunnerOptions {
  /** Environment for every worker (endpoints, table, bucket, secrets dir); per-task variables are added. */
  readonly env: Record<string, string>;
  readonly log: Logger;
  /** Called when a worker exits, like ECS's task-state event; the caller reconciles the transfer. */
  readonly onExit: (exit: TaskExit) => void | Promise<void>;
  /** Called when a check's worker exits; the caller fails the check if the worker did not finish it. */
  readonly onCheckExit?: (exit: CheckExit) => void | Promise<void>;
  /**
   * Where workers' JSON log lines go: the terminal (`inherit`, like a container's log stream), nowhere, or a
   * function called with each line of their stdout and stderr (tests read them, e.g. to look for secrets).
   */
  readonly workerOutput?: 'inherit' | 'ignore' | ((line: string) => void);
}

/**
 * The local TaskRunner: one child process per transfer, the stand-in for an ECS task. Children get their own
 * process group so a Ctrl-C in the terminal reaches only the stack, which then stops them in order.
 */
export class LocalProcessRunner implements TaskRunner {
  private readonly children = new Map<string, ChildProcess>();
  private readonly exits = new Set<Promise<void>>();
  /** One build at a time per process; builds racing from other processes are safe (build.ts renames). */
  private building: Promise<string> | undefined;

  constructor(private readonly opts: LocalProcessRunnerOptions) {}

  async start(req: TaskRequest): Promise<{ taskRef: string }> {
    return this.spawnWorker(
      { [ENV.APP]: req.app, [ENV.TRANSFER_NUM]: String(req.num) },
      { app: req.app, transfer: req.id },
      (code, signal) => this.opts.onExit({ app: req.app, num: req.num, exitCode: code, signal }),
    );
  }

  async startCheck(req: CheckTaskRequest): Promise<{ taskRef: string }> {
    return this.spawnWorker(
      { [ENV.APP]: req.app, [ENV.CHECK_ID]: req.checkId },
      { app: req.app, check: req.checkId },
      (code, signal) =>
        this.opts.onCheckExit?.({ app: req.app, checkId: req.checkId, exitCode: code, signal }),
    );
  }

  private async spawnWorker(
    taskEnv: Record<string, string>,
    labels: Record<string, string>,
    onExit: (exitCode: number | undefined, signal: string | undefined) => void | Promise<void>,
  ): Promise<{ taskRef: string }> {
    const output = this.opts.workerOutput ?? 'inherit';
    const stdio = typeof output === 'function' ? 'pipe' : output;
    this.building ??= ensureWorkerBundle().finally(() => {
      this.building = undefined;
    });
    await this.building;
    // PATH, HOME, PGBACKUPS_PG_BINDIRS and extra node flags come from this process (src/config/local-env.ts).
    const inherited = localWorkerInheritance();
    const child = spawn(process.execPath, [...inherited.nodeArgs, ...WORKER_ARGS], {
      env: {
        ...inherited.env,
        ...this.opts.env,
        ...taskEnv,
      },
      stdio: ['ignore', stdio, stdio],
      detached: true,
    });
    if (typeof output === 'function') {
      for (const stream of [child.stdout, child.stderr]) {
        if (stream)
          createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY }).on('line', output);
      }
    }
    const pid = await new Promise<number>((resolve, reject) => {
      child.once('spawn', () => resolve(child.pid as number));
      child.once('error', reject);
    });
    const taskRef = `local:${pid}`;
    this.children.set(taskRef, child);
    const exited = new Promise<void>((resolve) => {
      child.once('exit', (code, signal) => {
        this.children.delete(taskRef);
        this.opts.log.info('worker exited', { ...labels, exitCode: code, signal });
        Promise.resolve(onExit(code ?? undefined, signal ?? undefined))
          .catch((e) => this.opts.log.error('reconcile after worker exit failed', { error: String(e) }))
          .finally(resolve);
      });
    });
    this.exits.add(exited);
    void exited.then(() => this.exits.delete(exited));
    this.opts.log.info('worker started', { ...labels, taskRef });
    return { taskRef };
  }

  async stop(taskRef: string, reason: string): Promise<void> {
    const child = this.children.get(taskRef);
    if (!child) return;
    this.opts.log.info('stopping worker', { taskRef, reason });
    child.kill('SIGTERM');
  }

  async isAlive(taskRef: string): Promise<boolean | undefined> {
    if (!taskRef.startsWith('local:')) return undefined;
    return this.children.has(taskRef);
  }

  /** Number of workers still running. */
  get running(): number {
    return this.children.size;
  }

  /** Stops every worker (SIGTERM, then SIGKILL after `graceMs`) and waits until each exit is reconciled. */
  async stopAll(graceMs = 15_000): Promise<void> {
    for (const child of this.children.values()) child.kill('SIGTERM');
    const timer = setTimeout(() => {
      for (const child of this.children.values()) child.kill('SIGKILL');
    }, graceMs);
    await Promise.all([...this.exits]);
    clearTimeout(timer);
  }
}
