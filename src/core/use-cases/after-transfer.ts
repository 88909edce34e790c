import type { CoreDeps } from '../deps.js';
import { errorMessage } from '../logger.js';
import { isFinished, type Transfer } from '../transfer.js';
import { notifyTransferFinished } from './notify-transfer.js';
import { pruneApp } from './prune.js';

/**
 * What follows the end of a transfer, done once whoever notices it (the reconciler after the task stopped, the
 * watchdog, a worker that never started): the alert, and — after a completed backup — the app's retention, so a
 * capture at the manual limit expires the oldest backup only once the new one exists.
 */
export async function afterTransferFinished(deps: CoreDeps, t: Transfer): Promise<void> {
  if (!isFinished(t.status)) return;
  if (!(await deps.catalog.claimFinish(t.app, t.num))) return;
  await notifyTransferFinished(deps, t);
  if (t.kind === 'backup' && t.status === 'completed') {
    try {
      const result = await pruneApp(deps, t.app, { dryRun: false });
      if (result.deleted.length > 0) {
        deps.log.info('retention applied after backup', {
          app: t.app,
          transfer: t.id,
          deleted: result.deleted.map((d) => d.id),
        });
      }
    } catch (e) {
      // The daily prune catches up; the backup itself is safe.
      deps.log.error('retention after backup failed', { app: t.app, transfer: t.id, error: errorMessage(e) });
    }
  }
}
