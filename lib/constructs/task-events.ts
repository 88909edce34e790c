import { Duration } from 'aws-cdk-lib';
import type * as ecs from 'aws-cdk-lib/aws-ecs';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { FunctionFactory } from './app-function.js';

/** Props of {@link TaskEvents}. */
export interface TaskEventsProps {
  /** Builds the task-events function. */
  readonly functions: FunctionFactory;
  /** Environment of the task-events function. */
  readonly environment: Readonly<Record<string, string>>;
  /** The worker's cluster; only its tasks' events are delivered. */
  readonly cluster: ecs.ICluster;
  /** Receives events that could not be delivered or whose handling failed after retries. */
  readonly deadLetterQueue: sqs.IQueue;
}

/**
 * Reconciles dead workers: an EventBridge rule on `ECS Task State Change` (STOPPED, this cluster) invokes the
 * task-events function, which marks a transfer whose task stopped without finishing as failed, with the stop
 * reason. The watchdog is the backstop when an event is lost.
 */
export class TaskEvents extends Construct {
  public readonly rule: events.Rule;
  public readonly handler: lambda.Function;

  constructor(scope: Construct, id: string, props: TaskEventsProps) {
    super(scope, id);
    this.handler = props.functions(this, 'Handler', {
      entry: 'lambdas/task-events/handler.ts',
      description: 'pgbackups ECS task-state events: marks transfers of dead workers failed',
      environment: props.environment,
      deadLetterQueue: props.deadLetterQueue,
    });
    this.rule = new events.Rule(this, 'TaskStopped', {
      description: 'pgbackups worker task stopped',
      eventPattern: {
        source: ['aws.ecs'],
        detailType: ['ECS Task State Change'],
        detail: { clusterArn: [props.cluster.clusterArn], lastStatus: ['STOPPED'] },
      },
      targets: [
        new targets.LambdaFunction(this.handler, {
          retryAttempts: 8,
          maxEventAge: Duration.hours(6),
          deadLetterQueue: props.deadLetterQueue,
        }),
      ],
    });
  }
}
