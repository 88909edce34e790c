import type { CoreDeps } from '../deps.js';
import { ConflictError, ValidationError } from '../errors.js';
import { backupObjectKey } from '../object-keys.js';
import type { DatabaseAttachment } from '../ports.js';
import { applyUpdate, failTransfer, type Transfer, transferName } from '../transfer.js';
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
 * One overwrite at a time per target: a second restore or copy would wipe the first one's work mid-way (or fail on
 * what it half-created). The active transfers of every app are checked, since a copy from another app can target
 * this database. Two requests arriving together can still both pass (the check and the write are not one
 * conditional write); the second then waits for the first's locks in the target, inside its own transaction.
 */
export async function requireNoOtherOverwrite(deps: CoreDeps, target: DatabaseAttachment): Promise<void> {
  const busy = (await deps.catalog.listActiveTransfers()).find(
    (t) =>
      t.kind !== 'backup' &&
      t.target.type === 'database' &&
      t.target.app === target.app &&
      t.target.database === target.name,
  );
  if (busy) {
    throw new ConflictError(
      `${target.name} of ${target.app} is already being overwritten by ${busy.app === target.app ? '' : `${busy.app}::`}${busy.id} (${busy.status}). ` +
        `Wait for it to finish, or cancel it with pgbackups cancel ${busy.id} -a ${busy.app}`,
    );
  }
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
  await requireNoOtherOverwrite(deps, target);
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
    const failed = await applyUpdate(
      deps.catalog,
      backup,
      failTransfer(deps.clock.now().toISOString(), `Not taken: ${launched.id} could not start`, 'pending'),
    );
    if (failed) await afterTransferFinished(deps, failed);
  }
  return launched;
}
