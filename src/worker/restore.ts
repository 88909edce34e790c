import { errorMessage } from '../core/logger.js';
import { archiveFormatWrittenBy, majorOf } from '../core/pg-compat.js';
import type { TransferPatch } from '../core/transfer.js';
import { peekArchiveHeader } from './archive-peek.js';
import {
  type ArchiveSource,
  type RestoreOptions,
  type RestoreResult,
  restoreArchive,
  UNCHANGED,
} from './atomic-restore.js';
import { chooseCompression, dumpError, startDump } from './capture.js';
import { type Connection, checkClient, inspectServer, type PipelineContext } from './context.js';
import { finishParallelRestore, parallelRestore } from './parallel-restore.js';
import type { PgClient } from './pg-clients.js';
import { type PreparedRestore, prepareRestore } from './restore-plan.js';
import { explainRestoreFailure } from './restore-sql.js';

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
