import { buildAwsDeps } from '../../src/adapters/aws/aws-deps.js';
import { runWatchdog } from '../../src/core/use-cases/watchdog.js';

// Built once per cold start and reused by every invocation (docs/architecture.md, "Core and ports").
const deps = buildAwsDeps();

/** Hourly (EventBridge rule): catch-up captures for missed schedules, stuck transfers marked failed. */
export const handler = async () => runWatchdog(deps);
