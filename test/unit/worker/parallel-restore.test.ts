import { describe, expect, it } from 'vitest';
import { chooseCompression } from '../../../src/worker/capture.js';
import { missingItems, parallelRestoreArgs, targetDbName } from '../../../src/worker/parallel-restore.js';
import {
  downloadDir,
  lockBudgetError,
  parseTocListing,
  planRestore,
  type TocEntry,
} from '../../../src/worker/restore-plan.js';
import { explainRestoreFailure } from '../../../src/worker/restore-sql.js';

/** `pg_restore --list --verbose` of a dump with RLS, a policy, a trigger, indexes and extensions (PostgreSQL 15). */
const LISTING = `;
; Archive created at 2026-11-25 16:54:27 UTC
;     TOC Entries: 28
;
; Selected TOC Entries:
;
3505; 0 0 ENCODING - ENCODING 
8; 2615 16385 SCHEMA - app postgres
9; 2615 16547 SCHEMA - ext postgres
2; 3079 16414 EXTENSION - hstore 
3510; 0 0 COMMENT - EXTENSION hstore 
;	depends on: 2
3; 3079 16548 EXTENSION - pgcrypto 
;	depends on: 9
3511; 0 0 COMMENT - EXTENSION "pgcrypto" 
;	depends on: 3
219; 1255 16395 FUNCTION app trg() postgres
;	depends on: 8
218; 1259 16386 TABLE app t postgres
;	depends on: 8
230; 1259 16390 VIEW app by_id postgres
;	depends on: 218
3500; 0 16386 TABLE DATA app t postgres
;	depends on: 218
3350; 2606 16392 CONSTRAINT app t t_pkey postgres
;	depends on: 218
3351; 1259 16394 INDEX app t_v postgres
;	depends on: 218
3513; 0 0 COMMENT app INDEX t_v postgres
;	depends on: 3351
3360; 2618 16399 RULE app by_id _RETURN postgres
;	depends on: 230 3350
3352; 2620 16396 TRIGGER app t t_trg postgres
;	depends on: 218 219
3496; 3256 16393 POLICY app t own postgres
;	depends on: 218 218
3495; 0 16386 ROW SECURITY app t postgres
;	depends on: 218
3353; 2606 16398 FK CONSTRAINT app u u_t_fkey postgres
;	depends on: 3350
3354; 1259 16401 INDEX ATTACH app t_v_p1 postgres
;	depends on: 3351
`;

const ids = (entries: readonly TocEntry[]) => entries.map((e) => e.id);

describe('restore plan', () => {
  const toc = parseTocListing(LISTING);

  it('reads entries, their type and their dependencies', () => {
    expect(toc).toHaveLength(20);
    expect(toc.find((e) => e.id === 3354)).toMatchObject({ desc: 'INDEX ATTACH', deps: [3351] });
    expect(toc.find((e) => e.id === 3353)).toMatchObject({ desc: 'FK CONSTRAINT', deps: [3350] });
    expect(toc.find((e) => e.id === 3513)).toMatchObject({ desc: 'COMMENT', deps: [3351] });
    expect(toc.find((e) => e.id === 3496)?.desc).toBe('other');
  });

  it('restores everything in one step without --parallel', () => {
    const plan = planRestore(toc, { split: false });
    expect(ids(plan.atomic)).toEqual(ids(toc));
    expect(plan.deferred).toEqual([]);
  });

  it('with --parallel defers only index and constraint builds; RLS, policies, triggers and rules stay atomic', () => {
    const plan = planRestore(toc, { split: true });
    // The view's rule needs the primary key (GROUP BY on it), so the key comes along into the atomic step.
    expect(ids(plan.deferred)).toEqual([3351, 3513, 3353, 3354]);
    expect(ids(plan.atomic)).toEqual(expect.arrayContaining([3350, 3360, 3352, 3496, 3495, 3500]));
    // Archive order is kept: a stream cannot be read out of order.
    expect(ids(plan.atomic)).toEqual(ids(toc).filter((id) => !ids(plan.deferred).includes(id)));
  });

  it("skips the dump's CREATE SCHEMA of a schema that already exists, and a kept extension with its comment", () => {
    const plan = planRestore(toc, { skipSchemas: ['ext'], keep: ['hstore'], split: false });
    expect(ids(plan.skipped)).toEqual([9, 2, 3510]);
    expect(ids(plan.atomic)).toContain(3);
    // The comment's tag is quoted in a dump made with --quote-all-identifiers.
    expect(ids(planRestore(toc, { keep: ['pgcrypto'], split: false }).skipped)).toEqual([3, 3511]);
  });

  it('refuses a transaction larger than the lock table, naming the setting, the value and the alternative', () => {
    const facts = {
      maxLocksPerTransaction: 64,
      maxConnections: 100,
      maxPreparedTransactions: 0,
      objects: 5_000,
      keptSchemas: new Map(),
    };
    expect(lockBudgetError(facts, 100)).toBeUndefined();
    const refusal = lockBudgetError({ ...facts, objects: 40_000 }, 20_000);
    expect(refusal).toMatch(/^The restore needs about 74100 locks/);
    expect(refusal).toContain(
      'max_locks_per_transaction (64) × (max_connections (100) + max_prepared_transactions (0)) = 6400',
    );
    expect(refusal).toContain('Set max_locks_per_transaction to at least 741');
    expect(refusal).toContain('not atomically: pg_restore --clean --if-exists');
  });

  it('then runs pg_restore on the deferred entries with N jobs, dropping any already built first', () => {
    expect(parallelRestoreArgs(4, 'app_db', '/tmp/x/archive.dump', '/tmp/x/deferred.list')).toEqual([
      '--format=custom',
      '-L',
      '/tmp/x/deferred.list',
      '--jobs=4',
      '--clean',
      '--if-exists',
      '--no-owner',
      '--no-privileges',
      '--exit-on-error',
      '--verbose',
      "--dbname=dbname='app_db'",
      '/tmp/x/archive.dump',
    ]);
  });

  it('lists what the parallel step did not finish', () => {
    const plan = planRestore(toc, { split: true });
    expect(missingItems(plan.deferred, new Set([3351, 3513]))).toBe(
      '2 of 4 missing: FK CONSTRAINT app u u_t_fkey, INDEX ATTACH app t_v_p1',
    );
  });

  it('names --keep-extensions when an extension may only be created by a superuser', () => {
    const e = explainRestoreFailure(
      new Error('psql failed (exit code 3): ERROR:  permission denied to create extension "plpython3u"'),
    );
    expect((e as Error).message).toMatch(/--keep-extensions plpython3u \(API: keepExtensions\)$/);
  });

  it('passes the database name as a quoted conninfo value, which libpq cannot read as a connection string', () => {
    // Bare, `dbname=other passfile=/x` would be expanded by libpq into two parameters.
    expect(parallelRestoreArgs(2, "dbname=other passfile=/x o'k\\", '/f', '/l')).toContain(
      "--dbname=dbname='dbname=other passfile=/x o\\'k\\\\'",
    );
  });

  it('names the target database only (credentials stay in the environment)', () => {
    expect(targetDbName({ PGDATABASE: 'd', PGUSER: 'u', PGPASSWORD: 'secret' })).toBe('d');
    expect(targetDbName({ PGUSER: 'u' })).toBe('u');
    expect(targetDbName({})).toBe('postgres');
  });

  it('keeps its files under PGBACKUPS_TMPDIR, else the OS temp dir', () => {
    expect(downloadDir({ PGBACKUPS_TMPDIR: '/scratch' })).toBe('/scratch');
    expect(downloadDir({})).toMatch(/\S/);
  });
});

describe('compression on a pre-16 client', () => {
  it('caps a zstd-sized level at gzip 9', () => {
    expect(chooseCompression(15, 19)).toEqual({ args: ['--compress=9'], label: 'gzip:9' });
    expect(chooseCompression(16, 19)).toEqual({ args: ['--compress=zstd:19'], label: 'zstd:19' });
  });
});
