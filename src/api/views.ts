import type { z } from 'zod';
import type { Check } from '../core/check.js';
import type { Transfer, TransferSource } from '../core/transfer.js';
import type { checkSchema, transferSchema } from './contract.js';

/** The transfer JSON the API answers with; its schema in src/api/contract.ts is what the document shows. */
export type TransferJson = z.infer<typeof transferSchema>;
/** The check JSON (`pgbackups doctor`), typed by its schema in src/api/contract.ts. */
export type CheckJson = z.infer<typeof checkSchema>;

/** A URL source is shown without its query: a presigned URL's signature is a credential while it lasts. */
function sourceView(source: TransferSource): TransferJson['source'] {
  if (source.type === 'backup') return { type: 'backup', app: source.app, id: source.id };
  if (source.type === 'url') {
    const u = new URL(source.url);
    return { type: 'url', url: `${u.origin}${u.pathname}${u.search ? '?…' : ''}` };
  }
  return source;
}

/**
 * A transfer as the API shows it: internal bookkeeping (task reference, heartbeat) stays inside. Typed by the
 * contract, so a field added here and not there fails to compile.
 */
export function transferView(t: Transfer): TransferJson {
  return {
    id: t.id,
    num: t.num,
    kind: t.kind,
    type: t.type,
    status: t.status,
    app: t.app,
    database: t.database,
    source: sourceView(t.source),
    target: t.target,
    createdAt: t.createdAt,
    startedAt: t.startedAt ?? null,
    finishedAt: t.finishedAt ?? null,
    sourceBytes: t.sourceBytes ?? null,
    processedBytes: t.processedBytes ?? 0,
    backupBytes: t.backupBytes ?? null,
    sha256: t.sha256 ?? null,
    compression: t.compression ?? null,
    pgDumpVersion: t.pgDumpVersion ?? null,
    serverVersion: t.serverVersion ?? null,
    archiveFormat: t.archiveFormat ?? null,
    oldestPgRestore: t.oldestPgRestore ?? null,
    extensions: [...(t.extensions ?? [])],
    keepExtensions: [...(t.keepExtensions ?? [])],
    parallel: t.parallel ?? 1,
    safetyBackup: t.safetyBackup ? { app: t.safetyBackup.app, id: t.safetyBackup.id } : null,
    // Cross-app copies (src/core/mirror.ts): numbers are internal, ids are what a user types.
    mirrorOf: t.mirrorOf ? { app: t.mirrorOf.app, id: t.mirrorOf.id } : null,
    mirrors: (t.mirrors ?? []).map((m) => ({ app: m.app, id: m.id })),
    warnings: t.warnings ?? 0,
    error: t.error ?? null,
    cancelRequested: t.cancelRequested ?? false,
    ...(t.logs ? { logs: [...t.logs] } : {}),
  };
}

/** Check JSON (`pgbackups doctor`): the task reference and the record's expiry stay inside. */
export function checkView(c: Check): CheckJson {
  return {
    id: c.id,
    app: c.app,
    database: c.database,
    status: c.status,
    createdAt: c.createdAt,
    startedAt: c.startedAt ?? null,
    finishedAt: c.finishedAt ?? null,
    steps: c.steps.map((s) => ({ name: s.name, ok: s.ok, message: s.message, hint: s.hint ?? null })),
    serverVersion: c.serverVersion ?? null,
    dumpClient: c.dumpClient ?? null,
    clients: [...(c.clients ?? [])],
  };
}
