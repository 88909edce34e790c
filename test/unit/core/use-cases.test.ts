import { beforeEach, describe, expect, it } from 'vitest';
import { captureBackup } from '../../../src/core/use-cases/capture-backup.js';
import { attachDatabase, listDatabases, removeDatabase } from '../../../src/core/use-cases/databases.js';
import { restoreBackup } from '../../../src/core/use-cases/restore-backup.js';
import { getSettings, updateSettings } from '../../../src/core/use-cases/settings.js';
import {
  backupUrl,
  cancelTransfer,
  reconcileStoppedTask,
  requireCompletedBackup,
} from '../../../src/core/use-cases/transfers.js';
import { type FakeDeps, fakeDeps } from '../../fakes/index.js';

const URL_WITH_PASSWORD = 'postgres://alice:s3cr3t-pw@db.example:5433/shop?sslmode=require';

let deps: FakeDeps;
beforeEach(async () => {
  deps = fakeDeps();
  await attachDatabase(deps, { app: 'example-app', name: 'DATABASE_URL', url: URL_WITH_PASSWORD });
});

async function completeBackup(num: number) {
  const t = await deps.catalog.getTransfer('example-app', num);
  if (t?.target.type !== 'blob') throw new Error('no backup');
  await deps.blobs.objects.set(t.target.key, Buffer.from('PGDMP'));
  await deps.catalog.updateTransfer('example-app', num, {
    status: 'completed',
    sha256: 'f'.repeat(64),
    backupBytes: 5,
    finishedAt: deps.clock.now().toISOString(),
  });
}

describe('databases', () => {
  it('stores the URL only in the secret store and never shows the password', async () => {
    const [db] = await listDatabases(deps, 'example-app');
    expect(db).toEqual({
      name: 'DATABASE',
      host: 'db.example',
      port: 5433,
      database: 'shop',
      user: 'alice',
      createdAt: deps.clock.now().toISOString(),
    });
    expect(JSON.stringify(await deps.catalog.listDatabases('example-app'))).not.toContain('s3cr3t-pw');
    expect([...deps.secrets.values.values()]).toEqual([URL_WITH_PASSWORD]);
  });

  it('refuses a bad URL without echoing it', async () => {
    const bad = 'mysql://bob:hunter2@h/db';
    const err = await attachDatabase(deps, { app: 'example-app', name: 'PINK', url: bad }).catch((e) => e);
    expect(err).toMatchObject({ code: 'bad_request' });
    expect(err.message).toMatch(/postgres:\/\//);
    expect(err.message).not.toContain('hunter2');
  });

  it('removes the secret and keeps the attachment as removed', async () => {
    await removeDatabase(deps, { app: 'example-app', name: 'DATABASE' });
    expect(deps.secrets.values.size).toBe(0);
    expect(await listDatabases(deps, 'example-app')).toEqual([]);
    expect(
      (await deps.catalog.listDatabases('example-app', { includeRemoved: true }))[0]?.removedAt,
    ).toBeDefined();
    await expect(captureBackup(deps, { app: 'example-app', type: 'manual' })).rejects.toThrow(
      /has no databases/,
    );
  });
});

describe('captureBackup', () => {
  it('creates b001 pending and starts its worker', async () => {
    const t = await captureBackup(deps, { app: 'example-app', type: 'manual' });
    expect(t).toMatchObject({
      id: 'b001',
      kind: 'backup',
      type: 'manual',
      status: 'pending',
      database: 'DATABASE',
      target: { type: 'blob', key: 'manual/example-app/DATABASE/b001.dump' },
      taskRef: 'task-example-app-1',
    });
    expect(deps.runner.started).toEqual([{ app: 'example-app', num: 1, id: 'b001' }]);
  });

  it('names scheduled captures a### from the shared counter', async () => {
    await captureBackup(deps, { app: 'example-app', type: 'manual' });
    const t = await captureBackup(deps, { app: 'example-app', type: 'scheduled' });
    expect(t.id).toBe('a002');
    expect(t.target).toEqual({ type: 'blob', key: 'scheduled/example-app/DATABASE/a002.dump' });
  });

  it('lists the valid databases when the name is unknown', async () => {
    await expect(
      captureBackup(deps, { app: 'example-app', database: 'PINK', type: 'manual' }),
    ).rejects.toThrow('Unknown database: PINK. Valid options are: DATABASE');
  });

  it('fails the transfer when the worker cannot start', async () => {
    deps.runner.failNextStart = new Error('no capacity');
    const t = await captureBackup(deps, { app: 'example-app', type: 'manual' });
    expect(t).toMatchObject({ status: 'failed', error: 'Could not start the worker: no capacity' });
  });
});

describe('restoreBackup', () => {
  it('restores the newest completed backup into DATABASE by default', async () => {
    await captureBackup(deps, { app: 'example-app', type: 'manual' });
    await completeBackup(1);
    await captureBackup(deps, { app: 'example-app', type: 'manual' }); // b002 still pending
    const r = await restoreBackup(deps, { app: 'example-app', extensions: 'public.hstore, pgcrypto' });
    expect(r).toMatchObject({
      id: 'r003',
      kind: 'restore',
      database: 'DATABASE',
      source: { type: 'backup', id: 'b001', num: 1, sha256: 'f'.repeat(64), bytes: 5 },
      target: { type: 'database', app: 'example-app', database: 'DATABASE' },
      extensions: ['public.hstore', 'pgcrypto'],
    });
  });

  it('defaults to the newest manual or scheduled backup of the target itself, never a safety backup', async () => {
    await attachDatabase(deps, { app: 'example-app', name: 'STAGING', url: 'postgres://u:p@staging/db' });
    await captureBackup(deps, { app: 'example-app', type: 'manual' }); // b001 of DATABASE
    await completeBackup(1);
    await captureBackup(deps, { app: 'example-app', type: 'manual', database: 'STAGING' }); // b002 of STAGING
    await completeBackup(2);
    // r003 overwrites STAGING and takes the safety backup b004 of it; b004 completes, and is the newest.
    const first = await restoreBackup(deps, { app: 'example-app', backup: 'b001', database: 'STAGING' });
    expect(first.safetyBackup?.id).toBe('b004');
    await completeBackup(4);
    await deps.catalog.updateTransfer('example-app', first.num, { status: 'completed' });

    const r = await restoreBackup(deps, { app: 'example-app', database: 'STAGING', safetyBackup: false });
    expect(r.source).toMatchObject({ type: 'backup', id: 'b002' });
    await deps.catalog.updateTransfer('example-app', r.num, { status: 'completed' });
    const intoMain = await restoreBackup(deps, { app: 'example-app', safetyBackup: false });
    expect(intoMain.source).toMatchObject({ type: 'backup', id: 'b001' });
    expect((await requireCompletedBackup(deps, 'example-app')).id).toBe('b001');
    expect((await requireCompletedBackup(deps, 'example-app', undefined, 'STAGING')).id).toBe('b002');
  });

  it("refuses a default when the target has no backup of its own, listing the app's backups", async () => {
    await attachDatabase(deps, { app: 'example-app', name: 'STAGING', url: 'postgres://u:p@staging/db' });
    await captureBackup(deps, { app: 'example-app', type: 'manual' });
    await completeBackup(1);
    await expect(restoreBackup(deps, { app: 'example-app', database: 'STAGING' })).rejects.toMatchObject({
      code: 'unprocessable',
      message:
        "No completed manual or scheduled backup of STAGING on example-app, so there is no default to use. Name one of the app's backups: b001 (manual backup of DATABASE)",
    });
    expect(deps.runner.started.map((s) => s.id)).toEqual(['b001']);
  });

  it('answers a second overwrite of the same target with 409 naming the running one', async () => {
    await captureBackup(deps, { app: 'example-app', type: 'manual' });
    await completeBackup(1);
    const first = await restoreBackup(deps, { app: 'example-app', backup: 'b001' });
    await deps.catalog.updateTransfer('example-app', first.num, { status: 'running' });
    const before = (await deps.catalog.listTransfers('example-app')).transfers.length;
    await expect(restoreBackup(deps, { app: 'example-app', backup: 'b001' })).rejects.toMatchObject({
      code: 'conflict',
      message:
        'DATABASE of example-app is already being overwritten by r002 (running). Wait for it to finish, or cancel it with pgbackups cancel r002 -a example-app',
    });
    // Nothing was recorded for the refused one: no restore, no safety backup.
    expect((await deps.catalog.listTransfers('example-app')).transfers.length).toBe(before);
    await deps.catalog.updateTransfer('example-app', first.num, { status: 'failed' });
    expect((await restoreBackup(deps, { app: 'example-app', backup: 'b001' })).status).toBe('pending');
  });

  it('finishes a --parallel restore that failed after its commit: same backup, bytes it read, nothing wiped', async () => {
    await captureBackup(deps, { app: 'example-app', type: 'manual' });
    await completeBackup(1);
    const r = await restoreBackup(deps, { app: 'example-app', parallel: 4, keepExtensions: ['postgis'] });
    await expect(restoreBackup(deps, { app: 'example-app', finish: r.id })).rejects.toThrow(
      /cannot be finished: only a --parallel restore whose indexes and constraints failed/,
    );
    await deps.catalog.updateTransfer('example-app', r.num, {
      status: 'failed',
      sha256: 'e'.repeat(64),
      processedBytes: 5,
    });
    const f = await restoreBackup(deps, { app: 'example-app', finish: r.id });
    expect(f).toMatchObject({
      kind: 'restore',
      finishOf: { id: r.id, num: r.num },
      parallel: 4,
      keepExtensions: ['postgis'],
      source: { type: 'backup', id: 'b001', sha256: 'e'.repeat(64), bytes: 5 },
      target: { type: 'database', app: 'example-app', database: 'DATABASE' },
    });
    expect(f.safetyBackup).toBeUndefined();
    await expect(restoreBackup(deps, { app: 'example-app', finish: f.id })).rejects.toThrow(
      /cannot be finished/,
    );
  });

  it('records extensions to keep, by name only', async () => {
    await captureBackup(deps, { app: 'example-app', type: 'manual' });
    await completeBackup(1);
    const r = await restoreBackup(deps, { app: 'example-app', keepExtensions: ['postgis', 'postgis'] });
    expect(r.keepExtensions).toEqual(['postgis']);
    await expect(
      restoreBackup(deps, { app: 'example-app', keepExtensions: ['public.postgis'] }),
    ).rejects.toThrow(/name alone/);
  });

  it('explains what to do when there is nothing to restore', async () => {
    await expect(restoreBackup(deps, { app: 'example-app' })).rejects.toMatchObject({
      code: 'unprocessable',
      message:
        'No completed manual or scheduled backup of DATABASE on example-app, so there is no default to use. Capture one with pgbackups capture DATABASE -a example-app',
    });
    await captureBackup(deps, { app: 'example-app', type: 'manual' });
    await expect(restoreBackup(deps, { app: 'example-app', backup: 'b001' })).rejects.toThrow(
      'Backup b001 is pending; only a completed backup can be used',
    );
    await expect(restoreBackup(deps, { app: 'example-app', backup: 'b009' })).rejects.toMatchObject({
      code: 'not_found',
    });
    await expect(restoreBackup(deps, { app: 'example-app', extensions: ['bad name'] })).rejects.toMatchObject(
      {
        code: 'bad_request',
      },
    );
  });
});

describe('cancelTransfer', () => {
  it('cancels a pending transfer at once and stops its task', async () => {
    await captureBackup(deps, { app: 'example-app', type: 'manual' });
    const t = await cancelTransfer(deps, { app: 'example-app', id: 'b001' });
    expect(t.status).toBe('cancelled');
    expect(deps.runner.stopped).toEqual([
      { taskRef: 'task-example-app-1', reason: 'Cancelled by user (b001)' },
    ]);
  });

  it('asks a running transfer to stop and leaves the final status to its worker', async () => {
    await captureBackup(deps, { app: 'example-app', type: 'manual' });
    await deps.catalog.updateTransfer('example-app', 1, { status: 'running' });
    const t = await cancelTransfer(deps, { app: 'example-app', id: '1' });
    expect(t).toMatchObject({ status: 'running', cancelRequested: true });
    expect(deps.runner.stopped).toHaveLength(1);
  });

  it('refuses to cancel a finished transfer with a conflict', async () => {
    await captureBackup(deps, { app: 'example-app', type: 'manual' });
    await completeBackup(1);
    await expect(cancelTransfer(deps, { app: 'example-app', id: 'b001' })).rejects.toMatchObject({
      code: 'conflict',
      message: 'Transfer b001 cannot be cancelled: it has already finished (completed)',
    });
  });
});

describe('reconcileStoppedTask', () => {
  it('fails a transfer whose worker died, removes its object and alerts once', async () => {
    await captureBackup(deps, { app: 'example-app', type: 'manual' });
    await deps.catalog.updateTransfer('example-app', 1, { status: 'running' });
    await deps.blobs.objects.set('manual/example-app/DATABASE/b001.dump', Buffer.from('half'));
    const t = await reconcileStoppedTask(deps, {
      app: 'example-app',
      num: 1,
      exitCode: 137,
      reason: 'OutOfMemory',
    });
    expect(t).toMatchObject({
      status: 'failed',
      error: 'The worker stopped before finishing: OutOfMemory (exit code 137)',
    });
    expect(deps.blobs.objects.size).toBe(0);
    await reconcileStoppedTask(deps, { app: 'example-app', num: 1, exitCode: 137, reason: 'OutOfMemory' });
    expect(deps.notifier.alerts).toHaveLength(1);
    expect(deps.notifier.alerts[0]).toMatchObject({ type: 'transfer.failed', transferId: 'b001' });
  });

  it('leaves a transfer the worker finished alone', async () => {
    await captureBackup(deps, { app: 'example-app', type: 'manual' });
    await completeBackup(1);
    const t = await reconcileStoppedTask(deps, { app: 'example-app', num: 1, exitCode: 0, reason: 'exited' });
    expect(t?.status).toBe('completed');
    expect(deps.blobs.objects.size).toBe(1);
  });

  it('records cancelled when the stop was asked for', async () => {
    await captureBackup(deps, { app: 'example-app', type: 'manual' });
    await deps.catalog.updateTransfer('example-app', 1, { status: 'running', cancelRequested: true });
    const t = await reconcileStoppedTask(deps, { app: 'example-app', num: 1, reason: 'killed' });
    expect(t?.status).toBe('cancelled');
    expect(deps.notifier.alerts).toEqual([]);
  });
});

describe('backupUrl', () => {
  it('presigns the newest object for an hour by default and bounds the lifetime', async () => {
    await captureBackup(deps, { app: 'example-app', type: 'manual' });
    await completeBackup(1);
    const res = await backupUrl(deps, { app: 'example-app', id: 'b001' });
    expect(res.url).toBe('https://blobs.example/manual/example-app/DATABASE/b001.dump?expires=3600');
    expect(res.expiresAt).toBe(new Date(deps.clock.now().getTime() + 3600_000).toISOString());
    await expect(
      backupUrl(deps, { app: 'example-app', id: 'b001', expiresInSeconds: 43201 }),
    ).rejects.toThrow(/60 to 43200/);
    expect((await requireCompletedBackup(deps, 'example-app')).id).toBe('b001');
  });
});

describe('settings', () => {
  it('defaults to the standard plan and applies overrides', async () => {
    expect((await getSettings(deps, 'example-app')).limits).toEqual({
      manual: 25,
      daily: 7,
      weekly: 4,
      monthly: 0,
    });
    const s = await updateSettings(deps, 'example-app', { plan: 'premium', manualLimit: 3 });
    expect(s.limits).toEqual({ manual: 3, daily: 7, weekly: 8, monthly: 12 });
    const cleared = await updateSettings(deps, 'example-app', { manualLimit: null });
    expect(cleared.limits.manual).toBe(50);
    await expect(updateSettings(deps, 'example-app', { plan: 'gold' })).rejects.toThrow(
      /Invalid settings: plan/,
    );
    await expect(updateSettings(deps, 'example-app', { nope: 1 })).rejects.toMatchObject({
      code: 'bad_request',
    });
  });
});

describe('scheduledCapture', () => {
  it('starts an a### backup when the database is idle', async () => {
    const { scheduledCapture } = await import('../../../src/core/use-cases/capture-backup.js');
    const t = await scheduledCapture(deps, { app: 'example-app', database: 'DATABASE' });
    expect(t).toMatchObject({ id: 'a001', type: 'scheduled', status: 'pending' });
  });

  it('skips, without creating a transfer, while a transfer of that database runs', async () => {
    const { scheduledCapture } = await import('../../../src/core/use-cases/capture-backup.js');
    await captureBackup(deps, { app: 'example-app', type: 'manual' });
    await deps.catalog.updateTransfer('example-app', 1, { status: 'running' });
    expect(await scheduledCapture(deps, { app: 'example-app', database: 'DATABASE' })).toBeUndefined();
    expect((await deps.catalog.listTransfers('example-app')).transfers).toHaveLength(1);
  });
});

describe('afterTransferFinished via reconcile', () => {
  it('alerts once for a failure the worker recorded itself, however many stop events arrive', async () => {
    await captureBackup(deps, { app: 'example-app', type: 'manual' });
    await deps.catalog.updateTransfer('example-app', 1, {
      status: 'failed',
      error: 'pg_dump failed (exit code 1)',
    });
    for (let i = 0; i < 3; i++) {
      await reconcileStoppedTask(deps, { app: 'example-app', num: 1, exitCode: 0, reason: 'exited' });
    }
    expect(deps.notifier.alerts).toEqual([
      expect.objectContaining({
        type: 'transfer.failed',
        transferId: 'b001',
        message: expect.stringMatching(/pg_dump failed/),
      }),
    ]);
  });

  it('applies the manual limit once a new backup has completed', async () => {
    await updateSettings(deps, 'example-app', { manualLimit: 2 });
    for (let n = 1; n <= 3; n++) {
      await captureBackup(deps, { app: 'example-app', type: 'manual' });
      deps.clock.advance(60_000);
      await completeBackup(n);
      await reconcileStoppedTask(deps, { app: 'example-app', num: n, exitCode: 0, reason: 'exited' });
    }
    const left = (await deps.catalog.listTransfers('example-app')).transfers.map((t) => t.id);
    expect(left).toEqual(['b003', 'b002']);
    expect([...deps.blobs.objects.keys()].sort()).toEqual([
      'manual/example-app/DATABASE/b002.dump',
      'manual/example-app/DATABASE/b003.dump',
    ]);
  });
});

describe('connection URL checks at attach time', () => {
  it.each([
    ['postgres://u:p@h/%E0%A4%A', /database name has a malformed %-escape/],
    ['postgres://%E0@h/d', /user has a malformed %-escape/],
    ['postgres://u:%zz@h/d', /password has a malformed %-escape/],
    ['postgres://u:p@h/d?bogus=1', /unsupported parameter "bogus"/],
  ])('refuses %s with a 400 that does not echo it', async (url, message) => {
    const err = await attachDatabase(deps, { app: 'example-app', name: 'PINK', url }).catch((e) => e);
    expect(err).toMatchObject({ code: 'bad_request', message: expect.stringMatching(message) });
    expect(err.message).not.toContain(url);
  });

  it('accepts the libpq parameters the worker passes on', async () => {
    await expect(
      attachDatabase(deps, {
        app: 'example-app',
        name: 'PINK',
        url: 'postgres://u:p@h/d?sslmode=require&connect_timeout=5',
      }),
    ).resolves.toMatchObject({ name: 'PINK' });
  });
});
