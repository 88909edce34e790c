import { Match, Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { API_ROUTES } from '../../lib/constructs/api.js';
import { buildAwsDeps } from '../../src/adapters/aws/aws-deps.js';
import { ENV, WORKER_CONTAINER } from '../../src/config/env-names.js';
import { AWS_FUNCTION_ENV_NAMES } from '../../src/config/function-env.js';
import { parseWorkerEnv, workerEnvSchema } from '../../src/config/worker-env.js';
import { CHECK_OBJECT_EXPIRY_DAYS, CHECK_TTL_SECONDS } from '../../src/core/check.js';
import { BUCKET_LIFECYCLE, MAX_TRANSFER_DAYS } from '../../src/core/retention.js';
import { buildTestStack } from './stack-fixture.js';

type Statement = { Effect: string; Action: string | string[]; Resource: unknown; Condition?: unknown };
type Resource = { Type: string; Properties: Record<string, unknown>; DeletionPolicy?: string };

/** The pgbackups functions (not the CDK-provided custom-resource handler of the VPC). */
function appFunctions(template: Template): Resource[] {
  return (Object.values(template.findResources('AWS::Lambda::Function')) as Resource[]).filter((fn) =>
    String(fn.Properties.Description).startsWith('pgbackups'),
  );
}

const actionsOf = (s: Statement) => (Array.isArray(s.Action) ? s.Action : [s.Action]);

/** Statements of the inline policies attached to the role with this logical-id prefix. */
function statementsOfRole(template: Template, roleLogicalIdPrefix: string): Statement[] {
  const policies = template.findResources('AWS::IAM::Policy') as Record<string, Resource>;
  return Object.values(policies)
    .filter((p) =>
      (p.Properties.Roles as { Ref: string }[]).some((r) => r.Ref.startsWith(roleLogicalIdPrefix)),
    )
    .flatMap((p) => (p.Properties.PolicyDocument as { Statement: Statement[] }).Statement);
}

function logicalIdOf(template: Template, type: string, prefix: string): string {
  const ids = Object.keys(template.findResources(type)).filter((id) => id.startsWith(prefix));
  expect(ids).toHaveLength(1);
  return ids[0]!;
}

describe('PgBackupsStack (new VPC, defaults)', () => {
  let template: Template;
  beforeAll(() => {
    template = Template.fromStack(buildTestStack().stack);
  });

  it('keeps the catalog on demand, with point-in-time recovery and KMS encryption, retained except on create', () => {
    template.hasResource('AWS::DynamoDB::GlobalTable', {
      // Deletion protection would block the rollback of a failed first deploy (CatalogTableProps).
      DeletionPolicy: 'RetainExceptOnCreate',
      UpdateReplacePolicy: 'Retain',
      Properties: Match.objectLike({
        BillingMode: 'PAY_PER_REQUEST',
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
        SSESpecification: { SSEEnabled: true, SSEType: 'KMS' },
        GlobalSecondaryIndexes: [Match.objectLike({ IndexName: 'gsi1' })],
        // Deployment checks (pgbackups doctor) expire by TTL; nothing else carries the attribute.
        TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
        Replicas: [
          Match.objectLike({
            DeletionProtectionEnabled: false,
            PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
          }),
        ],
      }),
    });
  });

  it('encrypts the backups bucket with a rotating customer-managed key, versions it and retains both', () => {
    const keyId = logicalIdOf(template, 'AWS::KMS::Key', 'BackupsKey');
    template.hasResource('AWS::KMS::Key', {
      DeletionPolicy: 'RetainExceptOnCreate',
      UpdateReplacePolicy: 'Retain',
      Properties: Match.objectLike({
        EnableKeyRotation: true,
        Description: 'pgbackups: encrypts database dumps',
      }),
    });
    template.hasResource('AWS::S3::Bucket', {
      DeletionPolicy: 'RetainExceptOnCreate',
      UpdateReplacePolicy: 'Retain',
      Properties: Match.objectLike({
        BucketEncryption: {
          ServerSideEncryptionConfiguration: [
            {
              BucketKeyEnabled: true,
              ServerSideEncryptionByDefault: {
                SSEAlgorithm: 'aws:kms',
                KMSMasterKeyID: { 'Fn::GetAtt': [keyId, 'Arn'] },
              },
            },
          ],
        },
        VersioningConfiguration: { Status: 'Enabled' },
        PublicAccessBlockConfiguration: {
          BlockPublicAcls: true,
          BlockPublicPolicy: true,
          IgnorePublicAcls: true,
          RestrictPublicBuckets: true,
        },
      }),
    });
  });

  it('takes its lifecycle from the retention engine, and never expires a current scheduled or manual dump', () => {
    const bucketId = logicalIdOf(template, 'AWS::S3::Bucket', 'BackupsBucket');
    const bucket = template.findResources('AWS::S3::Bucket')[bucketId] as Resource;
    const rules = (bucket.Properties.LifecycleConfiguration as { Rules: Record<string, unknown>[] }).Rules;
    expect(rules).toEqual([
      {
        Id: 'abort-incomplete-uploads',
        AbortIncompleteMultipartUpload: { DaysAfterInitiation: BUCKET_LIFECYCLE.abortIncompleteUploadDays },
        Status: 'Enabled',
      },
      {
        Id: 'expire-noncurrent-versions',
        NoncurrentVersionExpiration: { NoncurrentDays: BUCKET_LIFECYCLE.noncurrentVersionDays },
        ExpiredObjectDeleteMarker: true,
        Status: 'Enabled',
      },
      {
        Id: 'expire-safety-backups',
        Prefix: 'safety/',
        ExpirationInDays: BUCKET_LIFECYCLE.safetyExpirationDays,
        Status: 'Enabled',
      },
      {
        Id: 'expire-check-objects',
        Prefix: 'checks/',
        ExpirationInDays: CHECK_OBJECT_EXPIRY_DAYS,
        Status: 'Enabled',
      },
    ]);
    // A doctor's probe object is deleted by its worker; the rule only catches one left behind, after the
    // check's own record has gone.
    expect(CHECK_OBJECT_EXPIRY_DAYS * 86_400).toBeGreaterThanOrEqual(CHECK_TTL_SECONDS);
    // Uploads outlive the longest transfer the watchdog lets run.
    expect(BUCKET_LIFECYCLE.abortIncompleteUploadDays).toBeGreaterThan(MAX_TRANSFER_DAYS);
  });

  it('denies every non-TLS request to the backups bucket', () => {
    const bucketId = logicalIdOf(template, 'AWS::S3::Bucket', 'BackupsBucket');
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: bucketId },
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Deny',
            Action: 's3:*',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
        ]),
      },
    });
  });

  it('requires IAM authorization on every API route, and routes every path of the API', () => {
    const routes = Object.values(template.findResources('AWS::ApiGatewayV2::Route')) as Resource[];
    expect(routes.map((r) => r.Properties.RouteKey).sort()).toEqual(
      API_ROUTES.map((r) => `${r.method} ${r.path}`).sort(),
    );
    // Spelled out here because the gateway's routes are derived from the route table (src/api/contract.ts):
    // a route dropped from the table fails here.
    const design = [
      'GET /v1/health',
      'PUT /v1/apps/{app}/databases/{name}',
      'GET /v1/apps/{app}/databases',
      'DELETE /v1/apps/{app}/databases/{name}',
      'GET /v1/apps/{app}/settings',
      'PUT /v1/apps/{app}/settings',
      'POST /v1/apps/{app}/backups',
      'GET /v1/apps/{app}/transfers',
      'GET /v1/apps/{app}/transfers/{id}',
      'POST /v1/apps/{app}/transfers/{id}/cancel',
      'DELETE /v1/apps/{app}/backups/{id}',
      'POST /v1/apps/{app}/backups/{id}/url',
      'POST /v1/apps/{app}/restores',
      'POST /v1/apps/{app}/copies',
      'PUT /v1/apps/{app}/schedules/{database}',
      'GET /v1/apps/{app}/schedules',
      'DELETE /v1/apps/{app}/schedules/{database}',
      'GET /v1/openapi.json',
    ];
    expect(routes.map((r) => r.Properties.RouteKey)).toEqual(expect.arrayContaining(design));
    for (const route of routes) expect(route.Properties.AuthorizationType).toBe('AWS_IAM');
    template.hasOutput('ApiUrl', {});
    template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      StageName: '$default',
      AccessLogSettings: Match.objectLike({ DestinationArn: Match.anyValue() }),
      DefaultRouteSettings: Match.objectLike({ ThrottlingRateLimit: 50, ThrottlingBurstLimit: 100 }),
    });
  });

  it('lets the worker read only the secrets prefix and write only the backups bucket', () => {
    const bucketId = logicalIdOf(template, 'AWS::S3::Bucket', 'BackupsBucket');
    const statements = statementsOfRole(template, 'WorkerTaskDefinitionTaskRole');
    const secrets = statements.filter((s) => actionsOf(s).some((a) => a.startsWith('secretsmanager:')));
    expect(secrets).toHaveLength(1);
    expect(actionsOf(secrets[0]!).sort()).toEqual([
      'secretsmanager:DescribeSecret',
      'secretsmanager:GetSecretValue',
    ]);
    expect(JSON.stringify(secrets[0]!.Resource)).toMatch(/:secret:pgbackups\/\*"\]\]\}$/);

    const s3 = statements.filter((s) => actionsOf(s).some((a) => a.startsWith('s3:')));
    expect(s3).toHaveLength(2);
    const objects = s3.find((s) => JSON.stringify(s.Resource).includes('/*'))!;
    expect(actionsOf(objects).sort()).toEqual([
      's3:AbortMultipartUpload',
      's3:DeleteObject',
      's3:GetObject',
      's3:PutObject',
    ]);
    expect(objects.Resource).toEqual({ 'Fn::Join': ['', [{ 'Fn::GetAtt': [bucketId, 'Arn'] }, '/*']] });
    // ListBucket on the bucket itself, so a missing dump is a 404 ("missing"), not a 403.
    const list = s3.find((s) => s !== objects)!;
    expect(list).toMatchObject({ Action: 's3:ListBucket', Resource: { 'Fn::GetAtt': [bucketId, 'Arn'] } });
  });

  it('lets only the API write secrets, and only under the prefix', () => {
    const writers = (Object.values(template.findResources('AWS::IAM::Policy')) as Resource[]).filter((p) =>
      JSON.stringify(p.Properties.PolicyDocument).includes('secretsmanager:CreateSecret'),
    );
    expect(writers).toHaveLength(1);
    expect(JSON.stringify(writers[0]!.Properties.Roles)).toContain('ApiHandlerRole');
  });

  it('lets the scheduler role invoke the scheduled-capture function and dead-letter, nothing else', () => {
    const fnId = logicalIdOf(template, 'AWS::Lambda::Function', 'SchedulesCaptureFunction');
    const groupId = logicalIdOf(template, 'AWS::Scheduler::ScheduleGroup', 'SchedulesGroup');
    template.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: {
        Statement: [
          Match.objectLike({
            Principal: { Service: 'scheduler.amazonaws.com' },
            Condition: {
              StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } },
              ArnLike: { 'aws:SourceArn': { 'Fn::GetAtt': [groupId, 'Arn'] } },
            },
          }),
        ],
      },
    });
    const queueId = logicalIdOf(template, 'AWS::SQS::Queue', 'DeadLetters');
    expect(statementsOfRole(template, 'SchedulesSchedulerRole')).toEqual([
      { Effect: 'Allow', Action: 'lambda:InvokeFunction', Resource: { 'Fn::GetAtt': [fnId, 'Arn'] } },
      {
        Effect: 'Allow',
        Action: ['sqs:GetQueueAttributes', 'sqs:GetQueueUrl', 'sqs:SendMessage'],
        Resource: { 'Fn::GetAtt': [queueId, 'Arn'] },
      },
    ]);
  });

  it('grants no wildcard action, and no * resource except the one ECR requires', () => {
    const policies = template.findResources('AWS::IAM::Policy') as Record<string, Resource>;
    for (const [id, policy] of Object.entries(policies)) {
      for (const s of (policy.Properties.PolicyDocument as { Statement: Statement[] }).Statement) {
        for (const action of actionsOf(s)) expect(action, id).not.toContain('*');
        if (s.Resource === '*') expect(actionsOf(s), id).toEqual(['ecr:GetAuthorizationToken']);
      }
    }
  });

  it('puts no plaintext secret in any function or task environment', () => {
    const envs: Record<string, unknown>[] = [];
    for (const fn of appFunctions(template)) {
      envs.push((fn.Properties.Environment as { Variables: Record<string, unknown> }).Variables);
    }
    const [taskDef] = Object.values(template.findResources('AWS::ECS::TaskDefinition')) as Resource[];
    for (const c of taskDef!.Properties.ContainerDefinitions as {
      Environment: { Name: string; Value: unknown }[];
    }[]) {
      envs.push(Object.fromEntries(c.Environment.map((e) => [e.Name, e.Value])));
      expect(c).not.toHaveProperty('Secrets');
    }
    expect(envs.length).toBe(6);
    for (const env of envs) {
      for (const [name, value] of Object.entries(env)) {
        expect(name).not.toMatch(/PASSWORD|DATABASE_URL|_URL$|TOKEN|ACCESS_KEY/);
        expect(JSON.stringify(value)).not.toMatch(/postgres(ql)?:\/\/|password/i);
      }
    }
  });

  it('gives every function exactly the environment buildAwsDeps reads', () => {
    for (const fn of appFunctions(template)) {
      const variables = (fn.Properties.Environment as { Variables: Record<string, unknown> }).Variables;
      expect(Object.keys(variables).sort()).toEqual([...AWS_FUNCTION_ENV_NAMES].sort());
      // CloudFormation fills in the references at deploy; any non-empty string stands in for them here.
      const resolved = Object.fromEntries(
        Object.entries(variables).map(([k, v]) => [
          k,
          typeof v === 'string' ? v : k === 'PGBACKUPS_DB_HOST_ALLOWLIST' ? '10.0.0.0/16' : `resolved-${k}`,
        ]),
      );
      expect(() => buildAwsDeps({ ...resolved, AWS_REGION: 'eu-west-1' })).not.toThrow();
    }
  });

  it('gives the worker container what parseWorkerEnv reads, with the per-task names the runner adds', () => {
    const [taskDef] = Object.values(template.findResources('AWS::ECS::TaskDefinition')) as Resource[];
    const [container] = taskDef!.Properties.ContainerDefinitions as {
      Name: string;
      Environment: { Name: string; Value: unknown }[];
    }[];
    expect(container!.Name).toBe(WORKER_CONTAINER);
    const set = Object.fromEntries(
      container!.Environment.map((e) => [
        e.Name,
        typeof e.Value === 'string' ? e.Value : e.Name === ENV.DB_HOST_ALLOWLIST ? '10.0.0.0/16' : 'resolved',
      ]),
    );
    // Every name the stack sets is one the worker reads…
    for (const name of Object.keys(set)) expect(Object.keys(workerEnvSchema.shape)).toContain(name);
    // …and with RunTask's overrides (src/adapters/aws/ecs-task-runner.ts) the worker's environment is complete.
    expect(() => parseWorkerEnv({ ...set, [ENV.APP]: 'app', [ENV.TRANSFER_NUM]: '7' })).not.toThrow();
  });

  it("allows private database hosts in the stack's own VPC by default, in the API and the worker alike", () => {
    const vpcCidr = { 'Fn::GetAtt': [Match.stringLikeRegexp('^NetworkVpc'), 'CidrBlock'] };
    for (const fn of appFunctions(template)) {
      const variables = (fn.Properties.Environment as { Variables: Record<string, unknown> }).Variables;
      expect(variables.PGBACKUPS_DB_HOST_ALLOWLIST).toEqual({
        'Fn::GetAtt': [expect.stringMatching(/^NetworkVpc/), 'CidrBlock'],
      });
    }
    template.hasResourceProperties('AWS::ECS::TaskDefinition', {
      ContainerDefinitions: [
        Match.objectLike({
          Environment: Match.arrayWith([{ Name: 'PGBACKUPS_DB_HOST_ALLOWLIST', Value: vpcCidr }]),
        }),
      ],
    });
  });

  it('runs the worker as an arm64 Fargate task named worker, with its sizes, logs and resource names', () => {
    template.hasResourceProperties('AWS::ECS::TaskDefinition', {
      RequiresCompatibilities: ['FARGATE'],
      RuntimePlatform: { CpuArchitecture: 'ARM64', OperatingSystemFamily: 'LINUX' },
      Cpu: '1024',
      Memory: '2048',
      EphemeralStorage: { SizeInGiB: 50 },
      ContainerDefinitions: [
        Match.objectLike({
          Name: 'worker',
          StopTimeout: 120,
          LinuxParameters: { InitProcessEnabled: true },
          LogConfiguration: Match.objectLike({ LogDriver: 'awslogs' }),
          Environment: Match.arrayWith([
            { Name: 'PGBACKUPS_TABLE', Value: Match.anyValue() },
            { Name: 'PGBACKUPS_BUCKET', Value: Match.anyValue() },
            { Name: 'AWS_REGION', Value: { Ref: 'AWS::Region' } },
          ]),
        }),
      ],
    });
    template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 90 });
  });

  it('runs every function on Node 22, arm64, with JSON logs', () => {
    const fns = appFunctions(template);
    expect(fns).toHaveLength(5);
    for (const fn of fns) {
      expect(fn.Properties).toMatchObject({
        Runtime: 'nodejs22.x',
        Architectures: ['arm64'],
        LoggingConfig: expect.objectContaining({ LogFormat: 'JSON' }),
      });
    }
  });

  it('routes STOPPED tasks of this cluster to the task-events function', () => {
    const clusterId = logicalIdOf(template, 'AWS::ECS::Cluster', 'WorkerCluster');
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.ecs'],
        'detail-type': ['ECS Task State Change'],
        detail: { clusterArn: [{ 'Fn::GetAtt': [clusterId, 'Arn'] }], lastStatus: ['STOPPED'] },
      },
      Targets: [
        Match.objectLike({ Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^TaskEventsHandler'), 'Arn'] } }),
      ],
    });
  });

  it('prunes daily and runs the watchdog hourly', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'cron(17 4 * * ? *)',
      Targets: [
        Match.objectLike({ Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^RetentionHandler'), 'Arn'] } }),
      ],
    });
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(1 hour)',
      Targets: [
        Match.objectLike({ Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^WatchdogHandler'), 'Arn'] } }),
      ],
    });
  });

  it('creates a VPC without NAT gateways, with flow logs, and public task IPs', () => {
    template.resourceCountIs('AWS::EC2::NatGateway', 0);
    template.resourceCountIs('AWS::EC2::FlowLog', 1);
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ PGBACKUPS_ASSIGN_PUBLIC_IP: 'true' }) },
    });
  });

  it('encrypts the alerts topic and has no subscription unless asked', () => {
    template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
    template.resourceCountIs('AWS::SNS::Subscription', 0);
  });
});

describe('PgBackupsStack (existing VPC from context)', () => {
  let template: Template;
  beforeAll(() => {
    const { stack } = buildTestStack({
      context: {
        vpcId: 'vpc-0123456789abcdef0',
        subnetIds: 'subnet-0aaaaaaaaaaaaaaaa, subnet-0bbbbbbbbbbbbbbbb',
        securityGroupId: 'sg-0a1b2c3d4e5f60718',
        databaseSecurityGroupIds: ['sg-0fedcba9876543210'],
        alertEmail: 'ops@example.com',
        workerCpu: '2048',
        workerMemoryMiB: 4096,
      },
    });
    template = Template.fromStack(stack);
  });

  it('creates no VPC or security group and hands the given ids to the functions', () => {
    template.resourceCountIs('AWS::EC2::VPC', 0);
    template.resourceCountIs('AWS::EC2::SecurityGroup', 0);
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          PGBACKUPS_SUBNETS: 'subnet-0aaaaaaaaaaaaaaaa,subnet-0bbbbbbbbbbbbbbbb',
          PGBACKUPS_SECURITY_GROUPS: 'sg-0a1b2c3d4e5f60718',
          PGBACKUPS_ASSIGN_PUBLIC_IP: 'false',
        }),
      },
    });
  });

  it('opens the database security group to the worker on 5432', () => {
    template.hasResourceProperties('AWS::EC2::SecurityGroupIngress', {
      GroupId: 'sg-0fedcba9876543210',
      SourceSecurityGroupId: 'sg-0a1b2c3d4e5f60718',
      IpProtocol: 'tcp',
      FromPort: 5432,
      ToPort: 5432,
    });
  });

  it('subscribes the alert email and sizes the worker from context', () => {
    template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'ops@example.com',
    });
    template.hasResourceProperties('AWS::ECS::TaskDefinition', { Cpu: '2048', Memory: '4096' });
  });
});

describe('PgBackupsStack context validation', () => {
  it('refuses an existing VPC without subnets', () => {
    expect(() => buildTestStack({ context: { vpcId: 'vpc-1' } })).toThrow(/needs subnetIds/);
  });

  it('refuses a malformed context value, naming the key', () => {
    expect(() => buildTestStack({ context: { assignPublicIp: 'yes' } })).toThrow(
      /assignPublicIp must be true or false/,
    );
  });
});
