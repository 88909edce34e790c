import { createHash, type Hash } from 'node:crypto';
import { finished, Transform, type TransformCallback, Writable } from 'node:stream';

/**
 * Counts and SHA-256-hashes the bytes flowing through. `beforeEnd`, when given, runs in `flush` and can fail the
 * stream: pg_dump's stdout ends with a clean EOF even when pg_dump failed, so the end of a dump stream is only
 * real once its exit code is 0 — otherwise an uploader would happily complete a truncated object.
 */
export class HashCounter extends Transform {
  private readonly hash: Hash | undefined;
  private count = 0;
  private digest: string | undefined;

  constructor(
    private readonly opts: {
      onBytes?: (total: number) => void;
      beforeEnd?: () => Promise<void>;
      /** Count only: a stream that is never stored has nothing to verify a checksum against. @default true */
      hash?: boolean;
    } = {},
  ) {
    super();
    this.hash = opts.hash === false ? undefined : createHash('sha256');
  }

  get bytes(): number {
    return this.count;
  }

  /** The hex digest, available once the stream has ended (never when hashing is off). */
  get sha256(): string | undefined {
    return this.digest;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.hash?.update(chunk);
    this.count += chunk.length;
    this.opts.onBytes?.(this.count);
    cb(null, chunk);
  }

  override _flush(cb: TransformCallback): void {
    const done = () => {
      this.digest = this.hash?.digest('hex');
      cb();
    };
    if (!this.opts.beforeEnd) {
      done();
      return;
    }
    this.opts.beforeEnd().then(done, (e: unknown) => cb(e instanceof Error ? e : new Error(String(e))));
  }
}

/**
 * Writes into a child's stdin with backpressure, and keeps consuming (discarding) once the child has closed its
 * stdin. pg_restore may stop reading before the archive's last byte; the upstream hash must still see the whole
 * stream for the checksum gate, and whether the early exit was fine is decided by pg_restore's exit code, not by
 * an EPIPE here.
 */
export class ChildStdinSink extends Writable {
  private gone = false;
  private waiting: (() => void) | undefined;

  constructor(private readonly stdin: Writable) {
    super();
    const onGone = () => {
      this.gone = true;
      const resume = this.waiting;
      this.waiting = undefined;
      resume?.();
    };
    stdin.on('error', onGone);
    stdin.on('close', onGone);
  }

  /** Whether the child stopped reading before the end of the stream. */
  get childClosedEarly(): boolean {
    return this.gone;
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (error?: Error | null) => void): void {
    if (this.gone || this.stdin.write(chunk)) {
      cb();
      return;
    }
    this.waiting = () => cb();
    this.stdin.once('drain', () => {
      const resume = this.waiting;
      this.waiting = undefined;
      resume?.();
    });
  }

  override _final(cb: (error?: Error | null) => void): void {
    if (this.gone) {
      cb();
      return;
    }
    this.stdin.end();
    finished(this.stdin, () => cb());
  }

  override _destroy(error: Error | null, cb: (error?: Error | null) => void): void {
    if (!this.gone) this.stdin.destroy();
    cb(error);
  }
}
