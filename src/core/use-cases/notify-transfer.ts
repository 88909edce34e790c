import type { CoreDeps } from '../deps.js';
import { errorMessage } from '../logger.js';
import { METRIC_TRANSFERS_FAILED, metricFields } from '../metrics.js';
import type { Alert } from '../ports.js';
import type { Transfer } from '../transfer.js';

/** `Backup b012 of DATABASE`, `Restore r003 to DATABASE`, `Copy c004 to DATABASE`. */
export function describeTransfer(t: Pick<Transfer, 'kind' | 'id' | 'database'>): string {
  if (t.kind === 'backup') return `Backup ${t.id} of ${t.database}`;
  return `${t.kind === 'restore' ? 'Restore' : 'Copy'} ${t.id} to ${t.database}`;
}

/**
 * Sends the alert for a transfer that just finished: always on failure, on completion only when the app's
 * settings ask for it (`notifyOnSuccess`), never on cancellation (a person asked for it).
 *
 * Call it only after the conditional status write that finished the transfer succeeded: that write happens once,
 * so the alert is sent once, whichever of the worker, the task-events handler or the watchdog got there first.
 * A notifier error is logged and swallowed: the transfer is already recorded, and failing the caller would not
 * bring the alert back. Returns the alert sent, if any.
 */
export async function notifyTransferFinished(deps: CoreDeps, t: Transfer): Promise<Alert | undefined> {
  let alert: Alert | undefined;
  const base = {
    app: t.app,
    database: t.database,
    transferId: t.id,
    at: t.finishedAt ?? deps.clock.now().toISOString(),
  };
  if (t.status === 'failed') {
    deps.log.error('transfer failed', {
      app: t.app,
      transfer: t.id,
      kind: t.kind,
      ...metricFields(METRIC_TRANSFERS_FAILED, deps.clock.now()),
    });
    alert = {
      ...base,
      type: 'transfer.failed',
      message: `${describeTransfer(t)} failed: ${t.error ?? 'no reason recorded'}`,
    };
  } else if (t.status === 'completed') {
    const settings = await deps.catalog.getSettings(t.app);
    if (!settings?.notifyOnSuccess) return undefined;
    alert = { ...base, type: 'transfer.completed', message: `${describeTransfer(t)} completed` };
  } else {
    return undefined;
  }
  try {
    await deps.notifier.notify(alert);
    return alert;
  } catch (e) {
    deps.log.error('alert not delivered', {
      app: t.app,
      transfer: t.id,
      alert: alert.type,
      error: errorMessage(e),
    });
    return undefined;
  }
}
