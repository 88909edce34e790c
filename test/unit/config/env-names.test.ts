import { ECSClient, RunTaskCommand } from '@aws-sdk/client-ecs';
import { mockClient } from 'aws-sdk-client-mock';
import { describe, expect, it } from 'vitest';
import { EcsTaskRunner, stoppedWorkerFromEvent } from '../../../src/adapters/aws/ecs-task-runner.js';
import { ENV, WORKER_CONTAINER } from '../../../src/config/env-names.js';
import { AwsFunctionEnv, parseAwsFunctionEnv } from '../../../src/config/function-env.js';
import { localEnvSchema, parseLocalEnv } from '../../../src/config/local-env.js';
import { parseWorkerEnv, workerEnvSchema } from '../../../src/config/worker-env.js';

const NAMES: readonly string[] = Object.values(ENV);
const readBy = {
  worker: Object.keys(workerEnvSchema.shape),
  functions: Object.keys(AwsFunctionEnv.shape),
  local: Object.keys(localEnvSchema.shape),
};

describe('environment names', () => {
  it('are unique', () => {
    expect(new Set(NAMES).size).toBe(NAMES.length);
  });

  it('cover every variable each parser reads (besides the runtime-set AWS_REGION)', () => {
    for (const keys of Object.values(readBy)) {
      for (const key of keys) if (key !== 'AWS_REGION') expect(NAMES).toContain(key);
    }
  });

  it('give the worker, with the names the runner sets per task, everything it needs', async () => {
    // What RunTask sends is read back by the worker's parser and by the task-events reconciler.
    const ecs = mockClient(ECSClient);
    ecs
      .on(RunTaskCommand)
      .resolves({ tasks: [{ taskArn: 'arn:aws:ecs:eu-west-1:1:task/c/t' }], failures: [] });
    const runner = new EcsTaskRunner({
      client: new ECSClient({ region: 'eu-west-1' }),
      cluster: 'c',
      taskDefinition: 'td',
      subnets: ['subnet-a'],
      securityGroups: ['sg-a'],
      assignPublicIp: false,
    });
    await runner.start({ app: 'shop', num: 12, id: 'b012' });
    const sent = ecs
      .commandCalls(RunTaskCommand)[0]!
      .args[0].input.overrides!.containerOverrides!.map((c) => ({
        name: c.name!,
        environment: c.environment!.map((e) => ({ name: e.name!, value: e.value! })),
      }));
    ecs.restore();
    expect(sent.map((c) => c.name)).toEqual([WORKER_CONTAINER]);
    const perTask = Object.fromEntries(sent[0]!.environment.map((e) => [e.name, e.value]));
    const env = parseWorkerEnv({ ...perTask, [ENV.TABLE]: 't', [ENV.BUCKET]: 'b' });
    expect([env.PGBACKUPS_APP, env.PGBACKUPS_TRANSFER_NUM]).toEqual(['shop', 12]);
    expect(
      stoppedWorkerFromEvent({
        lastStatus: 'STOPPED',
        overrides: { containerOverrides: sent },
        containers: [{ name: WORKER_CONTAINER }],
      }),
    ).toMatchObject({ app: 'shop', num: 12 });
  });
});

describe('one error formatter for every entrypoint', () => {
  it('says which variables are not set and what is wrong with the others', () => {
    expect(() => parseWorkerEnv({ [ENV.TRANSFER_NUM]: 'x', [ENV.TABLE]: 't', [ENV.BUCKET]: 'b' })).toThrow(
      /^Invalid worker environment: PGBACKUPS_APP is not set; PGBACKUPS_TRANSFER_NUM: /,
    );
    expect(() => parseAwsFunctionEnv({})).toThrow(
      /^Invalid pgbackups environment: PGBACKUPS_TABLE is not set;/,
    );
    expect(() => parseLocalEnv({ [ENV.PORT]: '70000' })).toThrow(
      /^Invalid local stack environment: PGBACKUPS_PORT: /,
    );
  });

  it('names a bad CIDR in the allowlist, wherever it is read', () => {
    const bad = { [ENV.DB_HOST_ALLOWLIST]: '10.0.0.0/99' };
    expect(() => parseLocalEnv(bad)).toThrow(/PGBACKUPS_DB_HOST_ALLOWLIST: Invalid CIDR "10.0.0.0\/99"/);
    expect(() =>
      parseWorkerEnv({
        ...bad,
        [ENV.APP]: 'a',
        [ENV.TRANSFER_NUM]: '1',
        [ENV.TABLE]: 't',
        [ENV.BUCKET]: 'b',
      }),
    ).toThrow(/PGBACKUPS_DB_HOST_ALLOWLIST: Invalid CIDR/);
  });

  it('reads the local stack defaults and lists', () => {
    const env = parseLocalEnv({
      [ENV.ALLOWED_HOSTS]: ' a:1, ,b:2 ',
      [ENV.WEBHOOK_URL]: 'http://127.0.0.1:9/h',
    });
    expect(env).toMatchObject({
      PGBACKUPS_PORT: 8787,
      PGBACKUPS_DATA_DIR: '.pgbackups',
      PGBACKUPS_APP: 'local',
      PGBACKUPS_DB_ALLOW_LOOPBACK: true,
      PGBACKUPS_DB_HOST_ALLOWLIST: [],
      PGBACKUPS_ALLOWED_HOSTS: ['a:1', 'b:2'],
      PGBACKUPS_ALLOWED_ORIGINS: [],
      PGBACKUPS_WEBHOOK_URL: 'http://127.0.0.1:9/h',
    });
  });
});

describe('empty values', () => {
  it('mean unset for the webhook and the restore temp dir, as before they were parsed', () => {
    const local = parseLocalEnv({ [ENV.WEBHOOK_URL]: '', [ENV.WEBHOOK_SECRET]: '' });
    expect([local.PGBACKUPS_WEBHOOK_URL, local.PGBACKUPS_WEBHOOK_SECRET]).toEqual([undefined, undefined]);
    const worker = parseWorkerEnv({
      [ENV.APP]: 'a',
      [ENV.TRANSFER_NUM]: '1',
      [ENV.TABLE]: 't',
      [ENV.BUCKET]: 'b',
      [ENV.TMPDIR]: '',
    });
    expect(worker.PGBACKUPS_TMPDIR).toBeUndefined();
  });
});
