import type { EventBridgeEvent } from 'aws-lambda';
import { buildAwsDeps } from '../../src/adapters/aws/aws-deps.js';
import { stoppedCheckFromEvent, stoppedWorkerFromEvent } from '../../src/adapters/aws/ecs-task-runner.js';
import { METRIC_WORKERS_STOPPED_ABNORMALLY, metricFields } from '../../src/core/metrics.js';
import { reconcileStoppedCheck } from '../../src/core/use-cases/checks.js';
import { reconcileStoppedTask } from '../../src/core/use-cases/transfers.js';

// Built once per cold start and reused by every invocation (docs/architecture.md, "Core and ports").
const deps = buildAwsDeps();

/**
 * `ECS Task State Change` (STOPPED, this cluster): a transfer whose worker stopped without finishing is marked
 * failed with the stop reason, and so is a check. Tasks that are not pgbackups workers are ignored.
 */
export const handler = async (event: EventBridgeEvent<'ECS Task State Change', unknown>) => {
  // A `pgbackups doctor` check's worker: a check it did not finish fails with the stop reason (no metric: the
  // doctor reports it to whoever asked).
  const check = stoppedCheckFromEvent(event.detail);
  if (check) {
    await reconcileStoppedCheck(deps, check);
    return;
  }
  const stopped = stoppedWorkerFromEvent(event.detail);
  if (!stopped) {
    deps.log.info('task event ignored', { id: event.id });
    return;
  }
  if (stopped.exitCode !== 0) {
    deps.log.warn('worker task stopped abnormally', {
      app: stopped.app,
      num: stopped.num,
      exitCode: stopped.exitCode,
      reason: stopped.reason,
      ...metricFields(METRIC_WORKERS_STOPPED_ABNORMALLY, deps.clock.now()),
    });
  }
  await reconcileStoppedTask(deps, stopped);
};
