/** Deployment checks (`pgbackups doctor`): the use cases and routes on in-memory fakes. */
import { beforeEach, describe, expect, it } from 'vitest';
import { localAccess } from '../../../src/api/app-access.js';
import { createRouter } from '../../../src/api/router.js';
import {
  bucketHint,
  CHECK_DEADLINE_MS,
  CHECK_TTL_SECONDS,
  databaseHint,
  workerStartHint,
  workerStoppedHint,
} from '../../../src/core/check.js';
import { getCheck, reconcileStoppedCheck, startCheck } from '../../../src/core/use-cases/checks.js';
import { attachDatabase } from '../../../src/core/use-cases/databases.js';
import { type FakeDeps, fakeDeps } from '../../fakes/index.js';

let deps: FakeDeps;
const APP = 'example-app';

beforeEach(async () => {
  deps = fakeDeps();
  await attachDatabase(deps, { app: APP, name: 'DATABASE', url: 'postgres://u:pa55word@db.example.com/app' });
});

describe('startCheck', () => {
  it('records a pending check with a one-day expiry and starts a check worker, not a transfer', async () => {
    const c = await startCheck(deps, { app: APP });
    expect(c).toMatchObject({
      app: APP,
      database: 'DATABASE',
      status: 'pending',
      steps: [],
      taskRef: `task-${APP}-${c.id}`,
      expiresAt: Date.parse('2026-01-15T12:00:00.000Z') / 1000 + CHECK_TTL_SECONDS,
    });
    expect(c.id).toMatch(/^chk-[0-9a-f]{12}$/);
    expect(deps.runner.startedChecks).toEqual([{ app: APP, checkId: c.id }]);
    // Nothing in the transfer world: no worker for a transfer, no number taken, nothing listed.
    expect(deps.runner.started).toEqual([]);
    expect((await deps.catalog.listTransfers(APP)).transfers).toEqual([]);
    expect(await deps.catalog.nextTransferNum(APP)).toBe(1);
  });

  it('names the valid databases when the one asked for is not attached, and starts nothing', async () => {
    await expect(startCheck(deps, { app: APP, database: 'PINK' })).rejects.toThrow(
      'Unknown database: PINK. Valid options are: DATABASE',
    );
    expect(deps.runner.startedChecks).toEqual([]);
  });

  it('fails the check at once, in words, when the worker task cannot start', async () => {
    deps.runner.failNextStart = new Error(
      'ECS could not start the worker for example-app check chk-1: RESOURCE:FARGATE: vCPU limit reached',
    );
    const c = await startCheck(deps, { app: APP });
    expect(c.status).toBe('failed');
    expect(c.steps).toEqual([
      {
        name: 'worker',
        ok: false,
        message:
          'Could not start a worker task: ECS could not start the worker for example-app check chk-1: RESOURCE:FARGATE: vCPU limit reached',
        hint: expect.stringContaining('Fargate On-Demand vCPU'),
      },
    ]);
  });
});

describe('getCheck and reconcileStoppedCheck', () => {
  it('fails a check whose task stopped before the worker finished it, with the stop reason', async () => {
    const c = await startCheck(deps, { app: APP });
    const stopped = await reconcileStoppedCheck(deps, {
      app: APP,
      checkId: c.id,
      reason: 'TaskFailedToStart: CannotPullContainerError: pull image manifest has been retried 5 time(s)',
    });
    expect(stopped?.status).toBe('failed');
    expect(stopped?.steps[0]).toMatchObject({
      name: 'worker',
      ok: false,
      message: expect.stringContaining('CannotPullContainerError'),
      hint: expect.stringContaining('route to ECR'),
    });
    // A duplicate event, or one after the worker recorded its result, changes nothing.
    await deps.catalog.updateCheck(APP, c.id, { status: 'passed' }, ['failed']);
    expect((await reconcileStoppedCheck(deps, { app: APP, checkId: c.id, reason: 'again' }))?.status).toBe(
      'passed',
    );
  });

  it('leaves a check the worker finished alone', async () => {
    const c = await startCheck(deps, { app: APP });
    await deps.catalog.updateCheck(APP, c.id, { status: 'running' }, ['pending']);
    await deps.catalog.updateCheck(APP, c.id, { status: 'passed', steps: [] }, ['running']);
    const after = await reconcileStoppedCheck(deps, {
      app: APP,
      checkId: c.id,
      reason: 'Essential container exited',
    });
    expect(after?.status).toBe('passed');
  });

  it('fails a check nothing reported on past the deadline when it is read, so no caller waits forever', async () => {
    const c = await startCheck(deps, { app: APP });
    deps.clock.advance(CHECK_DEADLINE_MS - 1000);
    expect((await getCheck(deps, { app: APP, id: c.id })).status).toBe('pending');
    deps.clock.advance(2000);
    const late = await getCheck(deps, { app: APP, id: c.id });
    expect(late.status).toBe('failed');
    expect(late.steps[0]?.message).toBe(
      "The check's worker never started: the worker task did not report within 10 minutes",
    );
  });

  it('refuses a malformed id and says how long checks are kept when one is gone', async () => {
    await expect(getCheck(deps, { app: APP, id: 'b001' })).rejects.toThrow('Invalid check id');
    await expect(getCheck(deps, { app: APP, id: 'chk-000000000000' })).rejects.toThrow(
      'Check chk-000000000000 not found for example-app: checks are kept about a day',
    );
  });
});

describe('check routes', () => {
  it('start a check (202) and read it back (200) without the task reference or expiry', async () => {
    const route = createRouter(deps, { access: localAccess, checkRestoreUrl: async () => {} });
    const started = await route({
      method: 'POST',
      path: `/v1/apps/${APP}/checks`,
      query: {},
      body: JSON.stringify({ database: 'DATABASE' }),
    });
    expect(started.status).toBe(202);
    const body = JSON.parse(started.body ?? '{}');
    expect(body).toEqual({
      id: expect.stringMatching(/^chk-/),
      app: APP,
      database: 'DATABASE',
      status: 'pending',
      createdAt: '2026-01-15T12:00:00.000Z',
      startedAt: null,
      finishedAt: null,
      steps: [],
      serverVersion: null,
      dumpClient: null,
      clients: [],
    });
    const got = await route({ method: 'GET', path: `/v1/apps/${APP}/checks/${body.id}`, query: {} });
    expect(got.status).toBe(200);
    expect(JSON.parse(got.body ?? '{}')).toEqual(body);
    const unknownField = await route({
      method: 'POST',
      path: `/v1/apps/${APP}/checks`,
      query: {},
      body: JSON.stringify({ url: 'postgres://u:secret@h/d' }),
    });
    expect(unknownField.status).toBe(400);
    expect(unknownField.body).not.toContain('secret');
  });
});

describe('what a failed step says to do', () => {
  it.each([
    ['password authentication failed for user "app"', 'credentials'],
    ['no pg_hba.conf entry for host "10.0.1.5"', 'pg_hba.conf'],
    ['database "nope" does not exist', 'names a database or user'],
    [
      'Database host refused: 10.9.0.1 is a private address outside the database host allowlist (10.0.0.0/16)',
      'databaseHostAllowlist',
    ],
    ['connection to server at "10.0.0.5", port 5432 failed: Connection refused', 'security group'],
    ['connection to server at "db", port 5432 failed: timeout expired', 'security group'],
  ])('database: %s', (message, words) => {
    expect(databaseHint(message)).toContain(words);
  });

  it.each([
    ['AccessDenied: User is not authorized to perform kms:GenerateDataKey', 'KMS key'],
    ['AccessDenied: Access Denied', 's3:PutObject'],
    ['NoSuchBucket: The specified bucket does not exist', 'does not exist'],
  ])('bucket: %s', (message, words) => {
    expect(bucketHint(message)).toContain(words);
  });

  it('worker: quota, network, and a task that never reported', () => {
    expect(workerStartHint('RESOURCE:FARGATE')).toContain('Service Quotas');
    expect(workerStartHint('InvalidParameterException: subnet-0abc does not exist')).toContain('subnets');
    expect(workerStoppedHint('ResourceInitializationError: unable to pull secrets')).toContain('NAT gateway');
    expect(workerStoppedHint('the worker task did not report within 10 minutes')).toContain('ECS console');
  });
});
