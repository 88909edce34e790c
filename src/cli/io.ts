/**
 * Everything the CLI touches outside itself, behind one interface: real process streams in `main.ts`, strings
 * and a fake fetch in unit tests.
 */
import { execFile } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { FetchFn } from './client.js';
import { CliError } from './errors.js';

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
  /**
   * One line typed at a terminal without echoing it (a password, a URL holding one); undefined at end of input.
   * `prompt` goes to stderr only once echo is off, so nothing typed as soon as it shows can be echoed.
   */
  readSecret(prompt: string): Promise<string | undefined>;
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

/** What `readHiddenLine` needs of a terminal's input: process.stdin when it is a TTY. */
export type HiddenInput = Pick<
  NodeJS.ReadStream,
  'isRaw' | 'setRawMode' | 'on' | 'once' | 'off' | 'resume' | 'pause'
>;

/**
 * Reads one line from a terminal in raw mode, so nothing typed is echoed: Enter ends it, Backspace deletes,
 * Ctrl-D ends input, Ctrl-C aborts (raw mode turns it into a byte, not a signal) with exit code 130.
 */
export function readHiddenLine(input: HiddenInput, onRaw?: () => void): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    let line = '';
    const wasRaw = input.isRaw ?? false;
    const finish = (value: string | undefined, error?: Error) => {
      input.off('data', onData);
      input.off('end', onEnd);
      input.setRawMode(wasRaw);
      input.pause();
      if (error) reject(error);
      else resolve(value);
    };
    const onData = (chunk: Buffer | string) => {
      for (const ch of chunk.toString()) {
        if (ch === '\r' || ch === '\n') return finish(line);
        if (ch === '\u0003') return finish(undefined, new CliError('Interrupted; nothing was changed', 130));
        if (ch === '\u0004') return finish(line === '' ? undefined : line);
        if (ch === '\u007f' || ch === '\b') line = [...line].slice(0, -1).join('');
        else if (ch >= ' ') line += ch;
      }
    };
    const onEnd = () => finish(line === '' ? undefined : line);
    input.setRawMode(true);
    // Echo is off from here: only now may the prompt invite typing.
    onRaw?.();
    input.on('data', onData);
    input.once('end', onEnd);
    input.resume();
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
    readSecret: (prompt) =>
      process.stdin.isTTY
        ? readHiddenLine(process.stdin, () => process.stderr.write(prompt))
        : processIo().readLine(),
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
