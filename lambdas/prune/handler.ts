import { buildAwsDeps } from '../../src/adapters/aws/aws-deps.js';
import { parseAppName } from '../../src/core/names.js';
import { pruneAll, pruneApp } from '../../src/core/use-cases/prune.js';

// Built once per cold start and reused by every invocation (docs/architecture.md, "Core and ports").
const deps = buildAwsDeps();

/**
 * Daily (EventBridge rule, empty event) it prunes every app; invoked with `{ "app": "example-app" }` after a
 * backup it prunes just that app.
 */
export const handler = async (event?: { app?: unknown }) =>
  event?.app === undefined ? pruneAll(deps) : pruneApp(deps, parseAppName(event.app), { dryRun: false });
