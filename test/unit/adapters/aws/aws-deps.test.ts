import { describe, expect, it } from 'vitest';
import { buildAwsDeps } from '../../../../src/adapters/aws/aws-deps.js';
import { EcsTaskRunner } from '../../../../src/adapters/aws/ecs-task-runner.js';
import { AWS_FUNCTION_ENV_NAMES, parseAwsFunctionEnv } from '../../../../src/config/function-env.js';

const env = {
  PGBACKUPS_TABLE: 'PgBackups-CatalogTable',
  PGBACKUPS_BUCKET: 'pgbackups-backupsbucket',
  PGBACKUPS_CLUSTER: 'arn:aws:ecs:eu-west-1:111122223333:cluster/pgbackups',
  PGBACKUPS_TASK_DEFINITION: 'arn:aws:ecs:eu-west-1:111122223333:task-definition/PgBackupsWorker:1',
  PGBACKUPS_SUBNETS: 'subnet-a, subnet-b',
  PGBACKUPS_SECURITY_GROUPS: 'sg-worker',
  PGBACKUPS_ASSIGN_PUBLIC_IP: 'true',
  PGBACKUPS_SECRETS_PREFIX: 'pgbackups',
  PGBACKUPS_SCHEDULE_GROUP: 'PgBackups-Schedules',
  PGBACKUPS_SCHEDULER_ROLE_ARN: 'arn:aws:iam::111122223333:role/scheduler',
  PGBACKUPS_DEAD_LETTER_QUEUE_ARN: 'arn:aws:sqs:eu-west-1:111122223333:dead-letters',
  PGBACKUPS_SCHEDULED_CAPTURE_ARN:
    'arn:aws:lambda:eu-west-1:111122223333:function:PgBackups-scheduled-capture',
  PGBACKUPS_ALERTS_TOPIC_ARN: 'arn:aws:sns:eu-west-1:111122223333:alerts',
  PGBACKUPS_EVENT_BUS: 'default',
  PGBACKUPS_DB_HOST_ALLOWLIST: '10.0.0.0/16',
  AWS_REGION: 'eu-west-1',
};

describe('buildAwsDeps', () => {
  it('builds every port from the function environment', () => {
    const deps = buildAwsDeps(env);
    expect(deps.runner).toBeInstanceOf(EcsTaskRunner);
    expect(Object.keys(deps).sort()).toEqual(
      [
        'blobs',
        'catalog',
        'clock',
        'databaseHosts',
        'log',
        'notifier',
        'runner',
        'scheduler',
        'secrets',
      ].sort(),
    );
  });

  it('parses lists and flags once', () => {
    const cfg = parseAwsFunctionEnv(env);
    expect(cfg.PGBACKUPS_SUBNETS).toEqual(['subnet-a', 'subnet-b']);
    expect(cfg.PGBACKUPS_ASSIGN_PUBLIC_IP).toBe(true);
  });

  it('names each missing variable', () => {
    const { PGBACKUPS_TABLE: _t, PGBACKUPS_SCHEDULE_GROUP: _g, ...partial } = env;
    expect(() => buildAwsDeps(partial)).toThrow(
      'Invalid pgbackups environment: PGBACKUPS_TABLE is not set; PGBACKUPS_SCHEDULE_GROUP is not set',
    );
  });

  it('names a malformed variable', () => {
    expect(() => buildAwsDeps({ ...env, PGBACKUPS_ASSIGN_PUBLIC_IP: 'yes' })).toThrow(
      /PGBACKUPS_ASSIGN_PUBLIC_IP: /,
    );
  });

  it('expects the names the stack sets (checked against the template in test/infra)', () => {
    expect(AWS_FUNCTION_ENV_NAMES).toEqual(Object.keys(env).filter((k) => k !== 'AWS_REGION'));
  });
});
