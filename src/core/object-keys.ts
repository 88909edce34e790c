import type { TransferType } from './transfer.js';

/**
 * S3 key of a backup's dump. The type comes first so lifecycle rules can expire `scheduled/` objects by prefix
 * as a backstop to the pruner, while `manual/` objects live until the pruner or the user deletes them.
 */
export function backupObjectKey(app: string, database: string, type: TransferType, id: string): string {
  return `${type}/${app}/${database}/${id}.dump`;
}
