import { describe, expect, it } from 'vitest';
import { jsonLogger } from '../../../src/core/logger.js';
import type { Schedule } from '../../../src/core/ports.js';
import { BUCKET_LIFECYCLE, DAY_MS, MAX_TRANSFER_DAYS } from '../../../src/core/retention.js';
import {
  parseTransferId,
  type Transfer,
  type TransferStatus,
  type TransferType,
  transferName,
} from '../../../src/core/transfer.js';
import { notifyTransferFinished } from '../../../src/core/use-cases/notify-transfer.js';
import { runWatchdog } from '../../../src/core/use-cases/watchdog.js';
import { attachment as fixtureAttachment } from '../../fakes/fixtures.js';
import { type FakeDeps, fakeDeps } from '../../fakes/index.js';

const APP = 'example-app';
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

const attachment = (name: string, removedAt?: string) => fixtureAttachment(APP, name, removedAt);

async function setup(now = '2026-01-15T12:00:00.000Z') {
  const deps = fakeDeps();
  deps.clock.set(now);
  await deps.catalog.putDatabase(attachment('DATABASE'));
  return deps;
}

/** A transfer record `ago` ms before now; running ones get a live fake task. */
async function transfer(
  deps: FakeDeps,
  o: {
    ago: number;
    status: TransferStatus;
    type?: TransferType;
    kind?: 'backup' | 'restore';
    heartbeatAgo?: number;
    cancelRequested?: boolean;
  },
): Promise<Transfer> {
  const num = await deps.catalog.nextTransferNum(APP);
  const kind = o.kind ?? 'backup';
  const type = o.type ?? 'scheduled';
  const id = transferName(kind, type, num);
  const now = deps.clock.now().getTime();
  const at = (ms: number) => new Date(now - ms).toISOString();
  const taskRef = `task-${APP}-${num}`;
  const active = o.status === 'pending' || o.status === 'running';
  if (active) deps.runner.alive.add(taskRef);
  const t: Transfer = {
    app: APP,
    num,
    id,
    kind,
    type,
    status: o.status,
    database: 'DATABASE',
    source: { type: 'database', app: APP, database: 'DATABASE' },
    target:
      kind === 'backup'
        ? { type: 'blob', key: `${type}/${APP}/DATABASE/${id}.dump` }
        : { type: 'database', app: APP, database: 'DATABASE' },
    createdAt: at(o.ago),
    startedAt: o.status === 'pending' ? undefined : at(o.ago - MINUTE),
    finishedAt: active ? undefined : at(o.ago - 10 * MINUTE),
    heartbeatAt: o.heartbeatAgo === undefined ? undefined : at(o.heartbeatAgo),
    taskRef: active ? taskRef : undefined,
    cancelRequested: o.cancelRequested,
  };
  await deps.catalog.createTransfer(t);
  if (kind === 'backup' && t.target.type === 'blob')
    deps.blobs.objects.set(t.target.key, Buffer.from('partial'));
  return t;
}

function schedule(o: Partial<Schedule> = {}): Schedule {
  return {
    app: APP,
    database: 'DATABASE',
    hour: 2,
    minute: 0,
    timezone: 'UTC',
    createdAt: '2025-12-01T00:00:00.000Z',
    ...o,
  };
}

describe('runWatchdog: stuck transfers', () => {
  it('fails a running transfer whose heartbeat is older than 10 minutes, stops it, alerts once', async () => {
    const deps = await setup();
    const t = await transfer(deps, { ago: HOUR, status: 'running', heartbeatAgo: 11 * MINUTE });

    const result = await runWatchdog(deps);

    const stored = await deps.catalog.getTransfer(APP, t.num);
    expect(stored).toMatchObject({
      status: 'failed',
      error: 'Watchdog: no heartbeat from the worker for 11 minutes',
      finishedAt: deps.clock.now().toISOString(),
    });
    expect(result.stuck).toEqual([
      { app: APP, id: t.id, status: 'failed', reason: 'no heartbeat from the worker for 11 minutes' },
    ]);
    expect(deps.runner.stopped).toEqual([
      { taskRef: t.taskRef, reason: 'pgbackups watchdog: no heartbeat from the worker for 11 minutes' },
    ]);
    expect(deps.blobs.objects.size).toBe(0);
    expect(deps.notifier.alerts).toEqual([
      {
        type: 'transfer.failed',
        app: APP,
        database: 'DATABASE',
        transferId: t.id,
        message: `Backup ${t.id} of DATABASE failed: Watchdog: no heartbeat from the worker for 11 minutes`,
        at: deps.clock.now().toISOString(),
      },
    ]);

    deps.clock.advance(HOUR);
    await runWatchdog(deps);
    expect(deps.notifier.alerts).toHaveLength(1);
  });

  it('fails a transfer whose task is gone, however fresh its heartbeat', async () => {
    const deps = await setup();
    const t = await transfer(deps, { ago: HOUR, status: 'running', heartbeatAgo: MINUTE, kind: 'restore' });
    deps.runner.alive.delete(t.taskRef!);
    await runWatchdog(deps);
    expect(await deps.catalog.getTransfer(APP, t.num)).toMatchObject({
      status: 'failed',
      error: 'Watchdog: the worker task is gone',
    });
    expect(deps.notifier.alerts.map((a) => a.message)).toEqual([
      `Restore ${t.id} to DATABASE failed: Watchdog: the worker task is gone`,
    ]);
  });

  it('fails a pending transfer after 30 minutes, not before', async () => {
    const deps = await setup();
    const young = await transfer(deps, { ago: 20 * MINUTE, status: 'pending' });
    const old = await transfer(deps, { ago: 31 * MINUTE, status: 'pending' });
    await runWatchdog(deps);
    expect((await deps.catalog.getTransfer(APP, young.num))!.status).toBe('pending');
    expect(await deps.catalog.getTransfer(APP, old.num)).toMatchObject({
      status: 'failed',
      error: 'Watchdog: the worker did not start within 30 minutes',
    });
  });

  it('leaves healthy transfers alone, and trusts the heartbeat when the runner cannot tell', async () => {
    const deps = await setup();
    const t = await transfer(deps, { ago: 3 * HOUR, status: 'running', heartbeatAgo: 5 * MINUTE });
    Object.assign(deps.runner, { isAlive: async () => undefined });
    const result = await runWatchdog(deps);
    expect(result.stuck).toEqual([]);
    expect((await deps.catalog.getTransfer(APP, t.num))!.status).toBe('running');
    expect(deps.notifier.alerts).toEqual([]);
  });

  it('records cancelled, without an alert, when a cancel had been asked for', async () => {
    const deps = await setup();
    const t = await transfer(deps, {
      ago: HOUR,
      status: 'running',
      heartbeatAgo: 30 * MINUTE,
      cancelRequested: true,
    });
    await runWatchdog(deps);
    expect((await deps.catalog.getTransfer(APP, t.num))!.status).toBe('cancelled');
    expect(deps.notifier.alerts).toEqual([]);
  });

  it('does nothing to a transfer that finished after it was listed (the write is conditional)', async () => {
    const deps = await setup();
    const t = await transfer(deps, { ago: HOUR, status: 'running', heartbeatAgo: 20 * MINUTE });
    const snapshot = await deps.catalog.listActiveTransfers();
    await deps.catalog.updateTransfer(APP, t.num, { status: 'completed' }, ['running']);
    deps.catalog.listActiveTransfers = async () => snapshot;
    await runWatchdog(deps);
    expect((await deps.catalog.getTransfer(APP, t.num))!.status).toBe('completed');
    expect(deps.notifier.alerts).toEqual([]);
    expect(deps.runner.stopped).toEqual([]);
  });
});

describe('runWatchdog: the longest supported transfer, and its metrics', () => {
  it('ends a transfer still running after MAX_TRANSFER_DAYS, heartbeat or not, before S3 aborts its upload', async () => {
    const deps = await setup();
    const t = await transfer(deps, {
      ago: MAX_TRANSFER_DAYS * DAY_MS + 2 * MINUTE,
      status: 'running',
      heartbeatAgo: MINUTE,
    });
    const young = await transfer(deps, {
      ago: MAX_TRANSFER_DAYS * DAY_MS - HOUR,
      status: 'running',
      heartbeatAgo: MINUTE,
    });
    const result = await runWatchdog(deps);
    expect(result.stuck).toEqual([
      {
        app: APP,
        id: t.id,
        status: 'failed',
        reason: `it ran longer than ${MAX_TRANSFER_DAYS} days, the longest transfer pgbackups supports`,
      },
    ]);
    expect((await deps.catalog.getTransfer(APP, young.num))?.status).toBe('running');
    expect(BUCKET_LIFECYCLE.abortIncompleteUploadDays).toBeGreaterThan(MAX_TRANSFER_DAYS);
  });

  it('emits one TransfersFailed and one SchedulesMissed data point as embedded metric format log lines', async () => {
    const lines: Record<string, unknown>[] = [];
    const base = await setup();
    const deps = { ...base, log: jsonLogger({}, (l) => lines.push(JSON.parse(l))) };
    await deps.catalog.putSchedule(schedule());
    await transfer(deps, { ago: 30 * HOUR, status: 'completed' });
    await transfer(deps, { ago: HOUR, status: 'running', heartbeatAgo: HOUR, type: 'manual' });

    await runWatchdog(deps);

    const points = (name: string) =>
      lines.filter(
        (l) =>
          l[name] === 1 &&
          JSON.stringify((l._aws as { CloudWatchMetrics: unknown }).CloudWatchMetrics) ===
            JSON.stringify([
              { Namespace: 'pgbackups', Dimensions: [[]], Metrics: [{ Name: name, Unit: 'Count' }] },
            ]),
      );
    expect(points('TransfersFailed')).toHaveLength(1);
    expect(points('SchedulesMissed')).toHaveLength(1);
    expect(points('TransfersFailed')[0]).toMatchObject({ app: APP, transfer: 'b002', kind: 'backup' });
  });
});

describe('runWatchdog: missed schedules', () => {
  const missed = (deps: FakeDeps) => deps.notifier.alerts.filter((a) => a.type === 'schedule.missed');

  it('starts one catch-up capture and sends one alert when no backup completed in 25 hours', async () => {
    const deps = await setup();
    await deps.catalog.putSchedule(schedule());
    await transfer(deps, { ago: 26 * HOUR, status: 'completed' });

    const result = await runWatchdog(deps);

    expect(result.catchUps).toEqual([
      { app: APP, database: 'DATABASE', transferId: 'a002', error: undefined },
    ]);
    expect(await deps.catalog.getTransfer(APP, 2)).toMatchObject({
      id: 'a002',
      type: 'scheduled',
      status: 'pending',
    });
    expect(deps.runner.started).toEqual([{ app: APP, num: 2, id: 'a002' }]);
    expect(missed(deps)).toEqual([
      {
        type: 'schedule.missed',
        app: APP,
        database: 'DATABASE',
        transferId: 'a002',
        message:
          'Schedule Missed: no completed backup of DATABASE in the last 25 hours (daily at 2:00 UTC); started catch-up backup a002',
        at: deps.clock.now().toISOString(),
      },
    ]);
  });

  it('alerts once per miss: not again every hour while the catch-up runs, nor after it completes', async () => {
    const deps = await setup();
    await deps.catalog.putSchedule(schedule({ hour: 23, minute: 30 }));
    await transfer(deps, { ago: 26 * HOUR, status: 'completed' });
    await runWatchdog(deps);
    for (let h = 0; h < 10; h++) {
      deps.clock.advance(HOUR);
      await deps.catalog.updateTransfer(APP, 2, {
        status: 'running',
        heartbeatAt: deps.clock.now().toISOString(),
      });
      await runWatchdog(deps);
    }
    await deps.catalog.updateTransfer(APP, 2, { status: 'completed' });
    for (let h = 0; h < 10; h++) {
      deps.clock.advance(HOUR);
      await runWatchdog(deps);
    }
    expect(missed(deps)).toHaveLength(1);
    expect(deps.runner.started).toHaveLength(1);
  });

  it('when the catch-up fails too: no new catch-up for 25 hours, then one reminder a day', async () => {
    const deps = await setup();
    await deps.catalog.putSchedule(schedule({ hour: 23, minute: 30 }));
    await transfer(deps, { ago: 26 * HOUR, status: 'completed' });
    // The scheduler itself is broken: only the watchdog starts backups, and every one fails at once.
    deps.runner.failNextStart = new Error('no capacity');
    const starts: string[] = [];
    for (let h = 0; h < 48; h++) {
      const before = deps.notifier.alerts.length;
      deps.runner.failNextStart = new Error('no capacity');
      await runWatchdog(deps);
      if (missed(deps).length > 0 && deps.notifier.alerts.length > before)
        starts.push(deps.clock.now().toISOString());
      deps.clock.advance(HOUR);
    }
    expect(starts).toEqual(['2026-01-15T12:00:00.000Z', '2026-01-16T13:00:00.000Z']);
    expect(missed(deps)).toHaveLength(2);
    expect(missed(deps).map((a) => a.transferId)).toEqual(['a002', 'a003']);
  });

  it('does nothing when a backup completed within 25 hours, even a manual one', async () => {
    const deps = await setup();
    await deps.catalog.putSchedule(schedule());
    await transfer(deps, { ago: 30 * HOUR, status: 'completed' });
    await transfer(deps, { ago: 3 * HOUR, status: 'completed', type: 'manual' });
    expect((await runWatchdog(deps)).catchUps).toEqual([]);
    expect(deps.notifier.alerts).toEqual([]);
  });

  it('waits while a transfer of the database is running', async () => {
    const deps = await setup();
    await deps.catalog.putSchedule(schedule());
    await transfer(deps, { ago: 30 * HOUR, status: 'completed' });
    await transfer(deps, { ago: 2 * HOUR, status: 'running', heartbeatAgo: MINUTE, kind: 'restore' });
    expect((await runWatchdog(deps)).catchUps).toEqual([]);
  });

  it('leaves it to the scheduler when a run is due within 10 minutes', async () => {
    const deps = await setup('2026-01-15T01:55:00.000Z');
    await deps.catalog.putSchedule(schedule());
    await transfer(deps, { ago: 26 * HOUR, status: 'completed' });
    expect((await runWatchdog(deps)).catchUps).toEqual([]);
    deps.clock.set('2026-01-15T02:05:00.000Z');
    expect((await runWatchdog(deps)).catchUps).toEqual([]);
    deps.clock.set('2026-01-15T03:00:00.000Z');
    expect((await runWatchdog(deps)).catchUps).toHaveLength(1);
  });

  it('counts from the schedule creation when there is no backup yet', async () => {
    const deps = await setup();
    await deps.catalog.putSchedule(
      schedule({ createdAt: new Date(deps.clock.now().getTime() - 2 * HOUR).toISOString() }),
    );
    expect((await runWatchdog(deps)).catchUps).toEqual([]);
    deps.clock.advance(24 * HOUR);
    expect((await runWatchdog(deps)).catchUps).toHaveLength(1);
  });

  it('skips the schedule of a removed database without alerting', async () => {
    const deps = await setup();
    await deps.catalog.putDatabase(attachment('DATABASE', '2026-01-10T00:00:00.000Z'));
    await deps.catalog.putSchedule(schedule());
    expect((await runWatchdog(deps)).catchUps).toEqual([]);
    expect(deps.notifier.alerts).toEqual([]);
  });

  it('catches up the run AWS skips in the spring DST gap, once', async () => {
    // 02:30 America/Los_Angeles does not exist on 2026-03-08; the last run was 2026-03-07 02:30 PST (10:30Z).
    const deps = await setup('2026-03-07T10:30:00.000Z');
    await deps.catalog.putSchedule(schedule({ hour: 2, minute: 30, timezone: 'America/Los_Angeles' }));
    await transfer(deps, { ago: 0, status: 'completed' });
    const catchUpsAt: string[] = [];
    deps.clock.set('2026-03-07T10:35:00.000Z');
    for (let h = 0; h < 30; h++) {
      deps.clock.advance(HOUR);
      const r = await runWatchdog(deps);
      for (const c of r.catchUps) {
        catchUpsAt.push(deps.clock.now().toISOString());
        await deps.catalog.updateTransfer(APP, parseTransferId(c.transferId!), { status: 'completed' });
      }
    }
    // 25 hours after the last run (10:30Z on the 7th), at the first hourly pass.
    expect(catchUpsAt).toEqual(['2026-03-08T11:35:00.000Z']);
    expect(missed(deps)).toHaveLength(1);
  });
});

describe('notifyTransferFinished', () => {
  async function finished(deps: FakeDeps, status: TransferStatus): Promise<Transfer> {
    const t = await transfer(deps, { ago: HOUR, status, type: 'manual' });
    return { ...t, error: status === 'failed' ? 'pg_dump exited with code 1' : undefined };
  }

  it('alerts on failure', async () => {
    const deps = await setup();
    const t = await finished(deps, 'failed');
    const alert = await notifyTransferFinished(deps, t);
    expect(alert).toMatchObject({
      type: 'transfer.failed',
      message: 'Backup b001 of DATABASE failed: pg_dump exited with code 1',
    });
    expect(deps.notifier.alerts).toEqual([alert]);
  });

  it('alerts on completion only when the app asks for it', async () => {
    const deps = await setup();
    const t = await finished(deps, 'completed');
    expect(await notifyTransferFinished(deps, t)).toBeUndefined();
    await deps.catalog.putSettings({ app: APP, plan: 'standard', notifyOnSuccess: true });
    expect(await notifyTransferFinished(deps, t)).toMatchObject({
      type: 'transfer.completed',
      message: 'Backup b001 of DATABASE completed',
      at: t.finishedAt,
    });
    expect(deps.notifier.alerts).toHaveLength(1);
  });

  it('does not alert on cancellation', async () => {
    const deps = await setup();
    expect(await notifyTransferFinished(deps, await finished(deps, 'cancelled'))).toBeUndefined();
    expect(deps.notifier.alerts).toEqual([]);
  });

  it('swallows a notifier error', async () => {
    const deps = await setup();
    deps.notifier.notify = async () => {
      throw new Error('SNS throttled');
    };
    await expect(notifyTransferFinished(deps, await finished(deps, 'failed'))).resolves.toBeUndefined();
  });
});
