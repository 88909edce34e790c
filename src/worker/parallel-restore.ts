/**
 * `--parallel N` restore: faster than the atomic restore on multi-core targets, and not atomic.
 *
 * Most of what `pg_restore --jobs` gains is building indexes and constraints side by side; one big table's data
 * cannot be split anyway. So, in two steps, from the plan restore-plan.ts made out of the archive's table of
 * contents before anything ran:
 *
 * 1. Everything except index and constraint builds — schema, data, and all that guards the data: row-level
 *    security, policies, triggers, rules, publications, event triggers — goes through the atomic restore
 *    (atomic-restore.ts), streamed: the wipe is in its transaction, and COMMIT waits for pg_restore's exit 0 and
 *    the checksum. A failure or cancel here rolls back and leaves the target unchanged. So a failure later never
 *    leaves a table that had row-level security readable without it.
 * 2. After the COMMIT, `pg_restore -L <deferred entries> --clean --if-exists --jobs N --exit-on-error -d <target>`
 *    from the archive head restore-plan.ts kept (the whole table of contents: this step reads no data block), with
 *    the credentials in the environment (`--jobs` cannot read a pipe). A failure or cancel here leaves some
 *    indexes or constraints missing: the error lists them (the entries pg_restore did not report finished) and
 *    names `pgbackups restore --finish`, which runs this step again (`--clean --if-exists` first drops those that
 *    were built).
 */
import type { Readable } from 'node:stream';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { RestoreOptions, RestoreResult } from './atomic-restore.js';
import { type Connection, type PipelineContext, toolError } from './context.js';
import { dbnameArg } from './libpq-env.js';
import type { PgClient } from './pg-clients.js';
import { type PgProcess, startPgProcess } from './pg-process.js';
import { describeEntry, type PreparedRestore, prepareRestore, type TocEntry } from './restore-plan.js';
import { HashCounter } from './streams.js';
import { levelOfToolLine } from './transfer-log.js';

const PARTIAL =
  'the target database is only partially restored: its tables, data, row-level security, policies, triggers and ' +
  'rules were committed, but some indexes or constraints are missing';

/** The database name to give `pg_restore -d`; host, user and password stay in the environment. */
export function targetDbName(env: NodeJS.ProcessEnv): string {
  return env.PGDATABASE || env.PGUSER || 'postgres';
}

/**
 * `pg_restore` arguments of step 2: the deferred entries (`-L list`), into `dbname` from `file`, with N jobs.
 * `--clean --if-exists` first drops whichever of them exist, so the step can simply be run again.
 */
export function parallelRestoreArgs(jobs: number, dbname: string, file: string, list: string): string[] {
  return [
    '--format=custom',
    '-L',
    list,
    `--jobs=${jobs}`,
    '--clean',
    '--if-exists',
    '--no-owner',
    '--no-privileges',
    '--exit-on-error',
    '--verbose',
    `--dbname=${dbnameArg(dbname)}`,
    file,
  ];
}

/** The deferred entries pg_restore did not report finished, as the error lists them. */
export function missingItems(deferred: readonly TocEntry[], finished: ReadonlySet<number>): string {
  const missing = deferred.filter((e) => !finished.has(e.id));
  const shown = missing.slice(0, 20).map(describeEntry).join(', ');
  return `${missing.length} of ${deferred.length} missing: ${shown}${missing.length > 20 ? ', …' : ''}`;
}

/**
 * `client` is the one restore.ts chose for this archive and target (src/core/pg-compat.ts).
 * `restoreAtomically` is the atomic restore (atomic-restore.ts) of this transfer's source as restore.ts read
 * ahead and planned it: everything but the deferred index and constraint builds, in one transaction.
 */
export async function parallelRestore(
  ctx: PipelineContext,
  target: Connection,
  client: PgClient,
  jobs: number,
  prepared: PreparedRestore,
  restoreAtomically: (opts: RestoreOptions) => Promise<RestoreResult>,
): Promise<RestoreResult> {
  const deferred = prepared.plan.deferred;
  let postData: PgProcess | undefined;
  let committed = false;
  const finished = new Set<number>();
  const stop = () => postData?.stop();
  ctx.signal.addEventListener('abort', stop, { once: true });
  try {
    // 1. Everything but the deferred builds, atomically.
    ctx.tlog.info(
      `parallel restore with ${jobs} jobs: everything but ${deferred.length} index and constraint builds first, ` +
        'in one transaction',
    );
    const result = await restoreAtomically({ committed: 'schema and data restored and committed' });
    committed = true;
    // What a later finish checks the source against (see finishRestore).
    await ctx.record({ processedBytes: result.bytes, ...(result.sha256 ? { sha256: result.sha256 } : {}) });
    ctx.signal.throwIfAborted();
    if (deferred.length === 0) {
      ctx.tlog.info('restore finished successfully');
      return result;
    }
    await runDeferredStep(ctx, target, client, jobs, prepared, finished, (p) => {
      postData = p;
    });
    return result;
  } finally {
    ctx.signal.removeEventListener('abort', stop);
    if (committed && ctx.signal.aborted) {
      ctx.tlog.warn(
        `cancelled after the data was committed: ${PARTIAL} (${missingItems(deferred, finished)})`,
      );
    }
    // A cancelled restore waits for pg_restore so it is not left writing to the target or reading the file.
    await postData?.exited;
  }
}

/**
 * Step 2: the deferred index and constraint builds with N jobs. With --jobs the leader's last line is only "a
 * worker process died unexpectedly", and other jobs' verbose lines may follow the real error: keep the first.
 */
export async function runDeferredStep(
  ctx: PipelineContext,
  target: Connection,
  client: PgClient,
  jobs: number,
  prepared: Pick<PreparedRestore, 'file' | 'deferredList' | 'plan'>,
  finished: Set<number>,
  started: (p: PgProcess) => void,
): Promise<void> {
  const deferred = prepared.plan.deferred;
  ctx.tlog.info(`building indexes and constraints with ${jobs} jobs; waiting for pg_restore to complete`);
  let firstError: string | undefined;
  const postData = startPgProcess({
    name: 'pg_restore',
    program: client.path('pg_restore'),
    args: parallelRestoreArgs(jobs, targetDbName(target.env), prepared.file, prepared.deferredList),
    env: target.env,
    stdout: 'ignore',
    secrets: ctx.secrets,
    onStderrLine: (line) => {
      const done = /finished item (\d+) /.exec(line);
      if (done) finished.add(Number(done[1]));
      if (/\berror:/i.test(line) && !/worker process died unexpectedly/.test(line)) firstError ??= line;
      ctx.tlog.add(levelOfToolLine(line), line);
    },
  });
  started(postData);
  const exit = await postData.exited;
  ctx.signal.throwIfAborted();
  if (exit.code !== 0) {
    ctx.tlog.error('pg_restore finished with errors');
    const base = toolError(postData, exit).message;
    const cause = firstError && !base.includes(firstError) ? ` (${firstError})` : '';
    const t = ctx.transfer;
    throw new Error(
      `${base}${cause}; ${PARTIAL} (${missingItems(deferred, finished)}). Once the cause is fixed, build them ` +
        `with: pgbackups restore --finish ${t.finishOf?.id ?? t.id} -a ${t.app}`,
    );
  }
  ctx.tlog.info('pg_restore finished successfully');
  ctx.tlog.info('restore finished successfully');
}

/**
 * `pgbackups restore --finish r###` (transfer.finishOf): step 2 of that restore again, and nothing else. The
 * backup is read whole and must hash to what the original restore read, so the indexes and constraints built
 * are those of the data it committed; only then does `pg_restore --clean --if-exists` drop whichever of them
 * exist and build them all.
 */
export async function finishParallelRestore(
  ctx: PipelineContext,
  target: Connection,
  client: PgClient,
  stream: Readable,
  expected: { readonly sha256: string; readonly bytes: number },
): Promise<RestoreResult> {
  const t = ctx.transfer;
  const jobs = t.parallel ?? 2;
  ctx.tlog.info(`finishing ${t.finishOf?.id}: building its indexes and constraints again`);
  const prepared = await prepareRestore(ctx, target, client, stream, {
    extensions: t.extensions,
    keep: t.keepExtensions,
    split: true,
    checkLocks: false,
  });
  let postData: PgProcess | undefined;
  const stop = () => postData?.stop();
  ctx.signal.addEventListener('abort', stop, { once: true });
  try {
    const counter = new HashCounter({ onBytes: ctx.onBytes });
    const discard = new Writable({ write: (_c, _e, cb) => cb() });
    await pipeline(prepared.replay, counter, discard, { signal: ctx.signal });
    if (counter.bytes !== expected.bytes || counter.sha256 !== expected.sha256) {
      ctx.tlog.error('checksum mismatch');
      throw new Error(
        `Checksum mismatch: the backup is not the one ${t.finishOf?.id} restored (expected sha256 ` +
          `${expected.sha256}, got ${counter.sha256}); nothing was changed`,
      );
    }
    ctx.tlog.info('checksum verified');
    await runDeferredStep(ctx, target, client, jobs, prepared, new Set(), (p) => {
      postData = p;
    });
    return { bytes: counter.bytes, sha256: counter.sha256 };
  } finally {
    ctx.signal.removeEventListener('abort', stop);
    await postData?.exited;
    await prepared.cleanup();
  }
}
