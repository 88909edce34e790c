import { describe, expect, it } from 'vitest';
import { DAY_MS } from '../../../src/core/retention.js';
import {
  type Transfer,
  type TransferStatus,
  type TransferType,
  transferName,
} from '../../../src/core/transfer.js';
import { pruneAll, pruneApp } from '../../../src/core/use-cases/prune.js';
import { attachment as fixtureAttachment } from '../../fakes/fixtures.js';
import { type FakeDeps, fakeDeps } from '../../fakes/index.js';

const APP = 'example-app';

const attachment = (name: string, removedAt?: string) => fixtureAttachment(APP, name, removedAt);

/** Stores a backup record and (unless told otherwise) its object, `daysAgo` before the fake clock's now. */
async function backup(
  deps: FakeDeps,
  o: {
    daysAgo: number;
    type?: TransferType;
    status?: TransferStatus;
    database?: string;
    object?: boolean;
    app?: string;
  },
): Promise<Transfer> {
  const app = o.app ?? APP;
  const num = await deps.catalog.nextTransferNum(app);
  const type = o.type ?? 'manual';
  const database = o.database ?? 'DATABASE';
  const id = transferName('backup', type, num);
  const key = `${type}/${app}/${database}/${id}.dump`;
  const createdAt = new Date(deps.clock.now().getTime() - o.daysAgo * DAY_MS).toISOString();
  const status = o.status ?? 'completed';
  const t: Transfer = {
    app,
    num,
    id,
    kind: 'backup',
    type,
    status,
    database,
    source: { type: 'database', app, database },
    target: { type: 'blob', key },
    createdAt,
    finishedAt: status === 'running' ? undefined : createdAt,
  };
  await deps.catalog.createTransfer(t);
  if (o.object !== false) deps.blobs.objects.set(key, Buffer.from(`dump ${id}`));
  return t;
}

async function setup() {
  const deps = fakeDeps();
  await deps.catalog.putDatabase(attachment('DATABASE'));
  await deps.catalog.putSettings({ app: APP, plan: 'essential', manualLimit: 2 });
  return deps;
}

describe('pruneApp', () => {
  it('dry run lists what would be deleted and why, and touches nothing', async () => {
    const deps = await setup();
    for (const daysAgo of [5, 4, 3, 2]) await backup(deps, { daysAgo });
    await backup(deps, { daysAgo: 9, type: 'scheduled', status: 'failed', object: false });
    const before = [...deps.catalog.transfers.keys()];

    const result = await pruneApp(deps, APP, { dryRun: true });

    expect(result.dryRun).toBe(true);
    expect(result.deleted.map((d) => [d.id, d.reason])).toEqual([
      ['a005', 'failed 9 days ago'],
      ['b002', 'manual limit 2 exceeded (4 completed manual backups of DATABASE)'],
      ['b001', 'manual limit 2 exceeded (4 completed manual backups of DATABASE)'],
    ]);
    expect([...deps.catalog.transfers.keys()]).toEqual(before);
    expect(deps.blobs.objects.size).toBe(4);
  });

  it('deletes the objects and then the records, and a second run deletes nothing', async () => {
    const deps = await setup();
    const made = [];
    for (const daysAgo of [5, 4, 3, 2]) made.push(await backup(deps, { daysAgo }));

    const first = await pruneApp(deps, APP, { dryRun: false });
    expect(first.deleted.map((d) => d.id)).toEqual(['b002', 'b001']);
    expect(first.errors).toEqual([]);
    expect([...deps.blobs.objects.keys()].sort()).toEqual(
      made.slice(2).map((t) => (t.target.type === 'blob' ? t.target.key : '')),
    );
    expect((await deps.catalog.listTransfers(APP)).transfers.map((t) => t.id)).toEqual(['b004', 'b003']);

    const second = await pruneApp(deps, APP, { dryRun: false });
    expect(second.deleted).toEqual([]);
  });

  it('a missing object is fine: the record still goes', async () => {
    const deps = await setup();
    await backup(deps, { daysAgo: 5, object: false });
    await backup(deps, { daysAgo: 4 });
    await backup(deps, { daysAgo: 3 });
    const result = await pruneApp(deps, APP, { dryRun: false });
    expect(result.deleted.map((d) => d.id)).toEqual(['b001']);
    expect(await deps.catalog.getTransfer(APP, 1)).toBeUndefined();
  });

  it('keeps the record when its object cannot be deleted, so the next run retries', async () => {
    const deps = await setup();
    for (const daysAgo of [5, 4, 3]) await backup(deps, { daysAgo });
    const realDelete = deps.blobs.delete.bind(deps.blobs);
    deps.blobs.delete = async () => {
      throw new Error('AccessDenied');
    };
    const failed = await pruneApp(deps, APP, { dryRun: false });
    expect(failed.deleted).toEqual([]);
    expect(failed.errors).toEqual([{ id: 'b001', error: 'AccessDenied' }]);
    expect(await deps.catalog.getTransfer(APP, 1)).toBeDefined();

    deps.blobs.delete = realDelete;
    expect((await pruneApp(deps, APP, { dryRun: false })).deleted.map((d) => d.id)).toEqual(['b001']);
  });

  it('removes the backups of a database removed more than 7 days ago, then its record', async () => {
    const deps = await setup();
    const removedAt = new Date(deps.clock.now().getTime() - 8 * DAY_MS).toISOString();
    await deps.catalog.putDatabase(attachment('PINK', removedAt));
    await backup(deps, { daysAgo: 10, database: 'PINK' });
    await backup(deps, { daysAgo: 9, database: 'PINK', type: 'scheduled' });

    const result = await pruneApp(deps, APP, { dryRun: false });

    expect(result.deleted.map((d) => d.reason)).toEqual([
      'database PINK removed 8 days ago',
      'database PINK removed 8 days ago',
    ]);
    expect(result.removedDatabases).toEqual(['PINK']);
    expect(await deps.catalog.getDatabase(APP, 'PINK')).toBeUndefined();
    expect(deps.blobs.objects.size).toBe(0);
  });

  it('uses the plan defaults when the app has no settings', async () => {
    const deps = fakeDeps();
    await deps.catalog.putDatabase(attachment('DATABASE'));
    for (let i = 30; i > 0; i--) await backup(deps, { daysAgo: i });
    const result = await pruneApp(deps, APP, { dryRun: true });
    // standard: 25 manual backups
    expect(result.deleted).toHaveLength(5);
  });

  it('validates the app name', async () => {
    await expect(pruneApp(fakeDeps(), 'Not An App', { dryRun: true })).rejects.toThrow(/Invalid app name/);
  });
});

describe('pruneAll', () => {
  it('prunes every app it can find and reports the total', async () => {
    const deps = await setup();
    for (const daysAgo of [5, 4, 3]) await backup(deps, { daysAgo });
    await deps.catalog.putSchedule({
      app: APP,
      database: 'DATABASE',
      hour: 2,
      minute: 0,
      timezone: 'UTC',
      createdAt: '2020-01-01T00:00:00.000Z',
    });
    await deps.catalog.putDatabase({ ...attachment('DATABASE'), app: 'other-app' });
    await deps.catalog.putSettings({ app: 'other-app', plan: 'essential', manualLimit: 1 });
    await backup(deps, { app: 'other-app', daysAgo: 3 });
    await backup(deps, { app: 'other-app', daysAgo: 2, status: 'running' });
    await backup(deps, { app: 'other-app', daysAgo: 1 });

    const result = await pruneAll(deps);

    expect(result).toEqual({ apps: 2, deleted: 2, failedApps: [] });
    expect(await deps.catalog.getTransfer('other-app', 1)).toBeUndefined();
    expect(await deps.catalog.getTransfer('other-app', 2)).toBeDefined();
  });

  it('reaches an app with no schedule and no active transfer: manual limit, and a removed database after its grace', async () => {
    const deps = fakeDeps();
    const app = 'quiet-app';
    await deps.catalog.putSettings({ app, plan: 'essential', manualLimit: 1 });
    await deps.catalog.putDatabase({ ...attachment('DATABASE'), app });
    await deps.catalog.putDatabase({
      ...attachment('GONE'),
      app,
      removedAt: new Date(deps.clock.now().getTime() - 8 * DAY_MS).toISOString(),
    });
    const older = await backup(deps, { app, daysAgo: 3 });
    const newer = await backup(deps, { app, daysAgo: 1 });
    const gone = await backup(deps, { app, daysAgo: 9, database: 'GONE' });
    expect(await deps.catalog.listAllSchedules()).toEqual([]);
    expect(await deps.catalog.listActiveTransfers()).toEqual([]);

    expect(await pruneAll(deps)).toEqual({ apps: 1, deleted: 2, failedApps: [] });
    expect(await deps.catalog.getTransfer(app, older.num)).toBeUndefined();
    expect(await deps.catalog.getTransfer(app, gone.num)).toBeUndefined();
    expect(deps.blobs.objects.has(gone.target.type === 'blob' ? gone.target.key : '')).toBe(false);
    expect(await deps.catalog.getTransfer(app, newer.num)).toBeDefined();
    expect(await deps.catalog.getDatabase(app, 'GONE')).toBeUndefined();
  });

  it('throws at the end when an app failed, after pruning the others', async () => {
    const deps = await setup();
    for (const daysAgo of [5, 4, 3]) await backup(deps, { daysAgo });
    deps.catalog.listApps = async () => [APP, 'broken-app'];
    const listTransfers = deps.catalog.listTransfers.bind(deps.catalog);
    deps.catalog.listTransfers = async (app, opts) => {
      if (app === 'broken-app') throw new Error('throttled');
      return listTransfers(app, opts);
    };
    await expect(pruneAll(deps)).rejects.toThrow('Prune failed for 1 app(s): broken-app');
    // The healthy app was pruned regardless.
    expect(await deps.catalog.getTransfer(APP, 1)).toBeUndefined();
  });
});
