import { ArnFormat, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Platform } from 'aws-cdk-lib/aws-ecr-assets';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { WORKER_CONTAINER } from '../../src/config/env-names.js';
import { acknowledgeGuard, acknowledgeLogGroup, acknowledgeWildcardResource } from '../nag.js';

/** Props of {@link Worker}. */
export interface WorkerProps {
  /** VPC of the cluster (tasks get their subnets and security group per RunTask). */
  readonly vpc: ec2.IVpc;
  /** Repository root: the Docker build context of `containers/worker/Dockerfile`. */
  readonly repoRoot: string;
  /** Task-definition environment: resource names only, never a secret. */
  readonly environment: Readonly<Record<string, string>>;
  /**
   * The worker image. Tests pass `ContainerImage.fromRegistry(...)` so no Docker context is staged.
   * @default - built from `containers/worker/Dockerfile` by the CDK toolkit at deploy time (never at synth)
   */
  readonly image?: ecs.ContainerImage;
  /**
   * vCPU units (1024 = 1 vCPU). pg_dump is single-threaded; compression is the CPU cost.
   * @default 1024
   */
  readonly cpu?: number;
  /**
   * Memory in MiB; must be valid for `cpu` on Fargate (1 vCPU: 2048–8192).
   * @default 2048
   */
  readonly memoryMiB?: number;
  /**
   * Ephemeral storage in GiB (21–200), used only by parallel restores, which download the dump first.
   * @default 50
   */
  readonly ephemeralStorageGiB?: number;
  /**
   * How long the worker's logs are kept.
   * @default logs.RetentionDays.THREE_MONTHS
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * Enable CloudWatch Container Insights on the cluster.
   * @default true
   */
  readonly containerInsights?: boolean;
}

/**
 * The worker: an ECS cluster and an arm64 Fargate task definition running `containers/worker/main.ts`
 * (pg_dump / pg_restore / psql). Tasks are started one per transfer with RunTask; nothing runs while idle.
 */
export class Worker extends Construct {
  public readonly cluster: ecs.Cluster;
  public readonly taskDefinition: ecs.FargateTaskDefinition;
  public readonly container: ecs.ContainerDefinition;
  public readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: WorkerProps) {
    super(scope, id);
    this.cluster = new ecs.Cluster(this, 'Cluster', {
      vpc: props.vpc,
      containerInsightsV2:
        (props.containerInsights ?? true) ? ecs.ContainerInsights.ENABLED : ecs.ContainerInsights.DISABLED,
    });
    this.taskDefinition = new ecs.FargateTaskDefinition(this, 'TaskDefinition', {
      cpu: props.cpu ?? 1024,
      memoryLimitMiB: props.memoryMiB ?? 2048,
      ephemeralStorageGiB: props.ephemeralStorageGiB ?? 50,
      runtimePlatform: {
        cpuArchitecture: ecs.CpuArchitecture.ARM64,
        operatingSystemFamily: ecs.OperatingSystemFamily.LINUX,
      },
    });
    this.logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.logRetention ?? logs.RetentionDays.THREE_MONTHS,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    acknowledgeLogGroup(this.logGroup);
    this.container = this.taskDefinition.addContainer(WORKER_CONTAINER, {
      containerName: WORKER_CONTAINER,
      image:
        props.image ??
        ecs.ContainerImage.fromAsset(props.repoRoot, {
          file: 'containers/worker/Dockerfile',
          platform: Platform.LINUX_ARM64,
        }),
      essential: true,
      // The task's whole memory, as a hard limit (the container is alone in its task).
      memoryLimitMiB: props.memoryMiB ?? 2048,
      // containers/worker/Dockerfile runs as `node`; stated here too so a root image is refused.
      user: 'node',
      // Names of the table, bucket and topic only; the worker reads connection URLs from Secrets Manager.
      environment: { ...props.environment, AWS_REGION: Stack.of(this).region },
      logging: ecs.LogDrivers.awsLogs({ streamPrefix: 'worker', logGroup: this.logGroup }),
      // An init process forwards StopTask's SIGTERM to node, and reaps pg_dump/psql children.
      linuxParameters: new ecs.LinuxParameters(this, 'LinuxParameters', { initProcessEnabled: true }),
      // Fargate's maximum: time to kill pg_dump, abort the multipart upload and record `cancelled`.
      stopTimeout: Duration.seconds(120),
    });
    if (this.taskDefinition.executionRole) {
      Validations.of(this.taskDefinition.executionRole).acknowledge({
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason:
          'ecr:GetAuthorizationToken has no resource-level permissions (AWS requires *); image pulls are limited to the asset repository',
      });
    }
    acknowledgeGuard(this.taskDefinition, {
      ecs_containers_readonly_access_check:
        "A parallel restore keeps the downloaded archive on the task's ephemeral storage (src/worker/parallel-restore.ts), and pg tools write temporary files; the task holds no state between runs",
    });
    Validations.of(this.taskDefinition).acknowledge({
      id: 'AwsSolutions-ECS2',
      reason:
        'The environment holds resource names only (table, bucket, topic, region); connection URLs are read from Secrets Manager at run time by ARN',
    });
  }

  /** ARN pattern of this cluster's tasks. */
  get taskArnPattern(): string {
    return Stack.of(this).formatArn({
      service: 'ecs',
      resource: 'task',
      resourceName: `${this.cluster.clusterName}/*`,
      arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
    });
  }

  /** Start worker tasks: RunTask on this task definition (with its roles passed), tagging the tasks it starts. */
  grantRunTasks(grantee: iam.IGrantable): void {
    this.taskDefinition.grantRun(grantee);
    // RunTask with `tags` also needs ecs:TagResource, limited here to tags set by RunTask itself.
    iam.Grant.addToPrincipal({
      grantee,
      actions: ['ecs:TagResource'],
      resourceArns: [this.taskArnPattern],
      conditions: { StringEquals: { 'ecs:CreateAction': 'RunTask' } },
    });
    acknowledgeWildcardResource(
      grantee,
      this.taskArnPattern,
      'Task ids exist only once RunTask returns; ecs:TagResource is limited to tasks of this cluster and to RunTask',
    );
  }

  /** Stop and describe worker tasks of this cluster. */
  grantManageTasks(grantee: iam.IGrantable): void {
    iam.Grant.addToPrincipal({
      grantee,
      actions: ['ecs:StopTask', 'ecs:DescribeTasks'],
      resourceArns: [this.taskArnPattern],
      conditions: { ArnEquals: { 'ecs:cluster': this.cluster.clusterArn } },
    });
    acknowledgeWildcardResource(
      grantee,
      this.taskArnPattern,
      'Task ids exist only once RunTask returns; StopTask/DescribeTasks are limited to tasks of this cluster',
    );
  }
}
