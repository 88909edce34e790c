import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { DatabaseAttachment } from '../../../src/core/ports.js';
import {
  BUCKET_LIFECYCLE,
  DAY_MS,
  PRUNE_SLACK_DAYS,
  planRetention,
  REMOVED_DATABASE_GRACE_DAYS,
  SAFETY_BACKUP_DAYS,
} from '../../../src/core/retention.js';
import { RETENTION_LIMIT_MAX, settingsPatchSchema } from '../../../src/core/settings.js';
import type { Transfer, TransferType } from '../../../src/core/transfer.js';

const NOW = Date.UTC(2026, 5, 15, 12);
const APP = 'example-app';

function backup(num: number, type: TransferType, ageMs: number): Transfer {
  const createdAt = new Date(NOW - ageMs).toISOString();
  return {
    app: APP,
    num,
    id: `b${num}`,
    kind: 'backup',
    type,
    status: 'completed',
    database: 'DATABASE',
    source: { type: 'database', app: APP, database: 'DATABASE' },
    target: { type: 'blob', key: `${type}/${APP}/DATABASE/b${num}.dump` },
    createdAt,
    finishedAt: createdAt,
  };
}

function attachment(removedAgoMs?: number): DatabaseAttachment {
  return {
    app: APP,
    name: 'DATABASE',
    secretRef: 'ref',
    host: 'h',
    port: 5432,
    database: 'd',
    user: 'u',
    createdAt: '2020-01-01T00:00:00.000Z',
    removedAt: removedAgoMs === undefined ? undefined : new Date(NOW - removedAgoMs).toISOString(),
  };
}

describe('the bucket lifecycle and the retention engine agree', () => {
  it('never lets S3 expire a safety backup the engine still keeps, whenever its database was removed', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 60 * DAY_MS }),
        fc.option(fc.integer({ min: 0, max: 60 * DAY_MS }), { nil: undefined }),
        (ageMs, removedAgoMs) => {
          // A database can only be removed after its safety backup was taken, and the daily prune deleted the
          // backup if it was already past SAFETY_BACKUP_DAYS then.
          const removed = removedAgoMs === undefined ? undefined : Math.min(removedAgoMs, ageMs);
          fc.pre(removed === undefined || ageMs - removed <= SAFETY_BACKUP_DAYS * DAY_MS);
          const plan = planRetention({
            transfers: [backup(1, 'safety', ageMs)],
            databases: [attachment(removed)],
            limits: RETENTION_LIMIT_MAX,
            now: new Date(NOW),
          });
          if (plan.keep.length === 1) {
            // Kept means listed: S3 must still hold it, even if the prune runs up to PRUNE_SLACK_DAYS late.
            expect(ageMs + PRUNE_SLACK_DAYS * DAY_MS).toBeLessThanOrEqual(
              BUCKET_LIFECYCLE.safetyExpirationDays * DAY_MS,
            );
          }
        },
      ),
    );
  });

  it('needs the whole safety period: a backup removed just before its 7 days is kept through the grace', () => {
    const age = (SAFETY_BACKUP_DAYS + REMOVED_DATABASE_GRACE_DAYS) * DAY_MS - 1;
    const plan = planRetention({
      transfers: [backup(1, 'safety', age)],
      databases: [attachment(REMOVED_DATABASE_GRACE_DAYS * DAY_MS - 1)],
      limits: RETENTION_LIMIT_MAX,
      now: new Date(NOW),
    });
    expect(plan.keep).toHaveLength(1);
    expect(BUCKET_LIFECYCLE.safetyExpirationDays).toBe(
      SAFETY_BACKUP_DAYS + REMOVED_DATABASE_GRACE_DAYS + PRUNE_SLACK_DAYS,
    );
  });

  it('keeps the newest scheduled or manual backup of an attached database at any age, so those never expire by age', () => {
    for (const type of ['scheduled', 'manual'] as const) {
      const plan = planRetention({
        transfers: [backup(1, type, 3000 * DAY_MS)],
        databases: [attachment()],
        limits: { manual: 0, daily: 0, weekly: 0, monthly: 0 },
        now: new Date(NOW),
      });
      expect(plan.keep.map((d) => d.reason)).toEqual(['newest completed backup of DATABASE']);
    }
  });

  it('accepts each limit up to its bound and refuses one above it, naming the field', () => {
    for (const [field, max] of Object.entries({
      manualLimit: RETENTION_LIMIT_MAX.manual,
      daily: RETENTION_LIMIT_MAX.daily,
      weekly: RETENTION_LIMIT_MAX.weekly,
      monthly: RETENTION_LIMIT_MAX.monthly,
    })) {
      expect(settingsPatchSchema.safeParse({ [field]: max }).success, field).toBe(true);
      const over = settingsPatchSchema.safeParse({ [field]: max + 1 });
      expect(over.success, field).toBe(false);
      expect(over.error?.issues[0]?.path, field).toEqual([field]);
    }
  });
});
