/**
 * Before a restore touches the target, the worker reads the archive's table of contents and plans from it:
 *
 * - which entries the atomic step restores and which (index and constraint builds only) a `--parallel` restore
 *   leaves to its second step — everything that guards data (row-level security, policies, triggers, rules,
 *   publications…) stays in the atomic step with the data;
 * - which entries are skipped: the CREATE SCHEMA of a schema that `--extensions schema.name` or a kept extension
 *   already provides, and the CREATE EXTENSION (and its COMMENT) of a kept extension;
 * - whether the wipe and the restore fit, in one transaction, in the server's lock table.
 *
 * The table of contents comes first in a custom-format archive: {@link readArchiveHead} copies the stream to a
 * temp file until `pg_restore --list` can read a whole one, and hands back a stream that replays those bytes and
 * then the rest, so the checksum still covers every byte. The file also serves the `--parallel` second step, which
 * reads only the table of contents (checked with a file holding nothing else, PostgreSQL 15).
 */
import { createReadStream, constants as fsConstants } from 'node:fs';
import { type FileHandle, mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { workerTmpDir } from '../config/worker-env.js';
import { bestEffort, errorMessage } from '../core/logger.js';
import type { Connection, PipelineContext } from './context.js';
import { childEnv } from './libpq-env.js';
import type { PgClient } from './pg-clients.js';
import { reasonFrom, runPgCommand } from './pg-process.js';

const UNCHANGED = 'the target database was left unchanged';

/** One entry of `pg_restore --list --verbose`. */
export interface TocEntry {
  readonly id: number;
  /** Its type when it is one the plan cares about, else `other`. */
  readonly desc: string;
  /** The whole line, as pg_restore printed it (the `-L` list files are made of these). */
  readonly line: string;
  /** What follows the catalog ids: `DESC NAMESPACE TAG OWNER`. */
  readonly rest: string;
  readonly deps: readonly number[];
}

/** Left to the parallel step: builds that can be redone, and that guard no row from any role. */
const DEFERRABLE = new Set([
  'INDEX',
  'INDEX ATTACH',
  'CONSTRAINT',
  'FK CONSTRAINT',
  'CHECK CONSTRAINT',
  'STATISTICS',
]);
/** Entries about another entry: they go wherever it goes. */
const ANNOTATIONS = new Set(['COMMENT', 'SECURITY LABEL']);
/** Longest first, so `INDEX ATTACH` is not read as `INDEX`. */
const KNOWN = [...DEFERRABLE, ...ANNOTATIONS, 'SCHEMA', 'EXTENSION'].sort((a, b) => b.length - a.length);

/** Parses `pg_restore --list --verbose`: entry lines, each followed by its `;\tdepends on: …` line if any. */
export function parseTocListing(text: string): TocEntry[] {
  const entries: TocEntry[] = [];
  for (const line of text.split('\n')) {
    const entry = /^(\d+); \d+ \d+ (.*)$/.exec(line);
    if (entry) {
      const rest = entry[2] ?? '';
      const desc = KNOWN.find((d) => rest.startsWith(`${d} `)) ?? 'other';
      entries.push({ id: Number(entry[1]), desc, line, rest, deps: [] });
      continue;
    }
    const deps = /^;\s*depends on:(.*)$/.exec(line);
    const last = entries.at(-1);
    if (deps && last) {
      entries[entries.length - 1] = { ...last, deps: (deps[1] ?? '').trim().split(/\s+/).map(Number) };
    }
  }
  return entries;
}

export interface RestorePlan {
  /** In the atomic step, in archive order. */
  readonly atomic: readonly TocEntry[];
  /** Left to the parallel step (empty unless `split`). */
  readonly deferred: readonly TocEntry[];
  readonly skipped: readonly TocEntry[];
}

const startsWithWords = (rest: string, prefix: string) => `${rest} `.startsWith(`${prefix} `);

/**
 * Splits the table of contents. `skipSchemas`: schemas that exist before the script runs (created by the prelude
 * or kept with an extension); `keep`: extensions kept in the target. `split`: a `--parallel` restore.
 */
export function planRestore(
  toc: readonly TocEntry[],
  opts: { skipSchemas?: readonly string[]; keep?: readonly string[]; split: boolean },
): RestorePlan {
  const skip = (e: TocEntry) =>
    (opts.skipSchemas ?? []).some((s) => startsWithWords(e.rest, `SCHEMA - ${s}`)) ||
    (opts.keep ?? []).some(
      (x) =>
        startsWithWords(e.rest, `EXTENSION - ${x}`) ||
        // Quoted in dumps made with --quote-all-identifiers, as ours are.
        startsWithWords(e.rest, `COMMENT - EXTENSION ${x}`) ||
        startsWithWords(e.rest, `COMMENT - EXTENSION "${x}"`),
    );
  const skipped = toc.filter(skip);
  const kept = toc.filter((e) => !skip(e));
  if (!opts.split) return { atomic: kept, deferred: [], skipped };

  const byId = new Map(kept.map((e) => [e.id, e]));
  const deferred = new Set<number>();
  for (const e of kept) {
    if (DEFERRABLE.has(e.desc)) deferred.add(e.id);
    // The archive lists an annotation after what it annotates.
    else if (ANNOTATIONS.has(e.desc) && e.deps.some((d) => deferred.has(d))) deferred.add(e.id);
  }
  // Whatever stays atomic and needs a deferred entry (a view grouping by a primary key, say) takes it along.
  const pull = (id: number) => {
    if (!deferred.delete(id)) return;
    for (const d of byId.get(id)?.deps ?? []) pull(d);
  };
  let changed = true;
  while (changed) {
    changed = false;
    for (const e of kept) {
      if (deferred.has(e.id)) continue;
      for (const d of e.deps) {
        if (deferred.has(d)) {
          pull(d);
          changed = true;
        }
      }
    }
  }
  return {
    atomic: kept.filter((e) => !deferred.has(e.id)),
    deferred: kept.filter((e) => deferred.has(e.id)),
    skipped,
  };
}

/** A `pg_restore -L` list: the entries' own lines, in archive order (a stream cannot be read out of order). */
export function listFile(entries: readonly TocEntry[]): string {
  return `${entries.map((e) => e.line).join('\n')}\n`;
}

/** Sizes at which the head copy checks whether it holds a whole table of contents. */
export const HEAD_CHECKPOINTS: readonly number[] = [
  64 * 1024,
  1024 ** 2,
  16 * 1024 ** 2,
  128 * 1024 ** 2,
  1024 ** 3,
];

/** `pg_restore --list --verbose` of a (possibly partial) archive file: the listing, or why it could not. */
export async function listArchive(
  ctx: Pick<PipelineContext, 'secrets'>,
  client: PgClient,
  file: string,
): Promise<{ listing?: string; reason?: string }> {
  const r = await runPgCommand({
    name: 'pg_restore',
    program: client.path('pg_restore'),
    args: ['--list', '--verbose', file],
    env: childEnv({}),
    secrets: ctx.secrets,
  });
  return r.exit.code === 0 ? { listing: r.stdout } : { reason: reasonFrom(r.stderr) ?? 'unreadable' };
}

export interface ArchiveHead {
  readonly toc: readonly TocEntry[];
  /** Bytes copied to the file (the table of contents and a little more). */
  readonly headBytes: number;
  /** The head again, then the rest of the source. */
  readonly replay: Readable;
}

/**
 * Reads `source` into `handle` (the file `file`) until the file holds a whole table of contents, checking at
 * `checkpoints` and at the end of the stream. Refuses an archive whose table of contents cannot be read.
 */
export async function readArchiveHead(
  ctx: Pick<PipelineContext, 'secrets' | 'signal'>,
  client: PgClient,
  source: Readable,
  handle: FileHandle,
  file: string,
  checkpoints: readonly number[] = HEAD_CHECKPOINTS,
): Promise<ArchiveHead> {
  const it = source[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  let written = 0;
  let next = 0;
  let ended = false;
  let listing: string | undefined;
  let reason: string | undefined;
  while (listing === undefined) {
    ctx.signal.throwIfAborted();
    const r = await it.next();
    if (r.done) ended = true;
    else {
      await handle.write(r.value);
      written += r.value.length;
    }
    const mark = checkpoints[next];
    if (ended || (mark !== undefined && written >= mark)) {
      if (!ended) next += 1;
      ({ listing, reason } = await listArchive(ctx, client, file));
      if (listing === undefined && (ended || next >= checkpoints.length)) {
        throw new Error(
          ended
            ? `The backup is not a readable pg_dump custom-format archive (pg_restore --list: ${reason})`
            : `The archive's table of contents is larger than ${checkpoints.at(-1)} bytes; restore it with pg_restore directly`,
        );
      }
    }
  }
  // Silent on purpose: pg_restore reads the file back through the page cache, so a failed fsync loses nothing.
  await handle.sync().catch(() => {});
  async function* replay(): AsyncGenerator<Buffer> {
    for await (const chunk of createReadStream(file, { end: written - 1 })) yield chunk as Buffer;
    if (ended) return;
    for (let r = await it.next(); !r.done; r = await it.next()) yield r.value;
  }
  return {
    toc: parseTocListing(listing),
    headBytes: written,
    replay: written === 0 ? Readable.from([]) : Readable.from(replay(), { objectMode: false }),
  };
}

/** Where the archive head is kept: `$PGBACKUPS_TMPDIR`, else the OS temp dir (src/config/worker-env.ts). */
export function downloadDir(env?: Readonly<Record<string, string | undefined>>): string {
  return workerTmpDir(env);
}

/** What the target's server and content say about the restore, read before anything is touched. */
export interface TargetFacts {
  readonly maxLocksPerTransaction: number;
  readonly maxConnections: number;
  readonly maxPreparedTransactions: number;
  /** Objects the wipe drops (each takes a lock), counted across the catalogs that hold most of them. */
  readonly objects: number;
  /** Kept extensions installed in the target → their schema. */
  readonly keptSchemas: ReadonlyMap<string, string>;
}

const literal = (s: string) => `'${s.replaceAll("'", "''")}'`;

export async function inspectTarget(
  ctx: Pick<PipelineContext, 'clients' | 'secrets'>,
  conn: Connection,
  keep: readonly string[],
): Promise<TargetFacts> {
  const user = ['pg_class', 'pg_type', 'pg_proc', 'pg_constraint', 'pg_attrdef', 'pg_rewrite', 'pg_namespace']
    .map((c) => `(SELECT count(*) FROM pg_catalog.${c} WHERE oid >= 16384)`)
    .join(' + ');
  const settings = `SELECT current_setting('max_locks_per_transaction') || '|' || current_setting('max_connections')
      || '|' || current_setting('max_prepared_transactions') || '|' || (${user})`;
  const kept = `SELECT e.extname || '|' || n.nspname FROM pg_catalog.pg_extension e
      JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace
     WHERE e.extname = ANY (ARRAY[${keep.map(literal).join(', ')}]::name[])`;
  const r = await runPgCommand({
    name: 'psql',
    program: ctx.clients.newest().path('psql'),
    args: ['-X', '-A', '-t', '-q', '-v', 'ON_ERROR_STOP=1', '-c', settings, '-c', kept],
    env: conn.env,
    secrets: ctx.secrets,
  });
  const [first, ...rest] = r.stdout.trim().split('\n');
  const nums = (first ?? '').split('|').map(Number);
  if (r.exit.code !== 0 || nums.length !== 4 || nums.some((n) => !Number.isFinite(n))) {
    throw new Error(`Could not inspect database ${conn.name}: ${reasonFrom(r.stderr) ?? 'no answer'}`);
  }
  const [maxLocks = 0, maxConnections = 0, maxPrepared = 0, objects = 0] = nums;
  return {
    maxLocksPerTransaction: maxLocks,
    maxConnections,
    maxPreparedTransactions: maxPrepared,
    objects,
    keptSchemas: new Map(rest.filter(Boolean).map((l) => l.split('|') as [string, string])),
  };
}

/**
 * Locks the wipe and the atomic step need, measured on PostgreSQL 15 (a wipe of 3,220 objects held 3,268 locks;
 * restoring 2,020 archive entries then took 2,620 more), with some room on top.
 */
export function locksNeeded(objects: number, atomicEntries: number): number {
  return Math.ceil(objects * 1.1 + atomicEntries * 1.5 + 100);
}

/**
 * Refuses, before anything is touched, a transaction bigger than the server's lock table — which PostgreSQL would
 * only report as `out of shared memory` after the wipe, having held every lock it got meanwhile.
 */
export function lockBudgetError(facts: TargetFacts, atomicEntries: number): string | undefined {
  const slots = facts.maxConnections + facts.maxPreparedTransactions;
  const capacity = facts.maxLocksPerTransaction * slots;
  const needed = locksNeeded(facts.objects, atomicEntries);
  if (needed <= capacity) return undefined;
  const perTransaction = Math.ceil(needed / Math.max(slots, 1));
  return (
    `The restore needs about ${needed} locks in one transaction (the wipe of ${facts.objects} objects and ` +
    `${atomicEntries} archive entries), more than the server's lock table holds: max_locks_per_transaction ` +
    `(${facts.maxLocksPerTransaction}) × (max_connections (${facts.maxConnections}) + max_prepared_transactions ` +
    `(${facts.maxPreparedTransactions})) = ${capacity}. Set max_locks_per_transaction to at least ` +
    `${perTransaction} (a server restart), or restore without one transaction, not atomically: ` +
    'pg_restore --clean --if-exists --no-owner -d TARGET on the file from pgbackups download'
  );
}

/** A planned restore: the stream to restore from, the `-L` lists, and the temp files to remove afterwards. */
export interface PreparedRestore {
  readonly replay: Readable;
  readonly plan: RestorePlan;
  /** The archive head (its whole table of contents), for the parallel step. */
  readonly file: string;
  /** pg_restore arguments of the atomic step. */
  readonly atomicArgs: readonly string[];
  /** The `-L` list of the parallel step (when the plan defers anything). */
  readonly deferredList: string;
  /** Kept extensions actually installed in the target: what the wipe keeps. */
  readonly keep: readonly string[];
  cleanup(): Promise<void>;
}

/**
 * Reads the archive's table of contents, inspects the target and plans the restore, refusing — before the
 * target is touched — a transaction the server's lock table cannot hold.
 */
export async function prepareRestore(
  ctx: PipelineContext,
  target: Connection,
  client: PgClient,
  source: Readable,
  opts: {
    extensions?: readonly string[];
    keep?: readonly string[];
    split: boolean;
    /** Off when nothing runs in one transaction (finishing a parallel restore). @default true */
    checkLocks?: boolean;
  },
): Promise<PreparedRestore> {
  const dir = await mkdtemp(join(downloadDir(), 'pgbackups-restore-'));
  const cleanup = () => rm(dir, { recursive: true, force: true });
  try {
    const file = join(dir, 'archive-head.dump');
    const handle = await open(file, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL, 0o600);
    let head: ArchiveHead;
    try {
      head = await readArchiveHead(ctx, client, source, handle, file);
    } catch (e) {
      ctx.signal.throwIfAborted();
      ctx.tlog.error("could not read the archive's table of contents");
      throw new Error(`Reading the archive's table of contents failed: ${errorMessage(e)}; ${UNCHANGED}`, {
        cause: e,
      });
    } finally {
      await bestEffort(ctx.log, 'close the archive head file', handle.close());
    }
    const keep = opts.keep ?? [];
    const facts = await inspectTarget(ctx, target, keep);
    const dumpSchemas = (opts.extensions ?? []).flatMap((e) =>
      e.includes('.') ? [e.split('.')[0] ?? ''] : [],
    );
    const keptSchemas = [...facts.keptSchemas.values()].filter((s) => s !== 'public');
    const plan = planRestore(head.toc, {
      skipSchemas: [...new Set([...dumpSchemas, ...keptSchemas])],
      keep: [...facts.keptSchemas.keys()],
      split: opts.split,
    });
    const refusal = opts.checkLocks === false ? undefined : lockBudgetError(facts, plan.atomic.length);
    if (refusal) {
      ctx.tlog.error('the restore would not fit in the server lock table');
      throw new Error(`${refusal}; ${UNCHANGED}`);
    }
    ctx.tlog.info(
      `read the archive's table of contents (${head.toc.length} entries, ${head.headBytes} bytes read ahead)` +
        (plan.skipped.length > 0 ? `; skipping ${plan.skipped.map(describeEntry).join(', ')}` : ''),
    );
    const atomicList = join(dir, 'atomic.list');
    const deferredList = join(dir, 'deferred.list');
    await writeFile(atomicList, listFile(plan.atomic), { mode: 0o600 });
    await writeFile(deferredList, listFile(plan.deferred), { mode: 0o600 });
    return {
      replay: head.replay,
      plan,
      file,
      atomicArgs: ['-L', atomicList],
      deferredList,
      keep: [...facts.keptSchemas.keys()],
      cleanup,
    };
  } catch (e) {
    await cleanup();
    throw e;
  }
}

/** `INDEX public events_at` — an entry as the transfer's log and error name it. */
export function describeEntry(e: TocEntry): string {
  return e.rest.replace(/\s+\S*$/, '').trim() || e.rest;
}
