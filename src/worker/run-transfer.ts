/**
 * The worker's use case (docs/architecture.md, "A transfer's life"): runs one pending transfer — capture,
 * restore or copy — to a terminal status, reporting progress, heartbeat and log lines to the catalog as it
 * goes. Every status change is conditional on the status it expects, so a transfer cancelled or reaped
 * meanwhile is never overwritten.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { NotFoundError } from '../core/errors.js';
import { bestEffort, errorMessage, type Logger } from '../core/logger.js';
import {
  applyUpdate,
  canTransition,
  failOrCancel,
  finishRun,
  type RunResult,
  startRun,
  type Transfer,
  type TransferPatch,
  type TransferStatus,
  whileStatus,
} from '../core/transfer.js';
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
  if (!found) throw new NotFoundError(`Transfer ${ref.num} not found for ${ref.app}`);
  const log = deps.log.child({ app: found.app, transfer: found.id });
  if (!canTransition(found.status, 'running')) {
    log.info('transfer is not pending; nothing to do', { status: found.status });
    return found.status;
  }
  if (found.safetyBackup) {
    const taken = await runSafetyBackup(deps, found, signal, opts, log);
    if (taken !== 'completed') return taken;
  }
  const running = await applyUpdate(deps.catalog, found, startRun(deps.clock.now().toISOString()));
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
    void bestEffort(
      log,
      'report the heartbeat',
      applyUpdate(deps.catalog, t, whileStatus('pending', { heartbeatAt })),
    );
  }, opts.progressIntervalMs ?? DEFAULT_PROGRESS_INTERVAL_MS);
  let status: TransferStatus;
  try {
    status = await runTransfer(deps, { app: ref.app, num: ref.num }, signal, opts);
  } finally {
    clearInterval(beat);
  }
  if (status === 'completed') return status;
  const end = failOrCancel(
    deps.clock.now().toISOString(),
    {
      cancelled: signal.aborted || status === 'cancelled',
      error: `The safety backup ${ref.id} of ${t.database} did not complete (${status}); ${t.database} was not touched`,
    },
    'pending',
  );
  const ended = await applyUpdate(deps.catalog, t, end);
  log.warn('safety backup did not complete; the target was left alone', { safetyBackup: ref.id, status });
  return (
    ended?.status ?? (await deps.catalog.getTransfer(t.app, t.num))?.status ?? end.patch.status ?? 'failed'
  );
}

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

    let result: RunResult;
    let cancelled: boolean;
    try {
      this.cancel.signal.throwIfAborted();
      const clients = this.opts.clients ?? (await discoverPgClients(this.opts.pgBinDirs));
      result = { ok: true, results: await this.pipeline()(this.context(clients)) };
      cancelled = this.cancel.signal.aborted;
    } catch (e) {
      result = { ok: false, error: redact(errorMessage(e), this.secrets) };
      cancelled = this.cancel.signal.aborted;
      if (!cancelled) this.log.error('transfer failed', { error: result.error });
    } finally {
      this.signal.removeEventListener('abort', onSignal);
    }
    this.stopTicker.abort();
    await ticker;
    return this.finish(result, cancelled);
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
        await applyUpdate(this.deps.catalog, this.transfer, whileStatus('running', patch));
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
    while (!this.stopTicker.signal.aborted) {
      try {
        await sleep(interval, undefined, { signal: this.stopTicker.signal });
      } catch {
        return;
      }
      try {
        const now = this.deps.clock.now().toISOString();
        const t = await applyUpdate(
          this.deps.catalog,
          this.transfer,
          whileStatus('running', { processedBytes: this.processedBytes, heartbeatAt: now }),
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

  private async finish(result: RunResult, cancelled: boolean): Promise<TransferStatus> {
    const { app, num, kind, target } = this.transfer;
    const end = finishRun(kind, this.deps.clock.now().toISOString(), result, cancelled, {
      processedBytes: this.processedBytes,
    });
    const { patch } = end;
    const status = patch.status as TransferStatus;
    if (status === 'completed') this.tlog.info(`${kind} completed`);
    else if (status === 'cancelled') this.tlog.warn(`${kind} cancelled`);
    else this.tlog.error(patch.error ?? `${kind} failed`);
    // Logs first: whoever sees the terminal status must also see why.
    await bestEffort(this.log, 'write the final log lines', this.flushLogs());
    const discard = async () => {
      if (kind === 'backup' && target.type === 'blob')
        await bestEffort(this.log, 'delete the backup object', this.deps.blobs.delete(target.key));
    };
    if (status !== 'completed') await discard();
    const written = await applyUpdate(this.deps.catalog, this.transfer, end);
    if (!written) {
      // Cancelled or reaped meanwhile: that status stands, and a backup nobody will list must not linger.
      await discard();
      const now = await this.deps.catalog.getTransfer(app, num);
      // Deleted meanwhile (delete of a running backup): the log lines just flushed must not outlive it.
      if (!now)
        await bestEffort(this.log, 'delete the log lines', this.deps.catalog.deleteTransfer(app, num));
      this.log.warn('transfer changed while running; final status not written', {
        wanted: patch.status,
        status: now?.status,
      });
      return now?.status ?? status;
    }
    this.log.info('transfer finished', {
      status: patch.status,
      processedBytes: patch.processedBytes,
      backupBytes: patch.backupBytes,
    });
    return status;
  }
}
