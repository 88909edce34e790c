import { describe, expect, it } from 'vitest';
import {
  ACTIVE_STATUSES,
  applyUpdate,
  askToCancel,
  attachTask,
  cancelPending,
  failOrCancel,
  failTransfer,
  finishRun,
  isActive,
  isFinished,
  startRun,
  type Transfer,
  whileStatus,
} from '../../../src/core/transfer.js';
import { MemoryCatalog } from '../../fakes/memory-catalog.js';

const AT = '2026-01-01T00:00:00.000Z';

describe('transfer lifecycle helpers', () => {
  it('split the statuses into active and finished', () => {
    expect(['pending', 'running'].every((s) => isActive(s as 'pending'))).toBe(true);
    expect(['completed', 'failed', 'cancelled'].map((s) => isFinished(s as 'failed'))).toEqual([
      true,
      true,
      true,
    ]);
    expect(isFinished('running')).toBe(false);
    expect(isActive('completed')).toBe(false);
  });

  it('build each status change with the condition the table allows', () => {
    expect(startRun(AT)).toEqual({
      patch: { status: 'running', startedAt: AT, heartbeatAt: AT },
      expect: ['pending'],
    });
    expect(failTransfer(AT, 'boom')).toEqual({
      patch: { status: 'failed', finishedAt: AT, error: 'boom' },
      expect: ['pending', 'running'],
    });
    expect(cancelPending(AT)).toEqual({
      patch: { status: 'cancelled', finishedAt: AT, cancelRequested: true },
      expect: ['pending'],
    });
    expect(askToCancel()).toEqual({ patch: { cancelRequested: true }, expect: ['running'] });
    expect(attachTask('task-1')).toEqual({ patch: { taskRef: 'task-1' }, expect: ACTIVE_STATUSES });
    expect(whileStatus('pending', { heartbeatAt: AT })).toEqual({
      patch: { heartbeatAt: AT },
      expect: ['pending'],
    });
  });

  it('refuse a move the table forbids: that is a bug, not a race', () => {
    expect(() => failTransfer(AT, 'boom', 'completed')).toThrow(/cannot become failed from completed/);
    expect(() => failOrCancel(AT, { cancelled: true, error: 'x' }, 'cancelled')).toThrow(
      /cannot become cancelled from cancelled/,
    );
    expect(() => whileStatus('failed', { heartbeatAt: AT })).toThrow(/takes no more progress/);
  });

  it('fail, or cancel when a cancel was asked for', () => {
    expect(failOrCancel(AT, { cancelled: true, error: 'gone' }, 'running').patch).toEqual({
      status: 'cancelled',
      finishedAt: AT,
    });
    expect(failOrCancel(AT, { cancelled: undefined, error: 'gone' }, 'pending')).toEqual({
      patch: { status: 'failed', finishedAt: AT, error: 'gone' },
      expect: ['pending'],
    });
  });

  it("end a worker's run: a cancel beats a failure and a completed backup, not a committed restore", () => {
    const done = { ok: true as const, results: { sha256: 'abc' } };
    const failed = { ok: false as const, error: 'pg_dump failed' };
    const fields = { processedBytes: 7 };
    expect(finishRun('backup', AT, done, false, fields)).toEqual({
      patch: { sha256: 'abc', status: 'completed', finishedAt: AT },
      expect: ['running'],
    });
    expect(finishRun('backup', AT, done, true, fields).patch).toEqual({
      status: 'cancelled',
      finishedAt: AT,
      processedBytes: 7,
    });
    expect(finishRun('restore', AT, done, true, fields).patch.status).toBe('completed');
    expect(finishRun('copy', AT, failed, true, fields).patch.status).toBe('cancelled');
    expect(finishRun('restore', AT, failed, false, fields).patch).toEqual({
      status: 'failed',
      finishedAt: AT,
      error: 'pg_dump failed',
      processedBytes: 7,
    });
  });

  it('apply through the catalog, conditional on the status', async () => {
    const catalog = new MemoryCatalog();
    const t: Transfer = {
      app: 'life-app',
      num: 1,
      id: 'b001',
      kind: 'backup',
      type: 'manual',
      status: 'pending',
      database: 'DATABASE',
      source: { type: 'database', app: 'life-app', database: 'DATABASE' },
      target: { type: 'blob', key: 'manual/life-app/DATABASE/b001.dump' },
      createdAt: AT,
    };
    await catalog.createTransfer(t);
    expect(await applyUpdate(catalog, t, askToCancel())).toBeUndefined();
    expect((await applyUpdate(catalog, t, startRun(AT)))?.status).toBe('running');
    expect(await applyUpdate(catalog, t, startRun(AT))).toBeUndefined();
    expect((await applyUpdate(catalog, t, failOrCancel(AT, { cancelled: false, error: 'x' })))?.status).toBe(
      'failed',
    );
  });
});
