/**
 * `--parallel N` restore (DESIGN §5): faster than the atomic restore on multi-core targets, and NOT atomic.
 *
 * Most of what `pg_restore --jobs` gains is building indexes and constraints (the post-data section) side by
 * side; one big table's data cannot be split anyway. So, in two steps:
 *
 * 1. The schema and the data (`--section=pre-data --section=data`) go through restore.ts's atomic restore,
 *    streamed: the wipe is in its transaction, and COMMIT waits for pg_restore's exit 0 and the checksum.
 *    A failure or cancel here rolls back and leaves the target unchanged. The same bytes are written (a tee,
 *    with backpressure) to a temp file under `downloadDir()` (O_EXCL, 0600); a write error also rolls back.
 * 2. After the COMMIT, `pg_restore --section=post-data --jobs N --exit-on-error -d <target>` from that file,
 *    with the credentials in the environment (`--jobs` cannot read a pipe). A failure or cancel here leaves
 *    the tables and their data committed, but some indexes, constraints or triggers missing: the error says
 *    so.
 *
 * The temp file is always deleted. Step 2 reads only the archive's table of contents, never a data block (checked
 * with a file holding nothing but the TOC, PostgreSQL 15), and the TOC comes first: so the copy stops as soon as
 * `pg_restore --list` can read a whole TOC from what was written (tried at a few sizes; see {@link TocCopy}).
 * Writing the whole archive cost ~0.6 s per GB of database and as much disk as the dump.
 */
import { constants as fsConstants } from 'node:fs';
import { type FileHandle, mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { type Connection, type PipelineContext, toolError } from './context.js';
import { childEnv, dbnameArg } from './libpq-env.js';
import type { PgClient } from './pg-clients.js';
import { type PgProcess, runPgCommand, startPgProcess } from './pg-process.js';
import type { RestoreOptions, RestoreResult } from './restore.js';
import { levelOfToolLine } from './transfer-log.js';

const PARTIAL =
  'the target database is only partially restored: its tables and data were committed, but some indexes, ' +
  'constraints, triggers or other post-data objects may be missing; restore again, or without --parallel';

/** How far the temp file may lag behind pg_restore before the stream waits for it. */
const COPY_BUFFER_BYTES = 4 * 1024 * 1024;
/** Sizes at which the copy checks whether it holds a whole TOC; past the last one it keeps everything. */
export const TOC_CHECKPOINTS: readonly number[] = [64 * 1024, 1024 ** 2, 16 * 1024 ** 2, 128 * 1024 ** 2];

/**
 * Writes a stream to `handle` until the file holds the archive's whole table of contents, then discards the
 * rest. At each checkpoint (bytes written) it asks `hasToc()` — `pg_restore --list` on the file — and stops
 * writing on the first yes. A TOC larger than the last checkpoint (a schema of ~100,000+ objects) keeps the
 * whole archive, as before.
 */
export class TocCopy extends Writable {
  private written = 0;
  private next = 0;
  private tocBytes: number | undefined;

  constructor(
    private readonly handle: FileHandle,
    private readonly hasToc: () => Promise<boolean>,
    private readonly checkpoints: readonly number[] = TOC_CHECKPOINTS,
  ) {
    super({ highWaterMark: COPY_BUFFER_BYTES });
  }

  /** Bytes kept once a whole TOC was found; undefined while (or if) the whole archive is being kept. */
  get keptTocBytes(): number | undefined {
    return this.tocBytes;
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (error?: Error | null) => void): void {
    if (this.tocBytes !== undefined) {
      cb();
      return;
    }
    this.append(chunk).then(() => cb(), cb);
  }

  private async append(chunk: Buffer): Promise<void> {
    await this.handle.write(chunk);
    this.written += chunk.length;
    const mark = this.checkpoints[this.next];
    if (mark !== undefined && this.written >= mark) {
      this.next += 1;
      if (await this.hasToc()) this.tocBytes = this.written;
    }
  }
}

/** What the first, atomic step restores. */
export const SCHEMA_AND_DATA: readonly string[] = ['--section=pre-data', '--section=data'];

/** Where the archive is copied: `$PGBACKUPS_TMPDIR`, else the OS temp dir (`$TMPDIR`). */
export function downloadDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.PGBACKUPS_TMPDIR || tmpdir();
}

/** The database name to give `pg_restore -d`; host, user and password stay in the environment. */
export function targetDbName(env: NodeJS.ProcessEnv): string {
  return env.PGDATABASE || env.PGUSER || 'postgres';
}

/** `pg_restore` arguments of step 2: the post-data section, into `dbname` from `file`, with N jobs. */
export function parallelRestoreArgs(jobs: number, dbname: string, file: string): string[] {
  return [
    '--format=custom',
    '--section=post-data',
    `--jobs=${jobs}`,
    '--no-owner',
    '--no-privileges',
    '--exit-on-error',
    '--verbose',
    `--dbname=${dbnameArg(dbname)}`,
    file,
  ];
}

/**
 * `client` is the one restore.ts chose for this archive and target (src/core/pg-compat.ts).
 * `restoreAtomically` is restore.ts's atomic restore of this transfer's source (passed in, so this module
 * does not import it back); it gets the sections, the tee into the temp file, and its last log line.
 */
export async function parallelRestore(
  ctx: PipelineContext,
  target: Connection,
  client: PgClient,
  jobs: number,
  restoreAtomically: (opts: RestoreOptions) => Promise<RestoreResult>,
): Promise<RestoreResult> {
  const dir = await mkdtemp(join(downloadDir(), 'pgbackups-restore-'));
  const file = join(dir, 'archive.dump');
  let postData: PgProcess | undefined;
  let committed = false;
  const stop = () => postData?.stop();
  ctx.signal.addEventListener('abort', stop, { once: true });
  try {
    // 1. Schema and data, atomically, copying the archive to the temp file on the way.
    ctx.tlog.info(
      `parallel restore with ${jobs} jobs: schema and data first, in one transaction, ` +
        'copying the archive to ephemeral storage',
    );
    const handle = await open(file, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL, 0o600);
    const copy = new TocCopy(handle, async () => {
      const list = await runPgCommand({
        name: 'pg_restore',
        program: client.path('pg_restore'),
        args: ['--list', file],
        env: childEnv({}),
        secrets: ctx.secrets,
      });
      return list.exit.code === 0;
    });
    let result: RestoreResult;
    try {
      result = await restoreAtomically({
        pgRestoreArgs: SCHEMA_AND_DATA,
        tee: { stream: copy, name: 'the archive to ephemeral storage' },
        committed: 'schema and data restored and committed',
      });
    } finally {
      copy.destroy();
      await handle.close().catch(() => {});
    }
    committed = true;
    ctx.signal.throwIfAborted();
    if (copy.keptTocBytes !== undefined) {
      ctx.tlog.info(
        `kept the archive's table of contents (${copy.keptTocBytes} bytes) for the post-data step`,
      );
    }

    // 2. Indexes, constraints, triggers… with N jobs. With --jobs the leader's last line is only "a worker
    // process died unexpectedly", and other jobs' verbose lines may follow the real error: keep the first.
    ctx.tlog.info(`building indexes and constraints with ${jobs} jobs; waiting for pg_restore to complete`);
    let firstError: string | undefined;
    postData = startPgProcess({
      name: 'pg_restore',
      program: client.path('pg_restore'),
      args: parallelRestoreArgs(jobs, targetDbName(target.env), file),
      env: target.env,
      stdout: 'ignore',
      secrets: ctx.secrets,
      onStderrLine: (line) => {
        if (/\berror:/i.test(line) && !/worker process died unexpectedly/.test(line)) firstError ??= line;
        ctx.tlog.add(levelOfToolLine(line), line);
      },
    });
    const exit = await postData.exited;
    ctx.signal.throwIfAborted();
    if (exit.code !== 0) {
      ctx.tlog.error('pg_restore finished with errors');
      const base = toolError(postData, exit).message;
      const cause = firstError && !base.includes(firstError) ? ` (${firstError})` : '';
      throw new Error(`${base}${cause}; ${PARTIAL}`);
    }
    ctx.tlog.info('pg_restore finished successfully');
    ctx.tlog.info('restore finished successfully');
    return result;
  } finally {
    ctx.signal.removeEventListener('abort', stop);
    if (committed && ctx.signal.aborted) ctx.tlog.warn(`cancelled after the data was committed: ${PARTIAL}`);
    // A cancelled restore waits for pg_restore so it is not left writing to the target or reading the file.
    await postData?.exited;
    await rm(dir, { recursive: true, force: true });
  }
}
