/**
 * Operational metrics, emitted as CloudWatch embedded metric format (EMF) fields on an ordinary structured log
 * line: CloudWatch Logs turns the line into a data point, with no SDK call and no extra IAM right. Locally the
 * fields are just part of the log. lib/constructs/monitoring.ts alarms on these names.
 */

/** Namespace of every pgbackups metric (one pgbackups stack per account and region shares it). */
export const METRICS_NAMESPACE = 'pgbackups';

/** A transfer (backup, restore or copy) ended failed; counted once, when its alert is decided. */
export const METRIC_TRANSFERS_FAILED = 'TransfersFailed';
/** A schedule had no completed backup in its window; counted when the watchdog raises `schedule.missed`. */
export const METRIC_SCHEDULES_MISSED = 'SchedulesMissed';

/** A worker task stopped without its container exiting 0 (crash, out of memory, failed to start, stopped). */
export const METRIC_WORKERS_STOPPED_ABNORMALLY = 'WorkerTasksStoppedAbnormally';

export type OperationalMetric =
  | typeof METRIC_TRANSFERS_FAILED
  | typeof METRIC_SCHEDULES_MISSED
  | typeof METRIC_WORKERS_STOPPED_ABNORMALLY;

/** Log fields that make the line count 1 for `metric` (EMF specification: `_aws` plus the metric's value). */
export function metricFields(metric: OperationalMetric, now: Date): Record<string, unknown> {
  return {
    _aws: {
      Timestamp: now.getTime(),
      CloudWatchMetrics: [
        { Namespace: METRICS_NAMESPACE, Dimensions: [[]], Metrics: [{ Name: metric, Unit: 'Count' }] },
      ],
    },
    [metric]: 1,
  };
}
