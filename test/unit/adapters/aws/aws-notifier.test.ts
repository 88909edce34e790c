import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { AuthorizationErrorException, PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { AwsNotifier, snsSubject } from '../../../../src/adapters/aws/aws-notifier.js';
import type { Alert } from '../../../../src/core/ports.js';

const events = mockClient(EventBridgeClient);
const sns = mockClient(SNSClient);
const TOPIC = 'arn:aws:sns:eu-west-1:111122223333:PgBackups-AlertsTopic';

const notifier = new AwsNotifier({
  events: new EventBridgeClient({ region: 'eu-west-1' }),
  sns: new SNSClient({ region: 'eu-west-1' }),
  topicArn: TOPIC,
});

const alert: Alert = {
  type: 'transfer.failed',
  app: 'example-app',
  database: 'DATABASE',
  transferId: 'a012',
  message: 'The worker stopped before finishing: OutOfMemoryError',
  at: '2026-03-08T10:00:00.000Z',
};

beforeEach(() => {
  events.reset();
  sns.reset();
});

describe('AwsNotifier', () => {
  it('puts a pgbackups event on the default bus and publishes to the topic', async () => {
    events.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: 'e1' }] });
    sns.on(PublishCommand).resolves({ MessageId: 'm1' });

    await notifier.notify(alert);

    expect(events.commandCalls(PutEventsCommand)[0]!.args[0].input).toEqual({
      Entries: [
        {
          Source: 'pgbackups',
          DetailType: 'Transfer Failed',
          Detail: JSON.stringify(alert),
          EventBusName: 'default',
        },
      ],
    });
    expect(sns.commandCalls(PublishCommand)[0]!.args[0].input).toEqual({
      TopicArn: TOPIC,
      Subject: 'pgbackups: Transfer Failed - example-app DATABASE a012',
      Message: [
        'The worker stopped before finishing: OutOfMemoryError',
        '',
        'App: example-app',
        'Database: DATABASE',
        'Transfer: a012',
        'At: 2026-03-08T10:00:00.000Z',
      ].join('\n'),
      MessageAttributes: { type: { DataType: 'String', StringValue: 'transfer.failed' } },
    });
  });

  it.each([
    ['transfer.completed', 'Transfer Completed'],
    ['schedule.missed', 'Schedule Missed'],
  ] as const)('maps %s to the detail-type %s', async (type, detailType) => {
    events.on(PutEventsCommand).resolves({ FailedEntryCount: 0 });
    sns.on(PublishCommand).resolves({});
    await notifier.notify({ ...alert, type });
    expect(events).toHaveReceivedCommandWith(PutEventsCommand, {
      Entries: [expect.objectContaining({ Source: 'pgbackups', DetailType: detailType })],
    });
  });

  it('still publishes when the event is rejected, then reports which failed', async () => {
    events.on(PutEventsCommand).resolves({
      FailedEntryCount: 1,
      Entries: [{ ErrorCode: 'InternalFailure', ErrorMessage: 'try again' }],
    });
    sns.on(PublishCommand).resolves({});
    await expect(notifier.notify(alert)).rejects.toThrow(
      'Could not send the transfer.failed alert for example-app: EventBridge: InternalFailure: try again',
    );
    expect(sns).toHaveReceivedCommandTimes(PublishCommand, 1);
  });

  it('reports an SNS failure after the event was put', async () => {
    events.on(PutEventsCommand).resolves({ FailedEntryCount: 0 });
    sns
      .on(PublishCommand)
      .rejects(new AuthorizationErrorException({ message: 'not allowed', $metadata: {} }));
    await expect(notifier.notify(alert)).rejects.toThrow(
      'Could not send the transfer.failed alert for example-app: SNS: not allowed',
    );
    expect(events).toHaveReceivedCommandTimes(PutEventsCommand, 1);
  });
});

describe('snsSubject', () => {
  it('stays ASCII and under 100 characters', () => {
    const subject = snsSubject({ ...alert, app: `ä${'x'.repeat(62)}`, database: `D${'B'.repeat(62)}` });
    expect(subject.length).toBeLessThan(100);
    expect(subject).toMatch(/^[\x20-\x7e]+$/);
    expect(subject.endsWith('...')).toBe(true);
  });
});
