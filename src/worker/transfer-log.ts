import type { Clock } from '../core/ports.js';
import { type LogLine, MAX_LOG_LINE_CHARS, MAX_LOG_LINES } from '../core/transfer.js';

/**
 * The user-visible log of one transfer (what `pgbackups:info` shows): the newest MAX_LOG_LINES lines, each at
 * most MAX_LOG_LINE_CHARS, so a chatty `--verbose` dump of a database with 100,000 tables stays one small item.
 */
export class TransferLog {
  private readonly buffer: LogLine[] = [];
  private version = 0;
  private flushedVersion = 0;

  constructor(private readonly clock: Clock) {}

  add(level: LogLine['level'], message: string): void {
    const text =
      message.length > MAX_LOG_LINE_CHARS ? `${message.slice(0, MAX_LOG_LINE_CHARS - 1)}…` : message;
    this.buffer.push({ at: this.clock.now().toISOString(), level, message: text });
    if (this.buffer.length > MAX_LOG_LINES) this.buffer.splice(0, this.buffer.length - MAX_LOG_LINES);
    this.version++;
  }

  info(message: string): void {
    this.add('info', message);
  }
  warn(message: string): void {
    this.add('warn', message);
  }
  error(message: string): void {
    this.add('error', message);
  }

  lines(): readonly LogLine[] {
    return [...this.buffer];
  }

  /** Whether lines were added since the last `markFlushed`, so an idle tick does not rewrite the item. */
  get dirty(): boolean {
    return this.version !== this.flushedVersion;
  }

  /** Returns a snapshot and the version it represents; pass that version to `markFlushed` once it is stored. */
  snapshot(): { lines: readonly LogLine[]; version: number } {
    return { lines: this.lines(), version: this.version };
  }

  markFlushed(version: number): void {
    this.flushedVersion = Math.max(this.flushedVersion, version);
  }
}

/** The level a pg tool's stderr line deserves. */
export function levelOfToolLine(line: string): LogLine['level'] {
  if (/\b(error|fatal|panic)\b:/i.test(line)) return 'error';
  if (/\bwarning\b:/i.test(line)) return 'warn';
  return 'info';
}
