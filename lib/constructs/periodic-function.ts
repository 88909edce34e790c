import { Duration } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { FunctionFactory } from './app-function.js';

/** Props of {@link PeriodicFunction}. */
export interface PeriodicFunctionProps {
  /** Builds the function. */
  readonly functions: FunctionFactory;
  /** Handler module, relative to the repository root. */
  readonly entry: string;
  /** One line shown in the Lambda console. */
  readonly description: string;
  /** Environment of the function. */
  readonly environment: Readonly<Record<string, string>>;
  /** When the function runs (UTC). */
  readonly schedule: events.Schedule;
  /** Function timeout. */
  readonly timeout: Duration;
  /** Receives a run EventBridge could not deliver, or whose handler failed after Lambda's retries. */
  readonly deadLetterQueue: sqs.IQueue;
}

/** A function run on a fixed UTC schedule by an EventBridge rule (the base of retention and watchdog). */
export class PeriodicFunction extends Construct {
  public readonly handler: lambda.Function;
  public readonly rule: events.Rule;

  constructor(scope: Construct, id: string, props: PeriodicFunctionProps) {
    super(scope, id);
    this.handler = props.functions(this, 'Handler', {
      entry: props.entry,
      description: props.description,
      environment: props.environment,
      timeout: props.timeout,
      deadLetterQueue: props.deadLetterQueue,
    });
    this.rule = new events.Rule(this, 'Schedule', {
      description: props.description,
      schedule: props.schedule,
      targets: [
        new targets.LambdaFunction(this.handler, {
          retryAttempts: 2,
          maxEventAge: Duration.hours(1),
          deadLetterQueue: props.deadLetterQueue,
        }),
      ],
    });
  }
}
