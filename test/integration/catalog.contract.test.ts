import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Check } from '../../src/core/check.js';
import { logLineBytes, MAX_LOG_ITEM_BYTES } from '../../src/core/log-item.js';
import type { Catalog } from '../../src/core/ports.js';
import { MAX_LOG_LINE_CHARS, MAX_LOG_LINES, type Transfer } from '../../src/core/transfer.js';
import { MemoryCatalog } from '../fakes/memory-catalog.js';
import { type LocalDynamo, startDynalite } from '../helpers/dynalite.js';

let dynamo: LocalDynamo;
let tableCount = 0;
beforeAll(async () => {
  dynamo = await startDynalite();
});
afterAll(async () => {
  await dynamo.stop();
});

const adapters: [string, () => Promise<Catalog>][] = [
  ['memory', async () => new MemoryCatalog()],
  ['dynamodb (dynalite)', async () => dynamo.catalog(`contract-${++tableCount}`)],
];

function transfer(app: string, num: number, over: Partial<Transfer> = {}): Transfer {
  return {
    app,
    num,
    id: `b${String(num).padStart(3, '0')}`,
    kind: 'backup',
    type: 'manual',
    status: 'pending',
    database: 'DATABASE',
    source: { type: 'database', app, database: 'DATABASE' },
    target: { type: 'blob', key: `manual/${app}/DATABASE/b${num}.dump` },
    createdAt: new Date(Date.UTC(2026, 0, 1, 0, num)).toISOString(),
    ...over,
  };
}

describe.each(adapters)('Catalog contract: %s', (_name, make) => {
  let catalog: Catalog;
  beforeAll(async () => {
    catalog = await make();
  });

  it('counts transfers per app, shared by all kinds, starting at 1', async () => {
    expect(await catalog.nextTransferNum('counter-app')).toBe(1);
    expect(await catalog.nextTransferNum('counter-app')).toBe(2);
    expect(await catalog.nextTransferNum('other-counter')).toBe(1);
    const nums = await Promise.all(Array.from({ length: 20 }, () => catalog.nextTransferNum('counter-app')));
    expect(new Set(nums).size).toBe(20);
    expect(Math.max(...nums)).toBe(22);
  });

  it('lists each app once, sorted, from its first attachment or transfer number', async () => {
    const before = await catalog.listApps();
    expect(before).not.toContain('zz-apps-a');
    await catalog.putDatabase({
      app: 'zz-apps-b',
      name: 'DATABASE',
      secretRef: 'ref',
      host: 'h',
      port: 5432,
      database: 'd',
      user: 'u',
      createdAt: '2026-01-01T00:00:00.000Z',
    });
    await catalog.nextTransferNum('zz-apps-a');
    await catalog.nextTransferNum('zz-apps-a');
    const after = await catalog.listApps();
    expect(after.filter((a) => a.startsWith('zz-apps-'))).toEqual(['zz-apps-a', 'zz-apps-b']);
    expect(after).toEqual([...after].sort());
    expect(after).toContain('counter-app');
  });

  it('creates a transfer once and refuses a duplicate with a conflict', async () => {
    await catalog.createTransfer(transfer('dup-app', 1));
    await expect(catalog.createTransfer(transfer('dup-app', 1))).rejects.toMatchObject({ code: 'conflict' });
  });

  it('updates only when the status condition holds, and reports when it did not', async () => {
    await catalog.createTransfer(transfer('cond-app', 1));
    const running = await catalog.updateTransfer('cond-app', 1, { status: 'running', processedBytes: 5 }, [
      'pending',
    ]);
    expect(running).toMatchObject({ status: 'running', processedBytes: 5, id: 'b001' });
    expect(await catalog.updateTransfer('cond-app', 1, { status: 'running' }, ['pending'])).toBeUndefined();
    expect(await catalog.updateTransfer('cond-app', 99, { processedBytes: 1 })).toBeUndefined();
    const done = await catalog.updateTransfer('cond-app', 1, { status: 'completed', sha256: 'ab' }, [
      'running',
    ]);
    expect(done).toMatchObject({ status: 'completed', sha256: 'ab', processedBytes: 5 });
    expect(await catalog.getTransfer('cond-app', 1)).toEqual(done);
  });

  it('lets exactly one caller claim a finished transfer', async () => {
    await catalog.createTransfer(transfer('claim-app', 1, { status: 'completed' }));
    const claims = await Promise.all(Array.from({ length: 5 }, () => catalog.claimFinish('claim-app', 1)));
    expect(claims.filter(Boolean)).toHaveLength(1);
    expect(await catalog.claimFinish('claim-app', 1)).toBe(false);
    expect(await catalog.claimFinish('claim-app', 2)).toBe(false);
  });

  it('lists newest first, paginates with a cursor and filters by kind', async () => {
    for (let n = 1; n <= 7; n++) {
      await catalog.createTransfer(
        transfer('list-app', n, n % 3 === 0 ? { kind: 'restore', id: `r00${n}` } : {}),
      );
    }
    const first = await catalog.listTransfers('list-app', { limit: 3 });
    expect(first.transfers.map((t) => t.num)).toEqual([7, 6, 5]);
    const second = await catalog.listTransfers('list-app', { limit: 3, cursor: first.cursor });
    expect(second.transfers.map((t) => t.num)).toEqual([4, 3, 2]);
    const third = await catalog.listTransfers('list-app', { limit: 3, cursor: second.cursor });
    expect(third.transfers.map((t) => t.num)).toEqual([1]);
    expect(third.cursor).toBeUndefined();
    const restores = await catalog.listTransfers('list-app', { kind: 'restore' });
    expect(restores.transfers.map((t) => t.num)).toEqual([6, 3]);
    expect((await catalog.listTransfers('empty-app')).transfers).toEqual([]);
  });

  it('keeps logs apart from the transfer and returns them only when asked', async () => {
    await catalog.createTransfer(transfer('log-app', 1));
    const lines = [
      { at: '2026-01-01T00:00:00.000Z', level: 'info' as const, message: 'pg_dump: dumping contents' },
    ];
    await catalog.putTransferLogs('log-app', 1, lines);
    expect((await catalog.getTransfer('log-app', 1))?.logs).toBeUndefined();
    expect((await catalog.getTransfer('log-app', 1, { logs: true }))?.logs).toEqual(lines);
    expect((await catalog.listTransfers('log-app')).transfers[0]?.logs).toBeUndefined();
    await catalog.deleteTransfer('log-app', 1);
    expect(await catalog.getTransfer('log-app', 1, { logs: true })).toBeUndefined();
  });

  it('stores a log at the maximum line count and length, bounded under the 400 KB item limit', async () => {
    await catalog.createTransfer(transfer('biglog-app', 1));
    // The worst case TransferLog can hand over: MAX_LOG_LINES lines of MAX_LOG_LINE_CHARS characters, each a
    // 3-byte character in UTF-8 (about 1.5 MB unbounded; dynalite rejects items over 400 KB like DynamoDB).
    const lines = Array.from({ length: MAX_LOG_LINES }, (_, i) => ({
      at: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString(),
      level: 'info' as const,
      message: `${i}:`.padEnd(MAX_LOG_LINE_CHARS, 'ü€'),
    }));
    expect(lines.reduce((n, l) => n + logLineBytes(l), 0)).toBeGreaterThan(400 * 1024);
    await catalog.putTransferLogs('biglog-app', 1, lines);
    const stored = (await catalog.getTransfer('biglog-app', 1, { logs: true }))?.logs ?? [];
    expect(stored.reduce((n, l) => n + logLineBytes(l), 0)).toBeLessThanOrEqual(MAX_LOG_ITEM_BYTES);
    // The newest lines survive, in order, after a line saying how many older ones were dropped.
    expect(stored.at(-1)).toEqual(lines.at(-1));
    const kept = stored.length - 1;
    expect(stored.slice(1)).toEqual(lines.slice(-kept));
    expect(stored[0]!.message).toBe(
      `… ${MAX_LOG_LINES - kept} earlier log lines dropped to stay within the stored log's size`,
    );
    // Even ASCII lines of the maximum length exceed it (500 × 1,000 bytes), but 500 lines of 500 fit whole:
    // nothing is dropped needlessly.
    const ascii = lines.map((l, i) => ({ ...l, message: `${i}:`.padEnd(MAX_LOG_LINE_CHARS / 2, 'x') }));
    await catalog.putTransferLogs('biglog-app', 1, ascii);
    expect((await catalog.getTransfer('biglog-app', 1, { logs: true }))?.logs).toEqual(ascii);
  });

  it('lists every app that has a database or a numbered transfer, by name', async () => {
    await catalog.putDatabase({
      app: 'list-b',
      name: 'DATABASE',
      secretRef: 'ref',
      host: 'h',
      port: 5432,
      database: 'd',
      user: 'u',
      createdAt: '2026-01-01T00:00:00.000Z',
    });
    await catalog.nextTransferNum('list-a');
    await catalog.nextTransferNum('list-a');
    await catalog.putSettings({ app: 'list-settings-only', plan: 'standard' });
    const apps = (await catalog.listApps()).filter((a) => a.startsWith('list-'));
    expect(apps).toEqual(['list-a', 'list-b']);
    // Registering the app leaves its counter alone.
    await catalog.putDatabase({
      app: 'list-a',
      name: 'DATABASE',
      secretRef: 'ref',
      host: 'h',
      port: 5432,
      database: 'd',
      user: 'u',
      createdAt: '2026-01-01T00:00:00.000Z',
    });
    expect(await catalog.nextTransferNum('list-a')).toBe(3);
  });

  it('finds active transfers across apps and forgets them once finished', async () => {
    await catalog.createTransfer(transfer('active-a', 1));
    await catalog.createTransfer(transfer('active-b', 1, { status: 'running' }));
    await catalog.createTransfer(transfer('active-b', 2, { status: 'completed' }));
    const active = (await catalog.listActiveTransfers()).filter((t) => t.app.startsWith('active-'));
    expect(active.map((t) => `${t.app}/${t.num}`).sort()).toEqual(['active-a/1', 'active-b/1']);
    await catalog.updateTransfer('active-a', 1, { status: 'failed', error: 'x' }, ['pending']);
    const after = (await catalog.listActiveTransfers()).filter((t) => t.app.startsWith('active-'));
    expect(after.map((t) => `${t.app}/${t.num}`)).toEqual(['active-b/1']);
  });

  it("records a mirror of another app's copy that reads the copy's live state, under its own number", async () => {
    const copy = transfer('mirror-src', 1, {
      id: 'c001',
      kind: 'copy',
      database: 'DATABASE',
      source: { type: 'database', app: 'mirror-src', database: 'DATABASE' },
      target: { type: 'database', app: 'mirror-dst', database: 'STAGING' },
      mirrors: [{ app: 'mirror-dst', num: 2, id: 'c002' }],
    });
    await catalog.createTransfer(copy);
    await catalog.createTransfer(transfer('mirror-dst', 1, { status: 'completed' }));
    const mirror = {
      app: 'mirror-dst',
      num: 2,
      id: 'c002',
      kind: 'copy' as const,
      database: 'STAGING',
      mirrorOf: { app: 'mirror-src', num: 1, id: 'c001' },
    };
    await catalog.createMirror(mirror);
    await expect(catalog.createMirror(mirror)).rejects.toMatchObject({ code: 'conflict' });
    await expect(catalog.createTransfer(transfer('mirror-dst', 2))).rejects.toMatchObject({
      code: 'conflict',
    });
    await expect(catalog.createMirror({ ...mirror, num: 1 })).rejects.toMatchObject({ code: 'conflict' });

    // Seen from the other app: its own app, number, id and database; everything else is the copy's, live.
    const { mirrors: _mirrors, ...state } = copy;
    const seen = {
      ...state,
      app: 'mirror-dst',
      num: 2,
      id: 'c002',
      database: 'STAGING',
      mirrorOf: mirror.mirrorOf,
    };
    expect(await catalog.getTransfer('mirror-dst', 2)).toEqual(seen);
    await catalog.updateTransfer('mirror-src', 1, { status: 'running', processedBytes: 42 }, ['pending']);
    const lines = [
      { at: '2026-01-01T00:00:00.000Z', level: 'info' as const, message: 'pg_restore: creating TABLE' },
    ];
    await catalog.putTransferLogs('mirror-src', 1, lines);
    expect(await catalog.getTransfer('mirror-dst', 2, { logs: true })).toEqual({
      ...seen,
      status: 'running',
      processedBytes: 42,
      logs: lines,
    });

    // Listed among the app's own transfers in number order, filtered by kind like them.
    const page = await catalog.listTransfers('mirror-dst');
    expect(page.transfers.map((t) => [t.id, t.status])).toEqual([
      ['c002', 'running'],
      ['b001', 'completed'],
    ]);
    expect((await catalog.listTransfers('mirror-dst', { kind: 'copy' })).transfers.map((t) => t.id)).toEqual([
      'c002',
    ]);
    expect(
      (await catalog.listTransfers('mirror-dst', { kind: 'backup' })).transfers.map((t) => t.id),
    ).toEqual(['b001']);
    // The copy on its own app still names its mirror.
    expect((await catalog.getTransfer('mirror-src', 1))?.mirrors).toEqual(copy.mirrors);

    // Never written through, never active, never claimed: the copy is the one record with state.
    expect(await catalog.updateTransfer('mirror-dst', 2, { status: 'failed' }, ['running'])).toBeUndefined();
    expect(await catalog.updateTransfer('mirror-dst', 2, { processedBytes: 1 })).toBeUndefined();
    expect(await catalog.claimFinish('mirror-dst', 2)).toBe(false);
    const active = (await catalog.listActiveTransfers()).filter((t) => t.app.startsWith('mirror-'));
    expect(active.map((t) => `${t.app}/${t.id}`)).toEqual(['mirror-src/c001']);
    await catalog.updateTransfer(
      'mirror-src',
      1,
      { status: 'completed', finishedAt: '2026-01-01T01:00:00.000Z' },
      ['running'],
    );
    expect(await catalog.getTransfer('mirror-dst', 2)).toMatchObject({ status: 'completed', id: 'c002' });

    // Once the copy is gone, its mirror reads as absent; deleting the mirror removes it.
    await catalog.deleteTransfer('mirror-src', 1);
    expect(await catalog.getTransfer('mirror-dst', 2)).toBeUndefined();
    expect((await catalog.listTransfers('mirror-dst')).transfers.map((t) => t.id)).toEqual(['b001']);
    await catalog.deleteTransfer('mirror-dst', 2);
    await catalog.createTransfer(copy);
    expect(await catalog.getTransfer('mirror-dst', 2)).toBeUndefined();
  });

  it('stores databases, settings and schedules per app', async () => {
    const db = {
      app: 'db-app',
      name: 'DATABASE',
      secretRef: 'ref-1',
      host: 'h',
      port: 5432,
      database: 'd',
      user: 'u',
      createdAt: '2026-01-01T00:00:00.000Z',
    };
    await catalog.putDatabase(db);
    await catalog.putDatabase({ ...db, name: 'PINK', removedAt: '2026-01-02T00:00:00.000Z' });
    expect(await catalog.getDatabase('db-app', 'DATABASE')).toEqual(db);
    expect((await catalog.listDatabases('db-app')).map((d) => d.name)).toEqual(['DATABASE']);
    expect((await catalog.listDatabases('db-app', { includeRemoved: true })).map((d) => d.name)).toEqual([
      'DATABASE',
      'PINK',
    ]);
    await catalog.deleteDatabase('db-app', 'DATABASE');
    expect(await catalog.getDatabase('db-app', 'DATABASE')).toBeUndefined();

    await catalog.putSettings({ app: 'db-app', plan: 'premium', manualLimit: 3 });
    expect(await catalog.getSettings('db-app')).toEqual({ app: 'db-app', plan: 'premium', manualLimit: 3 });
    expect(await catalog.nextTransferNum('db-app')).toBe(1);

    const s = {
      app: 'db-app',
      database: 'DATABASE',
      hour: 2,
      minute: 0,
      timezone: 'UTC',
      createdAt: db.createdAt,
    };
    await catalog.putSchedule(s);
    await catalog.putSchedule({ ...s, app: 'db-app-2' });
    expect(await catalog.getSchedule('db-app', 'DATABASE')).toEqual(s);
    expect(await catalog.listSchedules('db-app')).toEqual([s]);
    expect((await catalog.listAllSchedules()).filter((x) => x.app.startsWith('db-app')).length).toBe(2);
    await catalog.deleteSchedule('db-app', 'DATABASE');
    expect(await catalog.listSchedules('db-app')).toEqual([]);
  });

  it('keeps checks apart from transfers, with conditional status changes and their expiry stored', async () => {
    const check: Check = {
      app: 'check-app',
      id: 'chk-0123456789ab',
      database: 'DATABASE',
      status: 'pending',
      createdAt: '2026-01-01T00:00:00.000Z',
      expiresAt: 1767312000,
      steps: [],
    };
    await catalog.createCheck(check);
    await expect(catalog.createCheck(check)).rejects.toThrow('Check chk-0123456789ab already exists');
    expect(await catalog.getCheck('check-app', check.id)).toEqual(check);
    expect(await catalog.getCheck('other-app', check.id)).toBeUndefined();
    // Not a transfer, not an app of its own.
    expect((await catalog.listTransfers('check-app')).transfers).toEqual([]);
    expect(await catalog.listApps()).not.toContain('check-app');

    expect(
      await catalog.updateCheck('check-app', check.id, { status: 'passed' }, ['running']),
    ).toBeUndefined();
    const running = await catalog.updateCheck('check-app', check.id, { status: 'running', taskRef: 't' }, [
      'pending',
    ]);
    expect(running).toEqual({ ...check, status: 'running', taskRef: 't' });
    const steps = [{ name: 'database' as const, ok: false, message: 'DATABASE: refused', hint: 'fix it' }];
    const done = await catalog.updateCheck(
      'check-app',
      check.id,
      { status: 'failed', steps, serverVersion: '16.4', clients: [15, 16] },
      ['pending', 'running'],
    );
    expect(done).toEqual({
      ...check,
      status: 'failed',
      taskRef: 't',
      steps,
      serverVersion: '16.4',
      clients: [15, 16],
    });
    expect(await catalog.getCheck('check-app', check.id)).toEqual(done);
    expect(
      await catalog.updateCheck('check-app', 'chk-ffffffffffff', { status: 'failed' }, ['pending']),
    ).toBeUndefined();
  });
});
