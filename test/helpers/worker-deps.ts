import { silentLogger } from '../../src/core/logger.js';
import type { BlobStore } from '../../src/core/ports.js';
import { systemClock } from '../../src/core/ports.js';
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
  };
}

/** Attaches database `db` of a throwaway cluster as `name` of `app`, the way the API would. */
export async function attachClusterDatabase(
  deps: TestWorkerDeps<BlobStore>,
  cluster: PgCluster,
  app: string,
  name: string,
  db: string,
): Promise<void> {
  const secretRef = await deps.secrets.put(app, name, cluster.url(db));
  await deps.catalog.putDatabase({
    app,
    name,
    secretRef,
    host: '127.0.0.1',
    port: cluster.port,
    database: db,
    user: 'postgres',
    createdAt: new Date().toISOString(),
  });
}
