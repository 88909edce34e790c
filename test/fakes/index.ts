import { databaseHostGuard } from '../../src/adapters/net/url-guard.js';
import type { CoreDeps } from '../../src/core/deps.js';
import { silentLogger } from '../../src/core/logger.js';
import { MemoryCatalog } from './memory-catalog.js';
import {
  FakeClock,
  FakeScheduler,
  FakeTaskRunner,
  MemoryBlobStore,
  MemorySecrets,
  RecordingNotifier,
} from './memory-ports.js';

export * from './memory-catalog.js';
export * from './memory-ports.js';

export interface FakeDeps extends CoreDeps {
  readonly catalog: MemoryCatalog;
  readonly blobs: MemoryBlobStore;
  readonly secrets: MemorySecrets;
  readonly runner: FakeTaskRunner;
  readonly scheduler: FakeScheduler;
  readonly notifier: RecordingNotifier;
  readonly clock: FakeClock;
}

/** A full set of in-memory ports for unit tests of use cases. */
export function fakeDeps(): FakeDeps {
  return {
    catalog: new MemoryCatalog(),
    blobs: new MemoryBlobStore(),
    secrets: new MemorySecrets(),
    runner: new FakeTaskRunner(),
    scheduler: new FakeScheduler(),
    notifier: new RecordingNotifier(),
    clock: new FakeClock(),
    log: silentLogger,
    // The real guard with the local stack's policy; names resolve to a public address, offline.
    databaseHosts: databaseHostGuard({ allowLoopback: true, allowlist: [] }, async () => [
      { address: '93.184.215.14', family: 4 },
    ]),
  };
}
