import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ECSClient } from '@aws-sdk/client-ecs';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { S3Client } from '@aws-sdk/client-s3';
import { SchedulerClient } from '@aws-sdk/client-scheduler';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SNSClient } from '@aws-sdk/client-sns';
import { type AwsFunctionEnv, parseAwsFunctionEnv } from '../../config/function-env.js';
import type { CoreDeps } from '../../core/deps.js';
import { jsonLogger } from '../../core/logger.js';
import { systemClock } from '../../core/ports.js';
import { databaseHostGuard } from '../net/url-guard.js';
import { AwsNotifier } from './aws-notifier.js';
import { DynamoDbCatalog } from './dynamodb-catalog.js';
import { EcsTaskRunner } from './ecs-task-runner.js';
import { EventBridgeSchedulerAdapter } from './eventbridge-scheduler.js';
import { S3BlobStore } from './s3-blob-store.js';
import { SecretsManagerSecrets } from './secrets-manager-secrets.js';

/**
 * The composition root of every Lambda function: real AWS adapters over clients built once per cold start
 * (docs/architecture.md, "Core and ports"). Call it at module scope.
 */
export function buildAwsDeps(env: NodeJS.ProcessEnv = process.env): CoreDeps {
  return awsDepsFrom(parseAwsFunctionEnv(env));
}

/** {@link buildAwsDeps} from an environment already parsed (a handler that needs more of it parses it once). */
export function awsDepsFrom(cfg: AwsFunctionEnv): CoreDeps {
  const region = cfg.AWS_REGION;
  return {
    catalog: DynamoDbCatalog.fromClient(new DynamoDBClient({ region }), cfg.PGBACKUPS_TABLE),
    blobs: new S3BlobStore({ client: new S3Client({ region }), bucket: cfg.PGBACKUPS_BUCKET }),
    secrets: new SecretsManagerSecrets({
      client: new SecretsManagerClient({ region }),
      prefix: cfg.PGBACKUPS_SECRETS_PREFIX,
    }),
    runner: new EcsTaskRunner({
      client: new ECSClient({ region }),
      cluster: cfg.PGBACKUPS_CLUSTER,
      taskDefinition: cfg.PGBACKUPS_TASK_DEFINITION,
      subnets: cfg.PGBACKUPS_SUBNETS,
      securityGroups: cfg.PGBACKUPS_SECURITY_GROUPS,
      assignPublicIp: cfg.PGBACKUPS_ASSIGN_PUBLIC_IP,
    }),
    scheduler: new EventBridgeSchedulerAdapter({
      client: new SchedulerClient({ region }),
      groupName: cfg.PGBACKUPS_SCHEDULE_GROUP,
      targetArn: cfg.PGBACKUPS_SCHEDULED_CAPTURE_ARN,
      roleArn: cfg.PGBACKUPS_SCHEDULER_ROLE_ARN,
      deadLetterArn: cfg.PGBACKUPS_DEAD_LETTER_QUEUE_ARN,
    }),
    notifier: new AwsNotifier({
      events: new EventBridgeClient({ region }),
      sns: new SNSClient({ region }),
      topicArn: cfg.PGBACKUPS_ALERTS_TOPIC_ARN,
      eventBusName: cfg.PGBACKUPS_EVENT_BUS,
    }),
    clock: systemClock,
    log: jsonLogger({ service: 'pgbackups' }),
    // In AWS a tenant never reaches the function's or the worker's own host.
    databaseHosts: databaseHostGuard({ allowLoopback: false, allowlist: cfg.PGBACKUPS_DB_HOST_ALLOWLIST }),
  };
}
