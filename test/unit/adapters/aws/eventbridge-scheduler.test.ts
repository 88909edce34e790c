import {
  ConflictException,
  CreateScheduleCommand,
  DeleteScheduleCommand,
  ListSchedulesCommand,
  ResourceNotFoundException,
  SchedulerClient,
  UpdateScheduleCommand,
  ValidationException,
} from '@aws-sdk/client-scheduler';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  EventBridgeSchedulerAdapter,
  scheduleName,
} from '../../../../src/adapters/aws/eventbridge-scheduler.js';
import type { Schedule } from '../../../../src/core/ports.js';

const scheduler = mockClient(SchedulerClient);
const FN = 'arn:aws:lambda:eu-west-1:111122223333:function:PgBackups-scheduled-capture';
const ROLE = 'arn:aws:iam::111122223333:role/PgBackups-SchedulerRole';
const DLQ = 'arn:aws:sqs:eu-west-1:111122223333:PgBackups-DeadLetters';

const adapter = new EventBridgeSchedulerAdapter({
  client: new SchedulerClient({ region: 'eu-west-1' }),
  groupName: 'PgBackups-Schedules',
  targetArn: FN,
  roleArn: ROLE,
  deadLetterArn: DLQ,
});

const schedule: Schedule = {
  app: 'example-app',
  database: 'DATABASE',
  hour: 2,
  minute: 5,
  timezone: 'America/Los_Angeles',
  createdAt: '2026-01-01T00:00:00.000Z',
};

const expectedInput = {
  Name: 'example-app--DATABASE',
  GroupName: 'PgBackups-Schedules',
  Description: 'pgbackups example-app DATABASE daily at 02:05 America/Los_Angeles',
  ScheduleExpression: 'cron(5 2 * * ? *)',
  ScheduleExpressionTimezone: 'America/Los_Angeles',
  // Spread over 15 minutes, retried for an hour, then dead-lettered.
  FlexibleTimeWindow: { Mode: 'FLEXIBLE', MaximumWindowInMinutes: 15 },
  State: 'ENABLED',
  Target: {
    Arn: FN,
    RoleArn: ROLE,
    Input: '{"app":"example-app","database":"DATABASE"}',
    RetryPolicy: { MaximumRetryAttempts: 10, MaximumEventAgeInSeconds: 3600 },
    DeadLetterConfig: { Arn: DLQ },
  },
};

beforeEach(() => scheduler.reset());

describe('EventBridgeSchedulerAdapter.upsert', () => {
  it('creates a daily cron schedule in the group, in the time zone, with no flexible window', async () => {
    scheduler.on(CreateScheduleCommand).resolves({ ScheduleArn: 'arn:…' });
    await adapter.upsert(schedule);
    expect(scheduler.commandCalls(CreateScheduleCommand)[0]!.args[0].input).toEqual(expectedInput);
    expect(scheduler).not.toHaveReceivedCommand(UpdateScheduleCommand);
  });

  it('updates the schedule when it already exists', async () => {
    scheduler.on(CreateScheduleCommand).rejects(
      new ConflictException({
        message: 'Schedule example-app--DATABASE already exists.',
        Message: 'Schedule example-app--DATABASE already exists.',
        $metadata: {},
      }),
    );
    scheduler.on(UpdateScheduleCommand).resolves({ ScheduleArn: 'arn:…' });
    await adapter.upsert(schedule);
    expect(scheduler.commandCalls(UpdateScheduleCommand)[0]!.args[0].input).toEqual(expectedInput);
  });

  it('passes other errors through, without updating', async () => {
    const error = new ValidationException({
      message: 'Invalid timezone',
      Message: 'Invalid timezone',
      $metadata: {},
    });
    scheduler.on(CreateScheduleCommand).rejects(error);
    await expect(adapter.upsert(schedule)).rejects.toBe(error);
    expect(scheduler).not.toHaveReceivedCommand(UpdateScheduleCommand);
  });
});

describe('EventBridgeSchedulerAdapter.remove', () => {
  it('deletes the schedule from the group', async () => {
    scheduler.on(DeleteScheduleCommand).resolves({});
    await adapter.remove('example-app', 'DATABASE');
    expect(scheduler.commandCalls(DeleteScheduleCommand)[0]!.args[0].input).toEqual({
      Name: 'example-app--DATABASE',
      GroupName: 'PgBackups-Schedules',
    });
  });

  it('treats a schedule that is already gone as removed', async () => {
    scheduler
      .on(DeleteScheduleCommand)
      .rejects(new ResourceNotFoundException({ message: 'not found', Message: 'not found', $metadata: {} }));
    await expect(adapter.remove('example-app', 'DATABASE')).resolves.toBeUndefined();
  });
});

describe('EventBridgeSchedulerAdapter.list', () => {
  it('lists every page of the group', async () => {
    scheduler
      .on(ListSchedulesCommand, { GroupName: 'PgBackups-Schedules', NextToken: undefined })
      .resolves({ Schedules: [{ Name: 'example-app--DATABASE', State: 'ENABLED' }], NextToken: 'page2' })
      .on(ListSchedulesCommand, { GroupName: 'PgBackups-Schedules', NextToken: 'page2' })
      .resolves({ Schedules: [{ Name: 'other-app--PINK', State: 'DISABLED' }] });
    await expect(adapter.list()).resolves.toEqual([
      { name: 'example-app--DATABASE', state: 'ENABLED' },
      { name: 'other-app--PINK', state: 'DISABLED' },
    ]);
  });
});

describe('scheduleName', () => {
  it('keeps names within the 64-character limit, distinct per database', () => {
    const app = `a${'b'.repeat(60)}c`;
    const one = scheduleName(app, 'HEROKU_POSTGRESQL_PINK');
    const two = scheduleName(app, 'HEROKU_POSTGRESQL_BLUE');
    expect(one).toHaveLength(64);
    expect(one).toMatch(/^[0-9a-zA-Z_.-]+$/);
    expect(one).not.toBe(two);
  });
});
