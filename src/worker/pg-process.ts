import { type ChildProcess, spawn } from 'node:child_process';
import { redact } from './redact.js';

export interface ExitInfo {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface PgProcess {
  readonly name: string;
  readonly child: ChildProcess;
  /** Resolves once the process has exited and its output is closed; never rejects (a spawn error is code null). */
  readonly exited: Promise<ExitInfo>;
  /** The last stderr lines, redacted: the reason to put in an error message. */
  stderrTail(): readonly string[];
  /** SIGTERM, then SIGKILL if it is still running after a grace period. */
  stop(): void;
}

export interface StartOptions {
  /** Short name for messages: pg_dump, pg_restore, psql. */
  readonly name: string;
  readonly program: string;
  readonly args: readonly string[];
  readonly env: NodeJS.ProcessEnv;
  readonly stdin?: 'pipe' | 'ignore';
  readonly stdout?: 'pipe' | 'ignore';
  /** Strings to scrub from stderr before it goes anywhere. */
  readonly secrets: readonly string[];
  /** Every stderr line, already redacted. */
  readonly onStderrLine?: (line: string) => void;
}

const TAIL_LINES = 20;
/** A stderr "line" longer than this is cut: it ends up in a DynamoDB item. */
const MAX_STDERR_LINE = 8192;
const KILL_GRACE_MS = 5000;

/** `psql` fed a script on stdin, stopping at the first error: how the wipe and the restore script are applied. */
export function startScriptPsql(
  opts: Pick<StartOptions, 'program' | 'env' | 'secrets' | 'onStderrLine'>,
): PgProcess {
  return startPgProcess({
    ...opts,
    name: 'psql',
    args: ['-X', '-q', '-v', 'ON_ERROR_STOP=1'],
    stdin: 'pipe',
    stdout: 'ignore',
  });
}

/** Starts a pg client program with an argument array (never a shell); credentials come only through `env`. */
export function startPgProcess(opts: StartOptions): PgProcess {
  const child = spawn(opts.program, [...opts.args], {
    env: opts.env,
    stdio: [opts.stdin ?? 'ignore', opts.stdout ?? 'pipe', 'pipe'],
  });
  const tail: string[] = [];
  const emit = (raw: string) => {
    const line = redact(raw.replace(/\r$/, ''), opts.secrets).slice(0, MAX_STDERR_LINE);
    if (!line.trim()) return;
    tail.push(line);
    if (tail.length > TAIL_LINES) tail.shift();
    opts.onStderrLine?.(line);
  };
  let partial = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (text: string) => {
    const parts = (partial + text).split('\n');
    partial = parts.pop() ?? '';
    if (partial.length > MAX_STDERR_LINE) {
      emit(partial);
      partial = '';
    }
    for (const p of parts) emit(p);
  });
  child.stderr?.on('end', () => {
    if (partial) emit(partial);
    partial = '';
  });

  const exited = new Promise<ExitInfo>((resolve) => {
    child.once('error', (e) => {
      emit(`${opts.name}: could not start: ${e.message}`);
      resolve({ code: null, signal: null });
    });
    child.once('close', (code, signal) => resolve({ code, signal }));
  });

  let killTimer: NodeJS.Timeout | undefined;
  void exited.then(() => clearTimeout(killTimer));
  return {
    name: opts.name,
    child,
    exited,
    stderrTail: () => [...tail],
    stop: () => {
      if (child.exitCode !== null || child.signalCode !== null || killTimer) return;
      child.kill('SIGTERM');
      killTimer = setTimeout(() => child.kill('SIGKILL'), KILL_GRACE_MS);
      killTimer.unref();
    },
  };
}

export function describeExit(e: ExitInfo): string {
  if (e.signal) return `killed by ${e.signal}`;
  return e.code === null ? 'could not be started' : `exit code ${e.code}`;
}

/** PostgreSQL's DETAIL and HINT lines after an error (psql may prefix them with `psql:<stdin>:12: `). */
const DETAIL_OR_HINT = /^(?:psql:[^ ]*: )?(?:DETAIL|HINT):\s/;

/**
 * The most telling stderr lines: the last error with PostgreSQL's DETAIL and HINT lines after it (the HINT is
 * often the fix, e.g. max_locks_per_transaction), or else the last line.
 */
export function reasonFrom(lines: readonly string[]): string | undefined {
  const at = lines.findLastIndex((l) => /\b(error|fatal|panic)\b:/i.test(l));
  if (at < 0) return lines.at(-1);
  const after: string[] = [];
  for (const l of lines.slice(at + 1)) {
    if (DETAIL_OR_HINT.test(l)) after.push(l.replace(/^psql:[^ ]*: /, '').replace(/\s+/g, ' '));
    else if (!/^(CONTEXT|LINE \d+):|^\s/.test(l)) break;
  }
  return [lines[at], ...after].join(' ');
}

/** Runs a short pg command to completion and returns its stdout (e.g. `psql -c`, `pg_dump --version`). */
export async function runPgCommand(
  opts: Omit<StartOptions, 'stdin' | 'stdout'>,
): Promise<{ exit: ExitInfo; stdout: string; stderr: readonly string[] }> {
  const p = startPgProcess({ ...opts, stdin: 'ignore', stdout: 'pipe' });
  const chunks: Buffer[] = [];
  p.child.stdout?.on('data', (c: Buffer) => chunks.push(c));
  const exit = await p.exited;
  return { exit, stdout: Buffer.concat(chunks).toString('utf8'), stderr: p.stderrTail() };
}
