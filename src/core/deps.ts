import type { Logger } from './logger.js';
import type {
  BlobStore,
  Catalog,
  Clock,
  DatabaseHostGuard,
  Notifier,
  Scheduler,
  Secrets,
  TaskRunner,
} from './ports.js';

/** Everything a use case may touch, built once per process by an entrypoint (Lambda, local stack, worker). */
export interface CoreDeps {
  readonly catalog: Catalog;
  readonly blobs: BlobStore;
  readonly secrets: Secrets;
  readonly runner: TaskRunner;
  readonly scheduler: Scheduler;
  readonly notifier: Notifier;
  readonly clock: Clock;
  readonly log: Logger;
  /** Refuses database hosts a tenant must not reach, when a database is attached. */
  readonly databaseHosts: DatabaseHostGuard;
}
