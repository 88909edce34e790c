import type { CoreDeps } from '../deps.js';
import { UnprocessableError, ValidationError } from '../errors.js';
import { parseAppName, splitAppQualified } from '../names.js';
import { type Transfer, transferName } from '../transfer.js';
import { requireDatabase } from './databases.js';
import { launchTransfer, requireCompletedBackup } from './transfers.js';

// `schema.extension` or `extension`, as Heroku's --extensions takes them.
const EXTENSION = /^([a-z_][a-z0-9_]{0,62}\.)?[a-z_][a-z0-9_-]{0,62}$/;

export function parseExtensions(input: unknown): string[] {
  if (input === undefined) return [];
  const list = typeof input === 'string' ? input.split(',') : input;
  if (!Array.isArray(list) || list.length > 50) {
    throw new ValidationError('Invalid extensions: give a list like ["public.hstore", "pgcrypto"]');
  }
  return list.map((e) => {
    const name = typeof e === 'string' ? e.trim().toLowerCase() : '';
    if (!EXTENSION.test(name)) {
      throw new ValidationError(
        `Invalid extension ${JSON.stringify(e)}: use NAME or SCHEMA.NAME with lower-case letters, digits and underscores`,
      );
    }
    return name;
  });
}

/**
 * Restores a completed backup into an attached database, atomically: the target's schemas are replaced by the
 * backup's in one transaction that commits only when pg_restore succeeded and the dump's checksum matched.
 */
export async function restoreBackup(
  deps: CoreDeps,
  input: { app: string; backup?: string; database?: string; extensions?: unknown },
): Promise<Transfer> {
  const app = parseAppName(input.app);
  const extensions = parseExtensions(input.extensions);
  if (input.backup !== undefined && typeof input.backup !== 'string') {
    throw new ValidationError('Invalid backup: give an id like b101');
  }
  if (input.backup?.startsWith('https://') || input.backup?.startsWith('http://')) {
    throw new UnprocessableError(
      'Restoring from a URL is not available in this version; restore a backup id such as b101',
    );
  }
  // `other-app::b101`: the API has already checked that the caller may read other-app.
  const ref = input.backup === undefined ? undefined : splitAppQualified(input.backup, app);
  const backup = await requireCompletedBackup(deps, ref?.app ?? app, ref?.name);
  const target = await requireDatabase(deps, app, input.database ?? 'DATABASE');
  if (backup.target.type !== 'blob' || !backup.sha256 || backup.backupBytes === undefined) {
    throw new UnprocessableError(`Backup ${backup.id} has no verified object to restore from`);
  }
  const num = await deps.catalog.nextTransferNum(app);
  return launchTransfer(deps, {
    app,
    num,
    id: transferName('restore', 'manual', num),
    kind: 'restore',
    type: 'manual',
    status: 'pending',
    database: target.name,
    source: {
      type: 'backup',
      app: backup.app,
      id: backup.id,
      num: backup.num,
      key: backup.target.key,
      sha256: backup.sha256,
      bytes: backup.backupBytes,
    },
    target: { type: 'database', app, database: target.name },
    extensions,
    createdAt: deps.clock.now().toISOString(),
  });
}
