import type { CoreDeps } from '../deps.js';
import { UnprocessableError } from '../errors.js';
import { parseAppName } from '../names.js';
import { isFinished } from '../transfer.js';
import { cancelTransfer, requireTransfer } from './transfers.js';

/**
 * Deletes a backup: its object first, then its record, so a failure half-way leaves a record to retry with
 * rather than an orphaned object. A backup still running is cancelled first; its worker removes what it wrote.
 */
export async function deleteBackup(deps: CoreDeps, input: { app: string; id: string }): Promise<void> {
  const app = parseAppName(input.app);
  const t = await requireTransfer(deps, app, input.id);
  if (t.kind !== 'backup') {
    throw new UnprocessableError(`${t.id} is a ${t.kind}, not a backup; only backups can be deleted`);
  }
  if (!isFinished(t.status)) await cancelTransfer(deps, { app, id: t.id });
  if (t.target.type === 'blob') await deps.blobs.delete(t.target.key);
  await deps.catalog.deleteTransfer(app, t.num);
  deps.log.info('backup deleted', { app, transfer: t.id, status: t.status });
}
