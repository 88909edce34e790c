/**
 * Everything the CLI touches outside itself, behind one interface: real process streams in `main.ts`, strings
 * and a fake fetch in unit tests.
 */
import { execFile } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { FetchFn } from './client.js';

export interface Output {
  write(text: string): void;
  readonly isTTY: boolean;
  readonly columns?: number;
}

export interface Io {
  readonly stdout: Output;
  readonly stderr: Output;
  readonly stdinIsTTY: boolean;
  /** All of stdin, for `--url -`. */
  readStdin(): Promise<string>;
  /** One line typed at a prompt; undefined at end of input. */
  readLine(): Promise<string | undefined>;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly fetch: FetchFn;
  readonly cwd: string;
  now(): Date;
  /** Resolves after `ms`, or early when `signal` aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  /** Calls `handler` on Ctrl-C (SIGINT) until the returned function is called. */
  onInterrupt(handler: () => void): () => void;
  /** `pg_restore --version` of the pg_restore on PATH, or undefined when there is none. */
  localPgRestoreVersion(): Promise<string | undefined>;
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** The real process: stdout/stderr, stdin, global fetch, SIGINT. */
export function processIo(): Io {
  const stream = (s: NodeJS.WriteStream): Output => ({
    write: (text) => void s.write(text),
    get isTTY() {
      return Boolean(s.isTTY) && process.env.TERM !== 'dumb';
    },
    get columns() {
      return s.columns;
    },
  });
  return {
    stdout: stream(process.stdout),
    stderr: stream(process.stderr),
    stdinIsTTY: Boolean(process.stdin.isTTY),
    readStdin: async () => {
      const chunks: Buffer[] = [];
      for await (const c of process.stdin) chunks.push(c as Buffer);
      return Buffer.concat(chunks).toString('utf8');
    },
    // One interface per prompt, closed at once: an open one would keep the process alive after the command.
    readLine: () =>
      new Promise((resolve) => {
        const rl = createInterface({ input: process.stdin, terminal: false });
        let answered = false;
        rl.once('line', (line) => {
          answered = true;
          resolve(line);
          rl.close();
        });
        rl.once('close', () => {
          if (!answered) resolve(undefined);
        });
      }),
    env: process.env,
    fetch: (url, init) => fetch(url, init),
    cwd: process.cwd(),
    now: () => new Date(),
    sleep,
    onInterrupt: (handler) => {
      process.on('SIGINT', handler);
      return () => process.off('SIGINT', handler);
    },
    localPgRestoreVersion: () =>
      new Promise((resolve) => {
        execFile('pg_restore', ['--version'], { timeout: 5000 }, (error, stdout) =>
          resolve(error ? undefined : stdout.trim()),
        );
      }),
  };
}
