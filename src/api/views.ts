import type { Transfer } from '../core/transfer.js';

/** Transfer JSON of DESIGN §4: internal bookkeeping (task reference, heartbeat) stays inside. */
export function transferView(t: Transfer) {
  return {
    id: t.id,
    num: t.num,
    kind: t.kind,
    type: t.type,
    status: t.status,
    app: t.app,
    database: t.database,
    source: t.source.type === 'backup' ? { type: 'backup', app: t.source.app, id: t.source.id } : t.source,
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
    extensions: t.extensions ?? [],
    warnings: t.warnings ?? 0,
    error: t.error ?? null,
    cancelRequested: t.cancelRequested ?? false,
    ...(t.logs ? { logs: t.logs } : {}),
  };
}
