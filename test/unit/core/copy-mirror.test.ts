/**
 * A copy that reads or overwrites another app's database is listed on both apps (src/core/mirror.ts): the app that
 * started it holds the copy; every other app it touches holds a stateless mirror under its own id.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { localAccess } from '../../../src/api/app-access.js';
import { createRouter } from '../../../src/api/router.js';
import { DAY_MS } from '../../../src/core/retention.js';
import { captureBackup } from '../../../src/core/use-cases/capture-backup.js';
import { copyDatabase } from '../../../src/core/use-cases/copy-database.js';
import { attachDatabase } from '../../../src/core/use-cases/databases.js';
import { deleteBackup } from '../../../src/core/use-cases/delete-backup.js';
import { pruneApp } from '../../../src/core/use-cases/prune.js';
import { restoreBackup } from '../../../src/core/use-cases/restore-backup.js';
import { cancelTransfer, getTransfer, listTransfers } from '../../../src/core/use-cases/transfers.js';
import { type FakeDeps, fakeDeps } from '../../fakes/index.js';

const SRC = 'src-app';
const DST = 'dst-app';

let deps: FakeDeps;
beforeEach(async () => {
  deps = fakeDeps();
  await attachDatabase(deps, { app: SRC, name: 'DATABASE', url: 'postgres://u:p@src/db' });
  await attachDatabase(deps, { app: DST, name: 'DATABASE', url: 'postgres://u:p@dst/db' });
  await attachDatabase(deps, { app: DST, name: 'STAGING', url: 'postgres://u:p@staging/db' });
  // dst-app has a transfer of its own already, so its numbering differs from src-app's.
  await captureBackup(deps, { app: DST, type: 'manual' });
});

const ids = async (app: string) =>
  (await listTransfers(deps, { app })).transfers.map((t) => `${t.id} ${t.kind} ${t.status}`);

describe('a copy into another app', () => {
  it('is listed on both apps, each under its own id, with the side it played', async () => {
    const copy = await copyDatabase(deps, { app: SRC, from: 'DATABASE', to: `${DST}::STAGING` });
    expect(copy).toMatchObject({ app: SRC, id: 'c001', mirrors: [{ app: DST, num: 2, id: 'c002' }] });
    // On dst-app: the mirror c002, then the safety backup of STAGING numbered after it (listed just above).
    expect(await ids(DST)).toEqual(['b003 backup pending', 'c002 copy pending', 'b001 backup pending']);
    expect(await ids(SRC)).toEqual(['c001 copy pending']);
    const seen = await getTransfer(deps, { app: DST, id: 'c002' });
    expect(seen).toMatchObject({
      app: DST,
      num: 2,
      id: 'c002',
      kind: 'copy',
      database: 'STAGING',
      source: { type: 'database', app: SRC, database: 'DATABASE' },
      target: { type: 'database', app: DST, database: 'STAGING' },
      safetyBackup: { app: DST, id: 'b003' },
      mirrorOf: { app: SRC, num: 1, id: 'c001' },
    });
    expect(seen.mirrors).toBeUndefined();
    // One worker, for the copy itself; the mirror is a record only.
    // (b001 is dst-app's own capture from beforeEach.)
    expect(deps.runner.started.map((r) => `${r.app}/${r.id}`)).toEqual([`${DST}/b001`, `${SRC}/c001`]);
  });

  it("shows the copy's live status, progress, result and logs on the other app: one record holds them", async () => {
    await copyDatabase(deps, { app: SRC, from: 'DATABASE', to: `${DST}::STAGING`, safetyBackup: false });
    await deps.catalog.updateTransfer(SRC, 1, { status: 'running', processedBytes: 1234 }, ['pending']);
    expect(await getTransfer(deps, { app: DST, id: 'c2' })).toMatchObject({
      status: 'running',
      processedBytes: 1234,
    });
    const logs = [{ at: '2026-01-15T12:00:01.000Z', level: 'info' as const, message: 'pg_restore: done' }];
    await deps.catalog.putTransferLogs(SRC, 1, logs);
    await deps.catalog.updateTransfer(SRC, 1, { status: 'failed', error: 'pg_restore failed' }, ['running']);
    expect(await getTransfer(deps, { app: DST, id: 'c002', logs: true })).toMatchObject({
      id: 'c002',
      status: 'failed',
      error: 'pg_restore failed',
      logs,
    });
    expect(await ids(DST)).toEqual(['c002 copy failed', 'b001 backup pending']);
  });

  it('can be cancelled from the other app, which stops the copy itself', async () => {
    await copyDatabase(deps, { app: SRC, from: 'DATABASE', to: `${DST}::STAGING`, safetyBackup: false });
    await deps.catalog.updateTransfer(SRC, 1, { status: 'running' }, ['pending']);
    const answer = await cancelTransfer(deps, { app: DST, id: 'c002' });
    expect(answer).toMatchObject({ app: DST, id: 'c002', status: 'running', cancelRequested: true });
    expect(deps.runner.stopped).toEqual([
      { taskRef: `task-${SRC}-1`, reason: `Cancelled by user (c001, from ${DST}::c002)` },
    ]);
    expect(await deps.catalog.getTransfer(SRC, 1)).toMatchObject({ cancelRequested: true });
    await deps.catalog.updateTransfer(SRC, 1, { status: 'cancelled' }, ['running']);
    await expect(cancelTransfer(deps, { app: DST, id: 'c002' })).rejects.toMatchObject({
      code: 'conflict',
      message: 'Transfer c002 cannot be cancelled: it has already finished (cancelled)',
    });
  });

  it('cancels a pending copy at once from the other app', async () => {
    await copyDatabase(deps, { app: SRC, from: 'DATABASE', to: `${DST}::STAGING`, safetyBackup: false });
    const answer = await cancelTransfer(deps, { app: DST, id: 'c002' });
    expect(answer).toMatchObject({ id: 'c002', status: 'cancelled' });
    expect(await deps.catalog.getTransfer(SRC, 1)).toMatchObject({ id: 'c001', status: 'cancelled' });
  });

  it('is never deleted as a backup, nor counted or pruned on the other app; it goes with the copy', async () => {
    await copyDatabase(deps, { app: SRC, from: 'DATABASE', to: `${DST}::STAGING`, safetyBackup: false });
    await expect(deleteBackup(deps, { app: DST, id: 'c002' })).rejects.toThrow(
      'c002 is a copy, not a backup; only backups can be deleted',
    );
    await deps.catalog.updateTransfer(SRC, 1, {
      status: 'failed',
      finishedAt: deps.clock.now().toISOString(),
    });
    deps.clock.advance(30 * DAY_MS);
    // dst-app's own retention neither plans nor applies anything to the mirror.
    expect((await pruneApp(deps, DST, { dryRun: true })).deleted.map((d) => d.id)).not.toContain('c002');
    await pruneApp(deps, DST, { dryRun: false });
    expect(await ids(DST)).toContain('c002 copy failed');
    // src-app's retention cleans the failed copy, and its mirror with it.
    expect((await pruneApp(deps, SRC, { dryRun: false })).deleted.map((d) => d.id)).toEqual(['c001']);
    expect(deps.catalog.mirrors.size).toBe(0);
    expect(await ids(DST)).not.toContain('c002 copy failed');
  });

  it('fails at once, and says why, when the other app cannot record it', async () => {
    const createMirror = deps.catalog.createMirror.bind(deps.catalog);
    deps.catalog.createMirror = async () => {
      throw new Error('throttled');
    };
    const copy = await copyDatabase(deps, {
      app: SRC,
      from: 'DATABASE',
      to: `${DST}::STAGING`,
      safetyBackup: false,
    });
    deps.catalog.createMirror = createMirror;
    expect(copy).toMatchObject({ status: 'failed', error: `Could not list c001 on ${DST}: throttled` });
    expect(deps.runner.started.map((r) => r.id)).toEqual(['b001']);
  });
});

describe('a copy from another app', () => {
  it('is listed on the source app as a copy of its database to the target', async () => {
    await copyDatabase(deps, { app: DST, from: `${SRC}::DATABASE`, to: 'STAGING', safetyBackup: false });
    // Started on dst-app (c002, after its b001); src-app numbers its mirror c001.
    expect(await ids(SRC)).toEqual(['c001 copy pending']);
    expect(await getTransfer(deps, { app: SRC, id: 'c001' })).toMatchObject({
      app: SRC,
      database: 'DATABASE',
      source: { type: 'database', app: SRC, database: 'DATABASE' },
      target: { type: 'database', app: DST, database: 'STAGING' },
      mirrorOf: { app: DST, id: 'c002' },
    });
  });

  it('started on a third app, is listed on all three', async () => {
    await attachDatabase(deps, { app: 'ops-app', name: 'DATABASE', url: 'postgres://u:p@ops/db' });
    const copy = await copyDatabase(deps, {
      app: 'ops-app',
      from: `${SRC}::DATABASE`,
      to: `${DST}::STAGING`,
      safetyBackup: false,
    });
    expect(copy.mirrors?.map((m) => `${m.app}::${m.id}`)).toEqual([`${DST}::c002`, `${SRC}::c001`]);
    expect((await getTransfer(deps, { app: DST, id: 'c002' })).database).toBe('STAGING');
    expect((await getTransfer(deps, { app: SRC, id: 'c001' })).database).toBe('DATABASE');
  });

  it('between two databases of the same app is not mirrored', async () => {
    const copy = await copyDatabase(deps, { app: DST, from: 'DATABASE', to: 'STAGING', safetyBackup: false });
    expect(copy.mirrors).toBeUndefined();
    expect(deps.catalog.mirrors.size).toBe(0);
  });
});

describe("a restore of another app's backup", () => {
  it('is recorded on the app it overwrites only, as on Heroku; the backup app lists just its backup', async () => {
    await captureBackup(deps, { app: SRC, type: 'manual' });
    await deps.catalog.updateTransfer(SRC, 1, { status: 'completed', sha256: 'ab', backupBytes: 10 });
    const r = await restoreBackup(deps, { app: DST, backup: `${SRC}::b001`, safetyBackup: false });
    expect(r).toMatchObject({ app: DST, id: 'r002', source: { type: 'backup', app: SRC, id: 'b001' } });
    expect(await ids(SRC)).toEqual(['b001 backup completed']);
  });
});

describe('the API', () => {
  it('shows each side the copy with its own id and where the other side lists it', async () => {
    const route = createRouter(deps, { access: localAccess, checkRestoreUrl: async () => {} });
    const call = async (method: string, path: string, body?: unknown) => {
      const res = await route({
        method,
        path,
        query: {},
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: res.status, body: res.body ? JSON.parse(res.body) : undefined };
    };
    const started = await call('POST', `/v1/apps/${SRC}/copies`, {
      from: 'DATABASE',
      to: `${DST}::STAGING`,
      safetyBackup: false,
    });
    expect(started.status).toBe(202);
    expect(started.body).toMatchObject({ id: 'c001', mirrorOf: null, mirrors: [{ app: DST, id: 'c002' }] });
    const listed = await call('GET', `/v1/apps/${DST}/transfers`);
    expect(listed.body.transfers[0]).toMatchObject({
      id: 'c002',
      app: DST,
      kind: 'copy',
      database: 'STAGING',
      mirrorOf: { app: SRC, id: 'c001' },
      mirrors: [],
    });
    // Internal numbers of the other app stay inside.
    expect(JSON.stringify(listed.body.transfers[0].mirrorOf)).toBe(JSON.stringify({ app: SRC, id: 'c001' }));
    const cancelled = await call('POST', `/v1/apps/${DST}/transfers/c002/cancel`);
    expect(cancelled).toMatchObject({ status: 200, body: { id: 'c002', status: 'cancelled' } });
    expect((await call('GET', `/v1/apps/${SRC}/transfers/c001`)).body.status).toBe('cancelled');
  });
});
