import { beforeEach, describe, expect, it } from 'vitest';
import { captureBackup } from '../../../src/core/use-cases/capture-backup.js';
import { copyDatabase } from '../../../src/core/use-cases/copy-database.js';
import { attachDatabase } from '../../../src/core/use-cases/databases.js';
import { deleteBackup } from '../../../src/core/use-cases/delete-backup.js';
import { restoreBackup } from '../../../src/core/use-cases/restore-backup.js';
import { type FakeDeps, fakeDeps } from '../../fakes/index.js';

let deps: FakeDeps;
beforeEach(async () => {
  deps = fakeDeps();
  await attachDatabase(deps, { app: 'example-app', name: 'DATABASE', url: 'postgres://u:p@main/db' });
  await attachDatabase(deps, { app: 'example-app', name: 'PINK', url: 'postgres://u:p@pink/db' });
  await attachDatabase(deps, { app: 'other-app', name: 'DATABASE', url: 'postgres://u:p@other/db' });
});

describe('deleteBackup', () => {
  it('deletes the object and then the record', async () => {
    await captureBackup(deps, { app: 'example-app', type: 'manual' });
    await deps.catalog.updateTransfer('example-app', 1, { status: 'completed', sha256: 'a', backupBytes: 1 });
    deps.blobs.objects.set('manual/example-app/DATABASE/b001.dump', Buffer.from('x'));
    await deleteBackup(deps, { app: 'example-app', id: 'b001' });
    expect(deps.blobs.objects.size).toBe(0);
    expect(await deps.catalog.getTransfer('example-app', 1)).toBeUndefined();
    await expect(deleteBackup(deps, { app: 'example-app', id: 'b001' })).rejects.toMatchObject({
      code: 'not_found',
    });
  });

  it('cancels a running backup before deleting it', async () => {
    await captureBackup(deps, { app: 'example-app', type: 'manual' });
    await deps.catalog.updateTransfer('example-app', 1, { status: 'running' });
    await deleteBackup(deps, { app: 'example-app', id: '1' });
    expect(deps.runner.stopped).toHaveLength(1);
    expect(await deps.catalog.getTransfer('example-app', 1)).toBeUndefined();
  });

  it('refuses to delete a restore', async () => {
    await captureBackup(deps, { app: 'example-app', type: 'manual' });
    await deps.catalog.updateTransfer('example-app', 1, { status: 'completed', sha256: 'a', backupBytes: 1 });
    await restoreBackup(deps, { app: 'example-app', backup: 'b001' });
    await expect(deleteBackup(deps, { app: 'example-app', id: 'r002' })).rejects.toThrow(
      /is a restore, not a backup/,
    );
  });
});

describe('copyDatabase', () => {
  it('creates c### from one attachment to another, across apps too', async () => {
    const c = await copyDatabase(deps, {
      app: 'example-app',
      from: 'DATABASE_URL',
      to: 'HEROKU_POSTGRESQL_PINK',
    });
    expect(c).toMatchObject({
      id: 'c001',
      kind: 'copy',
      database: 'PINK',
      source: { type: 'database', app: 'example-app', database: 'DATABASE' },
      target: { type: 'database', app: 'example-app', database: 'PINK' },
    });
    // One overwrite of PINK at a time: the next copy may start once c001 finished.
    await deps.catalog.updateTransfer('example-app', c.num, { status: 'completed' });
    const cross = await copyDatabase(deps, { app: 'example-app', from: 'other-app::DATABASE', to: 'PINK' });
    expect(cross.source).toEqual({ type: 'database', app: 'other-app', database: 'DATABASE' });
  });

  it('refuses a copy onto itself and unknown names', async () => {
    await expect(copyDatabase(deps, { app: 'example-app', from: 'PINK', to: 'PINK' })).rejects.toThrow(
      /onto itself/,
    );
    await expect(copyDatabase(deps, { app: 'example-app', from: 'BLUE', to: 'PINK' })).rejects.toThrow(
      'Unknown database: BLUE. Valid options are: DATABASE, PINK',
    );
  });
});

describe('restore from another app', () => {
  it("reads the other app's completed backup", async () => {
    await captureBackup(deps, { app: 'other-app', type: 'manual' });
    await deps.catalog.updateTransfer('other-app', 1, { status: 'completed', sha256: 'c', backupBytes: 9 });
    const r = await restoreBackup(deps, { app: 'example-app', backup: 'other-app::b001', database: 'PINK' });
    expect(r).toMatchObject({
      id: 'r001',
      source: { type: 'backup', app: 'other-app', id: 'b001', key: 'manual/other-app/DATABASE/b001.dump' },
      target: { type: 'database', app: 'example-app', database: 'PINK' },
    });
  });
});

describe('restore from a URL', () => {
  it('records an https source and starts the worker', async () => {
    const r = await restoreBackup(deps, {
      app: 'example-app',
      backup: 'https://bucket.s3.example/b001.dump?X-Amz-Signature=abc',
    });
    expect(r).toMatchObject({
      id: 'r001',
      source: { type: 'url', url: 'https://bucket.s3.example/b001.dump?X-Amz-Signature=abc' },
      target: { type: 'database', app: 'example-app', database: 'DATABASE' },
    });
  });

  it.each(['http://bucket.s3.example/b001.dump', 'ftp://x/y', 'file:///etc/passwd'])(
    'refuses %s',
    async (url) => {
      await expect(restoreBackup(deps, { app: 'example-app', backup: url })).rejects.toThrow(
        /only https:\/\//,
      );
      expect(deps.runner.started).toEqual([]);
    },
  );
});

describe('parallel restore option', () => {
  it('records the job count, and refuses nonsense', async () => {
    await captureBackup(deps, { app: 'example-app', type: 'manual' });
    await deps.catalog.updateTransfer('example-app', 1, { status: 'completed', sha256: 'a', backupBytes: 1 });
    const r = await restoreBackup(deps, { app: 'example-app', parallel: 4, safetyBackup: false });
    expect(r.parallel).toBe(4);
    await deps.catalog.updateTransfer('example-app', r.num, { status: 'completed' });
    expect((await restoreBackup(deps, { app: 'example-app', parallel: 1 })).parallel).toBeUndefined();
    await expect(restoreBackup(deps, { app: 'example-app', parallel: 0 })).rejects.toThrow(/1 to 16/);
    await expect(restoreBackup(deps, { app: 'example-app', parallel: 2.5 })).rejects.toThrow(/1 to 16/);
  });

  it("tells the runner how much disk a parallel restore's worker needs, and nothing for an atomic one", async () => {
    await captureBackup(deps, { app: 'example-app', type: 'manual' });
    await deps.catalog.updateTransfer('example-app', 1, {
      status: 'completed',
      sha256: 'a',
      backupBytes: 7_000_000_000,
    });
    const started = deps.runner.started.length;
    const first = await restoreBackup(deps, { app: 'example-app', parallel: 2, safetyBackup: false });
    await deps.catalog.updateTransfer('example-app', first.num, { status: 'completed' });
    await restoreBackup(deps, { app: 'example-app', safetyBackup: false });
    expect(deps.runner.started.slice(started)).toEqual([
      { app: 'example-app', num: 2, id: 'r002', scratchBytes: 7_000_000_000 },
      { app: 'example-app', num: 3, id: 'r003' },
    ]);
  });
});
