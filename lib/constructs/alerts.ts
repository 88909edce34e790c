import { Annotations, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';
import { denyGrantsExceptForAwsServices } from '../nag.js';

/** Props of {@link Alerts}. */
export interface AlertsProps {
  /**
   * An address subscribed to the topic (AWS sends it a confirmation mail first).
   * @default - no subscription
   */
  readonly email?: string;
}

/** Id of the synth warning given when the alerts topic has no subscriber. */
export const NO_SUBSCRIBER_WARNING = 'pgbackups:noAlertSubscriber';

/**
 * Alerts on failure, success (when an app asks for it), missed schedules and CloudWatch alarms: an SNS topic
 * (TLS only) encrypted with its own customer-managed key, and events with source `pgbackups` on the account's
 * default event bus for rules of your own.
 */
export class Alerts extends Construct {
  public readonly topic: sns.Topic;
  /** The topic's key; CloudWatch alarms may use it. */
  public readonly key: kms.Key;
  /** ARN of the default event bus alerts are put on. */
  public readonly eventBusArn: string;

  constructor(scope: Construct, id: string, props: AlertsProps = {}) {
    super(scope, id);
    // Not the AWS managed key alias/aws/sns: its policy cannot be changed, so CloudWatch alarms could not publish
    // to the topic. Nothing is stored under this key (SNS deletes a message once delivered), so it goes with the
    // stack.
    this.key = new kms.Key(this, 'Key', {
      description: 'pgbackups: encrypts the alerts topic',
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.key.addToResourcePolicy(denyGrantsExceptForAwsServices());
    this.key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'CloudWatchAlarmsPublish',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
        conditions: { StringEquals: { 'aws:SourceAccount': Stack.of(this).account } },
      }),
    );
    this.topic = new sns.Topic(this, 'Topic', {
      displayName: 'pgbackups alerts',
      masterKey: this.key,
      enforceSSL: true,
    });
    this.topic.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'CloudWatchAlarmsPublish',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [this.topic.topicArn],
        conditions: { StringEquals: { 'aws:SourceAccount': Stack.of(this).account } },
      }),
    );
    if (props.email) this.topic.addSubscription(new subscriptions.EmailSubscription(props.email));
    else {
      Annotations.of(this).addWarningV2(
        NO_SUBSCRIBER_WARNING,
        'The alerts topic has no subscriber: failed and missed backups and alarms reach nobody. Deploy with ' +
          '-c alertEmail=ops@example.com, or subscribe to the AlertsTopicArn output yourself (then acknowledge ' +
          'this warning).',
      );
    }
    this.eventBusArn = Stack.of(this).formatArn({
      service: 'events',
      resource: 'event-bus',
      resourceName: 'default',
    });
  }

  /** Lets `grantee` publish to the topic and put events on the default bus. */
  grantNotify(grantee: iam.IGrantable): void {
    iam.Grant.addToPrincipal({ grantee, actions: ['sns:Publish'], resourceArns: [this.topic.topicArn] });
    // What SNS needs from a publisher to an encrypted topic, named exactly (grantPublish would add
    // kms:GenerateDataKey*).
    iam.Grant.addToPrincipal({
      grantee,
      actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
      resourceArns: [this.key.keyArn],
    });
    iam.Grant.addToPrincipal({ grantee, actions: ['events:PutEvents'], resourceArns: [this.eventBusArn] });
  }
}
