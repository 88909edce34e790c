import { Duration } from 'aws-cdk-lib';
import type * as apigw from 'aws-cdk-lib/aws-apigatewayv2';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import {
  METRIC_SCHEDULES_MISSED,
  METRIC_TRANSFERS_FAILED,
  METRIC_WORKERS_STOPPED_ABNORMALLY,
  METRICS_NAMESPACE,
} from '../../src/core/metrics.js';
import { acknowledgeGuard } from '../nag.js';

/** Props of {@link DeadLetters}. */
export interface DeadLettersProps {
  /**
   * How long a dead letter is kept for inspection.
   * @default Duration.days(14) (the SQS maximum)
   */
  readonly retention?: Duration;
}

/**
 * One dead-letter queue for every asynchronous delivery: EventBridge rule targets, the functions' own asynchronous
 * invocations, and the Scheduler schedules the API creates. An alarm fires as soon as anything lands in it.
 */
export class DeadLetters extends Construct {
  public readonly queue: sqs.Queue;

  constructor(scope: Construct, id: string, props: DeadLettersProps = {}) {
    super(scope, id);
    this.queue = new sqs.Queue(this, 'Queue', {
      retentionPeriod: props.retention ?? Duration.days(14),
      // SQS-managed keys: EventBridge, Scheduler and Lambda can send without a key policy of ours.
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
    });
    acknowledgeGuard(this.queue, {
      sqs_dlq_check:
        'This queue is the dead-letter queue; its messages are kept 14 days for an operator to read',
    });
  }
}

/** Props of {@link Monitoring}. */
export interface MonitoringProps {
  /** Topic every alarm notifies. */
  readonly topic: sns.ITopic;
  /** The functions whose errors and throttles are alarmed, by a short name used in alarm names. */
  readonly functions: Readonly<Record<string, lambda.IFunction>>;
  /** The HTTP API whose 5xx responses are alarmed. */
  readonly httpApi: apigw.IHttpApi;
  /** The dead-letter queue whose depth is alarmed. */
  readonly deadLetters: sqs.IQueue;
  /**
   * Name of the dashboard.
   * @default - generated
   */
  readonly dashboardName?: string;
}

/**
 * Operators hear when the machinery breaks: alarms (to the alerts topic) on every function's errors and throttles,
 * worker tasks that stop abnormally, failed transfers and missed schedules (metrics the code emits, see
 * src/core/metrics.ts), dead letters and API 5xx; and one dashboard with all of them.
 */
export class Monitoring extends Construct {
  public readonly alarms: cloudwatch.Alarm[] = [];
  public readonly dashboard: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    const action = new actions.SnsAction(props.topic);
    const fiveMinutes = Duration.minutes(5);
    const alarm = (alarmId: string, metric: cloudwatch.IMetric, description: string) => {
      const a = new cloudwatch.Alarm(this, alarmId, {
        metric,
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        // No data means nothing happened (these are counts of bad events).
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        alarmDescription: description,
      });
      a.addAlarmAction(action);
      this.alarms.push(a);
      return a;
    };

    const functionWidgets: cloudwatch.IWidget[] = [];
    for (const [name, fn] of Object.entries(props.functions)) {
      const errors = fn.metricErrors({ period: fiveMinutes, statistic: 'Sum' });
      const throttles = fn.metricThrottles({ period: fiveMinutes, statistic: 'Sum' });
      alarm(`${name}Errors`, errors, `pgbackups ${name} function failed (see its log group)`);
      alarm(`${name}Throttles`, throttles, `pgbackups ${name} function was throttled (account concurrency)`);
      functionWidgets.push(
        new cloudwatch.GraphWidget({
          title: `${name}: errors, throttles`,
          left: [errors, throttles],
          width: 8,
        }),
      );
    }

    const appMetric = (metricName: string) =>
      new cloudwatch.Metric({
        namespace: METRICS_NAMESPACE,
        metricName,
        period: fiveMinutes,
        statistic: 'Sum',
      });
    const failed = appMetric(METRIC_TRANSFERS_FAILED);
    const missed = appMetric(METRIC_SCHEDULES_MISSED);
    const stopped = appMetric(METRIC_WORKERS_STOPPED_ABNORMALLY);
    alarm('TransfersFailed', failed, 'A pgbackups backup, restore or copy failed (the alert names it)');
    alarm('SchedulesMissed', missed, 'A pgbackups schedule had no completed backup in 25 hours');
    alarm('WorkerTasksStoppedAbnormally', stopped, 'A pgbackups worker task stopped without exiting 0');

    const deadLetters = props.deadLetters.metricApproximateNumberOfMessagesVisible({
      period: fiveMinutes,
      statistic: 'Maximum',
    });
    alarm(
      'DeadLetters',
      deadLetters,
      'An event or scheduled invocation could not be delivered (see the queue)',
    );

    const api5xx = props.httpApi.metricServerError({ period: fiveMinutes, statistic: 'Sum' });
    alarm('Api5xx', api5xx, 'The pgbackups API answered 5xx');

    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: props.dashboardName,
      defaultInterval: Duration.days(7),
      widgets: [
        [new cloudwatch.AlarmStatusWidget({ title: 'Alarms', alarms: this.alarms, width: 24 })],
        [
          new cloudwatch.GraphWidget({
            title: 'Transfers failed, schedules missed',
            left: [failed, missed],
            width: 8,
          }),
          new cloudwatch.GraphWidget({ title: 'Worker tasks stopped abnormally', left: [stopped], width: 8 }),
          new cloudwatch.GraphWidget({
            title: 'Dead letters, API 5xx',
            left: [deadLetters],
            right: [api5xx],
            width: 8,
          }),
        ],
        functionWidgets,
      ],
    });
  }
}
