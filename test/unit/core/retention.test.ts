import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DAY_MS,
  monthStart,
  planRetention,
  type RetentionInput,
  weekStart,
} from '../../../src/core/retention.js';
import { PLAN_LIMITS, type Plan, type RetentionLimits } from '../../../src/core/settings.js';
import {
  type Transfer,
  type TransferKind,
  type TransferStatus,
  type TransferType,
  transferName,
} from '../../../src/core/transfer.js';
import { attachment as fixtureAttachment } from '../../fakes/fixtures.js';

const APP = 'example-app';
const NOW = new Date('2026-01-15T12:00:00.000Z'); // a Thursday
const HOUR = 3_600_000;

const attachment = (name: string, removedAt?: string) => fixtureAttachment(APP, name, removedAt);

interface Spec {
  num: number;
  database?: string;
  kind?: TransferKind;
  type?: TransferType;
  status?: TransferStatus;
  createdAt: number;
  finishedAfterMs?: number;
}

function transfer(s: Spec): Transfer {
  const kind = s.kind ?? 'backup';
  const type = kind === 'backup' ? (s.type ?? 'scheduled') : 'manual';
  const status = s.status ?? 'completed';
  const database = s.database ?? 'DATABASE';
  const id = transferName(kind, type, s.num);
  const finished =
    status === 'pending' || status === 'running' ? undefined : s.createdAt + (s.finishedAfterMs ?? 0);
  return {
    app: APP,
    num: s.num,
    id,
    kind,
    type,
    status,
    database,
    source: { type: 'database', app: APP, database },
    target:
      kind === 'backup'
        ? { type: 'blob', key: `${type}/${APP}/${database}/${id}.dump` }
        : { type: 'database', app: APP, database },
    createdAt: new Date(s.createdAt).toISOString(),
    finishedAt: finished === undefined ? undefined : new Date(finished).toISOString(),
  };
}

const deletedIds = (input: RetentionInput) => planRetention(input).delete.map((d) => d.transfer.id);
const completedBackups = (ts: readonly Transfer[], db: string) =>
  ts.filter((t) => t.database === db && t.kind === 'backup' && t.status === 'completed');

describe('planRetention: examples', () => {
  const limits: RetentionLimits = { manual: 2, daily: 7, weekly: 2, monthly: 1 };

  it('keeps the newest N manual backups per database and says why the others go', () => {
    const ts = [1, 2, 3, 4].map((n) =>
      transfer({ num: n, type: 'manual', createdAt: NOW.getTime() - (10 - n) * DAY_MS }),
    );
    ts.push(transfer({ num: 5, type: 'manual', database: 'PINK', createdAt: NOW.getTime() - 30 * DAY_MS }));
    const plan = planRetention({
      transfers: ts,
      databases: [attachment('DATABASE'), attachment('PINK')],
      limits,
      now: NOW,
    });
    expect(plan.delete.map((d) => [d.transfer.id, d.reason])).toEqual([
      ['b001', 'manual limit 2 exceeded (4 completed manual backups of DATABASE)'],
      ['b002', 'manual limit 2 exceeded (4 completed manual backups of DATABASE)'],
    ]);
    expect(plan.keep.map((d) => d.transfer.id)).toEqual(['b003', 'b004', 'b005']);
  });

  it('cleans failed and cancelled transfers after 7 days, whatever their kind', () => {
    const ts = [
      transfer({ num: 1, status: 'failed', createdAt: NOW.getTime() - 8 * DAY_MS }),
      transfer({ num: 2, status: 'cancelled', kind: 'restore', createdAt: NOW.getTime() - 9 * DAY_MS }),
      transfer({ num: 3, status: 'failed', createdAt: NOW.getTime() - 6 * DAY_MS }),
      transfer({ num: 4, type: 'manual', createdAt: NOW.getTime() - DAY_MS }),
    ];
    const plan = planRetention({ transfers: ts, databases: [attachment('DATABASE')], limits, now: NOW });
    expect(plan.delete.map((d) => [d.transfer.id, d.reason])).toEqual([
      ['a001', 'failed 8 days ago'],
      ['r002', 'cancelled 9 days ago'],
    ]);
  });

  it('keeps the backups of a removed database for 7 days, then deletes them all', () => {
    const ts = [
      transfer({ num: 1, type: 'manual', database: 'PINK', createdAt: NOW.getTime() - 20 * DAY_MS }),
      transfer({ num: 2, database: 'PINK', createdAt: NOW.getTime() - 10 * DAY_MS }),
    ];
    const within = new Date(NOW.getTime() - 6 * DAY_MS).toISOString();
    const past = new Date(NOW.getTime() - 8 * DAY_MS).toISOString();
    expect(deletedIds({ transfers: ts, databases: [attachment('PINK', within)], limits, now: NOW })).toEqual(
      [],
    );
    const plan = planRetention({ transfers: ts, databases: [attachment('PINK', past)], limits, now: NOW });
    expect(plan.delete.map((d) => d.reason)).toEqual([
      'database PINK removed 8 days ago',
      'database PINK removed 8 days ago',
    ]);
  });

  it('keeps the oldest scheduled backup of each kept week and month, with the reason', () => {
    // Daily at 02:00 UTC from 2025-11-20 to now (2026-01-15, a Thursday).
    const start = Date.parse('2025-11-20T02:00:00Z');
    const ts: Transfer[] = [];
    for (let i = 0; start + i * DAY_MS < NOW.getTime(); i++)
      ts.push(transfer({ num: i + 1, createdAt: start + i * DAY_MS }));
    const plan = planRetention({ transfers: ts, databases: [attachment('DATABASE')], limits, now: NOW });
    const kept = plan.keep.map((d) => [d.transfer.createdAt.slice(0, 10), d.reason]);
    expect(kept).toEqual([
      ['2025-12-01', 'oldest scheduled backup of 2025-12'],
      ['2025-12-29', 'oldest scheduled backup of the week of 2025-12-29'],
      ['2026-01-01', 'oldest scheduled backup of 2026-01'],
      ['2026-01-05', 'oldest scheduled backup of the week of 2026-01-05'],
      ['2026-01-09', 'scheduled backup within the last 7 days'],
      ['2026-01-10', 'scheduled backup within the last 7 days'],
      ['2026-01-11', 'scheduled backup within the last 7 days'],
      ['2026-01-12', 'scheduled backup within the last 7 days'],
      ['2026-01-13', 'scheduled backup within the last 7 days'],
      ['2026-01-14', 'scheduled backup within the last 7 days'],
      ['2026-01-15', 'scheduled backup within the last 7 days'],
    ]);
    const reasons = new Map(plan.delete.map((d) => [d.transfer.createdAt.slice(0, 10), d.reason]));
    expect(reasons.get('2025-11-20')).toBe(
      'scheduled backup older than 7 days, before the kept 2 weeks and 1 months',
    );
    expect(reasons.get('2025-12-02')).toBe('scheduled backup older than 7 days, not the oldest of its month');
    expect(reasons.get('2026-01-06')).toBe(
      'scheduled backup older than 7 days, not the oldest of its week or month',
    );
  });

  it('pauses scheduled expiry while the latest scheduled runs fail', () => {
    const ts = [
      transfer({ num: 1, createdAt: NOW.getTime() - 30 * DAY_MS }),
      transfer({ num: 2, createdAt: NOW.getTime() - 29 * DAY_MS }),
      transfer({ num: 3, status: 'failed', createdAt: NOW.getTime() - 2 * DAY_MS }),
    ];
    const limitsNoBuckets = { manual: 5, daily: 7, weekly: 0, monthly: 0 };
    const plan = planRetention({
      transfers: ts,
      databases: [attachment('DATABASE')],
      limits: limitsNoBuckets,
      now: NOW,
    });
    expect(plan.delete).toEqual([]);
    expect(plan.keep[0]!.reason).toBe(
      'scheduled expiry paused: the latest scheduled backup of DATABASE failed',
    );
    // Once a scheduled run completes again, expiry resumes.
    ts.push(transfer({ num: 4, createdAt: NOW.getTime() - DAY_MS }));
    expect(
      deletedIds({ transfers: ts, databases: [attachment('DATABASE')], limits: limitsNoBuckets, now: NOW }),
    ).toEqual(['a001', 'a002']);
  });

  it('never deletes the newest completed backup, even with limits of zero', () => {
    const ts = [
      transfer({ num: 1, type: 'manual', createdAt: NOW.getTime() - 40 * DAY_MS }),
      transfer({ num: 2, createdAt: NOW.getTime() - 50 * DAY_MS }),
    ];
    const zero = { manual: 0, daily: 0, weekly: 0, monthly: 0 };
    const plan = planRetention({
      transfers: ts,
      databases: [attachment('DATABASE')],
      limits: zero,
      now: NOW,
    });
    expect(plan.keep.map((d) => [d.transfer.id, d.reason])).toEqual([
      ['b001', 'newest completed backup of DATABASE'],
    ]);
    expect(plan.delete.map((d) => d.transfer.id)).toEqual(['a002']);
  });

  it('keeps running transfers and completed restores and copies', () => {
    const ts = [
      transfer({ num: 1, status: 'running', createdAt: NOW.getTime() - 90 * DAY_MS }),
      transfer({ num: 2, status: 'pending', type: 'manual', createdAt: NOW.getTime() - 90 * DAY_MS }),
      transfer({ num: 3, kind: 'restore', createdAt: NOW.getTime() - 400 * DAY_MS }),
      transfer({ num: 4, kind: 'copy', createdAt: NOW.getTime() - 400 * DAY_MS }),
    ];
    const zero = { manual: 0, daily: 0, weekly: 0, monthly: 0 };
    expect(
      deletedIds({ transfers: ts, databases: [attachment('DATABASE')], limits: zero, now: NOW }),
    ).toEqual([]);
  });

  it('defines weeks from Monday 00:00 UTC and months from the 1st', () => {
    expect(new Date(weekStart(Date.parse('2026-01-15T12:00:00Z'))).toISOString()).toBe(
      '2026-01-12T00:00:00.000Z',
    );
    expect(new Date(weekStart(Date.parse('2026-01-12T00:00:00Z'))).toISOString()).toBe(
      '2026-01-12T00:00:00.000Z',
    );
    expect(new Date(weekStart(Date.parse('2026-01-11T23:59:59Z'))).toISOString()).toBe(
      '2026-01-05T00:00:00.000Z',
    );
    expect(new Date(monthStart(Date.parse('2026-03-31T23:59:59Z'))).toISOString()).toBe(
      '2026-03-01T00:00:00.000Z',
    );
  });
});

// --- Properties -------------------------------------------------------------------------------------------------

const DATABASES = ['DATABASE', 'PINK', 'GONE_RECENTLY', 'GONE_LONG_AGO'];
const databasesAt = (now: number) => [
  attachment('DATABASE'),
  attachment('PINK'),
  attachment('GONE_RECENTLY', new Date(now - 3 * DAY_MS).toISOString()),
  attachment('GONE_LONG_AGO', new Date(now - 30 * DAY_MS).toISOString()),
];
const removed = (db: string) => db.startsWith('GONE');

const specArb = fc.record({
  database: fc.constantFrom(...DATABASES),
  kind: fc.constantFrom<TransferKind>('backup', 'backup', 'backup', 'restore', 'copy'),
  type: fc.constantFrom<TransferType>('manual', 'scheduled'),
  status: fc.constantFrom<TransferStatus>(
    'completed',
    'completed',
    'completed',
    'failed',
    'cancelled',
    'running',
    'pending',
  ),
  ageMs: fc.integer({ min: -HOUR, max: 400 * DAY_MS }),
  finishedAfterMs: fc.integer({ min: 0, max: 6 * HOUR }),
});

const limitsArb = fc.oneof(
  fc.constantFrom(...(Object.keys(PLAN_LIMITS) as Plan[])).map((p) => PLAN_LIMITS[p]),
  fc.record({
    manual: fc.integer({ min: 0, max: 6 }),
    daily: fc.integer({ min: 0, max: 10 }),
    weekly: fc.integer({ min: 0, max: 6 }),
    monthly: fc.integer({ min: 0, max: 4 }),
  }),
);

const inputArb = fc
  .record({
    specs: fc.array(specArb, { maxLength: 60 }),
    limits: limitsArb,
    now: fc.integer({ min: Date.parse('2025-01-01T00:00:00Z'), max: Date.parse('2028-01-01T00:00:00Z') }),
  })
  .map(({ specs, limits, now }): RetentionInput => {
    const transfers = specs
      .map((s, i) => transfer({ ...s, num: i + 1, createdAt: now - s.ageMs }))
      // The catalog's numbers grow with time.
      .sort((a, b) => Date.parse(a.createdAt) - Date.parse(b.createdAt))
      .map((t, i) => ({ ...t, num: i + 1, id: transferName(t.kind, t.type, i + 1) }));
    return { transfers, databases: databasesAt(now), limits, now: new Date(now) };
  });

const RUNS = { numRuns: 300 };

describe('planRetention: invariants (property-based)', () => {
  it('decides every transfer exactly once, with a reason', () => {
    fc.assert(
      fc.property(inputArb, (input) => {
        const plan = planRetention(input);
        const all = [...plan.keep, ...plan.delete];
        expect(all.map((d) => d.transfer).sort((a, b) => a.num - b.num)).toEqual(input.transfers);
        for (const d of all) expect(d.reason.length).toBeGreaterThan(0);
      }),
      RUNS,
    );
  });

  it('never deletes a pending or running transfer', () => {
    fc.assert(
      fc.property(inputArb, (input) => {
        for (const d of planRetention(input).delete)
          expect(['completed', 'failed', 'cancelled']).toContain(d.transfer.status);
      }),
      RUNS,
    );
  });

  it('never deletes the newest completed backup of an attached database', () => {
    fc.assert(
      fc.property(inputArb, (input) => {
        const deleted = new Set(planRetention(input).delete.map((d) => d.transfer));
        for (const db of DATABASES.filter((d) => !removed(d))) {
          const newest = completedBackups(input.transfers, db).sort(
            (a, b) => Date.parse(b.createdAt) - Date.parse(a.createdAt) || b.num - a.num,
          )[0];
          if (newest) expect(deleted.has(newest)).toBe(false);
        }
      }),
      RUNS,
    );
  });

  it('deletes failed and cancelled transfers of attached databases exactly when older than 7 days', () => {
    fc.assert(
      fc.property(inputArb, (input) => {
        const deleted = new Set(planRetention(input).delete.map((d) => d.transfer));
        for (const t of input.transfers) {
          if (removed(t.database) || (t.status !== 'failed' && t.status !== 'cancelled')) continue;
          const age = input.now.getTime() - Date.parse(t.finishedAt!);
          expect(deleted.has(t)).toBe(age > 7 * DAY_MS);
        }
      }),
      RUNS,
    );
  });

  it('keeps everything of a database removed less than 7 days ago, and deletes every finished transfer after', () => {
    fc.assert(
      fc.property(inputArb, (input) => {
        const deleted = new Set(planRetention(input).delete.map((d) => d.transfer));
        for (const t of input.transfers) {
          if (t.database === 'GONE_RECENTLY') expect(deleted.has(t)).toBe(false);
          if (t.database === 'GONE_LONG_AGO')
            expect(deleted.has(t)).toBe(t.status !== 'pending' && t.status !== 'running');
        }
      }),
      RUNS,
    );
  });

  it('keeps exactly the newest N completed manual backups per attached database', () => {
    fc.assert(
      fc.property(inputArb, (input) => {
        const deleted = new Set(planRetention(input).delete.map((d) => d.transfer));
        for (const db of DATABASES.filter((d) => !removed(d))) {
          const completed = completedBackups(input.transfers, db);
          const manual = completed.filter((t) => t.type === 'manual').sort((a, b) => b.num - a.num);
          const newestOverall = completed.sort((a, b) => b.num - a.num)[0];
          manual.forEach((t, i) => {
            expect(deleted.has(t)).toBe(!(i < input.limits.manual || t === newestOverall));
          });
        }
      }),
      RUNS,
    );
  });

  it('keeps every completed backup of the last `daily` days and the oldest of each kept week and month', () => {
    fc.assert(
      fc.property(inputArb, (input) => {
        const now = input.now.getTime();
        const deleted = new Set(planRetention(input).delete.map((d) => d.transfer));
        for (const db of DATABASES.filter((d) => !removed(d))) {
          const scheduled = completedBackups(input.transfers, db).filter((t) => t.type === 'scheduled');
          for (const t of scheduled) {
            if (now - Date.parse(t.createdAt) <= input.limits.daily * DAY_MS)
              expect(deleted.has(t)).toBe(false);
          }
          // Oldest per bucket, computed with calendar arithmetic rather than the module's helpers.
          const bucketOf = (t: Transfer, kind: 'week' | 'month') => {
            const c = new Date(t.createdAt);
            const n = new Date(now);
            if (kind === 'month')
              return (n.getUTCFullYear() - c.getUTCFullYear()) * 12 + n.getUTCMonth() - c.getUTCMonth();
            const monday = (d: Date) =>
              Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() - ((d.getUTCDay() + 6) % 7));
            return Math.round((monday(n) - monday(c)) / (7 * DAY_MS));
          };
          for (const [kind, count] of [
            ['week', input.limits.weekly],
            ['month', input.limits.monthly],
          ] as const) {
            if (count === 0) continue;
            for (let k = 0; k <= count; k++) {
              const inBucket = scheduled.filter((t) => bucketOf(t, kind) === k).sort((a, b) => a.num - b.num);
              if (inBucket[0]) expect(deleted.has(inBucket[0])).toBe(false);
            }
          }
        }
      }),
      RUNS,
    );
  });

  it('never expires scheduled backups by age while the latest scheduled run failed (within 7 days)', () => {
    fc.assert(
      fc.property(inputArb, fc.integer({ min: 0, max: 7 * DAY_MS }), (input, failedAgo) => {
        const now = input.now.getTime();
        const failure = transfer({
          num: input.transfers.length + 1,
          status: 'failed',
          createdAt: now - failedAgo,
        });
        // The failure is the newest scheduled run of DATABASE.
        const transfers = input.transfers.filter(
          (t) =>
            !(
              t.database === 'DATABASE' &&
              t.type === 'scheduled' &&
              Date.parse(t.createdAt) > now - failedAgo
            ),
        );
        transfers.push(failure);
        const deleted = planRetention({ ...input, transfers }).delete.map((d) => d.transfer);
        expect(
          deleted.filter(
            (t) => t.database === 'DATABASE' && t.type === 'scheduled' && t.status === 'completed',
          ),
        ).toEqual([]);
      }),
      RUNS,
    );
  });

  it('is idempotent: planning again over what was kept deletes nothing', () => {
    fc.assert(
      fc.property(inputArb, (input) => {
        const kept = planRetention(input).keep.map((d) => d.transfer);
        expect(planRetention({ ...input, transfers: kept }).delete).toEqual([]);
      }),
      RUNS,
    );
  });

  it('deletes nothing when every limit is infinite and nothing failed or was removed', () => {
    fc.assert(
      fc.property(inputArb, (input) => {
        const inf = { manual: 1e9, daily: 1e6, weekly: 0, monthly: 0 };
        const transfers = input.transfers.filter(
          (t) => !removed(t.database) && t.status !== 'failed' && t.status !== 'cancelled',
        );
        expect(planRetention({ ...input, transfers, limits: inf }).delete).toEqual([]);
      }),
      { numRuns: 100 },
    );
  });
});

// --- A simulated year of daily schedules ------------------------------------------------------------------------

/**
 * The expected survivors on day `today` (index from the first backup), computed with plain date arithmetic over
 * the whole history: last 7 days, the first backup of each of the current and W previous weeks and the current and
 * M previous months. Pruning runs 30 minutes after each 02:00 UTC backup, so "7 days" is today and the 6 before.
 */
function expectedDays(first: Date, today: number, limits: RetentionLimits): Set<number> {
  const date = (i: number) => new Date(first.getTime() + i * DAY_MS);
  const weekIndex = (d: Date) =>
    Math.floor((Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()) / DAY_MS + 3) / 7);
  const monthIndex = (d: Date) => d.getUTCFullYear() * 12 + d.getUTCMonth();
  const now = date(today);
  const keep = new Set<number>();
  for (let i = 0; i <= today; i++) {
    const d = date(i);
    const firstOfWeek = i === 0 || weekIndex(date(i - 1)) !== weekIndex(d);
    const firstOfMonth = i === 0 || monthIndex(date(i - 1)) !== monthIndex(d);
    if (today - i <= 6) keep.add(i);
    if (limits.weekly > 0 && firstOfWeek && weekIndex(now) - weekIndex(d) <= limits.weekly) keep.add(i);
    if (limits.monthly > 0 && firstOfMonth && monthIndex(now) - monthIndex(d) <= limits.monthly) keep.add(i);
  }
  return keep;
}

describe('planRetention: a simulated year of daily scheduled backups', () => {
  const first = new Date('2025-01-01T02:00:00.000Z');

  it.each(Object.keys(PLAN_LIMITS) as Plan[])('%s keeps exactly the expected set every day', (plan) => {
    const limits = PLAN_LIMITS[plan];
    const databases = [attachment('DATABASE')];
    let live: Transfer[] = [];
    for (let day = 0; day < 365; day++) {
      live.push(
        transfer({ num: day + 1, createdAt: first.getTime() + day * DAY_MS, finishedAfterMs: 10 * 60_000 }),
      );
      const now = new Date(first.getTime() + day * DAY_MS + 30 * 60_000);
      const deleted = new Set(
        planRetention({ transfers: live, databases, limits, now }).delete.map((d) => d.transfer),
      );
      live = live.filter((t) => !deleted.has(t));
      expect(new Set(live.map((t) => t.num - 1))).toEqual(expectedDays(first, day, limits));
    }
    const survivors = live.map((t) => t.createdAt.slice(5, 10)); // on 2025-12-31, a Wednesday
    const lastWeek = ['12-25', '12-26', '12-27', '12-28', '12-29', '12-30', '12-31'];
    const expected: Record<Plan, string[]> = {
      essential: ['12-22', ...lastWeek],
      standard: ['12-01', '12-08', '12-15', '12-22', ...lastWeek],
      premium: [
        ...[
          '01-01',
          '02-01',
          '03-01',
          '04-01',
          '05-01',
          '06-01',
          '07-01',
          '08-01',
          '09-01',
          '10-01',
          '11-01',
        ],
        ...['11-03', '11-10', '11-17', '11-24', '12-01', '12-08', '12-15', '12-22'],
        ...lastWeek,
      ],
      enterprise: [],
    };
    expected.enterprise = expected.premium;
    expect(survivors).toEqual(expected[plan]);
  });

  it('a failing stretch pauses expiry, and expiry catches up once a run completes', () => {
    const limits = PLAN_LIMITS.standard;
    const databases = [attachment('DATABASE')];
    let live: Transfer[] = [];
    const keptDuringFailures: number[] = [];
    for (let day = 0; day < 120; day++) {
      const failing = day >= 60 && day < 80;
      live.push(
        transfer({
          num: day + 1,
          status: failing ? 'failed' : 'completed',
          createdAt: first.getTime() + day * DAY_MS,
        }),
      );
      const now = new Date(first.getTime() + day * DAY_MS + 30 * 60_000);
      const deleted = new Set(
        planRetention({ transfers: live, databases, limits, now }).delete.map((d) => d.transfer),
      );
      expect([...deleted].filter((t) => failing && t.status === 'completed')).toEqual([]);
      live = live.filter((t) => !deleted.has(t));
      if (day === 79)
        keptDuringFailures.push(...live.filter((t) => t.status === 'completed').map((t) => t.num));
    }
    // Everything completed that existed when the failures began was still there at their end.
    expect(keptDuringFailures.length).toBeGreaterThanOrEqual(11);
    // Forty days later the failed records are gone and retention is back to its steady state.
    expect(live.filter((t) => t.status === 'failed')).toEqual([]);
    expect(new Set(live.map((t) => t.num - 1))).toEqual(expectedDays(first, 119, limits));
  });
});
