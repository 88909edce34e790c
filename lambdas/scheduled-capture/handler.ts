import { z } from 'zod';
import { buildAwsDeps } from '../../src/adapters/aws/aws-deps.js';
import { scheduledCapture } from '../../src/core/use-cases/capture-backup.js';

// Built once per cold start and reused by every invocation (docs/architecture.md, "Core and ports").
const deps = buildAwsDeps();

/** The Input of each EventBridge Scheduler schedule (set by EventBridgeSchedulerAdapter.upsert). */
const ScheduledInput = z.object({ app: z.string(), database: z.string() });

/** Invoked by EventBridge Scheduler at the database's daily time: records an `a###` transfer and starts it. */
export const handler = async (event: unknown) => {
  const { app, database } = ScheduledInput.parse(event);
  const transfer = await scheduledCapture(deps, { app, database });
  if (transfer) deps.log.info('scheduled capture started', { app, database, transfer: transfer.id });
  return { id: transfer?.id ?? null, skipped: transfer === undefined };
};
