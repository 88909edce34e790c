import type { CoreDeps } from '../deps.js';
import { ValidationError } from '../errors.js';
import { backupObjectKey } from '../object-keys.js';
import type { DatabaseAttachment } from '../ports.js';
import { type Transfer, transferName } from '../transfer.js';
import { afterTransferFinished } from './after-transfer.js';
import { launchTransfer } from './transfers.js';

export function parseSafetyBackup(input: unknown): boolean {
  if (input === undefined) return true;
  if (typeof input !== 'boolean') {
    throw new ValidationError(
      'Invalid safetyBackup: use true (the default) or false to skip the backup of the target',
    );
  }
  return input;
}

/**
 * Launches a restore or copy that overwrites `target`. With `safety`, a backup of the target (`b###`, type
 * safety) is recorded first and the same worker captures it before touching the target; if that capture does not
 * complete, the restore fails and the target is left alone.
 */
export async function launchOverwrite(
  deps: CoreDeps,
  overwrite: Transfer,
  target: DatabaseAttachment,
  safety: boolean,
): Promise<Transfer> {
  if (!safety) return launchTransfer(deps, overwrite);
  // The safety backup belongs to the target's app (it is a backup of that app's database); its number is taken
  // after the overwrite's, so it is listed just above it.
  const num = await deps.catalog.nextTransferNum(target.app);
  const id = transferName('backup', 'safety', num);
  const backup: Transfer = {
    app: target.app,
    num,
    id,
    kind: 'backup',
    type: 'safety',
    status: 'pending',
    database: target.name,
    source: { type: 'database', app: target.app, database: target.name },
    target: { type: 'blob', key: backupObjectKey(target.app, target.name, 'safety', id) },
    createdAt: deps.clock.now().toISOString(),
  };
  await deps.catalog.createTransfer(backup);
  const launched = await launchTransfer(deps, { ...overwrite, safetyBackup: { app: target.app, num, id } });
  if (launched.status === 'failed') {
    // Its worker never started, so neither will the safety backup.
    const failed = await deps.catalog.updateTransfer(
      backup.app,
      num,
      {
        status: 'failed',
        finishedAt: deps.clock.now().toISOString(),
        error: `Not taken: ${launched.id} could not start`,
      },
      ['pending'],
    );
    if (failed) await afterTransferFinished(deps, failed);
  }
  return launched;
}
