import { Duration } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import type { FunctionFactory } from './app-function.js';
import { PeriodicFunction } from './periodic-function.js';

/** Props of {@link Retention}. */
export interface RetentionProps {
  /** Builds the prune function. */
  readonly functions: FunctionFactory;
  /** Receives runs that could not be delivered or failed after retries. */
  readonly deadLetterQueue: sqs.IQueue;
  /** Environment of the prune function. */
  readonly environment: Readonly<Record<string, string>>;
  /**
   * UTC hour of the daily prune.
   * @default 4
   */
  readonly hourUtc?: number;
}

/**
 * Retention: the prune function, daily, applies each app's manual limit and daily/weekly/monthly retention
 * (docs/schedules-and-retention.md, "Retention"), cleans failed transfers after 7 days and removed databases
 * after their grace period.
 */
export class Retention extends PeriodicFunction {
  constructor(scope: Construct, id: string, props: RetentionProps) {
    super(scope, id, {
      functions: props.functions,
      entry: 'lambdas/prune/handler.ts',
      description: 'pgbackups prune (daily retention)',
      environment: props.environment,
      deadLetterQueue: props.deadLetterQueue,
      schedule: events.Schedule.cron({ minute: '17', hour: String(props.hourUtc ?? 4) }),
      timeout: Duration.minutes(15),
    });
  }
}
