/**
 * Following a transfer until it ends, as `heroku pg:backups:capture` does: on a terminal a status line with the
 * processed size and the newest log line; with `--verbose` every log line once; Ctrl-C stops watching only.
 */
import { isFinished as isFinishedStatus } from '../core/transfer.js';
import { type Context, cmd, err, getTransfer } from './command.js';
import { ApiError, EXIT } from './errors.js';
import { formatBytes, logLine } from './format.js';
import type { TransferJson } from './types.js';

export const DEFAULT_WAIT_SECONDS = 3;
/** Heroku forces at least 3 s; polling our API is cheap, so we allow faster (tests and impatient users). */
export const MIN_WAIT_SECONDS = 0.2;
/** Consecutive failed polls tolerated before giving up (Heroku tolerates about 21). */
const MAX_POLL_FAILURES = 20;

export const isFinished = (t: TransferJson): boolean => isFinishedStatus(t.status);

export interface FollowOptions {
  /** `Backing up ⛁ DATABASE to b005`: the status line's text. */
  readonly label: string;
  readonly verbose: boolean;
  readonly intervalMs: number;
  /** Bytes the transfer will process, when known (a restore reads a dump of known size): adds a percentage. */
  readonly totalBytes?: number | null;
}

/** How often a terminal's status line is redrawn between polls, so the spinner and the clock show life. */
const REDRAW_MS = 1000;
const SPINNER = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

/** `12s`, `3m 04s`, `2h 03m`: how long the transfer has run. */
export function formatElapsed(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

export interface FollowResult {
  readonly transfer: TransferJson;
  readonly interrupted: boolean;
}

/** Redraws a block of lines in place on a terminal. */
class LiveLines {
  private drawn = 0;

  constructor(private readonly ctx: Context) {}

  draw(lines: readonly string[]): void {
    const columns = this.ctx.io.stderr.columns ?? 80;
    const fitted = lines.map((l) =>
      [...l].length >= columns ? `${[...l].slice(0, columns - 2).join('')}…` : l,
    );
    const up = this.drawn > 1 ? `\x1b[${this.drawn - 1}A` : '';
    this.ctx.io.stderr.write(`${up}\r\x1b[J${fitted.join('\n')}`);
    this.drawn = fitted.length;
  }

  clear(): void {
    if (this.drawn === 0) return;
    const up = this.drawn > 1 ? `\x1b[${this.drawn - 1}A` : '';
    this.ctx.io.stderr.write(`${up}\r\x1b[J`);
    this.drawn = 0;
  }
}

/** Polls until the transfer finishes or the user presses Ctrl-C. Progress goes to stderr. */
export async function follow(ctx: Context, start: TransferJson, opts: FollowOptions): Promise<FollowResult> {
  const tty = ctx.io.stderr.isTTY;
  const live = tty && !opts.verbose ? new LiveLines(ctx) : undefined;
  const stop = new AbortController();
  const unregister = ctx.io.onInterrupt(() => stop.abort());
  const seen = new Set<string>();
  let t = start;
  let failures = 0;
  let frame = 0;
  const redraw = () => live?.draw(statusLines(ctx, t, opts, SPINNER[frame++ % SPINNER.length] as string));
  if (!live) ctx.io.stderr.write(`${opts.label}...${opts.verbose ? '\n' : ' '}`);
  try {
    for (;;) {
      redraw();
      if (opts.verbose) {
        for (const l of t.logs ?? []) {
          const key = `${l.at}\u0000${l.message}`;
          if (seen.has(key)) continue;
          seen.add(key);
          err(ctx, logLine(l));
        }
      }
      if (isFinished(t)) break;
      if (live) {
        // Redrawn between polls too: a transfer waiting on a lock still shows a moving spinner and clock.
        for (let waited = 0; waited < opts.intervalMs && !stop.signal.aborted; waited += REDRAW_MS) {
          await ctx.io.sleep(Math.min(REDRAW_MS, opts.intervalMs - waited), stop.signal);
          if (!stop.signal.aborted && waited + REDRAW_MS < opts.intervalMs) redraw();
        }
      } else {
        await ctx.io.sleep(opts.intervalMs, stop.signal);
      }
      if (stop.signal.aborted) {
        live?.clear();
        if (!live && !opts.verbose) ctx.io.stderr.write('\n');
        return { transfer: t, interrupted: true };
      }
      try {
        t = await getTransfer(ctx, start.id, tty || opts.verbose);
        failures = 0;
      } catch (e) {
        // A missing transfer will not come back; anything else (network, 5xx) may be brief.
        if ((e instanceof ApiError && e.status === 404) || ++failures > MAX_POLL_FAILURES) {
          // The error is printed next: end the status line first, so it starts on a line of its own.
          if (live) {
            live.clear();
            ctx.io.stderr.write(`${opts.label}... !\n`);
          } else if (!opts.verbose) ctx.io.stderr.write('!\n');
          throw e;
        }
      }
    }
  } finally {
    unregister();
  }
  const ok = t.status === 'completed';
  if (live) {
    live.clear();
    ctx.io.stderr.write(`${opts.label}... ${ok ? 'done' : '!'}\n`);
  } else if (opts.verbose) {
    err(ctx, `${opts.label}... ${ok ? 'done' : '!'}`);
  } else {
    ctx.io.stderr.write(`${ok ? 'done' : '!'}\n`);
  }
  return { transfer: t, interrupted: false };
}

/** `Restoring... 42% 1.21MB/2.88MB ⠹ 12s` and the newest log line. */
function statusLines(ctx: Context, t: TransferJson, opts: FollowOptions, spinner: string): string[] {
  const done = t.processedBytes ?? 0;
  const total = opts.totalBytes ?? 0;
  let progress = formatBytes(done);
  if (t.status === 'pending') progress = 'pending';
  else if (total > 0)
    progress = `${Math.min(100, Math.floor((done / total) * 100))}% ${formatBytes(done)}/${formatBytes(total)}`;
  const since = Date.parse(t.startedAt ?? t.createdAt);
  const elapsed = Number.isNaN(since) ? '' : ` ${formatElapsed(ctx.io.now().getTime() - since)}`;
  const head = isFinished(t)
    ? `${opts.label}... ${progress}`
    : `${opts.label}... ${progress} ${spinner}${elapsed}`;
  const latest = t.logs?.at(-1);
  return latest ? [head, logLine(latest)] : [head];
}

/** The lines Heroku prints before following: how to stop watching, check and cancel. */
export function printFollowHints(ctx: Context, t: TransferJson): void {
  const word = t.kind;
  err(ctx);
  err(ctx, `Use Ctrl-C at any time to stop monitoring progress; the ${word} will continue running.`);
  err(ctx, `Use ${cmd(ctx, `info ${t.id}`)} to check progress.`);
  err(ctx, `Stop a running ${word} with ${cmd(ctx, `cancel ${t.id}`)}.`);
  err(ctx);
}

/**
 * Follows a transfer and reports how it ended: exit 0 when completed, 2 (with its last log lines) when it failed
 * or was cancelled, 130 when the user stopped watching.
 */
export async function followToEnd(ctx: Context, started: TransferJson, opts: FollowOptions): Promise<number> {
  const { transfer, interrupted } = await follow(ctx, started, opts);
  if (interrupted) {
    err(
      ctx,
      `Stopped watching ${transfer.id}; the ${transfer.kind} continues. Check it with ${cmd(ctx, `info ${transfer.id}`)}.`,
    );
    if (ctx.json) ctx.io.stdout.write(`${JSON.stringify(transfer, null, 2)}\n`);
    return EXIT.interrupted;
  }
  const final = transfer.status === 'completed' ? transfer : await getTransfer(ctx, transfer.id, true);
  if (ctx.json) ctx.io.stdout.write(`${JSON.stringify(final, null, 2)}\n`);
  if (final.status === 'completed') return EXIT.ok;
  err(ctx, failureReport(final, ctx));
  return EXIT.transferFailed;
}

/** Heroku's failure text, naming the right kind of transfer, with the last five log messages. */
export function failureReport(t: TransferJson, ctx: Pick<Context, 'appHint'> = { appHint: '' }): string {
  const messages = (t.logs ?? []).slice(-5).map((l) => l.message);
  if (t.error && !messages.some((m) => m.includes(t.error as string))) messages.push(t.error);
  const head =
    t.status === 'cancelled'
      ? `The ${t.kind} ${t.id} was cancelled and did not finish.`
      : `An error occurred and the ${t.kind} did not finish.`;
  return [head, '', ...messages, '', `Run ${cmd(ctx, `info ${t.id}`)} for more details.`].join('\n');
}
