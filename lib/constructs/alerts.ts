import { Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';

/** Source of the events pgbackups puts on the default event bus. */
export const ALERT_EVENT_SOURCE = 'pgbackups';

/** Props of {@link Alerts}. */
export interface AlertsProps {
  /**
   * An address subscribed to the topic (AWS sends it a confirmation mail first).
   * @default - no subscription
   */
  readonly email?: string;
}

/**
 * Alerts on failure, success (when an app asks for it) and missed schedules: an SNS topic (encrypted, TLS only),
 * and events with source `pgbackups` on the account's default event bus for rules of your own.
 */
export class Alerts extends Construct {
  public readonly topic: sns.Topic;
  /** ARN of the default event bus alerts are put on. */
  public readonly eventBusArn: string;

  constructor(scope: Construct, id: string, props: AlertsProps = {}) {
    super(scope, id);
    this.topic = new sns.Topic(this, 'Topic', {
      displayName: 'pgbackups alerts',
      // The AWS managed key: publishers need no KMS grant, and email subscriptions work.
      masterKey: kms.Alias.fromAliasName(this, 'SnsKey', 'alias/aws/sns'),
      enforceSSL: true,
    });
    if (props.email) this.topic.addSubscription(new subscriptions.EmailSubscription(props.email));
    this.eventBusArn = Stack.of(this).formatArn({
      service: 'events',
      resource: 'event-bus',
      resourceName: 'default',
    });
  }

  /** Lets `grantee` publish to the topic and put events on the default bus. */
  grantNotify(grantee: iam.IGrantable): void {
    this.topic.grantPublish(grantee);
    iam.Grant.addToPrincipal({ grantee, actions: ['events:PutEvents'], resourceArns: [this.eventBusArn] });
  }
}
