import type { CoreDeps } from '../deps.js';
import { parseAppName } from '../names.js';
import { backupObjectKey } from '../object-keys.js';
import { type Transfer, type TransferType, transferName } from '../transfer.js';
import { requireDatabase } from './databases.js';
import { launchTransfer } from './transfers.js';

/** Starts a `pg_dump` of an attached database into the bucket: `b###` manual or `a###` scheduled. */
export async function captureBackup(
  deps: CoreDeps,
  input: { app: string; database?: string; type: TransferType },
): Promise<Transfer> {
  const app = parseAppName(input.app);
  const db = await requireDatabase(deps, app, input.database ?? 'DATABASE');
  const num = await deps.catalog.nextTransferNum(app);
  const id = transferName('backup', input.type, num);
  return launchTransfer(deps, {
    app,
    num,
    id,
    kind: 'backup',
    type: input.type,
    status: 'pending',
    database: db.name,
    source: { type: 'database', app, database: db.name },
    target: { type: 'blob', key: backupObjectKey(app, db.name, input.type, id) },
    createdAt: deps.clock.now().toISOString(),
  });
}

/**
 * A schedule's daily run. If a transfer of that database is already pending or running, the run is skipped with
 * a logged reason rather than queued: two dumps of one database would only compete for it, and if the running
 * one does not complete, the watchdog's catch-up (25 h without a completed backup) covers the day.
 */
export async function scheduledCapture(
  deps: CoreDeps,
  input: { app: string; database: string },
): Promise<Transfer | undefined> {
  const app = parseAppName(input.app);
  const db = await requireDatabase(deps, app, input.database);
  const busy = (await deps.catalog.listActiveTransfers()).find(
    (t) =>
      (t.app === app && t.database === db.name) ||
      (t.source.type === 'database' && t.source.app === app && t.source.database === db.name),
  );
  if (busy) {
    deps.log.warn('scheduled backup skipped', {
      app,
      database: db.name,
      reason: `${busy.id} of ${busy.app} is ${busy.status} on ${db.name}`,
    });
    return undefined;
  }
  return captureBackup(deps, { app, database: db.name, type: 'scheduled' });
}
