import { ArnFormat, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { acknowledgeWildcardResource } from '../nag.js';
import type { FunctionFactory } from './app-function.js';

/** Props of {@link Schedules}. */
export interface SchedulesProps {
  /** Builds the scheduled-capture function. */
  readonly functions: FunctionFactory;
  /** Environment of the scheduled-capture function. */
  readonly environment: Readonly<Record<string, string>>;
  /**
   * Name of the scheduled-capture function. It is fixed (not generated) so its ARN can be handed to every function
   * without a dependency cycle; see {@link scheduledCaptureFunctionName}.
   */
  readonly functionName: string;
  /** Where Scheduler sends an invocation it gave up on; each schedule names it (EventBridgeSchedulerAdapter). */
  readonly deadLetterQueue: sqs.IQueue;
}

/** The name {@link Schedules} gives its function in `stack` (≤ 64 characters). */
export function scheduledCaptureFunctionName(stack: Stack): string {
  return `${stack.stackName.slice(0, 40)}-scheduled-capture`;
}

/** ARN of the scheduled-capture function, known without referencing the function resource. */
export function scheduledCaptureFunctionArn(stack: Stack): string {
  return stack.formatArn({
    service: 'lambda',
    resource: 'function',
    resourceName: scheduledCaptureFunctionName(stack),
    arnFormat: ArnFormat.COLON_RESOURCE_NAME,
  });
}

/**
 * Daily backups: an EventBridge Scheduler schedule group (the API creates one schedule per app and database in it,
 * with the database's IANA time zone), the scheduled-capture function those schedules invoke, and the role
 * Scheduler assumes, which may invoke only that function.
 */
export class Schedules extends Construct {
  public readonly group: scheduler.ScheduleGroup;
  public readonly captureFunction: lambda.Function;
  public readonly schedulerRole: iam.Role;

  constructor(scope: Construct, id: string, props: SchedulesProps) {
    super(scope, id);
    const stack = Stack.of(this);
    // Deleted with the stack (and so with every schedule in it; CDK's default would retain it, and a retained group
    // both blocks the next deploy, its name being fixed, and keeps firing at a deleted function).
    this.group = new scheduler.ScheduleGroup(this, 'Group', { removalPolicy: RemovalPolicy.DESTROY });
    this.captureFunction = props.functions(this, 'CaptureFunction', {
      entry: 'lambdas/scheduled-capture/handler.ts',
      description: 'pgbackups scheduled capture (invoked by EventBridge Scheduler)',
      environment: props.environment,
      functionName: props.functionName,
      deadLetterQueue: props.deadLetterQueue,
    });
    this.schedulerRole = new iam.Role(this, 'SchedulerRole', {
      description: 'Assumed by EventBridge Scheduler to invoke the pgbackups scheduled-capture function',
      // Only schedules of this account and this group may use the role (confused-deputy guard).
      assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com').withConditions({
        StringEquals: { 'aws:SourceAccount': stack.account },
        ArnLike: { 'aws:SourceArn': this.group.scheduleGroupArn },
      }),
    });
    this.schedulerRole.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['lambda:InvokeFunction'],
        resources: [this.captureFunction.functionArn],
      }),
    );
    props.deadLetterQueue.grantSendMessages(this.schedulerRole);
  }

  /** Lets `grantee` create, update and delete schedules in the group, and hand them the scheduler role. */
  grantManageSchedules(grantee: iam.IGrantable): void {
    const schedules = Stack.of(this).formatArn({
      service: 'scheduler',
      resource: 'schedule',
      resourceName: `${this.group.scheduleGroupName}/*`,
    });
    iam.Grant.addToPrincipal({
      grantee,
      actions: [
        'scheduler:CreateSchedule',
        'scheduler:UpdateSchedule',
        'scheduler:DeleteSchedule',
        'scheduler:GetSchedule',
      ],
      resourceArns: [schedules],
    });
    acknowledgeWildcardResource(
      grantee,
      schedules,
      'Schedules (<app>--<database>) are created at run time when a user schedules a database; limited to this group',
    );
    this.schedulerRole.grantPassRole(grantee.grantPrincipal);
  }
}
