import { databaseHostGuard } from '../../src/adapters/net/url-guard.js';
import { silentLogger } from '../../src/core/logger.js';
import type { BlobStore } from '../../src/core/ports.js';
import { systemClock } from '../../src/core/ports.js';
import { type Transfer, transferName } from '../../src/core/transfer.js';
import type { WorkerDeps } from '../../src/worker/run-transfer.js';
import { MemoryCatalog, MemorySecrets } from '../fakes/index.js';
import type { PgCluster } from './pg-cluster.js';

export type TestWorkerDeps<B extends BlobStore> = WorkerDeps & {
  readonly catalog: MemoryCatalog;
  readonly secrets: MemorySecrets;
  readonly blobs: B;
};

/** What the worker needs, with an in-memory catalog and secrets around the given blob store. */
export function workerDeps<B extends BlobStore>(blobs: B): TestWorkerDeps<B> {
  return {
    catalog: new MemoryCatalog(),
    blobs,
    secrets: new MemorySecrets(),
    clock: systemClock,
    log: silentLogger,
    // The local stack's policy: the throwaway clusters listen on 127.0.0.1.
    databaseHosts: databaseHostGuard({ allowLoopback: true, allowlist: [] }),
  };
}

/** Attaches database `db` of a throwaway cluster as `name` of `app`, the way the API would. */
export async function attachClusterDatabase(
  deps: TestWorkerDeps<BlobStore>,
  cluster: PgCluster,
  app: string,
  name: string,
  db: string,
  /** Connect as this role instead of the `postgres` superuser. */
  as?: { readonly user: string; readonly password: string },
): Promise<void> {
  const url = as
    ? `postgres://${encodeURIComponent(as.user)}:${encodeURIComponent(as.password)}@127.0.0.1:${cluster.port}/${encodeURIComponent(db)}`
    : cluster.url(db);
  const secretRef = await deps.secrets.put(app, name, url);
  await deps.catalog.putDatabase({
    app,
    name,
    secretRef,
    host: '127.0.0.1',
    port: cluster.port,
    database: db,
    user: as?.user ?? 'postgres',
    createdAt: new Date().toISOString(),
  });
}

/** Fields a test gives a new transfer; the rest (app, number, id, status…) are filled in. */
export type TransferFields = Pick<Transfer, 'database' | 'source' | 'target'> & Partial<Transfer>;

/** Records a pending manual transfer of `kind` for `app`, numbered and named as the API would. */
export async function createPendingTransfer(
  deps: TestWorkerDeps<BlobStore>,
  app: string,
  kind: Transfer['kind'],
  fields: (id: string) => TransferFields,
): Promise<Transfer> {
  const num = await deps.catalog.nextTransferNum(app);
  const id = transferName(kind, 'manual', num);
  const t: Transfer = {
    app,
    num,
    id,
    kind,
    type: 'manual',
    status: 'pending',
    createdAt: new Date().toISOString(),
    ...fields(id),
  };
  await deps.catalog.createTransfer(t);
  return t;
}
