/**
 * The atomic restore: one custom-format archive into one database, in one transaction that is committed only
 * once everything checked out. restore.ts runs it for a restore and a copy, parallel-restore.ts for the first
 * step of a `--parallel` restore; both import it, and it imports neither.
 */
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { bestEffort, errorMessage } from '../core/logger.js';
import { applyUpdate, whileStatus } from '../core/transfer.js';
import { CommitGate, UnrestrictedScriptError } from './commit-gate.js';
import { type Connection, type PipelineContext, toolError } from './context.js';
import { childEnv } from './libpq-env.js';
import type { PgClient } from './pg-clients.js';
import { type ExitInfo, type PgProcess, startPgProcess, startScriptPsql } from './pg-process.js';
import { restorePrelude } from './restore-sql.js';
import { ChildStdinSink, HashCounter } from './streams.js';
import { levelOfToolLine } from './transfer-log.js';

/** Where a restore's custom-format archive comes from. */
export interface ArchiveSource {
  readonly stream: Readable;
  /** Once the stream has ended and pg_restore exited 0: a reason to roll back, or undefined to commit. */
  verify(counter: HashCounter): Promise<string | undefined>;
  /** Resolves with a reason if the source fails on its own (pg_dump died), so everything stops at once. */
  readonly failed?: Promise<string | undefined>;
  stop(): void;
}

export interface RestoreResult {
  readonly bytes: number;
  /** Undefined when the options turned hashing off. */
  readonly sha256: string | undefined;
}

/** What the parallel restore changes in the atomic restore (parallel-restore.ts). */
export interface RestoreOptions {
  /** Added to pg_restore's arguments: `--section`s. */
  readonly pgRestoreArgs?: readonly string[];
  /** The log line once committed. @default 'restore finished successfully' */
  readonly committed?: string;
  /** Hash the archive (SHA-256). Off for a copy: nothing stored to verify it against, and ~1 s of CPU per GB. */
  readonly hash?: boolean;
  /** Extensions the wipe keeps (transfer.keepExtensions). */
  readonly keepExtensions?: readonly string[];
}

export const UNCHANGED = 'the target database was left unchanged';

/** psql's harmless chatter inside our transaction. */
const IGNORED_PSQL_LINES = /there is already a transaction in progress/;

/**
 * archive → count + SHA-256 → `pg_restore --single-transaction -f -` → CommitGate (wipe first; the
 * final COMMIT held until pg_restore exited 0 and the source verified) → `psql -v ON_ERROR_STOP=1` on the
 * target. Any failure before the COMMIT is sent rolls back everything, the wipe included.
 */
export async function restoreArchive(
  ctx: PipelineContext,
  target: Connection,
  client: PgClient,
  source: ArchiveSource,
  extensions: readonly string[] | undefined,
  opts: RestoreOptions = {},
): Promise<RestoreResult> {
  const prelude = restorePrelude({ extensions, keep: opts.keepExtensions, lockTimeout: ctx.lockWaitTimeout });
  const { psql, restore } = startRestoreProcesses(ctx, target, client, opts);

  // Our own failures (as opposed to a cancel) stop everything early through this controller. The first failure
  // observed is the one reported: the others are usually its consequences (EPIPE, killed processes).
  const stopper = new AbortController();
  let failure: string | undefined;
  const fail = (reason: string) => {
    failure ??= reason;
    stopper.abort();
  };
  let gateRef: CommitGate | undefined;
  const committing = () => gateRef?.decision === 'commit';
  const stopAll = () => {
    // Once COMMIT is on its way, killing psql could not undo it; let it finish and report what happened.
    if (committing()) return;
    psql.stop();
    restore.stop();
    source.stop();
  };
  stopper.signal.addEventListener('abort', stopAll, { once: true });
  const onCancel = () => stopper.abort(ctx.signal.reason);
  ctx.signal.addEventListener('abort', onCancel, { once: true });
  failWhenAPartFails(ctx, { psql, restore, source }, committing, fail);

  const counter = new HashCounter({ onBytes: ctx.onBytes, hash: opts.hash });
  const sink = new ChildStdinSink(restore.child.stdin!);
  ctx.tlog.info('waiting for pg_restore to complete');
  const fed = pipeline([source.stream, counter, sink], { signal: stopper.signal }).catch((e: unknown) => {
    if (!stopper.signal.aborted) {
      ctx.tlog.error('download finished with errors');
      fail(`Reading the backup failed: ${errorMessage(e)}`);
    }
  });
  const gate = new CommitGate({
    prelude,
    decide: async (complete) => {
      const [exit] = await Promise.all([restore.exited, fed]);
      if (exit.code !== 0 || stopper.signal.aborted) return false;
      if (!complete) {
        fail('pg_restore produced an incomplete script (no final COMMIT)');
        return false;
      }
      const rollbackReason = await checksBeforeCommit(ctx, source, counter);
      if (rollbackReason) {
        // Not through fail(): psql rolls back cleanly on the ROLLBACK the gate now writes.
        failure ??= rollbackReason;
        return false;
      }
      ctx.tlog.info('all checks passed: sending COMMIT');
      return true;
    },
  });
  gateRef = gate;
  const applied = pipeline(restore.child.stdout!, gate, psql.child.stdin!).catch(async (e: unknown) => {
    if (e instanceof UnrestrictedScriptError) {
      ctx.tlog.error('pg_restore wrote no \\restrict line: refused');
      fail(e.message);
      return;
    }
    // EPIPE here usually means psql stopped on an SQL error: its exit, reported above, is the real story.
    await Promise.all([psql.exited, restore.exited]);
    if (!stopper.signal.aborted) fail(`Feeding the restore script to psql failed: ${errorMessage(e)}`);
  });

  const [psqlExit] = await Promise.all([psql.exited, restore.exited, fed, applied, source.failed]);
  ctx.signal.removeEventListener('abort', onCancel);
  return outcome(ctx, { psql, psqlExit, committed: gate.decision === 'commit', failure, counter, opts });
}

/**
 * `pg_restore` converting the archive into an SQL script, and the `psql` that runs that script on the target;
 * their stderr lines go to the transfer's log.
 */
function startRestoreProcesses(
  ctx: PipelineContext,
  target: Connection,
  client: PgClient,
  opts: RestoreOptions,
): { psql: PgProcess; restore: PgProcess } {
  const toolLine = (line: string) => {
    if (!IGNORED_PSQL_LINES.test(line)) ctx.tlog.add(levelOfToolLine(line), line);
  };
  const psql = startScriptPsql({
    program: client.path('psql'),
    env: target.env,
    secrets: ctx.secrets,
    onStderrLine: toolLine,
  });
  const restore = startPgProcess({
    name: 'pg_restore',
    program: client.path('pg_restore'),
    args: [
      '--no-owner',
      '--no-privileges',
      '--single-transaction',
      '--format=custom',
      '--verbose',
      ...(opts.pgRestoreArgs ?? []),
      '-f',
      '-',
    ],
    // pg_restore only converts the archive to SQL here; it never connects, so it gets no credentials.
    env: childEnv({}),
    stdin: 'pipe',
    stdout: 'pipe',
    secrets: ctx.secrets,
    onStderrLine: toolLine,
  });
  return { psql, restore };
}

/** psql, pg_restore or the source failing on its own stops everything, through `fail`, with its reason. */
function failWhenAPartFails(
  ctx: PipelineContext,
  parts: { readonly psql: PgProcess; readonly restore: PgProcess; readonly source: ArchiveSource },
  committing: () => boolean,
  fail: (reason: string) => void,
): void {
  const { psql, restore, source } = parts;
  void psql.exited.then((exit) => {
    if (exit.code !== 0 && !exit.signal && !committing()) {
      ctx.tlog.error('restore finished with errors');
      fail(toolError(psql, exit).message);
    }
  });
  void restore.exited.then(async (exit) => {
    if (exit.code === 0 || exit.signal) return;
    // pg_restore writing into a psql that stopped on an SQL error dies of EPIPE: psql's error is the cause.
    if (restore.stderrTail().some((l) => /could not write|broken pipe/i.test(l))) {
      const p = await psql.exited;
      if (p.code !== 0 && !p.signal) return;
    }
    ctx.tlog.error('pg_restore finished with errors');
    fail(toolError(restore, exit).message);
  });
  void source.failed?.then((reason) => {
    if (reason) fail(reason);
  });
}

/**
 * Once pg_restore exited 0 with a complete script: the source's own check (checksum, pg_dump's exit), then the
 * catalog's. A reason to roll back, or undefined to commit.
 */
async function checksBeforeCommit(
  ctx: PipelineContext,
  source: ArchiveSource,
  counter: HashCounter,
): Promise<string | undefined> {
  const verifyFailure = await source.verify(counter);
  if (verifyFailure) return verifyFailure;
  ctx.tlog.info('pg_restore finished successfully');
  // Last check, against the catalog: a worker that outlived its transfer (the stack restarted, the watchdog
  // or reconciler gave up on it) must not overwrite a target the API already reports as untouched. Only a
  // write conditional on `running` counts; an unreachable catalog means no COMMIT either.
  const t = ctx.transfer;
  const beat = whileStatus('running', { heartbeatAt: ctx.deps.clock.now().toISOString() });
  const still = await bestEffort(
    ctx.log,
    'confirm the transfer is still running',
    applyUpdate(ctx.deps.catalog, t, beat),
  );
  if (!still || still.cancelRequested) {
    return `The transfer was ended elsewhere before it could commit (${still ? 'cancel requested' : 'no longer running'}); ${UNCHANGED}`;
  }
  return undefined;
}

/** Once every part has ended: the result of a committed restore, or the error that says what the target holds. */
function outcome(
  ctx: PipelineContext,
  end: {
    readonly psql: PgProcess;
    readonly psqlExit: ExitInfo;
    readonly committed: boolean;
    readonly failure: string | undefined;
    readonly counter: HashCounter;
    readonly opts: RestoreOptions;
  },
): RestoreResult {
  const { psql, psqlExit, failure, counter, opts } = end;
  if (end.committed) {
    if (psqlExit.code === 0) {
      ctx.tlog.info(opts.committed ?? 'restore finished successfully');
      return { bytes: counter.bytes, sha256: counter.sha256 };
    }
    ctx.tlog.error('restore finished with errors');
    // Exit 2: the connection broke, possibly during COMMIT, so nobody can tell whether it happened.
    if (psqlExit.code === 2) {
      throw new Error(
        `${toolError(psql, psqlExit).message}; the connection was lost while committing, so the target database may or may not have been restored`,
      );
    }
    // psql stopped on an error in the last part of the script, or COMMIT itself failed (a deferred constraint):
    // either way PostgreSQL rolled the transaction back.
    throw new Error(`${toolError(psql, psqlExit).message}; ${UNCHANGED}`);
  }
  ctx.signal.throwIfAborted();
  ctx.tlog.error(`rolled back: ${UNCHANGED}`);
  throw new Error(`${failure ?? 'The restore was rolled back'}; ${UNCHANGED}`);
}
