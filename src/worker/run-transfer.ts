/**
 * The worker's use case (docs/architecture.md, "A transfer's life"): runs one pending transfer — capture,
 * restore or copy — to a terminal status, reporting progress, heartbeat and log lines to the catalog as it
 * goes. Every status change is conditional on the status it expects, so a transfer cancelled or reaped
 * meanwhile is never overwritten.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { errorMessage, type Logger } from '../core/logger.js';
import type { Transfer, TransferPatch, TransferStatus } from '../core/transfer.js';
import { capture } from './capture.js';
import {
  connectTo,
  DEFAULT_LOCK_WAIT_TIMEOUT,
  DEFAULT_PROGRESS_INTERVAL_MS,
  type PipelineContext,
  type WorkerDeps,
  type WorkerOptions,
} from './context.js';
import { discoverPgClients, type PgClients } from './pg-clients.js';
import { redact } from './redact.js';
import { copy, restore } from './restore.js';
import { TransferLog } from './transfer-log.js';

export type { WorkerDeps, WorkerOptions } from './context.js';

/** The reason a run is aborted when it is cancelled rather than failed. */
export class TransferCancelledError extends Error {
  constructor(message = 'The transfer was cancelled') {
    super(message);
    this.name = 'TransferCancelledError';
  }
}

/**
 * Runs transfer `ref` if it is pending; returns its final status. `signal` is the process's SIGTERM/SIGINT (ECS
 * StopTask, a local cancel): it stops the child processes and records `cancelled`.
 */
export async function runTransfer(
  deps: WorkerDeps,
  ref: { app: string; num: number },
  signal: AbortSignal,
  opts: WorkerOptions = {},
): Promise<TransferStatus> {
  const found = await deps.catalog.getTransfer(ref.app, ref.num);
  if (!found) throw new Error(`Transfer ${ref.num} not found for ${ref.app}`);
  const log = deps.log.child({ app: found.app, transfer: found.id });
  if (found.status !== 'pending') {
    log.info('transfer is not pending; nothing to do', { status: found.status });
    return found.status;
  }
  if (found.safetyBackup) {
    const taken = await runSafetyBackup(deps, found, signal, opts, log);
    if (taken !== 'completed') return taken;
  }
  const startedAt = deps.clock.now().toISOString();
  const running = await deps.catalog.updateTransfer(
    ref.app,
    ref.num,
    { status: 'running', startedAt, heartbeatAt: startedAt },
    ['pending'],
  );
  if (!running) {
    const now = await deps.catalog.getTransfer(ref.app, ref.num);
    log.info('transfer changed before it could start; nothing to do', { status: now?.status });
    return now?.status ?? found.status;
  }
  return new TransferRun(deps, running, signal, opts, log).execute();
}

/**
 * Captures the safety backup of a restore's or copy's target before anything touches it. Meanwhile the overwrite
 * stays pending, with a heartbeat so the watchdog knows its worker is alive. If the backup does not complete, the
 * overwrite ends without touching the target; returns 'completed' or the overwrite's final status.
 */
async function runSafetyBackup(
  deps: WorkerDeps,
  t: Transfer,
  signal: AbortSignal,
  opts: WorkerOptions,
  log: Logger,
): Promise<TransferStatus> {
  const ref = t.safetyBackup as NonNullable<Transfer['safetyBackup']>;
  log.info('capturing the safety backup of the target first', { safetyBackup: ref.id, database: t.database });
  const beat = setInterval(() => {
    const heartbeatAt = deps.clock.now().toISOString();
    deps.catalog.updateTransfer(t.app, t.num, { heartbeatAt }, ['pending']).catch(() => {});
  }, opts.progressIntervalMs ?? DEFAULT_PROGRESS_INTERVAL_MS);
  let status: TransferStatus;
  try {
    status = await runTransfer(deps, { app: ref.app, num: ref.num }, signal, opts);
  } finally {
    clearInterval(beat);
  }
  if (status === 'completed') return status;
  const finishedAt = deps.clock.now().toISOString();
  const cancelled = signal.aborted || status === 'cancelled';
  const patch: TransferPatch = cancelled
    ? { status: 'cancelled', finishedAt }
    : {
        status: 'failed',
        finishedAt,
        error: `The safety backup ${ref.id} of ${t.database} did not complete (${status}); ${t.database} was not touched`,
      };
  const ended = await deps.catalog.updateTransfer(t.app, t.num, patch, ['pending']);
  log.warn('safety backup did not complete; the target was left alone', { safetyBackup: ref.id, status });
  return ended?.status ?? (await deps.catalog.getTransfer(t.app, t.num))?.status ?? patch.status ?? 'failed';
}

type Outcome =
  | { status: 'completed'; patch: TransferPatch }
  | { status: 'failed'; error: string }
  | { status: 'cancelled' };

class TransferRun {
  private readonly tlog: TransferLog;
  private readonly cancel = new AbortController();
  private readonly secrets: string[] = [];
  private processedBytes = 0;
  private readonly stopTicker = new AbortController();

  constructor(
    private readonly deps: WorkerDeps,
    private readonly transfer: Transfer,
    private readonly signal: AbortSignal,
    private readonly opts: WorkerOptions,
    private readonly log: Logger,
  ) {
    this.tlog = new TransferLog(deps.clock);
  }

  async execute(): Promise<TransferStatus> {
    const t = this.transfer;
    this.log.info('transfer started', { kind: t.kind, database: t.database });
    const onSignal = () => this.requestCancel('the worker was asked to stop');
    this.signal.addEventListener('abort', onSignal, { once: true });
    if (this.signal.aborted) onSignal();
    if (t.cancelRequested) this.requestCancel('cancel requested');
    const ticker = this.runTicker();

    let outcome: Outcome;
    try {
      this.cancel.signal.throwIfAborted();
      const clients = this.opts.clients ?? (await discoverPgClients(this.opts.pgBinDirs));
      const patch = await this.pipeline()(this.context(clients));
      outcome = { status: 'completed', patch };
    } catch (e) {
      const message = redact(errorMessage(e), this.secrets);
      outcome = this.cancel.signal.aborted ? { status: 'cancelled' } : { status: 'failed', error: message };
      if (outcome.status === 'failed') this.log.error('transfer failed', { error: message });
    } finally {
      this.signal.removeEventListener('abort', onSignal);
    }
    // A backup's object can still be discarded when the cancel arrived during the last steps; a committed
    // restore cannot be undone, so it stays completed.
    if (outcome.status === 'completed' && t.kind === 'backup' && this.cancel.signal.aborted) {
      outcome = { status: 'cancelled' };
    }
    this.stopTicker.abort();
    await ticker;
    return this.finish(outcome);
  }

  private pipeline(): (ctx: PipelineContext) => Promise<TransferPatch> {
    switch (this.transfer.kind) {
      case 'backup':
        return capture;
      case 'restore':
        return restore;
      case 'copy':
        return copy;
    }
  }

  private context(clients: PgClients): PipelineContext {
    return {
      transfer: this.transfer,
      deps: this.deps,
      signal: this.cancel.signal,
      tlog: this.tlog,
      log: this.log,
      lockWaitTimeout: this.opts.lockWaitTimeout ?? DEFAULT_LOCK_WAIT_TIMEOUT,
      openUrl: this.opts.openUrl,
      secrets: this.secrets,
      clients,
      onBytes: (total) => {
        this.processedBytes = total;
      },
      record: async (patch) => {
        await this.deps.catalog.updateTransfer(this.transfer.app, this.transfer.num, patch, ['running']);
      },
      connect: (app, database) => connectTo(this.deps, this.secrets, app, database),
    };
  }

  private requestCancel(why: string): void {
    if (this.cancel.signal.aborted) return;
    this.tlog.warn(`cancelling: ${why}`);
    this.log.info('transfer cancelling', { reason: why });
    this.cancel.abort(new TransferCancelledError());
  }

  /** Heartbeat, progress and logs every interval; also how a `cancelRequested` set by the API reaches us. */
  private async runTicker(): Promise<void> {
    const interval = this.opts.progressIntervalMs ?? DEFAULT_PROGRESS_INTERVAL_MS;
    const { app, num } = this.transfer;
    while (!this.stopTicker.signal.aborted) {
      try {
        await sleep(interval, undefined, { signal: this.stopTicker.signal });
      } catch {
        return;
      }
      try {
        const now = this.deps.clock.now().toISOString();
        const t = await this.deps.catalog.updateTransfer(
          app,
          num,
          { processedBytes: this.processedBytes, heartbeatAt: now },
          ['running'],
        );
        if (!t) this.requestCancel('the transfer is no longer running');
        else if (t.cancelRequested) this.requestCancel('cancel requested');
        await this.flushLogs();
      } catch (e) {
        // A missed heartbeat is not worth failing a backup over; the next tick tries again.
        this.log.warn('progress report failed', { error: errorMessage(e) });
      }
    }
  }

  private async flushLogs(): Promise<void> {
    if (!this.tlog.dirty) return;
    const { lines, version } = this.tlog.snapshot();
    await this.deps.catalog.putTransferLogs(this.transfer.app, this.transfer.num, lines);
    this.tlog.markFlushed(version);
  }

  private async finish(outcome: Outcome): Promise<TransferStatus> {
    const { app, num, kind, target } = this.transfer;
    const finishedAt = this.deps.clock.now().toISOString();
    let patch: TransferPatch;
    if (outcome.status === 'completed') {
      this.tlog.info(`${kind} completed`);
      patch = { ...outcome.patch, status: 'completed', finishedAt };
    } else if (outcome.status === 'cancelled') {
      this.tlog.warn(`${kind} cancelled`);
      patch = { status: 'cancelled', finishedAt, processedBytes: this.processedBytes };
    } else {
      this.tlog.error(outcome.error);
      patch = { status: 'failed', error: outcome.error, finishedAt, processedBytes: this.processedBytes };
    }
    // Logs first: whoever sees the terminal status must also see why.
    await this.flushLogs().catch((e) => this.log.warn('final log write failed', { error: errorMessage(e) }));
    if (kind === 'backup' && target.type === 'blob' && outcome.status !== 'completed') {
      await this.deps.blobs.delete(target.key).catch(() => {});
    }
    const written = await this.deps.catalog.updateTransfer(app, num, patch, ['running']);
    if (!written) {
      // Cancelled or reaped meanwhile: that status stands, and a backup nobody will list must not linger.
      if (kind === 'backup' && target.type === 'blob')
        await this.deps.blobs.delete(target.key).catch(() => {});
      const now = await this.deps.catalog.getTransfer(app, num);
      // Deleted meanwhile (delete of a running backup): the log lines just flushed must not outlive it.
      if (!now) await this.deps.catalog.deleteTransfer(app, num).catch(() => {});
      this.log.warn('transfer changed while running; final status not written', {
        wanted: patch.status,
        status: now?.status,
      });
      return now?.status ?? outcome.status;
    }
    this.log.info('transfer finished', {
      status: patch.status,
      processedBytes: patch.processedBytes,
      backupBytes: patch.backupBytes,
    });
    return outcome.status;
  }
}
