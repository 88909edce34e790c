import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { bestEffort, errorMessage } from '../core/logger.js';
import { archiveFormatWrittenBy, majorOf } from '../core/pg-compat.js';
import { applyUpdate, type TransferPatch, whileStatus } from '../core/transfer.js';
import { peekArchiveHeader } from './archive-peek.js';
import { chooseCompression, dumpError, startDump } from './capture.js';
import { CommitGate, UnrestrictedScriptError } from './commit-gate.js';
import { type Connection, checkClient, inspectServer, type PipelineContext, toolError } from './context.js';
import { childEnv } from './libpq-env.js';
import { finishParallelRestore, parallelRestore } from './parallel-restore.js';
import type { PgClient } from './pg-clients.js';
import { startPgProcess, startScriptPsql } from './pg-process.js';
import { type PreparedRestore, prepareRestore } from './restore-plan.js';
import { explainRestoreFailure, restorePrelude } from './restore-sql.js';
import { ChildStdinSink, HashCounter } from './streams.js';
import { levelOfToolLine } from './transfer-log.js';

/** Where a restore's custom-format archive comes from. */
interface ArchiveSource {
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

const UNCHANGED = 'the target database was left unchanged';

/** psql's harmless chatter inside our transaction. */
const IGNORED_PSQL_LINES = /there is already a transaction in progress/;

/**
 * archive → count + SHA-256 → `pg_restore --single-transaction -f -` → CommitGate (wipe first; the
 * final COMMIT held until pg_restore exited 0 and the source verified) → `psql -v ON_ERROR_STOP=1` on the
 * target. Any failure before the COMMIT is sent rolls back everything, the wipe included.
 */
async function restoreArchive(
  ctx: PipelineContext,
  target: Connection,
  client: PgClient,
  source: ArchiveSource,
  extensions: readonly string[] | undefined,
  opts: RestoreOptions = {},
): Promise<RestoreResult> {
  const prelude = restorePrelude({ extensions, keep: opts.keepExtensions, lockTimeout: ctx.lockWaitTimeout });
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

  // Our own failures (as opposed to a cancel) stop everything early through this controller. The first failure
  // observed is the one reported: the others are usually its consequences (EPIPE, killed processes).
  const stopper = new AbortController();
  let failure: string | undefined;
  const fail = (reason: string) => {
    failure ??= reason;
    stopper.abort();
  };
  let gateRef: CommitGate | undefined;
  const stopAll = () => {
    // Once COMMIT is on its way, killing psql could not undo it; let it finish and report what happened.
    if (gateRef?.decision === 'commit') return;
    psql.stop();
    restore.stop();
    source.stop();
  };
  stopper.signal.addEventListener('abort', stopAll, { once: true });
  const onCancel = () => stopper.abort(ctx.signal.reason);
  ctx.signal.addEventListener('abort', onCancel, { once: true });

  void psql.exited.then((exit) => {
    if (exit.code !== 0 && !exit.signal && gateRef?.decision !== 'commit') {
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
      const verifyFailure = await source.verify(counter);
      if (verifyFailure) {
        // Not through fail(): psql rolls back cleanly on the ROLLBACK the gate now writes.
        failure ??= verifyFailure;
        return false;
      }
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
        failure ??= `The transfer was ended elsewhere before it could commit (${still ? 'cancel requested' : 'no longer running'}); ${UNCHANGED}`;
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

  if (gate.decision === 'commit') {
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

/** Restore: a stored backup (or an https URL) into an attached database. */
export async function restore(ctx: PipelineContext): Promise<TransferPatch> {
  const { transfer: t, deps } = ctx;
  if (t.target.type !== 'database' || t.source.type === 'database') {
    throw new Error(`Restore ${t.id} needs a backup or URL source and a database target`);
  }
  const target = await ctx.connect(t.target.app, t.target.database);
  const server = await inspectServer(ctx, target);
  await ctx.record({ serverVersion: server.serverVersion });
  ctx.signal.throwIfAborted();

  let source: ArchiveSource;
  const src = t.source;
  if (src.type === 'backup') {
    ctx.tlog.info(`restoring ${src.id} (${src.bytes} bytes) into ${t.target.database}`);
    const stream = await deps.blobs.download(src.key).catch((e: unknown) => {
      ctx.tlog.error('download finished with errors');
      throw new Error(`Could not read backup ${src.id}: ${errorMessage(e)}`, { cause: e });
    });
    source = {
      stream,
      stop: () => stream.destroy(),
      verify: async (counter) => {
        if (counter.bytes === src.bytes && counter.sha256 === src.sha256) {
          ctx.tlog.info('download finished successfully');
          ctx.tlog.info('checksum verified');
          return undefined;
        }
        ctx.tlog.error(
          `checksum mismatch: expected ${src.bytes} bytes with sha256 ${src.sha256}, got ${counter.bytes} bytes with sha256 ${counter.sha256}`,
        );
        return `Checksum mismatch: backup ${src.id} is not the one that was captured (expected sha256 ${src.sha256}, got ${counter.sha256})`;
      },
    };
  } else {
    if (!ctx.openUrl) throw new Error('Restoring from a URL is not supported by this worker');
    ctx.tlog.info(`restoring from a URL into ${t.target.database}`);
    const stream = await ctx.openUrl(src.url, ctx.signal);
    source = {
      stream,
      stop: () => stream.destroy(),
      // Nothing recorded to compare with: pg_restore having read a complete archive is the check.
      verify: async () => {
        ctx.tlog.info('download finished successfully');
        return undefined;
      },
    };
  }
  // The archive's own header says which client reads it and whether the target can take it: decided before
  // anything touches the target (src/core/pg-compat.ts).
  let client: PgClient;
  try {
    const header = await peekArchiveHeader(source.stream);
    ctx.tlog.info(
      `archive format ${header.format}, dumped from PostgreSQL ${header.serverVersion ?? 'unknown'} by pg_dump ${header.pgDumpVersion ?? 'unknown'}; target runs PostgreSQL ${server.serverVersion}`,
    );
    client = ctx.clients.forRestore(
      {
        format: header.format,
        sourceMajor: majorOf(header.serverVersion),
        dumpMajor: majorOf(header.pgDumpVersion),
      },
      server.major,
    );
    await checkClient(client, 'pg_restore', 'psql');
  } catch (e) {
    source.stop();
    ctx.tlog.error(`not restored: ${errorMessage(e)}`);
    throw new Error(`${errorMessage(e)}; ${UNCHANGED}`, { cause: e });
  }
  ctx.tlog.info(`restoring with the PostgreSQL ${client.major} client`);
  if (t.finishOf && src.type === 'backup') {
    return finishParallelRestore(ctx, target, client, source.stream, src)
      .then((r) => ({ processedBytes: r.bytes, sha256: r.sha256 }))
      .finally(() => source.stop());
  }
  // --parallel N (N > 1): everything but index and constraint builds through this same atomic restore, then
  // those with pg_restore --jobs N; faster, that part not atomic (parallel-restore.ts).
  const jobs = t.parallel ?? 1;
  const result = await planned(ctx, target, client, source, jobs > 1, (prepared, planned) =>
    jobs > 1
      ? parallelRestore(ctx, target, client, jobs, prepared, (opts) =>
          restoreArchive(ctx, target, client, planned, t.extensions, { ...opts, ...planOptions(prepared) }),
        )
      : restoreArchive(ctx, target, client, planned, t.extensions, planOptions(prepared)),
  );
  return { processedBytes: result.bytes, sha256: result.sha256 };
}

/** Copy: pg_dump of one attached database straight into another, with no intermediate object. */
export async function copy(ctx: PipelineContext): Promise<TransferPatch> {
  const { transfer: t } = ctx;
  if (t.source.type !== 'database' || t.target.type !== 'database') {
    throw new Error(`Copy ${t.id} needs database source and target`);
  }
  if (t.source.app === t.target.app && t.source.database === t.target.database) {
    throw new Error(`Cannot copy ${t.source.database} onto itself`);
  }
  const { source: src, target: dst } = t;
  // Independent round trips, at once: on a small database they are a good part of the whole copy.
  const [[sourceConn, sourceServer], [targetConn, targetServer]] = await Promise.all([
    ctx.connect(src.app, src.database).then(async (c) => [c, await inspectServer(ctx, c)] as const),
    ctx.connect(dst.app, dst.database).then(async (c) => [c, await inspectServer(ctx, c)] as const),
  ]);
  // Both clients are chosen (and a target older than the source refused) before anything starts.
  let dumpClient: PgClient;
  let restoreClient: PgClient;
  let dumpVersion: string;
  try {
    dumpClient = ctx.clients.forDump(sourceServer.major);
    restoreClient = ctx.clients.forRestore(
      {
        format: archiveFormatWrittenBy(dumpClient.major),
        sourceMajor: sourceServer.major,
        dumpMajor: dumpClient.major,
      },
      targetServer.major,
    );
    [dumpVersion] = await Promise.all([
      dumpClient.version('pg_dump'),
      checkClient(restoreClient, 'pg_restore', 'psql'),
    ]);
  } catch (e) {
    ctx.tlog.error(`not copied: ${errorMessage(e)}`);
    throw new Error(`${errorMessage(e)}; ${UNCHANGED}`, { cause: e });
  }
  const early: TransferPatch = {
    sourceBytes: sourceServer.sizeBytes,
    serverVersion: sourceServer.serverVersion,
    pgDumpVersion: dumpVersion,
  };
  await ctx.record(early);
  ctx.signal.throwIfAborted();

  ctx.tlog.info(
    `copying ${t.source.database} (PostgreSQL ${sourceServer.serverVersion}, ${sourceServer.sizeBytes} bytes) to ${t.target.database} (PostgreSQL ${targetServer.serverVersion})`,
  );
  ctx.tlog.info('waiting for pg_dump to complete');
  // The stream goes straight into pg_restore: compressing it would only burn CPU on both ends.
  const dump = startDump(ctx, sourceConn, dumpClient, chooseCompression(dumpClient.major, 0).args);
  const dumpFailure = dump.exited.then((exit) => {
    if (exit.code === 0 || exit.signal) return undefined;
    ctx.tlog.error('pg_dump finished with errors');
    return dumpError(ctx, dump, exit).message;
  });
  const result = await planned(
    ctx,
    targetConn,
    restoreClient,
    {
      stream: dump.child.stdout!,
      stop: () => dump.stop(),
      failed: dumpFailure,
      verify: async () => {
        const exit = await dump.exited;
        if (exit.code !== 0) return dumpError(ctx, dump, exit).message;
        ctx.tlog.info('pg_dump finished successfully');
        return undefined;
      },
    },
    false,
    (prepared, source) =>
      restoreArchive(ctx, targetConn, restoreClient, source, t.extensions, {
        hash: false,
        ...planOptions(prepared),
      }),
  );
  return { ...early, processedBytes: result.bytes };
}

/**
 * Reads the archive's table of contents and plans the restore before anything touches the target
 * (restore-plan.ts), then runs `run` on a source that replays what was read ahead. Explains a failure to create
 * an extension (restore-sql.ts). The temp files are always removed.
 */
async function planned(
  ctx: PipelineContext,
  target: Connection,
  client: PgClient,
  source: ArchiveSource,
  split: boolean,
  run: (prepared: PreparedRestore, source: ArchiveSource) => Promise<RestoreResult>,
): Promise<RestoreResult> {
  const t = ctx.transfer;
  let prepared: PreparedRestore | undefined;
  try {
    // A cancel while reading ahead (pg_dump may be waiting on a lock and write nothing) stops the source, so the
    // read ends and the run records cancelled instead of hanging until the worker is killed.
    const stopSource = () => source.stop();
    ctx.signal.addEventListener('abort', stopSource, { once: true });
    try {
      prepared = await prepareRestore(ctx, target, client, source.stream, {
        extensions: t.extensions,
        keep: t.keepExtensions,
        split,
      });
    } finally {
      ctx.signal.removeEventListener('abort', stopSource);
    }
    const replay = prepared.replay;
    return await run(prepared, {
      ...source,
      stream: replay,
      stop: () => {
        replay.destroy();
        // The replay does not own the source stream: left undrained, a child's stdout would keep its exit
        // ('close') from ever being reported.
        source.stream.destroy();
        source.stop();
      },
    });
  } catch (e) {
    throw explainRestoreFailure(e);
  } finally {
    // The stream is still unread if planning failed.
    source.stream.destroy();
    source.stop();
    await prepared?.cleanup();
  }
}

const planOptions = (p: PreparedRestore): RestoreOptions => ({
  pgRestoreArgs: p.atomicArgs,
  keepExtensions: p.keep,
});
