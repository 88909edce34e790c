/**
 * The local stack's Scheduler: EventBridge Scheduler's daily cron, in-process. Schedules live in memory (loaded
 * from the catalog on start, kept in step by upsert/remove); one timer is armed at a time, for the earliest due
 * run, computed by `nextRunAt` with AWS's DST rules (a local time that does not exist is skipped, a repeated one
 * runs once).
 */
import { errorMessage, type Logger, silentLogger } from '../core/logger.js';
import type { Catalog, Clock, Schedule, Scheduler } from '../core/ports.js';
import { systemClock } from '../core/ports.js';
import { nextRunAt } from '../core/schedule-time.js';

/** The timer functions the scheduler uses; tests pass fakes that fire on demand. */
export interface Timers {
  setTimeout(fn: () => Promise<void>, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const realTimers: Timers = {
  setTimeout: (fn, ms) => {
    const handle = setTimeout(() => void fn(), ms);
    // The API server keeps the local stack alive; a pending schedule alone should not.
    handle.unref();
    return handle;
  },
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

// A long setTimeout drifts when the laptop sleeps and cannot exceed ~24.8 days; re-checking the clock at least
// hourly keeps runs on time after a sleep or a clock change.
const MAX_SLEEP_MS = 3_600_000;

export interface TimerSchedulerOptions {
  readonly catalog: Pick<Catalog, 'listAllSchedules'>;
  /** Called when a schedule is due (the local stack starts a scheduled capture). Errors are logged. */
  readonly onDue: (app: string, database: string) => Promise<unknown> | unknown;
  readonly clock?: Clock;
  readonly timers?: Timers;
  readonly log?: Logger;
}

interface Entry {
  schedule: Schedule;
  next: Date;
}

export class TimerScheduler implements Scheduler {
  private readonly entries = new Map<string, Entry>();
  private readonly clock: Clock;
  private readonly timers: Timers;
  private readonly log: Logger;
  private handle: unknown;
  private started = false;

  constructor(private readonly opts: TimerSchedulerOptions) {
    this.clock = opts.clock ?? systemClock;
    this.timers = opts.timers ?? realTimers;
    this.log = (opts.log ?? silentLogger).child({ component: 'timer-scheduler' });
  }

  /** Loads every schedule from the catalog and arms the timer. */
  async start(): Promise<void> {
    for (const s of await this.opts.catalog.listAllSchedules()) this.put(s);
    this.started = true;
    this.arm();
    this.log.info('timer scheduler started', { schedules: this.entries.size });
  }

  stop(): void {
    this.started = false;
    this.disarm();
  }

  async upsert(s: Schedule): Promise<void> {
    this.put(s);
    this.arm();
  }

  async remove(app: string, database: string): Promise<void> {
    this.entries.delete(key(app, database));
    this.arm();
  }

  /** The next run of each schedule, earliest first (for the local stack's status output and tests). */
  upcoming(): { app: string; database: string; at: Date }[] {
    return [...this.entries.values()]
      .sort((a, b) => a.next.getTime() - b.next.getTime())
      .map((e) => ({ app: e.schedule.app, database: e.schedule.database, at: e.next }));
  }

  private put(s: Schedule): void {
    try {
      this.entries.set(key(s.app, s.database), { schedule: s, next: nextRunAt(s, this.clock.now()) });
    } catch (e) {
      // A stored schedule the core no longer understands must not stop the other schedules (or the stack).
      this.entries.delete(key(s.app, s.database));
      this.log.error('schedule ignored', { app: s.app, database: s.database, error: errorMessage(e) });
    }
  }

  private disarm(): void {
    if (this.handle !== undefined) this.timers.clearTimeout(this.handle);
    this.handle = undefined;
  }

  private arm(): void {
    this.disarm();
    if (!this.started) return;
    const first = this.upcoming()[0];
    if (!first) return;
    const delay = Math.min(Math.max(first.at.getTime() - this.clock.now().getTime(), 0), MAX_SLEEP_MS);
    this.handle = this.timers.setTimeout(() => this.fire(), delay);
  }

  /** Runs whatever is due, once each even if the process slept through several runs, then re-arms. */
  private async fire(): Promise<void> {
    this.handle = undefined;
    const now = this.clock.now();
    const due = [...this.entries.values()].filter((e) => e.next.getTime() <= now.getTime());
    for (const e of due) e.next = nextRunAt(e.schedule, now);
    this.arm();
    await Promise.all(
      due.map(async ({ schedule: s }) => {
        this.log.info('schedule due', { app: s.app, database: s.database });
        try {
          await this.opts.onDue(s.app, s.database);
        } catch (e) {
          this.log.error('scheduled capture failed to start', {
            app: s.app,
            database: s.database,
            error: errorMessage(e),
          });
        }
      }),
    );
  }
}

const key = (app: string, database: string) => `${app}\u0000${database}`;
