import type { CoreDeps } from '../deps.js';
import { UnprocessableError, ValidationError } from '../errors.js';
import { mirrorSides, type TransferRef } from '../mirror.js';
import { parseAppName, splitAppQualified } from '../names.js';
import { type Transfer, transferName } from '../transfer.js';
import { requireDatabase } from './databases.js';
import { parseKeepExtensions } from './restore-backup.js';
import { launchOverwrite, parseSafetyBackup } from './safety-backup.js';

/**
 * Copies one database into another directly (`pg_dump` → atomic restore, no object in between). Either side may
 * be `other-app::NAME`; the transfer belongs to the app in the request, and access to the other app is checked
 * by the caller (the API) before this runs. The other app lists the copy too, through a mirror (src/core/mirror.ts)
 * created with it by launchTransfer.
 */
export async function copyDatabase(
  deps: CoreDeps,
  input: { app: string; from: unknown; to: unknown; safetyBackup?: unknown; keepExtensions?: unknown },
): Promise<Transfer> {
  const app = parseAppName(input.app);
  const keep = parseKeepExtensions(input.keepExtensions);
  const safety = parseSafetyBackup(input.safetyBackup);
  if (typeof input.from !== 'string' || typeof input.to !== 'string') {
    throw new ValidationError('Invalid copy: give from and to as NAME or other-app::NAME');
  }
  const fromRef = splitAppQualified(input.from, app);
  const toRef = splitAppQualified(input.to, app);
  const source = await requireDatabase(deps, fromRef.app, fromRef.name);
  const target = await requireDatabase(deps, toRef.app, toRef.name);
  if (source.app === target.app && source.name === target.name) {
    throw new UnprocessableError(
      `Cannot copy ${source.name} onto itself: choose a different target database`,
    );
  }
  const num = await deps.catalog.nextTransferNum(app);
  const from = { type: 'database' as const, app: source.app, database: source.name };
  const to = { type: 'database' as const, app: target.app, database: target.name };
  // Every other app whose database the copy reads or overwrites lists it too, numbered in its own sequence.
  const mirrors: TransferRef[] = [];
  for (const side of mirrorSides({ app, kind: 'copy', source: from, target: to })) {
    const mirrorNum = await deps.catalog.nextTransferNum(side.app);
    mirrors.push({ app: side.app, num: mirrorNum, id: transferName('copy', 'manual', mirrorNum) });
  }
  const copy: Transfer = {
    app,
    num,
    id: transferName('copy', 'manual', num),
    kind: 'copy',
    type: 'manual',
    status: 'pending',
    database: target.name,
    source: from,
    target: to,
    ...(keep.length > 0 ? { keepExtensions: keep } : {}),
    ...(mirrors.length > 0 ? { mirrors } : {}),
    createdAt: deps.clock.now().toISOString(),
  };
  return launchOverwrite(deps, copy, target, safety);
}
