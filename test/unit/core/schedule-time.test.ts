import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../../src/core/errors.js';
import {
  cronExpression,
  describeSchedule,
  isCanonicalTimeZone,
  localTimeInstants,
  nextRunAt,
  parseScheduleAt,
  previousRunAt,
  resolveTimeZone,
  TIME_ZONE_ABBREVIATIONS,
  wallClock,
} from '../../../src/core/schedule-time.js';
import { TIME_ZONE_ALIASES, TIME_ZONES } from '../../../src/core/time-zones.js';

describe('parseScheduleAt', () => {
  it.each([
    ['2:00', { hour: 2, minute: 0, timezone: 'UTC' }],
    ['02:00', { hour: 2, minute: 0, timezone: 'UTC' }],
    ['23:00 UTC', { hour: 23, minute: 0, timezone: 'UTC' }],
    ['0:00 Z', { hour: 0, minute: 0, timezone: 'UTC' }],
    ['02:00 America/Los_Angeles', { hour: 2, minute: 0, timezone: 'America/Los_Angeles' }],
    ['02:00America/Los_Angeles', { hour: 2, minute: 0, timezone: 'America/Los_Angeles' }],
    ['  14:30   Europe/Paris ', { hour: 14, minute: 30, timezone: 'Europe/Paris' }],
    ['9:45 asia/kolkata', { hour: 9, minute: 45, timezone: 'Asia/Kolkata' }],
  ])('parses %j', (input, expected) => {
    expect(parseScheduleAt(input)).toEqual(expected);
  });

  it.each([
    ['PST', 'America/Los_Angeles'],
    ['pdt', 'America/Los_Angeles'],
    ['MST', 'America/Boise'],
    ['mdt', 'America/Boise'],
    ['CST', 'America/Chicago'],
    ['Cdt', 'America/Chicago'],
    ['EST', 'America/New_York'],
    ['est', 'America/New_York'],
    ['EDT', 'America/New_York'],
    ['GMT', 'Europe/London'],
    ['bst', 'Europe/London'],
    ['CET', 'Europe/Paris'],
    ['cest', 'Europe/Paris'],
    ['z', 'UTC'],
  ])("maps Heroku's abbreviation %s to %s", (abbr, zone) => {
    expect(parseScheduleAt(`3:00 ${abbr}`).timezone).toBe(zone);
  });

  it.each(['', '2', '2:0', '02:00:00', '24:00', '2:60', 'two:00', '-1:00', '02:00 UTC extra', '002:00'])(
    'rejects %j and says what is expected',
    (input) => {
      expect(() => parseScheduleAt(input)).toThrow(ValidationError);
      expect(() => parseScheduleAt(input)).toThrow(/HH:MM|hour must be 0–23/);
    },
  );

  it('rejects non-strings', () => {
    expect(() => parseScheduleAt(2)).toThrow(/Invalid schedule format: expected --at/);
    expect(() => parseScheduleAt(undefined)).toThrow(ValidationError);
  });

  it.each(['HST', 'IST', 'AEST', 'EST5EDT', 'Factory', 'Mars/Olympus', 'America', 'Los_Angeles'])(
    'rejects the time zone %s, which Intl would accept or remap',
    (tz) => {
      expect(() => parseScheduleAt(`02:00 ${tz}`)).toThrow(/Unknown time zone .*canonical IANA name/);
    },
  );

  it('suggests the canonical name for an old alias', () => {
    expect(() => resolveTimeZone('US/Pacific')).toThrow(/use the canonical name America\/Los_Angeles/);
    expect(() => resolveTimeZone('Asia/Calcutta')).toThrow(/Asia\/Kolkata/);
    expect(() => resolveTimeZone('europe/kiev')).toThrow(/Europe\/Kyiv/);
  });

  it('never accepts an arbitrary string that is not in the allow-list', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 30 }), (s) => {
        const name = s.trim();
        let resolved: string | undefined;
        try {
          resolved = resolveTimeZone(s);
        } catch (e) {
          expect(e).toBeInstanceOf(ValidationError);
          return;
        }
        expect(
          name === '' || name.toUpperCase() in TIME_ZONE_ABBREVIATIONS || isCanonicalTimeZone(resolved),
        ).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});

describe('time zone allow-list', () => {
  it('holds canonical names only, every one usable for offset arithmetic', () => {
    expect(TIME_ZONES.length).toBeGreaterThan(400);
    expect(TIME_ZONES).toContain('UTC');
    expect(TIME_ZONES).toContain('America/Los_Angeles');
    expect(TIME_ZONES).not.toContain('US/Pacific');
    expect(TIME_ZONES).not.toContain('EST');
    for (const zone of TIME_ZONES) {
      expect(isCanonicalTimeZone(zone)).toBe(true);
      expect(() => wallClock(zone, Date.UTC(2026, 0, 1))).not.toThrow();
    }
  });

  it('suggests only names that are themselves allowed', () => {
    for (const [alias, zone] of Object.entries(TIME_ZONE_ALIASES)) {
      expect(TIME_ZONES).not.toContain(alias);
      expect(TIME_ZONES).toContain(zone);
    }
  });

  it('resolves every abbreviation to an allowed zone', () => {
    for (const zone of Object.values(TIME_ZONE_ABBREVIATIONS)) expect(isCanonicalTimeZone(zone)).toBe(true);
  });
});

describe('describeSchedule and cronExpression', () => {
  it('uses Heroku wording with an unpadded hour', () => {
    expect(describeSchedule({ hour: 2, minute: 0, timezone: 'America/Los_Angeles' })).toBe(
      'daily at 2:00 America/Los_Angeles',
    );
    expect(describeSchedule({ hour: 14, minute: 5, timezone: 'UTC' })).toBe('daily at 14:05 UTC');
  });

  it('builds the EventBridge Scheduler cron', () => {
    expect(cronExpression({ hour: 2, minute: 30, timezone: 'UTC' })).toBe('cron(30 2 * * ? *)');
  });
});

/** Every run in [from, to), by repeatedly asking nextRunAt. */
function runs(s: { hour: number; minute: number; timezone: string }, from: string, to: string): string[] {
  const out: string[] = [];
  let at = new Date(from);
  for (;;) {
    at = nextRunAt(s, at);
    if (at >= new Date(to)) return out;
    out.push(at.toISOString());
  }
}

describe('nextRunAt', () => {
  it('runs daily at the UTC time', () => {
    expect(
      runs({ hour: 2, minute: 0, timezone: 'UTC' }, '2026-01-01T00:00:00Z', '2026-01-04T00:00:00Z'),
    ).toEqual(['2026-01-01T02:00:00.000Z', '2026-01-02T02:00:00.000Z', '2026-01-03T02:00:00.000Z']);
  });

  it('is strictly after its argument', () => {
    const s = { hour: 2, minute: 0, timezone: 'UTC' };
    expect(nextRunAt(s, new Date('2026-01-01T02:00:00Z')).toISOString()).toBe('2026-01-02T02:00:00.000Z');
    expect(nextRunAt(s, new Date('2026-01-01T01:59:59.999Z')).toISOString()).toBe('2026-01-01T02:00:00.000Z');
  });

  it('America/Los_Angeles: skips 02:30 on the spring-forward day', () => {
    const s = { hour: 2, minute: 30, timezone: 'America/Los_Angeles' };
    expect(runs(s, '2026-03-07T00:00:00Z', '2026-03-10T00:00:00Z')).toEqual([
      '2026-03-07T10:30:00.000Z', // PST
      // 2026-03-08 02:30 does not exist (02:00 → 03:00): skipped
      '2026-03-09T09:30:00.000Z', // PDT
    ]);
  });

  it('America/Los_Angeles: runs 01:30 once on the fall-back day, at the first occurrence', () => {
    const s = { hour: 1, minute: 30, timezone: 'America/Los_Angeles' };
    expect(runs(s, '2026-10-31T00:00:00Z', '2026-11-03T00:00:00Z')).toEqual([
      '2026-10-31T08:30:00.000Z',
      '2026-11-01T08:30:00.000Z', // 01:30 PDT; 01:30 PST (09:30Z) is not run again
      '2026-11-02T09:30:00.000Z',
    ]);
  });

  it('Europe/London: skips 01:30 in March, runs once in October', () => {
    const s = { hour: 1, minute: 30, timezone: 'Europe/London' };
    expect(runs(s, '2026-03-28T00:00:00Z', '2026-03-31T00:00:00Z')).toEqual([
      '2026-03-28T01:30:00.000Z',
      '2026-03-30T00:30:00.000Z',
    ]);
    expect(runs(s, '2026-10-24T00:00:00Z', '2026-10-27T00:00:00Z')).toEqual([
      '2026-10-24T00:30:00.000Z',
      '2026-10-25T00:30:00.000Z', // 01:30 BST; 01:30 GMT (01:30Z) is not run again
      '2026-10-26T01:30:00.000Z',
    ]);
  });

  it('Australia/Sydney: southern-hemisphere DST, gap in October and overlap in April', () => {
    const s = { hour: 2, minute: 30, timezone: 'Australia/Sydney' };
    expect(runs(s, '2026-04-03T00:00:00Z', '2026-04-06T00:00:00Z')).toEqual([
      '2026-04-03T15:30:00.000Z', // 02:30 AEDT on the 4th
      '2026-04-04T15:30:00.000Z', // 02:30 AEDT on the 5th (first of two)
      '2026-04-05T16:30:00.000Z', // 02:30 AEST on the 6th
    ]);
    expect(runs(s, '2026-10-02T00:00:00Z', '2026-10-05T12:00:00Z')).toEqual([
      '2026-10-02T16:30:00.000Z', // 02:30 AEST on the 3rd
      // 2026-10-04 02:30 does not exist: skipped
      '2026-10-04T15:30:00.000Z', // 02:30 AEDT on the 5th
    ]);
  });

  it('a zone without DST runs every 24 hours all year', () => {
    const s = { hour: 5, minute: 15, timezone: 'Asia/Kolkata' };
    const all = runs(s, '2026-01-01T00:00:00Z', '2027-01-01T00:00:00Z');
    expect(all).toHaveLength(365);
    expect(all[0]).toBe('2026-01-01T23:45:00.000Z');
    for (let i = 1; i < all.length; i++) {
      expect(Date.parse(all[i]!) - Date.parse(all[i - 1]!)).toBe(24 * 3600_000);
    }
  });

  it('one run per local day in a DST zone, except on the skipped day', () => {
    const s = { hour: 2, minute: 30, timezone: 'America/Los_Angeles' };
    expect(runs(s, '2026-01-01T08:00:00Z', '2027-01-01T08:00:00Z')).toHaveLength(364);
  });

  it('always returns an instant showing hour:minute locally, within two days', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(
          'America/Los_Angeles',
          'Europe/London',
          'Australia/Sydney',
          'Asia/Kolkata',
          'Pacific/Chatham',
        ),
        fc.integer({ min: 0, max: 23 }),
        fc.integer({ min: 0, max: 59 }),
        fc.integer({ min: Date.UTC(2024, 0, 1), max: Date.UTC(2028, 0, 1) }),
        (timezone, hour, minute, afterMs) => {
          const next = nextRunAt({ hour, minute, timezone }, new Date(afterMs)).getTime();
          expect(next).toBeGreaterThan(afterMs);
          expect(next - afterMs).toBeLessThanOrEqual(2 * 24 * 3600_000);
          const w = wallClock(timezone, next);
          expect([w.hour, w.minute]).toEqual([hour, minute]);
          expect(previousRunAt({ hour, minute, timezone }, new Date(next)).getTime()).toBe(next);
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('localTimeInstants', () => {
  it('finds none in a gap, two in an overlap', () => {
    expect(localTimeInstants('America/Los_Angeles', { year: 2026, month: 3, day: 8 }, 2, 30)).toEqual([]);
    expect(localTimeInstants('America/Los_Angeles', { year: 2026, month: 11, day: 1 }, 1, 30)).toEqual([
      Date.parse('2026-11-01T08:30:00Z'),
      Date.parse('2026-11-01T09:30:00Z'),
    ]);
  });
});
