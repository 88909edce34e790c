import { Transform, type TransformCallback } from 'node:stream';

export type CommitDecision = 'pending' | 'commit' | 'rollback';

export interface CommitGateOptions {
  /** SQL written before the script. */
  readonly prelude: string;
  /**
   * Called once the script has ended. `scriptComplete` is false when no final `COMMIT;` was seen (pg_restore died
   * or the archive was truncated); the gate then always rolls back whatever `decide` says.
   */
  readonly decide: (scriptComplete: boolean) => Promise<boolean>;
}

const NL = 0x0a;
const COMMIT = 'COMMIT;';
const COMMIT_FIRST = 0x43; // 'C'
const NL_COMMIT = Buffer.from(`\n${COMMIT}`);
const BEGIN = 'BEGIN;';
/** A trailer longer than this is not pg_restore's end-of-script boilerplate. */
const MAX_TRAILER_BYTES = 64 * 1024;
/** The header before `BEGIN;` is a few comment lines and `\restrict`; a longer line ends the search. */
const MAX_HEAD_LINE_BYTES = 4096;

/** `\restrict <key>`: what every fixed pg_restore writes before anything taken from the archive. */
const RESTRICT_LINE = /^\\restrict \S+\s*$/;

/**
 * The script did not open with `\restrict`: it comes from a pg_restore without the fix for CVE-2025-8714 (a
 * crafted archive could make psql run meta-commands such as `\!`). Nothing after the header reached psql.
 */
export class UnrestrictedScriptError extends Error {
  constructor() {
    super(
      "pg_restore's script does not start with a \\restrict line, so this pg_restore lacks the fix for CVE-2025-8714 " +
        'and nothing from the archive was run; use a PostgreSQL client of 15.14, 16.10, 17.6, 18.0 or newer',
    );
    this.name = 'UnrestrictedScriptError';
  }
}

const lineText = (line: Buffer) => line.toString('utf8').replace(/\r?\n$/, '');
const isTrailerLine = (text: string) =>
  text.trim() === '' || text.startsWith('--') || text.startsWith('\\unrestrict');

/**
 * Sits between `pg_restore --single-transaction -f -` and `psql`, so that a restore either fully happens or leaves
 * the target exactly as it was:
 *
 * - it first emits `prelude` (our `BEGIN;` plus the wipe of the target), so the wipe is part of the transaction;
 * - it refuses a script whose header has no `\restrict` line before any statement (UnrestrictedScriptError):
 *   psql then never sees a line taken from the archive;
 * - it drops the script's own leading `BEGIN;` (psql would only warn "already a transaction in progress", but a
 *   clean log is worth one line of parsing);
 * - it holds back the script's final `COMMIT;` (and the comment/`\unrestrict` trailer after it), and at the end
 *   asks `decide` — which waits for pg_restore's exit code and the source checksum — whether to write `COMMIT;` or
 *   `ROLLBACK;`.
 *
 * Memory stays bounded: only the start of a line that could be `COMMIT;`/`BEGIN;`, and a short trailer, are held.
 * A `COMMIT;` line that turns out not to be the last statement (e.g. a COPY row whose text is `COMMIT;`) is
 * released unchanged.
 */
export class CommitGate extends Transform {
  private mode: 'head' | 'body' = 'head';
  /** Passing through the rest of a line already known not to matter. */
  private midLine = false;
  /** The held start of the current line. */
  private partial: Buffer = Buffer.alloc(0);
  /** A `COMMIT;` line and the trailer lines after it, held until we know whether it was the last statement. */
  private trailer: Buffer[] | undefined;
  private trailerBytes = 0;
  private readonly decide: CommitGateOptions['decide'];
  private decisionValue: CommitDecision = 'pending';
  /** Whether the header's `\restrict` line has been seen. */
  private restricted = false;

  constructor(opts: CommitGateOptions) {
    super();
    this.decide = opts.decide;
    this.push(opts.prelude);
  }

  /** What was written at the end: `commit` means psql has been (or is being) sent `COMMIT;`. */
  get decision(): CommitDecision {
    return this.decisionValue;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    try {
      this.scan(chunk);
    } catch (e) {
      cb(e as Error);
      return;
    }
    cb();
  }

  private scan(chunk: Buffer): void {
    let i = 0;
    while (i < chunk.length) {
      // Fast path, almost the whole script: in the body, with nothing held, only a line that is exactly
      // `COMMIT;` matters, and such a line can only start right after a newline. One native search per chunk
      // replaces a per-line scan, and everything before a candidate goes out in a single push.
      if (this.mode === 'body' && this.trailer === undefined && this.partial.length === 0) {
        if (!this.midLine && chunk[i] !== COMMIT_FIRST) this.midLine = true;
        if (this.midLine) {
          const k = chunk.indexOf(NL_COMMIT, i);
          if (k >= 0) {
            // A candidate line at k + 1: the slow path below decides, line by line.
            this.push(chunk.subarray(i, k + 1));
            i = k + 1;
            this.midLine = false;
            continue;
          }
          const last = chunk.lastIndexOf(NL);
          if (last < i) {
            this.push(i === 0 ? chunk : chunk.subarray(i));
            break;
          }
          const tail = chunk.subarray(last + 1);
          if (tail.length > 0 && tail.length < COMMIT.length && COMMIT.startsWith(tail.toString('latin1'))) {
            // The chunk ends with what may be the start of a `COMMIT;` line: hold just that.
            this.push(chunk.subarray(i, last + 1));
            this.partial = Buffer.from(tail);
            this.midLine = false;
            break;
          }
          this.push(i === 0 ? chunk : chunk.subarray(i));
          this.midLine = tail.length > 0;
          break;
        }
      }
      if (this.midLine) {
        const j = chunk.indexOf(NL, i);
        if (j < 0) {
          this.push(chunk.subarray(i));
          break;
        }
        this.push(chunk.subarray(i, j + 1));
        i = j + 1;
        this.midLine = false;
        continue;
      }
      const j = chunk.indexOf(NL, i);
      if (j < 0) {
        this.partial = Buffer.concat([this.partial, chunk.subarray(i)]);
        if (!this.partialMayMatter()) {
          if (this.mode === 'head' && !this.restricted) throw new UnrestrictedScriptError();
          this.mode = 'body';
          this.releaseTrailer();
          this.push(this.partial);
          this.partial = Buffer.alloc(0);
          this.midLine = true;
        }
        break;
      }
      const line = this.partial.length
        ? Buffer.concat([this.partial, chunk.subarray(i, j + 1)])
        : chunk.subarray(i, j + 1);
      this.partial = Buffer.alloc(0);
      i = j + 1;
      this.onLine(line);
    }
  }

  override _flush(cb: TransformCallback): void {
    if (this.partial.length) {
      try {
        this.onLine(this.partial);
      } catch (e) {
        this.decisionValue = 'rollback';
        cb(e as Error);
        return;
      }
      this.partial = Buffer.alloc(0);
    }
    const complete = this.trailer !== undefined;
    // Everything after the held COMMIT (comments, \unrestrict) is harmless inside the transaction.
    for (const line of this.trailer?.slice(1) ?? []) this.push(line);
    this.trailer = undefined;
    this.decide(complete).then(
      (ok) => {
        this.decisionValue = ok && complete ? 'commit' : 'rollback';
        if (this.decisionValue === 'commit') this.push(`\n${COMMIT}\n`);
        // After a truncated script psql may hold half a statement: ROLLBACK would only be glued onto it. Ending
        // the input without COMMIT rolls back just the same, when psql disconnects.
        else if (complete) this.push('\nROLLBACK;\n');
        cb();
      },
      (e: unknown) => {
        this.decisionValue = 'rollback';
        cb(e instanceof Error ? e : new Error(String(e)));
      },
    );
  }

  private partialMayMatter(): boolean {
    if (this.mode === 'head') return this.partial.length <= MAX_HEAD_LINE_BYTES;
    const text = this.partial.toString('utf8');
    if (COMMIT.startsWith(text)) return true;
    return (
      this.trailer !== undefined &&
      this.trailerBytes + this.partial.length <= MAX_TRAILER_BYTES &&
      (isTrailerLine(text) || '--'.startsWith(text) || '\\unrestrict'.startsWith(text))
    );
  }

  private onLine(line: Buffer): void {
    const text = lineText(line);
    if (this.mode === 'head') {
      if (text.trim() === '' || text.startsWith('--')) {
        this.push(line);
        return;
      }
      if (!this.restricted) {
        if (!RESTRICT_LINE.test(text)) throw new UnrestrictedScriptError();
        this.restricted = true;
        this.push(line);
        return;
      }
      if (text === BEGIN) {
        this.mode = 'body';
        return;
      }
      if (text.startsWith('\\')) {
        this.push(line);
        return;
      }
      this.mode = 'body';
    }
    if (text === COMMIT) {
      this.releaseTrailer();
      this.trailer = [line];
      this.trailerBytes = line.length;
      return;
    }
    if (this.trailer && isTrailerLine(text) && this.trailerBytes + line.length <= MAX_TRAILER_BYTES) {
      this.trailer.push(line);
      this.trailerBytes += line.length;
      return;
    }
    this.releaseTrailer();
    this.push(line);
  }

  private releaseTrailer(): void {
    for (const line of this.trailer ?? []) this.push(line);
    this.trailer = undefined;
    this.trailerBytes = 0;
  }
}
