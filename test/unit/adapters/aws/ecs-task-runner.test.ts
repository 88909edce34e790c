import {
  DescribeTasksCommand,
  ECSClient,
  InvalidParameterException,
  RunTaskCommand,
  StopTaskCommand,
} from '@aws-sdk/client-ecs';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  EcsTaskRunner,
  ephemeralStorageGiB,
  runTaskClientToken,
  stoppedCheckFromEvent,
  stoppedWorkerFromEvent,
} from '../../../../src/adapters/aws/ecs-task-runner.js';

const ecs = mockClient(ECSClient);
const CLUSTER = 'arn:aws:ecs:eu-west-1:111122223333:cluster/pgbackups';
const TASK = 'arn:aws:ecs:eu-west-1:111122223333:task/pgbackups/0123456789abcdef';

const runner = new EcsTaskRunner({
  client: new ECSClient({ region: 'eu-west-1' }),
  cluster: CLUSTER,
  taskDefinition: 'arn:aws:ecs:eu-west-1:111122223333:task-definition/PgBackupsWorker:7',
  subnets: ['subnet-a', 'subnet-b'],
  securityGroups: ['sg-worker'],
  assignPublicIp: true,
});

beforeEach(() => ecs.reset());

describe('EcsTaskRunner.start', () => {
  it('runs one Fargate task with the transfer in the worker overrides and an idempotency token', async () => {
    ecs.on(RunTaskCommand).resolves({ tasks: [{ taskArn: TASK }], failures: [] });

    const result = await runner.start({ app: 'example-app', num: 12, id: 'b012' });

    expect(result).toEqual({ taskRef: TASK });
    expect(ecs).toHaveReceivedCommandTimes(RunTaskCommand, 1);
    expect(ecs.commandCalls(RunTaskCommand)[0]!.args[0].input).toEqual({
      cluster: CLUSTER,
      taskDefinition: 'arn:aws:ecs:eu-west-1:111122223333:task-definition/PgBackupsWorker:7',
      launchType: 'FARGATE',
      count: 1,
      networkConfiguration: {
        awsvpcConfiguration: {
          subnets: ['subnet-a', 'subnet-b'],
          securityGroups: ['sg-worker'],
          assignPublicIp: 'ENABLED',
        },
      },
      overrides: {
        containerOverrides: [
          {
            name: 'worker',
            environment: [
              { name: 'PGBACKUPS_APP', value: 'example-app' },
              { name: 'PGBACKUPS_TRANSFER_NUM', value: '12' },
            ],
          },
        ],
      },
      clientToken: runTaskClientToken(CLUSTER, 'example-app', 12),
      startedBy: 'pgbackups',
      tags: [
        { key: 'pgbackups:app', value: 'example-app' },
        { key: 'pgbackups:transfer', value: 'b012' },
      ],
      enableECSManagedTags: true,
    });
  });

  it('derives a stable token of at most 64 characters per app and transfer', () => {
    const token = runTaskClientToken(CLUSTER, 'example-app', 12);
    expect(token).toMatch(/^[0-9a-f]{64}$/);
    expect(runTaskClientToken(CLUSTER, 'example-app', 12)).toBe(token);
    expect(runTaskClientToken(CLUSTER, 'example-app', 13)).not.toBe(token);
    expect(runTaskClientToken(CLUSTER, 'other-app', 12)).not.toBe(token);
  });

  it('disables the public IP when asked', async () => {
    ecs.on(RunTaskCommand).resolves({ tasks: [{ taskArn: TASK }] });
    const privateRunner = new EcsTaskRunner({
      client: new ECSClient({ region: 'eu-west-1' }),
      cluster: CLUSTER,
      taskDefinition: 'td',
      subnets: ['subnet-a'],
      securityGroups: ['sg-worker'],
      assignPublicIp: false,
    });
    await privateRunner.start({ app: 'example-app', num: 1, id: 'b001' });
    expect(ecs).toHaveReceivedCommandWith(RunTaskCommand, {
      networkConfiguration: {
        awsvpcConfiguration: {
          subnets: ['subnet-a'],
          securityGroups: ['sg-worker'],
          assignPublicIp: 'DISABLED',
        },
      },
    });
  });

  it('sizes the ephemeral storage of a task that keeps an archive on disk (a --parallel restore)', async () => {
    ecs.on(RunTaskCommand).resolves({ tasks: [{ taskArn: TASK }] });
    // 100 GiB dump: 110 GiB + 4 GiB of margin.
    await runner.start({ app: 'example-app', num: 4, id: 'r004', scratchBytes: 100 * 1024 ** 3 });
    const overrides = ecs.commandCalls(RunTaskCommand)[0]!.args[0].input.overrides;
    expect(overrides?.ephemeralStorage).toEqual({ sizeInGiB: 114 });
    expect(overrides?.containerOverrides?.[0]?.name).toBe('worker');
  });

  it("never asks for less than Fargate's 21 GiB, and leaves the task default alone without scratch", async () => {
    expect(ephemeralStorageGiB(1_000_000)).toBe(21);
    expect(ephemeralStorageGiB(0)).toBe(21);
    ecs.on(RunTaskCommand).resolves({ tasks: [{ taskArn: TASK }] });
    await runner.start({ app: 'example-app', num: 5, id: 'b005' });
    expect(ecs.commandCalls(RunTaskCommand)[0]!.args[0].input.overrides).not.toHaveProperty(
      'ephemeralStorage',
    );
  });

  it("asks for at most Fargate's 200 GiB, however big the archive", async () => {
    ecs.on(RunTaskCommand).resolves({ tasks: [{ taskArn: TASK }] });
    expect(ephemeralStorageGiB(178 * 1024 ** 3)).toBe(200);
    await runner.start({ app: 'example-app', num: 6, id: 'r006', scratchBytes: 250e9 });
    expect(ecs.commandCalls(RunTaskCommand)[0]!.args[0].input.overrides?.ephemeralStorage).toEqual({
      sizeInGiB: 200,
    });
  });

  it('turns failures[] into an error naming the reason', async () => {
    ecs.on(RunTaskCommand).resolves({
      tasks: [],
      failures: [{ arn: 'arn:aws:ecs:…', reason: 'RESOURCE:MEMORY', detail: 'Fargate capacity unavailable' }],
    });
    await expect(runner.start({ app: 'example-app', num: 3, id: 'a003' })).rejects.toThrow(
      'ECS could not start the worker for example-app a003: RESOURCE:MEMORY: Fargate capacity unavailable',
    );
  });

  it('fails clearly when RunTask returns no task', async () => {
    ecs.on(RunTaskCommand).resolves({});
    await expect(runner.start({ app: 'example-app', num: 3, id: 'a003' })).rejects.toThrow(
      'ECS could not start the worker for example-app a003: RunTask returned no task',
    );
  });

  it('lets SDK errors through unchanged', async () => {
    const error = new InvalidParameterException({
      message: 'No Container Instances were found',
      $metadata: {},
    });
    ecs.on(RunTaskCommand).rejects(error);
    await expect(runner.start({ app: 'example-app', num: 3, id: 'a003' })).rejects.toBe(error);
  });
});

describe('EcsTaskRunner.stop', () => {
  it('stops the task with the reason, cut to 255 characters', async () => {
    ecs.on(StopTaskCommand).resolves({});
    await runner.stop(TASK, `Cancelled by user (b012) ${'x'.repeat(300)}`);
    const input = ecs.commandCalls(StopTaskCommand)[0]!.args[0].input;
    expect(input).toEqual({
      cluster: CLUSTER,
      task: TASK,
      reason: `Cancelled by user (b012) ${'x'.repeat(300)}`.slice(0, 255),
    });
    expect(input.reason).toHaveLength(255);
  });
});

describe('EcsTaskRunner.isAlive', () => {
  it('is true while the task has not stopped', async () => {
    ecs.on(DescribeTasksCommand).resolves({ tasks: [{ taskArn: TASK, lastStatus: 'RUNNING' }] });
    await expect(runner.isAlive(TASK)).resolves.toBe(true);
    expect(ecs).toHaveReceivedCommandExactlyOnceWith(DescribeTasksCommand, {
      cluster: CLUSTER,
      tasks: [TASK],
    });
  });

  it('is false once the task stopped', async () => {
    ecs.on(DescribeTasksCommand).resolves({ tasks: [{ taskArn: TASK, lastStatus: 'STOPPED' }] });
    await expect(runner.isAlive(TASK)).resolves.toBe(false);
  });

  it('is false when ECS no longer knows the task', async () => {
    ecs.on(DescribeTasksCommand).resolves({ tasks: [], failures: [{ arn: TASK, reason: 'MISSING' }] });
    await expect(runner.isAlive(TASK)).resolves.toBe(false);
  });
});

describe('stoppedWorkerFromEvent', () => {
  const detail = {
    clusterArn: CLUSTER,
    taskArn: TASK,
    lastStatus: 'STOPPED',
    stopCode: 'EssentialContainerExited',
    stoppedReason: 'Essential container in task exited',
    containers: [
      { name: 'worker', exitCode: 137, reason: 'OutOfMemoryError: Container killed due to memory usage' },
    ],
    overrides: {
      containerOverrides: [
        {
          name: 'worker',
          environment: [
            { name: 'PGBACKUPS_APP', value: 'example-app' },
            { name: 'PGBACKUPS_TRANSFER_NUM', value: '12' },
          ],
        },
      ],
    },
  };

  it('reads the transfer from the worker overrides, with exit code and stop reason', () => {
    expect(stoppedWorkerFromEvent(detail)).toEqual({
      app: 'example-app',
      num: 12,
      exitCode: 137,
      reason:
        'EssentialContainerExited: Essential container in task exited: OutOfMemoryError: Container killed due to memory usage',
    });
  });

  it('handles a task that never started its container', () => {
    const { containers: _, ...rest } = detail;
    expect(
      stoppedWorkerFromEvent({
        ...rest,
        stopCode: 'TaskFailedToStart',
        stoppedReason: 'CannotPullContainerError: …',
      }),
    ).toEqual({
      app: 'example-app',
      num: 12,
      exitCode: undefined,
      reason: 'TaskFailedToStart: CannotPullContainerError: …',
    });
  });

  it('ignores tasks that are not stopped pgbackups workers', () => {
    expect(stoppedWorkerFromEvent({ ...detail, lastStatus: 'RUNNING' })).toBeUndefined();
    expect(stoppedWorkerFromEvent({ ...detail, overrides: { containerOverrides: [] } })).toBeUndefined();
    expect(stoppedWorkerFromEvent(undefined)).toBeUndefined();
  });
});

describe('EcsTaskRunner.startCheck (pgbackups doctor)', () => {
  it('runs the same task definition on the same network, with the check in the overrides', async () => {
    ecs.on(RunTaskCommand).resolves({ tasks: [{ taskArn: TASK }], failures: [] });

    expect(await runner.startCheck({ app: 'example-app', checkId: 'chk-0123456789ab' })).toEqual({
      taskRef: TASK,
    });
    const input = ecs.commandCalls(RunTaskCommand)[0]!.args[0].input;
    expect(input).toEqual({
      cluster: CLUSTER,
      taskDefinition: 'arn:aws:ecs:eu-west-1:111122223333:task-definition/PgBackupsWorker:7',
      launchType: 'FARGATE',
      count: 1,
      networkConfiguration: {
        awsvpcConfiguration: {
          subnets: ['subnet-a', 'subnet-b'],
          securityGroups: ['sg-worker'],
          assignPublicIp: 'ENABLED',
        },
      },
      overrides: {
        containerOverrides: [
          {
            name: 'worker',
            environment: [
              { name: 'PGBACKUPS_APP', value: 'example-app' },
              { name: 'PGBACKUPS_CHECK_ID', value: 'chk-0123456789ab' },
            ],
          },
        ],
      },
      clientToken: expect.stringMatching(/^[0-9a-f]{64}$/),
      startedBy: 'pgbackups',
      tags: [
        { key: 'pgbackups:app', value: 'example-app' },
        { key: 'pgbackups:check', value: 'chk-0123456789ab' },
      ],
      enableECSManagedTags: true,
    });
    // Never the token of a transfer of the same app.
    expect(input.clientToken).not.toBe(runTaskClientToken(CLUSTER, 'example-app', 1));
  });

  it('turns failures[] into an error naming the check and the reason', async () => {
    ecs.on(RunTaskCommand).resolves({ tasks: [], failures: [{ reason: 'RESOURCE:FARGATE' }] });
    await expect(runner.startCheck({ app: 'example-app', checkId: 'chk-0123456789ab' })).rejects.toThrow(
      'ECS could not start the worker for example-app check chk-0123456789ab: RESOURCE:FARGATE',
    );
  });
});

describe('stoppedCheckFromEvent', () => {
  const detail = (environment: { name: string; value: string }[]) => ({
    clusterArn: CLUSTER,
    taskArn: TASK,
    lastStatus: 'STOPPED',
    stopCode: 'TaskFailedToStart',
    stoppedReason: 'CannotPullContainerError: pull image manifest has been retried 5 time(s)',
    overrides: { containerOverrides: [{ name: 'worker', environment }] },
  });

  it("reads the check from a check worker's overrides, with the stop reason", () => {
    const event = detail([
      { name: 'PGBACKUPS_APP', value: 'example-app' },
      { name: 'PGBACKUPS_CHECK_ID', value: 'chk-0123456789ab' },
    ]);
    expect(stoppedCheckFromEvent(event)).toEqual({
      app: 'example-app',
      checkId: 'chk-0123456789ab',
      exitCode: undefined,
      reason: 'TaskFailedToStart: CannotPullContainerError: pull image manifest has been retried 5 time(s)',
    });
    // A check's task is not a transfer's: the transfer reconciler ignores it.
    expect(stoppedWorkerFromEvent(event)).toBeUndefined();
  });

  it("ignores a transfer's worker and a task still running", () => {
    const transfer = detail([
      { name: 'PGBACKUPS_APP', value: 'example-app' },
      { name: 'PGBACKUPS_TRANSFER_NUM', value: '12' },
    ]);
    expect(stoppedCheckFromEvent(transfer)).toBeUndefined();
    expect(
      stoppedCheckFromEvent({
        ...detail([
          { name: 'PGBACKUPS_APP', value: 'example-app' },
          { name: 'PGBACKUPS_CHECK_ID', value: 'chk-0123456789ab' },
        ]),
        lastStatus: 'RUNNING',
      }),
    ).toBeUndefined();
  });
});
