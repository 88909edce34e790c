import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { NO_SUBSCRIBER_WARNING } from '../../lib/constructs/alerts.js';
import type { PgBackupsStack } from '../../lib/pgbackups-stack.js';
import { isHttpApiContextVariable } from './http-api-context-variables.js';
import { buildTestStack } from './stack-fixture.js';

type Resource = {
  Type: string;
  Properties: Record<string, unknown>;
  DeletionPolicy?: string;
  UpdateReplacePolicy?: string;
};

/** Every `$context.…` variable anywhere in the template. */
function contextVariables(template: Template): string[] {
  return [...JSON.stringify(template.toJSON()).matchAll(/\$context\.([A-Za-z0-9_.]+)/g)].map((m) => m[1]!);
}

/** Properties that give a resource a fixed physical name (collides with what a failed deploy left behind). */
const NAME_PROPERTIES = [
  'Name',
  'BucketName',
  'TableName',
  'QueueName',
  'TopicName',
  'LogGroupName',
  'DashboardName',
  'AliasName',
  'FunctionName',
  'RoleName',
];

describe('PgBackupsStack: fail-safe deploys and operations (defaults)', () => {
  let stack: PgBackupsStack;
  let template: Template;
  let resources: Record<string, Resource>;
  beforeAll(() => {
    stack = buildTestStack().stack;
    template = Template.fromStack(stack);
    resources = template.toJSON().Resources as Record<string, Resource>;
  });

  it('logs HTTP API access with an explicit format of documented HTTP API variables only', () => {
    const stages = Object.values(template.findResources('AWS::ApiGatewayV2::Stage')) as Resource[];
    expect(stages).toHaveLength(1);
    const settings = stages[0]!.Properties.AccessLogSettings as { Format?: string };
    expect(settings.Format).toBeDefined();
    expect(JSON.parse(settings.Format!)).toMatchObject({
      requestId: '$context.requestId',
      status: '$context.status',
    });
    const used = contextVariables(template);
    expect(used.length).toBeGreaterThan(10);
    expect(used.filter((v) => !isHttpApiContextVariable(v))).toEqual([]);
    // The check itself knows the REST-only variable that broke the first deploy.
    expect(isHttpApiContextVariable('resourcePath')).toBe(false);
  });

  it('keeps data when the stack goes, but a rolled-back first deploy leaves nothing behind', () => {
    const stateful = Object.entries(resources).filter(([, r]) =>
      ['AWS::S3::Bucket', 'AWS::DynamoDB::GlobalTable', 'AWS::KMS::Key'].includes(r.Type),
    );
    const kept = stateful.filter(([id]) => !id.startsWith('AlertsKey'));
    expect(kept.map(([id]) => id.replace(/[0-9A-F]{8}$/, '')).sort()).toEqual([
      'BackupsAccessLogs',
      'BackupsBucket',
      'BackupsKey',
      'CatalogTable',
    ]);
    for (const [id, r] of kept) {
      expect({ id, d: r.DeletionPolicy, u: r.UpdateReplacePolicy }).toEqual({
        id,
        d: 'RetainExceptOnCreate',
        u: 'Retain',
      });
    }
    // Nothing else is retained at all: a retained resource with a fixed name blocks the next deploy.
    const retained = Object.entries(resources).filter(
      ([, r]) => r.DeletionPolicy?.startsWith('Retain') && !kept.some(([, k]) => k === r),
    );
    expect(retained.map(([id]) => id)).toEqual([]);
    // The table's deletion protection would block the rollback's delete.
    template.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      Replicas: [Match.objectLike({ DeletionProtectionEnabled: false })],
    });
  });

  it('gives fixed names only to resources deleted with the stack or its rollback', () => {
    const named = Object.entries(resources).filter(([, r]) =>
      NAME_PROPERTIES.some(
        (p) =>
          typeof r.Properties?.[p] === 'string' ||
          (r.Properties?.[p] &&
            r.Type !== 'AWS::Scheduler::ScheduleGroup' &&
            typeof r.Properties[p] === 'object'),
      ),
    );
    for (const [id, r] of named)
      expect({ id, policy: r.DeletionPolicy ?? 'Delete' }).toEqual({ id, policy: 'Delete' });
    // The schedule group (fixed name) goes with the stack, and its schedules with it.
    template.hasResource('AWS::Scheduler::ScheduleGroup', { DeletionPolicy: 'Delete' });
  });

  it('alarms to the alerts topic on every function, the worker, failed and missed backups, dead letters and API 5xx', () => {
    const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm')) as Resource[];
    const topicId = Object.keys(template.findResources('AWS::SNS::Topic'))[0]!;
    for (const a of alarms) expect(a.Properties.AlarmActions).toEqual([{ Ref: topicId }]);
    const metric = (a: Resource) => `${a.Properties.Namespace}/${a.Properties.MetricName}`;
    const byMetric = alarms.map(metric).sort();
    for (const fn of [
      'Api',
      'SchedulesCaptureFunction',
      'TaskEventsHandler',
      'RetentionHandler',
      'WatchdogHandler',
    ]) {
      for (const m of ['Errors', 'Throttles']) {
        expect(
          alarms.some(
            (a) =>
              metric(a) === `AWS/Lambda/${m}` &&
              JSON.stringify(a.Properties.Dimensions).includes(`"Ref":"${fn}`),
          ),
          `${fn} ${m}`,
        ).toBe(true);
      }
    }
    expect(byMetric).toEqual(
      expect.arrayContaining([
        'pgbackups/TransfersFailed',
        'pgbackups/SchedulesMissed',
        'pgbackups/WorkerTasksStoppedAbnormally',
        'AWS/SQS/ApproximateNumberOfMessagesVisible',
        'AWS/ApiGateway/5xx',
      ]),
    );
    expect(alarms).toHaveLength(15);
    template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
  });

  it('encrypts the alerts topic with a key CloudWatch alarms may use, and warns that nobody subscribed', () => {
    const keyId = Object.keys(template.findResources('AWS::KMS::Key')).find((id) =>
      id.startsWith('AlertsKey'),
    )!;
    template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: { 'Fn::GetAtt': [keyId, 'Arn'] } });
    template.hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Principal: { Service: 'cloudwatch.amazonaws.com' },
            Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
          }),
        ]),
      },
    });
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Principal: { Service: 'cloudwatch.amazonaws.com' }, Action: 'sns:Publish' }),
        ]),
      },
    });
    const warnings = Annotations.fromStack(stack).findWarning('*', Match.stringLikeRegexp('no subscriber'));
    expect(warnings).toHaveLength(1);
    expect(JSON.stringify(warnings[0])).toContain(NO_SUBSCRIBER_WARNING);
  });

  it('gives every asynchronous target a dead-letter queue and a retry policy', () => {
    const queueArn = { 'Fn::GetAtt': [Object.keys(template.findResources('AWS::SQS::Queue'))[0]!, 'Arn'] };
    const rules = Object.values(template.findResources('AWS::Events::Rule')) as Resource[];
    expect(rules).toHaveLength(3);
    for (const rule of rules) {
      for (const target of rule.Properties.Targets as Record<string, unknown>[]) {
        expect(target.DeadLetterConfig).toEqual({ Arn: queueArn });
        expect(target.RetryPolicy).toMatchObject({ MaximumRetryAttempts: expect.any(Number) });
      }
    }
    // The functions those rules and the schedules invoke asynchronously dead-letter too, after 2 retries.
    const asyncFunctions = Object.entries(resources).filter(
      ([id, r]) =>
        r.Type === 'AWS::Lambda::Function' && !id.startsWith('ApiHandler') && !id.startsWith('Custom'),
    );
    expect(asyncFunctions).toHaveLength(4);
    for (const [id, fn] of asyncFunctions) {
      expect({ id, dlq: fn.Properties.DeadLetterConfig }).toEqual({ id, dlq: { TargetArn: queueArn } });
    }
    template.resourcePropertiesCountIs('AWS::Lambda::EventInvokeConfig', { MaximumRetryAttempts: 2 }, 4);
    // Scheduler schedules are created at run time; every function knows the queue to name (adapter test checks
    // the RetryPolicy and DeadLetterConfig it sends).
    for (const [, fn] of Object.entries(resources).filter(([, r]) => r.Type === 'AWS::Lambda::Function')) {
      const vars = (fn.Properties.Environment as { Variables?: Record<string, unknown> } | undefined)
        ?.Variables;
      if (vars?.PGBACKUPS_TABLE) expect(vars.PGBACKUPS_DEAD_LETTER_QUEUE_ARN).toEqual(queueArn);
    }
  });
});

describe('PgBackupsStack: adopting retained data', () => {
  it('uses a retained bucket, key and table by props, creates none, and still denies non-TLS access', () => {
    const keyArn = 'arn:aws:kms:eu-west-1:111122223333:key/11111111-2222-3333-4444-555555555555';
    const { stack } = buildTestStack({
      props: {
        alertEmail: 'ops@example.com',
        backups: { existing: { bucketName: 'pgbackups-old-bucket', keyArn } },
        catalog: { existingTableName: 'PgBackups-CatalogTable-OLD' },
      },
    });
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::S3::Bucket', 0);
    template.resourceCountIs('AWS::DynamoDB::GlobalTable', 0);
    expect(Object.keys(template.findResources('AWS::KMS::Key'))).toEqual([
      expect.stringMatching(/^AlertsKey/),
    ]);
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: 'pgbackups-old-bucket',
      PolicyDocument: {
        Statement: [
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ],
      },
    });
    const json = JSON.stringify(template.toJSON());
    expect(json).toContain('PgBackups-CatalogTable-OLD');
    expect(json).toContain(keyArn);
    // With a subscriber, no warning.
    expect(Annotations.fromStack(stack).findWarning('*', Match.stringLikeRegexp('no subscriber'))).toEqual(
      [],
    );
  });

  it('refuses the removed scheduledExpirationDays context key with what to do instead', () => {
    expect(() => buildTestStack({ context: { scheduledExpirationDays: 400 } })).toThrow(
      /scheduledExpirationDays was removed.*daily prune/,
    );
  });
});
