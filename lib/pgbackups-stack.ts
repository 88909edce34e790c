import { fileURLToPath } from 'node:url';
import { CfnOutput, Fn, Lazy, Stack, type StackProps } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import type * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { Construct } from 'constructs';
import { ENV } from '../src/config/env-names.js';
import type { FunctionEnvironment } from '../src/config/function-env.js';
import { Alerts } from './constructs/alerts.js';
import { Api } from './constructs/api.js';
import { bundledFunctions, type FunctionFactory } from './constructs/app-function.js';
import { BackupsBucket, type BackupsBucketProps } from './constructs/backups-bucket.js';
import { CatalogTable, type CatalogTableProps } from './constructs/catalog-table.js';
import { ConnectionSecrets } from './constructs/connection-secrets.js';
import { DeadLetters, Monitoring } from './constructs/monitoring.js';
import { Network, type NetworkProps } from './constructs/network.js';
import { Retention } from './constructs/retention.js';
import {
  Schedules,
  scheduledCaptureFunctionArn,
  scheduledCaptureFunctionName,
} from './constructs/schedules.js';
import { TaskEvents } from './constructs/task-events.js';
import { Watchdog } from './constructs/watchdog.js';
import { Worker, type WorkerProps } from './constructs/worker.js';
import { readContext } from './context.js';
import { acknowledgeWildcardResource } from './nag.js';

/** The repository root: build context of the worker image and base of the Lambda entries. */
export const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Props of {@link PgBackupsStack}. Each also has a context key (see `lib/context.ts`); props win. */
export interface PgBackupsStackProps extends StackProps {
  /**
   * Builds the Lambda functions.
   * @default - bundled from `lambdas/*` with the local esbuild
   */
  readonly functions?: FunctionFactory;
  /**
   * The worker image.
   * @default - built from `containers/worker/Dockerfile` at deploy time
   */
  readonly workerImage?: ecs.ContainerImage;
  /**
   * Where the worker runs.
   * @default - a new VPC (context: vpcId, subnetIds, securityGroupId, assignPublicIp, databaseSecurityGroupIds)
   */
  readonly network?: NetworkProps;
  /**
   * Worker size.
   * @default - 1 vCPU, 2 GiB, 50 GiB ephemeral storage (context: workerCpu, workerMemoryMiB, workerEphemeralStorageGiB)
   */
  readonly worker?: Pick<
    WorkerProps,
    'cpu' | 'memoryMiB' | 'ephemeralStorageGiB' | 'logRetention' | 'containerInsights'
  >;
  /**
   * The backups bucket: access logs, or a bucket and key retained by an earlier stack to adopt.
   * @default - a new bucket and key, lifecycle from src/core/retention.ts (BUCKET_LIFECYCLE)
   */
  readonly backups?: BackupsBucketProps;
  /**
   * The catalog table: deletion protection, or a table retained by an earlier stack to adopt.
   * @default - a new table, deletion protection off (context: catalogDeletionProtection)
   */
  readonly catalog?: CatalogTableProps;
  /**
   * Email subscribed to the alerts topic.
   * @default - none (context: alertEmail)
   */
  readonly alertEmail?: string;
  /**
   * Name prefix of the connection secrets in Secrets Manager.
   * @default 'pgbackups' (context: secretsPrefix)
   */
  readonly secretsPrefix?: string;
  /**
   * CIDRs of private addresses tenants' databases may have (`10.0.0.0/16`, `fd12::/48`); other private, loopback,
   * link-local and metadata addresses are refused at attach and at connect (src/adapters/net/url-guard.ts).
   * @default - the CIDR of the VPC this stack creates; none for an existing VPC (context: databaseHostAllowlist)
   */
  readonly databaseHostAllowlist?: readonly string[];
}

/**
 * pgbackups in one stack: catalog, backups bucket, network, worker, API, schedules, retention, task events,
 * watchdog and alerts. Environment-agnostic, so `cdk synth --lookups=false` needs no AWS account.
 */
export class PgBackupsStack extends Stack {
  public readonly catalog: CatalogTable;
  public readonly backups: BackupsBucket;
  public readonly network: Network;
  public readonly worker: Worker;
  public readonly api: Api;
  public readonly schedules: Schedules;
  public readonly taskEvents: TaskEvents;
  public readonly retention: Retention;
  public readonly watchdog: Watchdog;
  public readonly alerts: Alerts;
  public readonly secrets: ConnectionSecrets;
  public readonly deadLetters: DeadLetters;
  public readonly monitoring: Monitoring;

  constructor(scope: Construct, id: string, props: PgBackupsStackProps = {}) {
    super(scope, id, { description: 'pgbackups: logical PostgreSQL backups (Heroku PGBackups)', ...props });
    const ctx = readContext(this.node);
    const functions = props.functions ?? bundledFunctions(REPO_ROOT);

    this.catalog = new CatalogTable(this, 'Catalog', {
      deletionProtection: ctx.catalogDeletionProtection,
      ...props.catalog,
    });
    this.backups = new BackupsBucket(this, 'Backups', props.backups);
    this.deadLetters = new DeadLetters(this, 'DeadLetters');
    this.secrets = new ConnectionSecrets(this, 'ConnectionSecrets', {
      prefix: props.secretsPrefix ?? ctx.secretsPrefix,
    });
    this.alerts = new Alerts(this, 'Alerts', { email: props.alertEmail ?? ctx.alertEmail });
    this.network = new Network(this, 'Network', {
      vpcId: ctx.vpcId,
      subnetIds: ctx.subnetIds,
      securityGroupId: ctx.securityGroupId,
      assignPublicIp: ctx.assignPublicIp,
      databaseSecurityGroupIds: ctx.databaseSecurityGroupIds,
      ...props.network,
    });
    const hostAllowlist = (
      props.databaseHostAllowlist ??
      ctx.databaseHostAllowlist ??
      (this.network.vpc instanceof ec2.Vpc ? [this.network.vpc.vpcCidrBlock] : [])
    ).join(',');
    this.worker = new Worker(this, 'Worker', {
      vpc: this.network.vpc,
      repoRoot: REPO_ROOT,
      image: props.workerImage,
      cpu: ctx.workerCpu,
      memoryMiB: ctx.workerMemoryMiB,
      ephemeralStorageGiB: ctx.workerEphemeralStorageGiB,
      ...props.worker,
      // What containers/worker/main.ts reads (plus AWS_REGION); it finds each connection secret by the ARN stored
      // in the catalog, and RunTask adds PGBACKUPS_APP and PGBACKUPS_TRANSFER_NUM.
      environment: {
        [ENV.TABLE]: this.catalog.table.tableName,
        [ENV.BUCKET]: this.backups.bucket.bucketName,
        [ENV.DB_HOST_ALLOWLIST]: hostAllowlist,
      },
    });

    // Every function builds the same CoreDeps (buildAwsDeps), so every function gets the same names; what each may
    // do with them is decided by its grants below. The schedule names are lazy because the scheduled-capture
    // function is itself created by Schedules; its ARN is formatted, not referenced, so its own environment can
    // contain it without a cycle.
    const environment: FunctionEnvironment = {
      [ENV.TABLE]: this.catalog.table.tableName,
      [ENV.BUCKET]: this.backups.bucket.bucketName,
      [ENV.CLUSTER]: this.worker.cluster.clusterArn,
      [ENV.TASK_DEFINITION]: this.worker.taskDefinition.taskDefinitionArn,
      [ENV.SUBNETS]: Fn.join(',', this.network.subnetIds),
      [ENV.SECURITY_GROUPS]: this.network.securityGroup.securityGroupId,
      [ENV.ASSIGN_PUBLIC_IP]: String(this.network.assignPublicIp),
      [ENV.SECRETS_PREFIX]: this.secrets.prefix,
      [ENV.SCHEDULE_GROUP]: Lazy.string({ produce: () => this.schedules.group.scheduleGroupName }),
      [ENV.SCHEDULER_ROLE_ARN]: Lazy.string({ produce: () => this.schedules.schedulerRole.roleArn }),
      [ENV.DEAD_LETTER_QUEUE_ARN]: this.deadLetters.queue.queueArn,
      [ENV.SCHEDULED_CAPTURE_ARN]: scheduledCaptureFunctionArn(this),
      [ENV.ALERTS_TOPIC_ARN]: this.alerts.topic.topicArn,
      [ENV.EVENT_BUS]: 'default',
      [ENV.DB_HOST_ALLOWLIST]: hostAllowlist,
    };

    this.api = new Api(this, 'Api', { functions, environment });
    this.schedules = new Schedules(this, 'Schedules', {
      functions,
      environment,
      functionName: scheduledCaptureFunctionName(this),
      deadLetterQueue: this.deadLetters.queue,
    });
    const deadLetterQueue = this.deadLetters.queue;
    this.taskEvents = new TaskEvents(this, 'TaskEvents', {
      functions,
      environment,
      cluster: this.worker.cluster,
      deadLetterQueue,
    });
    this.retention = new Retention(this, 'Retention', { functions, environment, deadLetterQueue });
    this.watchdog = new Watchdog(this, 'Watchdog', { functions, environment, deadLetterQueue });

    this.grantLeastPrivilege();

    this.monitoring = new Monitoring(this, 'Monitoring', {
      topic: this.alerts.topic,
      httpApi: this.api.httpApi,
      deadLetters: this.deadLetters.queue,
      functions: {
        Api: this.api.handler,
        ScheduledCapture: this.schedules.captureFunction,
        TaskEvents: this.taskEvents.handler,
        Prune: this.retention.handler,
        Watchdog: this.watchdog.handler,
      },
    });

    new CfnOutput(this, 'ApiUrl', {
      value: this.api.url,
      description: 'Base URL of the pgbackups API (PGBACKUPS_API_URL)',
    });
    new CfnOutput(this, 'BackupsBucketName', { value: this.backups.bucket.bucketName });
    new CfnOutput(this, 'AlertsTopicArn', { value: this.alerts.topic.topicArn });
    new CfnOutput(this, 'DeadLetterQueueUrl', { value: this.deadLetters.queue.queueUrl });
    new CfnOutput(this, 'CatalogTableName', { value: this.catalog.table.tableName });
    new CfnOutput(this, 'BackupsKeyArn', { value: this.backups.key.keyArn });
  }

  /** Who may do what: each function and the worker get only the actions their use cases need. */
  private grantLeastPrivilege(): void {
    const taskRole = this.worker.taskDefinition.taskRole;
    const api = this.api.handler;
    const capture = this.schedules.captureFunction;
    const taskEvents = this.taskEvents.handler;
    const prune = this.retention.handler;
    const watchdog = this.watchdog.handler;

    for (const fn of [api, capture, taskEvents, prune, watchdog]) {
      this.catalog.grantReadWrite(fn);
      this.alerts.grantNotify(fn);
    }
    // Worker: streams dumps in and out, reads connection URLs, records progress and logs. Alerts about its
    // outcome are sent by the functions, so it needs no notify rights.
    this.catalog.grantReadWrite(taskRole);
    // DeleteObject: a capture whose stored object fails verification removes it rather than leave a bad dump.
    this.backups.grantObjects(
      taskRole,
      's3:GetObject',
      's3:PutObject',
      's3:AbortMultipartUpload',
      's3:DeleteObject',
    );
    this.secrets.grantRead(taskRole);
    // With s3:ListBucket, S3 answers a missing key with 404 (reported as "missing"), not 403.
    this.backups.grantList(taskRole);

    // API: attaches databases (writes secrets), starts and cancels transfers, presigns downloads, deletes backups,
    // and keeps EventBridge schedules in step with the catalog.
    this.secrets.grantWrite(api);
    this.backups.grantObjects(api, 's3:GetObject', 's3:DeleteObject');
    this.backups.grantList(api);
    this.worker.grantRunTasks(api);
    this.worker.grantManageTasks(api);
    this.schedules.grantManageSchedules(api);
    // Cross-app access (src/adapters/aws/iam-app-access.ts): IAM is asked whether the caller's user or role may
    // invoke the other app's routes; an assumed-role session is looked up as its role.
    const iamArn = (resource: string) =>
      Stack.of(this).formatArn({ service: 'iam', region: '', resource, resourceName: '*' });
    api.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['iam:SimulatePrincipalPolicy'],
        resources: [iamArn('user'), iamArn('role')],
      }),
    );
    api.addToRolePolicy(new iam.PolicyStatement({ actions: ['iam:GetRole'], resources: [iamArn('role')] }));
    for (const resource of [iamArn('user'), iamArn('role')]) {
      acknowledgeWildcardResource(
        api,
        resource,
        'Any user or role of the account may call the API; which one is known only per request',
      );
    }

    // Scheduled capture and watchdog start captures; a capture may expire the oldest backup past a limit. The
    // watchdog also checks whether a stuck transfer's task is alive and stops it.
    for (const fn of [capture, watchdog]) {
      this.worker.grantRunTasks(fn);
      this.backups.grantObjects(fn, 's3:DeleteObject');
    }
    this.worker.grantManageTasks(watchdog);

    // Task events: a stopped worker's half-made dump is deleted when its transfer is marked failed, and after a
    // completed backup the app's retention runs (afterTransferFinished), with the same rights as the pruner.
    // Prune: deletes expired dumps, and lists a removed database's objects after its grace period.
    for (const fn of [taskEvents, prune]) {
      this.backups.grantObjects(fn, 's3:DeleteObject');
      this.backups.grantList(fn);
    }
  }
}
