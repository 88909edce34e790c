import { type EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { PublishCommand, type SNSClient } from '@aws-sdk/client-sns';
import type { Alert, AlertType, Notifier } from '../../core/ports.js';

/** `source` of every pgbackups event on the bus; match it in your own EventBridge rules. */
export const EVENT_SOURCE = 'pgbackups';

/** EventBridge `detail-type` of each alert. */
export const DETAIL_TYPES: Record<AlertType, string> = {
  'transfer.failed': 'Transfer Failed',
  'transfer.completed': 'Transfer Completed',
  'schedule.missed': 'Schedule Missed',
};

export interface AwsNotifierOptions {
  readonly events: EventBridgeClient;
  readonly sns: SNSClient;
  /** The alerts topic. */
  readonly topicArn: string;
  /** @default 'default' */
  readonly eventBusName?: string;
}

/** SNS subjects: ASCII, no line breaks, under 100 characters. */
export function snsSubject(alert: Alert): string {
  const subject = `pgbackups: ${DETAIL_TYPES[alert.type]} - ${alert.app} ${alert.database}${alert.transferId ? ` ${alert.transferId}` : ''}`;
  const ascii = subject.replace(/[^\x20-\x7e]/g, '?');
  return ascii.length < 100 ? ascii : `${ascii.slice(0, 96)}...`;
}

/**
 * Alerts both ways: an event on the bus (for rules, chat integrations) and a message on the SNS topic (email).
 * Both are attempted; if either fails the error names which.
 */
export class AwsNotifier implements Notifier {
  constructor(private readonly opts: AwsNotifierOptions) {}

  async notify(alert: Alert): Promise<void> {
    const [event, message] = await Promise.allSettled([this.putEvent(alert), this.publish(alert)]);
    const failed = [
      event.status === 'rejected' ? `EventBridge: ${reasonOf(event.reason)}` : undefined,
      message.status === 'rejected' ? `SNS: ${reasonOf(message.reason)}` : undefined,
    ].filter(Boolean);
    if (failed.length > 0)
      throw new Error(`Could not send the ${alert.type} alert for ${alert.app}: ${failed.join('; ')}`);
  }

  private async putEvent(alert: Alert): Promise<void> {
    const out = await this.opts.events.send(
      new PutEventsCommand({
        Entries: [
          {
            Source: EVENT_SOURCE,
            DetailType: DETAIL_TYPES[alert.type],
            Detail: JSON.stringify(alert),
            EventBusName: this.opts.eventBusName ?? 'default',
          },
        ],
      }),
    );
    // PutEvents reports per-entry failures in the response, not as an exception.
    if ((out.FailedEntryCount ?? 0) > 0) {
      const entry = out.Entries?.find((e) => e.ErrorCode);
      throw new Error(
        `${entry?.ErrorCode ?? 'FailedEntry'}: ${entry?.ErrorMessage ?? 'the event was not accepted'}`,
      );
    }
  }

  private async publish(alert: Alert): Promise<void> {
    const lines = [
      alert.message,
      '',
      `App: ${alert.app}`,
      `Database: ${alert.database}`,
      ...(alert.transferId ? [`Transfer: ${alert.transferId}`] : []),
      `At: ${alert.at}`,
    ];
    await this.opts.sns.send(
      new PublishCommand({
        TopicArn: this.opts.topicArn,
        Subject: snsSubject(alert),
        Message: lines.join('\n'),
        MessageAttributes: { type: { DataType: 'String', StringValue: alert.type } },
      }),
    );
  }
}

const reasonOf = (e: unknown) => (e instanceof Error ? e.message : String(e));
