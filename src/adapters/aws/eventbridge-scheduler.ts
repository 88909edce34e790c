import { createHash } from 'node:crypto';
import {
  ConflictException,
  CreateScheduleCommand,
  type CreateScheduleCommandInput,
  DeleteScheduleCommand,
  paginateListSchedules,
  ResourceNotFoundException,
  type SchedulerClient,
  UpdateScheduleCommand,
} from '@aws-sdk/client-scheduler';
import type { Schedule, Scheduler } from '../../core/ports.js';
import { cronExpression, SCHEDULE_WINDOW_MINUTES } from '../../core/schedule-time.js';

export interface EventBridgeSchedulerOptions {
  readonly client: SchedulerClient;
  /** The stack's schedule group; every pgbackups schedule lives in it. */
  readonly groupName: string;
  /** ARN of the scheduled-capture function, the target of every schedule. */
  readonly targetArn: string;
  /** Role Scheduler assumes to invoke the target (and to send to the dead-letter queue). */
  readonly roleArn: string;
  /** SQS queue that receives an invocation Scheduler gave up on. */
  readonly deadLetterArn: string;
}

/** Scheduler's retries of a failed invocation: within an hour, so a late capture still lands the same night. */
export const SCHEDULE_RETRY_POLICY = { MaximumRetryAttempts: 10, MaximumEventAgeInSeconds: 3600 } as const;

/** Scheduler names are 1–64 characters; `app--DATABASE` can exceed that, so long names keep a hash suffix. */
const MAX_NAME = 64;

/** The schedule name of a database: `<app>--<database>` (app names never contain `--`). */
export function scheduleName(app: string, database: string): string {
  const name = `${app}--${database}`;
  if (name.length <= MAX_NAME) return name;
  const hash = createHash('sha256').update(name).digest('hex').slice(0, 8);
  return `${name.slice(0, MAX_NAME - hash.length - 1)}-${hash}`;
}

/**
 * One EventBridge Scheduler schedule per database, in the stack's group, at the database's HH:MM in its IANA time
 * zone. It invokes the scheduled-capture function with `{app, database}`.
 */
export class EventBridgeSchedulerAdapter implements Scheduler {
  constructor(private readonly opts: EventBridgeSchedulerOptions) {}

  async upsert(s: Schedule): Promise<void> {
    const input: CreateScheduleCommandInput = {
      Name: scheduleName(s.app, s.database),
      GroupName: this.opts.groupName,
      Description: `pgbackups ${s.app} ${s.database} daily at ${pad(s.hour)}:${pad(s.minute)} ${s.timezone}`,
      ScheduleExpression: cronExpression(s),
      ScheduleExpressionTimezone: s.timezone,
      // Spread over a window so many schedules at one time do not start their tasks in the same second; missed
      // runs (e.g. a spring-forward gap) are caught up by the watchdog.
      FlexibleTimeWindow: { Mode: 'FLEXIBLE', MaximumWindowInMinutes: SCHEDULE_WINDOW_MINUTES },
      State: 'ENABLED',
      Target: {
        Arn: this.opts.targetArn,
        RoleArn: this.opts.roleArn,
        Input: JSON.stringify({ app: s.app, database: s.database }),
        RetryPolicy: { ...SCHEDULE_RETRY_POLICY },
        DeadLetterConfig: { Arn: this.opts.deadLetterArn },
      },
    };
    try {
      await this.opts.client.send(new CreateScheduleCommand(input));
    } catch (e) {
      // It exists already: replace its definition (UpdateSchedule takes the full definition too).
      if (!(e instanceof ConflictException)) throw e;
      await this.opts.client.send(new UpdateScheduleCommand(input));
    }
  }

  async remove(app: string, database: string): Promise<void> {
    try {
      await this.opts.client.send(
        new DeleteScheduleCommand({ Name: scheduleName(app, database), GroupName: this.opts.groupName }),
      );
    } catch (e) {
      if (!(e instanceof ResourceNotFoundException)) throw e;
    }
  }

  /** Names and states of every schedule in the group (for operators and reconciliation). */
  async list(): Promise<{ name: string; state?: string }[]> {
    const out: { name: string; state?: string }[] = [];
    for await (const page of paginateListSchedules(
      { client: this.opts.client },
      { GroupName: this.opts.groupName },
    )) {
      for (const s of page.Schedules ?? []) if (s.Name) out.push({ name: s.Name, state: s.State });
    }
    return out;
  }
}

const pad = (n: number) => String(n).padStart(2, '0');
