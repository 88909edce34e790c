import { describe, expect, it } from 'vitest';
import type { Schedule } from '../../../src/core/ports.js';
import { TimerScheduler, type Timers } from '../../../src/local/timer-scheduler.js';
import { FakeClock, MemoryCatalog } from '../../fakes/index.js';

/** Timers that fire only when the test says so, moving the fake clock forward by the requested delay. */
class ManualTimers implements Timers {
  pending: { fn: () => Promise<void>; ms: number } | undefined;
  armed = 0;
  setTimeout(fn: () => Promise<void>, ms: number) {
    this.armed++;
    this.pending = { fn, ms };
    return this.pending;
  }
  clearTimeout(handle: unknown) {
    if (this.pending === handle) this.pending = undefined;
  }
}

function schedule(hour: number, minute: number, timezone: string, database = 'DATABASE'): Schedule {
  return { app: 'example-app', database, hour, minute, timezone, createdAt: '2020-01-01T00:00:00.000Z' };
}

async function harness(schedules: Schedule[], start: string) {
  const catalog = new MemoryCatalog();
  for (const s of schedules) await catalog.putSchedule(s);
  const clock = new FakeClock(new Date(start));
  const timers = new ManualTimers();
  const fired: string[] = [];
  const scheduler = new TimerScheduler({
    catalog,
    clock,
    timers,
    onDue: (app, database) => {
      fired.push(`${clock.now().toISOString()} ${app}/${database}`);
    },
  });
  await scheduler.start();
  /** Lets the timers run until `end`; returns the due instants seen, in order. */
  const runUntil = async (end: string) => {
    while (timers.pending) {
      const { fn, ms } = timers.pending;
      if (clock.now().getTime() + ms >= Date.parse(end)) break;
      clock.advance(ms);
      await fn();
    }
    return fired.map((f) => f.split(' ')[0]);
  };
  return { scheduler, clock, timers, fired, runUntil };
}

describe('TimerScheduler', () => {
  it('fires a UTC schedule once a day', async () => {
    const h = await harness([schedule(2, 0, 'UTC')], '2026-01-01T00:00:00Z');
    expect(await h.runUntil('2026-01-04T00:00:00Z')).toEqual([
      '2026-01-01T02:00:00.000Z',
      '2026-01-02T02:00:00.000Z',
      '2026-01-03T02:00:00.000Z',
    ]);
    expect(h.fired[0]).toBe('2026-01-01T02:00:00.000Z example-app/DATABASE');
  });

  it('America/Los_Angeles: skips 02:30 on the spring-forward day', async () => {
    const h = await harness([schedule(2, 30, 'America/Los_Angeles')], '2026-03-07T00:00:00Z');
    expect(await h.runUntil('2026-03-10T00:00:00Z')).toEqual([
      '2026-03-07T10:30:00.000Z',
      '2026-03-09T09:30:00.000Z',
    ]);
  });

  it('America/Los_Angeles: runs 01:30 once on the fall-back day', async () => {
    const h = await harness([schedule(1, 30, 'America/Los_Angeles')], '2026-10-31T12:00:00Z');
    expect(await h.runUntil('2026-11-03T00:00:00Z')).toEqual([
      '2026-11-01T08:30:00.000Z',
      '2026-11-02T09:30:00.000Z',
    ]);
  });

  it('Europe/London: skips 01:30 in spring, runs it once in autumn', async () => {
    const spring = await harness([schedule(1, 30, 'Europe/London')], '2026-03-28T12:00:00Z');
    expect(await spring.runUntil('2026-03-31T00:00:00Z')).toEqual(['2026-03-30T00:30:00.000Z']);
    const autumn = await harness([schedule(1, 30, 'Europe/London')], '2026-10-24T12:00:00Z');
    expect(await autumn.runUntil('2026-10-27T00:00:00Z')).toEqual([
      '2026-10-25T00:30:00.000Z',
      '2026-10-26T01:30:00.000Z',
    ]);
  });

  it('Australia/Sydney: skips 02:30 in October, runs it once in April', async () => {
    const october = await harness([schedule(2, 30, 'Australia/Sydney')], '2026-10-03T00:00:00Z');
    expect(await october.runUntil('2026-10-05T12:00:00Z')).toEqual(['2026-10-04T15:30:00.000Z']);
    const april = await harness([schedule(2, 30, 'Australia/Sydney')], '2026-04-04T00:00:00Z');
    expect(await april.runUntil('2026-04-06T00:00:00Z')).toEqual([
      '2026-04-04T15:30:00.000Z',
      '2026-04-05T16:30:00.000Z',
    ]);
  });

  it('a zone without DST (Asia/Tokyo) fires every 24 hours through the year', async () => {
    const h = await harness([schedule(3, 0, 'Asia/Tokyo')], '2026-01-01T00:00:00Z');
    const runs = await h.runUntil('2027-01-01T00:00:00Z');
    expect(runs).toHaveLength(365);
    expect(runs[0]).toBe('2026-01-01T18:00:00.000Z');
    expect(new Set(runs.map((r) => r!.slice(11)))).toEqual(new Set(['18:00:00.000Z']));
  });

  it('keeps several schedules with one timer, and follows upsert and remove', async () => {
    const h = await harness([schedule(2, 0, 'UTC'), schedule(3, 0, 'UTC', 'PINK')], '2026-01-01T00:00:00Z');
    await h.runUntil('2026-01-01T12:00:00Z');
    expect(h.fired).toEqual([
      '2026-01-01T02:00:00.000Z example-app/DATABASE',
      '2026-01-01T03:00:00.000Z example-app/PINK',
    ]);
    await h.scheduler.upsert(schedule(13, 15, 'Europe/Paris')); // replaces DATABASE's 02:00 UTC
    await h.scheduler.remove('example-app', 'PINK');
    expect(h.scheduler.upcoming().map((u) => [u.database, u.at.toISOString()])).toEqual([
      ['DATABASE', '2026-01-01T12:15:00.000Z'],
    ]);
    await h.runUntil('2026-01-03T00:00:00Z');
    expect(h.fired.slice(2)).toEqual([
      '2026-01-01T12:15:00.000Z example-app/DATABASE',
      '2026-01-02T12:15:00.000Z example-app/DATABASE',
    ]);
  });

  it('fires a run it slept through once, not once per missed day', async () => {
    const h = await harness([schedule(2, 0, 'UTC')], '2026-01-01T00:00:00Z');
    const { fn } = h.timers.pending!;
    h.clock.set('2026-01-04T05:00:00Z'); // the laptop slept three days
    await fn();
    expect(h.fired).toEqual(['2026-01-04T05:00:00.000Z example-app/DATABASE']);
    expect(h.scheduler.upcoming()[0]!.at.toISOString()).toBe('2026-01-05T02:00:00.000Z');
  });

  it('logs a failing onDue and keeps going', async () => {
    const catalog = new MemoryCatalog();
    await catalog.putSchedule(schedule(2, 0, 'UTC'));
    const clock = new FakeClock(new Date('2026-01-01T00:00:00Z'));
    const timers = new ManualTimers();
    let calls = 0;
    const scheduler = new TimerScheduler({
      catalog,
      clock,
      timers,
      onDue: async () => {
        calls++;
        throw new Error('database not attached');
      },
    });
    await scheduler.start();
    for (let i = 0; i < 30 && calls < 2; i++) {
      const { fn, ms } = timers.pending!;
      clock.advance(ms);
      await fn();
    }
    expect(calls).toBe(2);
    expect(timers.pending).toBeDefined();
  });

  it('arms nothing after stop, and nothing before start', async () => {
    const h = await harness([schedule(2, 0, 'UTC')], '2026-01-01T00:00:00Z');
    h.scheduler.stop();
    expect(h.timers.pending).toBeUndefined();
    await h.scheduler.upsert(schedule(4, 0, 'UTC', 'PINK'));
    expect(h.timers.pending).toBeUndefined();
  });

  it('ignores a stored schedule whose time zone cannot be used, and runs the others', async () => {
    const h = await harness(
      [schedule(2, 0, 'Mars/Olympus_Mons'), schedule(3, 0, 'UTC', 'PINK')],
      '2026-01-01T00:00:00Z',
    );
    expect(await h.runUntil('2026-01-02T00:00:00Z')).toEqual(['2026-01-01T03:00:00.000Z']);
    expect(h.fired).toEqual(['2026-01-01T03:00:00.000Z example-app/PINK']);
  });

  it('never sleeps longer than an hour, so a clock change is noticed', async () => {
    const h = await harness([schedule(2, 0, 'UTC')], '2026-01-01T03:00:00Z');
    expect(h.timers.pending!.ms).toBe(3_600_000);
  });
});
