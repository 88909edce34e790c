import { type ChildProcess, spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../../core/logger.js';
import type { TaskRequest, TaskRunner } from '../../core/ports.js';

/** The very entrypoint the container runs (containers/worker/main.ts), run here through tsx. */
export const WORKER_ENTRY = fileURLToPath(new URL('../../../containers/worker/main.ts', import.meta.url));
const TSX_LOADER = createRequire(import.meta.url).resolve('tsx');

export interface TaskExit {
  readonly app: string;
  readonly num: number;
  readonly exitCode?: number;
  readonly signal?: string;
}

export interface LocalProcessRunnerOptions {
  /** Environment for every worker (endpoints, table, bucket, secrets dir); per-task variables are added. */
  readonly env: Record<string, string>;
  readonly log: Logger;
  /** Called when a worker exits, like ECS's task-state event; the caller reconciles the transfer. */
  readonly onExit: (exit: TaskExit) => void | Promise<void>;
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

  constructor(private readonly opts: LocalProcessRunnerOptions) {}

  async start(req: TaskRequest): Promise<{ taskRef: string }> {
    const output = this.opts.workerOutput ?? 'inherit';
    const stdio = typeof output === 'function' ? 'pipe' : output;
    const child = spawn(process.execPath, ['--import', TSX_LOADER, WORKER_ENTRY], {
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: process.env.HOME ?? '/tmp',
        ...this.opts.env,
        PGBACKUPS_APP: req.app,
        PGBACKUPS_TRANSFER_NUM: String(req.num),
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
        this.opts.log.info('worker exited', { app: req.app, transfer: req.id, exitCode: code, signal });
        Promise.resolve(
          this.opts.onExit({
            app: req.app,
            num: req.num,
            exitCode: code ?? undefined,
            signal: signal ?? undefined,
          }),
        )
          .catch((e) => this.opts.log.error('reconcile after worker exit failed', { error: String(e) }))
          .finally(resolve);
      });
    });
    this.exits.add(exited);
    void exited.then(() => this.exits.delete(exited));
    this.opts.log.info('worker started', { app: req.app, transfer: req.id, taskRef });
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
