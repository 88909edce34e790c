/**
 * `--parallel N` restore (DESIGN §5): faster than the atomic restore on multi-core targets, and NOT atomic.
 *
 * `pg_restore --jobs` cannot read a pipe (it seeks to each table's data), so the archive is first downloaded to a
 * temp file under the OS temp dir (`TMPDIR`: the task's ephemeral storage on Fargate), SHA-256-checked while it
 * is written. Only then is the target touched: the same wipe and extension pre-install as the atomic restore, in
 * their own transaction, then `pg_restore --jobs N --exit-on-error -d <target>` with credentials in the
 * environment. A failure before the wipe leaves the target unchanged; a failure after it leaves the target
 * partially restored (said so in the error). The temp file is always deleted.
 */
import { constants as fsConstants } from 'node:fs';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { errorMessage } from '../core/logger.js';
import { type Connection, type PipelineContext, toolError } from './context.js';
import { childEnv } from './libpq-env.js';
import { describeExit, type PgProcess, runPgCommand, startPgProcess, startScriptPsql } from './pg-process.js';
import { restorePrelude } from './restore-sql.js';
import { HashCounter } from './streams.js';
import { levelOfToolLine } from './transfer-log.js';

export interface ParallelSource {
  readonly stream: Readable;
  /** The recorded size and SHA-256 of a stored backup; a URL source has none (pg_restore reading it is the check). */
  readonly expected?: { readonly id: string; readonly bytes: number; readonly sha256: string };
}

const UNCHANGED = 'the target database was left unchanged';
const PARTIAL =
  'the target database may be partially restored (a parallel restore is not atomic): restore again, or without --parallel';

/** Where the archive is downloaded: `$PGBACKUPS_TMPDIR`, else the OS temp dir (`$TMPDIR`). */
export function downloadDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.PGBACKUPS_TMPDIR || tmpdir();
}

/** The database name to give `pg_restore -d`; host, user and password stay in the environment. */
export function targetDbName(env: NodeJS.ProcessEnv): string {
  return env.PGDATABASE || env.PGUSER || 'postgres';
}

/** `pg_restore` arguments of a parallel restore into `dbname` from `file`. */
export function parallelRestoreArgs(jobs: number, dbname: string, file: string): string[] {
  return [
    '--format=custom',
    `--jobs=${jobs}`,
    '--no-owner',
    '--no-privileges',
    '--exit-on-error',
    '--verbose',
    `--dbname=${dbname}`,
    file,
  ];
}

export async function parallelRestore(
  ctx: PipelineContext,
  target: Connection,
  source: ParallelSource,
  extensions: readonly string[] | undefined,
  jobs: number,
): Promise<{ bytes: number; sha256: string }> {
  const dir = await mkdtemp(join(downloadDir(), 'pgbackups-restore-'));
  const file = join(dir, 'archive.dump');
  const running: PgProcess[] = [];
  let touched = false;
  const stopAll = () => {
    source.stream.destroy();
    for (const p of running) p.stop();
  };
  ctx.signal.addEventListener('abort', stopAll, { once: true });
  try {
    // 1. Download, hashing as it is written. Nothing has touched the target yet.
    ctx.tlog.info(`parallel restore with ${jobs} jobs: downloading the archive to ephemeral storage first`);
    const counter = new HashCounter({ onBytes: ctx.onBytes });
    const handle = await open(file, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL, 0o600);
    try {
      await pipeline(source.stream, counter, handle.createWriteStream(), { signal: ctx.signal });
    } catch (e) {
      ctx.signal.throwIfAborted();
      ctx.tlog.error('download finished with errors');
      throw new Error(`Reading the backup failed: ${errorMessage(e)}; ${UNCHANGED}`);
    } finally {
      await handle.close().catch(() => {});
    }
    const sha256 = counter.sha256!;
    const exp = source.expected;
    if (exp && (counter.bytes !== exp.bytes || sha256 !== exp.sha256)) {
      ctx.tlog.error(
        `checksum mismatch: expected ${exp.bytes} bytes with sha256 ${exp.sha256}, got ${counter.bytes} bytes with sha256 ${sha256}`,
      );
      throw new Error(
        `Checksum mismatch: backup ${exp.id} is not the one that was captured (expected sha256 ${exp.sha256}, got ${sha256}); ${UNCHANGED}`,
      );
    }
    ctx.tlog.info('download finished successfully');
    if (exp) ctx.tlog.info('checksum verified');

    // 2. The archive must be readable before the target is wiped (a URL source has no checksum to go by).
    const list = await runPgCommand({
      name: 'pg_restore',
      program: ctx.program('pg_restore'),
      args: ['--list', file],
      env: childEnv({}),
      secrets: ctx.secrets,
    });
    ctx.signal.throwIfAborted();
    if (list.exit.code !== 0) {
      ctx.tlog.error('the archive could not be read');
      for (const line of list.stderr) ctx.tlog.error(line);
      throw new Error(
        `pg_restore cannot read the archive (${describeExit(list.exit)}): ${list.stderr.at(-1) ?? 'not a custom-format dump'}; ${UNCHANGED}`,
      );
    }

    // 3. Wipe the target and pre-install extensions, in one transaction of their own.
    const toolLine = (line: string) => ctx.tlog.add(levelOfToolLine(line), line);
    const wipe = startScriptPsql({
      program: ctx.program('psql'),
      env: target.env,
      secrets: ctx.secrets,
      onStderrLine: toolLine,
    });
    running.push(wipe);
    touched = true;
    wipe.child.stdin?.on('error', () => {});
    wipe.child.stdin?.end(`${restorePrelude({ extensions, lockTimeout: ctx.lockWaitTimeout })}\nCOMMIT;\n`);
    const wiped = await wipe.exited;
    ctx.signal.throwIfAborted();
    if (wiped.code !== 0) {
      ctx.tlog.error(`wipe failed: ${UNCHANGED}`);
      throw new Error(`${toolError(wipe, wiped).message}; ${UNCHANGED}`);
    }
    ctx.tlog.info('target wiped; waiting for pg_restore to complete');

    // 4. pg_restore --jobs N straight into the target. With --jobs the leader's last line is only "a worker
    // process died unexpectedly", and other jobs' verbose lines may follow the real error: keep the first one.
    let firstError: string | undefined;
    const restore = startPgProcess({
      name: 'pg_restore',
      program: ctx.program('pg_restore'),
      args: parallelRestoreArgs(jobs, targetDbName(target.env), file),
      env: target.env,
      stdout: 'ignore',
      secrets: ctx.secrets,
      onStderrLine: (line) => {
        if (/\berror:/i.test(line) && !/worker process died unexpectedly/.test(line)) firstError ??= line;
        toolLine(line);
      },
    });
    running.push(restore);
    const exit = await restore.exited;
    ctx.signal.throwIfAborted();
    if (exit.code !== 0) {
      ctx.tlog.error('pg_restore finished with errors');
      const base = toolError(restore, exit).message;
      const cause = firstError && !base.includes(firstError) ? ` (${firstError})` : '';
      throw new Error(`${base}${cause}; ${PARTIAL}`);
    }
    ctx.tlog.info('pg_restore finished successfully');
    ctx.tlog.info('restore finished successfully');
    return { bytes: counter.bytes, sha256 };
  } finally {
    ctx.signal.removeEventListener('abort', stopAll);
    if (touched && ctx.signal.aborted) ctx.tlog.warn(`cancelled after the wipe: ${PARTIAL}`);
    // A cancelled restore waits for its children so none is left writing to the target or reading the file.
    await Promise.all(running.map((p) => p.exited));
    await rm(dir, { recursive: true, force: true });
  }
}
