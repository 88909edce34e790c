import type { CoreDeps } from '../deps.js';

/** Every app the catalog knows: one that has had a database attached or a transfer. */
export async function listApps(deps: CoreDeps): Promise<string[]> {
  return deps.catalog.listApps();
}
