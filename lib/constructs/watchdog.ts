import { Duration } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import type { FunctionFactory } from './app-function.js';
import { PeriodicFunction } from './periodic-function.js';

/** Props of {@link Watchdog}. */
export interface WatchdogProps {
  /** Builds the watchdog function. */
  readonly functions: FunctionFactory;
  /** Receives runs that could not be delivered or failed after retries. */
  readonly deadLetterQueue: sqs.IQueue;
  /** Environment of the watchdog function. */
  readonly environment: Readonly<Record<string, string>>;
  /**
   * How often the watchdog runs.
   * @default Duration.hours(1)
   */
  readonly interval?: Duration;
}

/**
 * The watchdog, hourly: a schedule without a successful backup in the last 25 hours gets a catch-up capture and a
 * `missed` alert (a schedule never silently stops); transfers stuck with a dead task are marked failed.
 */
export class Watchdog extends PeriodicFunction {
  constructor(scope: Construct, id: string, props: WatchdogProps) {
    super(scope, id, {
      functions: props.functions,
      entry: 'lambdas/watchdog/handler.ts',
      description: 'pgbackups watchdog (missed schedules, stuck transfers)',
      environment: props.environment,
      deadLetterQueue: props.deadLetterQueue,
      schedule: events.Schedule.rate(props.interval ?? Duration.hours(1)),
      timeout: Duration.minutes(5),
    });
  }
}
