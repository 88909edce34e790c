import { beforeEach, describe, expect, it } from 'vitest';
import { planRetention, SAFETY_BACKUP_DAYS } from '../../../src/core/retention.js';
import type { Transfer } from '../../../src/core/transfer.js';
import { captureBackup } from '../../../src/core/use-cases/capture-backup.js';
import { copyDatabase } from '../../../src/core/use-cases/copy-database.js';
import { attachDatabase } from '../../../src/core/use-cases/databases.js';
import { restoreBackup } from '../../../src/core/use-cases/restore-backup.js';
import { reconcileStoppedTask } from '../../../src/core/use-cases/transfers.js';
import { type FakeDeps, fakeDeps } from '../../fakes/index.js';

let deps: FakeDeps;
beforeEach(async () => {
  deps = fakeDeps();
  await attachDatabase(deps, { app: 'example-app', name: 'DATABASE', url: 'postgres://u:p@main/db' });
  await attachDatabase(deps, { app: 'example-app', name: 'STAGING', url: 'postgres://u:p@staging/db' });
  await attachDatabase(deps, { app: 'other-app', name: 'DATABASE', url: 'postgres://u:p@other/db' });
  await captureBackup(deps, { app: 'example-app', type: 'manual' });
  await deps.catalog.updateTransfer('example-app', 1, { status: 'completed', sha256: 'a', backupBytes: 1 });
});

describe('safety backups', () => {
  it('records a pending b### of the target, linked to the restore, and starts only the restore', async () => {
    const r = await restoreBackup(deps, { app: 'example-app', backup: 'b001', database: 'STAGING' });
    expect(r).toMatchObject({ id: 'r002', safetyBackup: { app: 'example-app', num: 3, id: 'b003' } });
    expect(await deps.catalog.getTransfer('example-app', 3)).toMatchObject({
      id: 'b003',
      kind: 'backup',
      type: 'safety',
      status: 'pending',
      database: 'STAGING',
      target: { type: 'blob', key: 'safety/example-app/STAGING/b003.dump' },
    });
    // b001 is the beforeEach capture; the safety backup b003 gets no worker of its own.
    expect(deps.runner.started.map((s) => s.id)).toEqual(['b001', 'r002']);
  });

  it('backs up a copy target in its own app', async () => {
    const c = await copyDatabase(deps, { app: 'other-app', from: 'example-app::DATABASE', to: 'DATABASE' });
    expect(c.safetyBackup).toEqual({ app: 'other-app', num: 2, id: 'b002' });
    expect((await deps.catalog.getTransfer('other-app', 2))?.type).toBe('safety');
  });

  it('is skipped on request, and refused when not a boolean', async () => {
    const r = await restoreBackup(deps, {
      app: 'example-app',
      backup: 'b001',
      database: 'STAGING',
      safetyBackup: false,
    });
    expect(r.safetyBackup).toBeUndefined();
    expect((await deps.catalog.listTransfers('example-app')).transfers.map((t) => t.id)).toEqual([
      'r002',
      'b001',
    ]);
    await expect(restoreBackup(deps, { app: 'example-app', safetyBackup: 'no' })).rejects.toThrow(
      /safetyBackup/,
    );
  });

  it('fails the safety backup too when the worker cannot start', async () => {
    deps.runner.failNextStart = new Error('no capacity');
    const r = await restoreBackup(deps, { app: 'example-app', backup: 'b001', database: 'STAGING' });
    expect(r.status).toBe('failed');
    expect(await deps.catalog.getTransfer('example-app', 3)).toMatchObject({
      status: 'failed',
      error: 'Not taken: r002 could not start',
    });
  });

  it('ends a running safety backup with its task, and removes its object', async () => {
    const r = await restoreBackup(deps, { app: 'example-app', backup: 'b001', database: 'STAGING' });
    await deps.catalog.updateTransfer('example-app', 3, { status: 'running' });
    deps.blobs.objects.set('safety/example-app/STAGING/b003.dump', Buffer.from('half'));
    await reconcileStoppedTask(deps, {
      app: 'example-app',
      num: r.num,
      exitCode: 137,
      reason: 'OutOfMemory',
    });
    expect((await deps.catalog.getTransfer('example-app', r.num))?.status).toBe('failed');
    expect((await deps.catalog.getTransfer('example-app', 3))?.status).toBe('failed');
    expect(deps.blobs.objects.has('safety/example-app/STAGING/b003.dump')).toBe(false);
  });
});

describe('retention of safety backups', () => {
  const now = new Date('2026-06-30T12:00:00Z');
  const backup = (num: number, type: Transfer['type'], daysAgo: number): Transfer => ({
    app: 'a-app',
    num,
    id: `b${num}`,
    kind: 'backup',
    type,
    status: 'completed',
    database: 'DATABASE',
    source: { type: 'database', app: 'a-app', database: 'DATABASE' },
    target: { type: 'blob', key: `k${num}` },
    createdAt: new Date(now.getTime() - daysAgo * 86_400_000).toISOString(),
  });

  it(`keeps them ${SAFETY_BACKUP_DAYS} days, outside the manual limit`, () => {
    const plan = planRetention({
      transfers: [
        backup(1, 'manual', 30),
        backup(2, 'safety', 8),
        backup(3, 'safety', 2),
        backup(4, 'manual', 1),
      ],
      databases: [],
      limits: { manual: 1, daily: 7, weekly: 0, monthly: 0 },
      now,
    });
    expect(plan.delete.map((d) => [d.transfer.num, d.reason])).toEqual([
      [1, 'manual limit 1 exceeded (2 completed manual backups of DATABASE)'],
      [2, 'safety backup taken 8 days ago; kept 7 days'],
    ]);
  });
});
