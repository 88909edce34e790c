import { pipeline } from 'node:stream/promises';
import { bestEffort, errorMessage } from '../core/logger.js';
import { archiveFormatWrittenBy, oldestPgRestoreFor } from '../core/pg-compat.js';
import type { TransferPatch } from '../core/transfer.js';
import { type Connection, inspectServer, type PipelineContext, toolError } from './context.js';
import type { PgClient } from './pg-clients.js';
import { type PgProcess, startPgProcess } from './pg-process.js';
import { HashCounter } from './streams.js';
import { levelOfToolLine } from './transfer-log.js';

/**
 * pg_dump's compression: zstd on a 16+ client (faster and smaller than gzip at level 1), gzip on older ones.
 * Level 1 by default: the dump is CPU-bound long before the network is, and level 1 keeps most of the gain.
 */
export function chooseCompression(pgDumpMajor: number, level?: number): { args: string[]; label: string } {
  if (pgDumpMajor >= 16) {
    const l = level ?? 1;
    return l === 0
      ? { args: ['--compress=none'], label: 'none' }
      : { args: [`--compress=zstd:${l}`], label: `zstd:${l}` };
  }
  // A pre-16 client only knows gzip 0–9; a zstd-sized app setting (up to 19) means "as small as it gets".
  const l = Math.min(level ?? 1, 9);
  return { args: [`--compress=${l}`], label: l === 0 ? 'none' : `gzip:${l}` };
}

/** Starts `pg_dump --format=custom` on `conn`, its `--verbose` lines going to the transfer log. */
export function startDump(
  ctx: PipelineContext,
  conn: Connection,
  client: PgClient,
  compressionArgs: readonly string[],
): PgProcess {
  return startPgProcess({
    name: 'pg_dump',
    program: client.path('pg_dump'),
    args: [
      '--format=custom',
      '--no-owner',
      '--no-privileges',
      '--quote-all-identifiers',
      '--verbose',
      `--lock-wait-timeout=${ctx.lockWaitTimeout}`,
      ...compressionArgs,
    ],
    env: conn.env,
    stdout: 'pipe',
    secrets: ctx.secrets,
    onStderrLine: (line) => ctx.tlog.add(levelOfToolLine(line), line),
  });
}

/** pg_dump's error, with a hint when it gave up waiting for a lock. */
export function dumpError(
  ctx: PipelineContext,
  dump: PgProcess,
  exit: { code: number | null; signal: NodeJS.Signals | null },
) {
  const waitedForLock =
    dump.stderrTail().some((l) => /LOCK TABLE/.test(l)) &&
    dump.stderrTail().some((l) => /statement timeout|lock timeout/.test(l));
  return toolError(
    dump,
    exit,
    waitedForLock
      ? `Another session held a conflicting lock on a table for longer than ${ctx.lockWaitTimeout}; retry when it is released`
      : undefined,
  );
}

/**
 * Capture: pg_dump → count + SHA-256 (the end of the stream is gated on pg_dump's exit code) → multipart upload.
 * Any failure or cancel leaves no object behind.
 */
export async function capture(ctx: PipelineContext): Promise<TransferPatch> {
  const { transfer: t, deps } = ctx;
  if (t.source.type !== 'database' || t.target.type !== 'blob') {
    throw new Error(`Backup ${t.id} needs a database source and a blob target`);
  }
  const key = t.target.key;
  // Independent round trips, at once: on a small database they are a good part of the whole capture.
  const [{ source, server, client, dumpVersion }, settings] = await Promise.all([
    ctx.connect(t.source.app, t.source.database).then(async (source) => {
      const server = await inspectServer(ctx, source);
      const client = ctx.clients.forDump(server.major);
      return { source, server, client, dumpVersion: await client.version('pg_dump') };
    }),
    deps.catalog.getSettings(t.app),
  ]);
  const compression = chooseCompression(client.major, settings?.compressionLevel);
  const format = archiveFormatWrittenBy(client.major);
  const early: TransferPatch = {
    sourceBytes: server.sizeBytes,
    serverVersion: server.serverVersion,
    pgDumpVersion: dumpVersion,
    compression: compression.label,
    archiveFormat: format,
    oldestPgRestore: oldestPgRestoreFor(format),
  };
  await ctx.record(early);
  ctx.signal.throwIfAborted();

  ctx.tlog.info(
    `backing up ${t.source.database} (PostgreSQL ${server.serverVersion}, ${server.sizeBytes} bytes)`,
  );
  ctx.tlog.info('waiting for pg_dump to complete');
  const dump = startDump(ctx, source, client, compression.args);
  // Set only when pg_dump failed on its own and so ended the stream; otherwise a pg_dump that died writing to
  // a closed pipe is a consequence of the upload failing, and the upload's error is the one to report.
  let dumpFailure: Error | undefined;
  const body = new HashCounter({
    onBytes: ctx.onBytes,
    beforeEnd: async () => {
      const exit = await dump.exited;
      if (exit.code !== 0) {
        dumpFailure = dumpError(ctx, dump, exit);
        throw dumpFailure;
      }
      // Logged when it happens: what follows is only the upload's last part and its completion.
      ctx.tlog.info('pg_dump finished successfully');
    },
  });
  // Silent on purpose: the upload's rejection carries the error; this pipeline only moves bytes with backpressure.
  pipeline(dump.child.stdout!, body).catch(() => {});
  const stop = () => dump.stop();
  ctx.signal.addEventListener('abort', stop, { once: true });
  ctx.tlog.info('waiting for upload to complete');
  try {
    await deps.blobs.upload(key, body, { signal: ctx.signal, expectedBytes: server.sizeBytes });
  } catch (e) {
    dump.stop();
    await dump.exited;
    await bestEffort(ctx.log, 'delete the partial backup object', deps.blobs.delete(key));
    ctx.signal.throwIfAborted();
    if (dumpFailure) {
      ctx.tlog.error('pg_dump finished with errors');
      throw dumpFailure;
    }
    ctx.tlog.error('upload finished with errors');
    throw new Error(`Upload of the backup failed: ${errorMessage(e)}`, { cause: e });
  } finally {
    ctx.signal.removeEventListener('abort', stop);
  }
  ctx.tlog.info('upload finished successfully');

  const sha256 = body.sha256!;
  const stored = await deps.blobs.head(key);
  if (stored?.bytes !== body.bytes) {
    await bestEffort(ctx.log, 'delete the incomplete backup object', deps.blobs.delete(key));
    throw new Error(`The stored backup has ${stored?.bytes ?? 'no'} bytes but ${body.bytes} were uploaded`);
  }
  ctx.tlog.info(`backup stored: ${body.bytes} bytes, sha256 ${sha256}`);
  return { ...early, processedBytes: body.bytes, backupBytes: body.bytes, sha256 };
}
