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
