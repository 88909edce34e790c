/**
 * `npm run bench` — the numbers behind docs/benchmarks.md, measured in one run on this machine:
 *
 * - a throwaway PostgreSQL 18 cluster (a server from the toolchain cache, BENCH_PG_CACHE, default
 *   /var/cache/pgbackups-pg, filled by .ci/pg-toolchain.sh) with a realistic database (BENCH_SIZE_MB of heap, default 1000), a small one
 *   of the same shape (1/8 of it, for memory at two sizes) and a pgbench one (very compressible, 1/4 of it);
 * - the local stack (dynalite, s3rver, API, one worker process per transfer: the bundle the image runs), driven
 *   through its HTTP API, the worker using the real PostgreSQL 18 client (zstd) from the same cache;
 * - capture, atomic restore, `--parallel 2` restore and copy through the stack, each alternated with its raw
 *   PostgreSQL baseline, BENCH_REPS times (default 3), medians reported;
 * - the worker's CPU per GB of archive (its startup, measured apart, excluded) next to a floor measured in the same
 *   run: a pipe plus SHA-256 of the same bytes;
 * - the worker's peak RSS (VmHWM) per operation and database size; API list latency at 1,000 transfers; the size
 *   of each Lambda bundle.
 *
 * Environment: BENCH_SIZE_MB, BENCH_REPS, BENCH_OUT (report path, default docs/benchmarks.md), BENCH_PG_CACHE;
 * PGBACKUPS_WORKER_NODE_ARGS (extra `node` flags for the workers, e.g. `--cpu-prof --cpu-prof-dir=DIR`);
 * BENCH_QUICK=1 measures only the realistic database's capture, restore and copy (while iterating on the worker;
 * its report goes to bench/out/quick.md unless BENCH_OUT says otherwise).
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { ensureWorkerBundle } from '../containers/worker/build.js';
import { WORKER_ARGS } from '../src/adapters/local/process-runner.js';
import { silentLogger } from '../src/core/logger.js';
import type { Transfer } from '../src/core/transfer.js';
import { startLocalStack } from '../src/local/stack.js';
import { startCluster } from '../test/helpers/pg-cluster.js';
import { lambdaBundleSizes } from './lib/bundles.js';
import { buildPgbench, buildRealistic, rowCount } from './lib/data.js';
import { type Results, writeReport } from './lib/report.js';
import { liveWorkers, machineBusySeconds, type RssPeaks, RssSampler } from './lib/rss.js';
import { timedShell } from './lib/shell.js';
import { median, percentile } from './lib/stats.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SIZE_MB = Number(process.env.BENCH_SIZE_MB ?? 1000);
const REPS = Number(process.env.BENCH_REPS ?? 3);
const QUICK = process.env.BENCH_QUICK === '1';
const OUT = resolve(ROOT, process.env.BENCH_OUT ?? (QUICK ? 'bench/out/quick.md' : 'docs/benchmarks.md'));
const PG_CACHE = resolve(process.env.BENCH_PG_CACHE ?? '/var/cache/pgbackups-pg');
/** The client the worker image ships (containers/worker/Dockerfile), against a server of the same major. */
const PG_MAJOR = 18;
const SERVER_BIN = join(PG_CACHE, `servers/${PG_MAJOR}/bin`);
const CLIENT_BIN = join(PG_CACHE, `clients/${PG_MAJOR}/bin`);
const APP = 'bench';
const LAT_APP = 'latency';

const say = (msg: string) =>
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);

async function main() {
  const started = performance.now();
  const startedAt = new Date();
  const loadBefore = os.loadavg();
  if (!Number.isFinite(SIZE_MB) || SIZE_MB < 20) throw new Error('BENCH_SIZE_MB must be a number ≥ 20');
  for (const p of [
    join(SERVER_BIN, 'postgres'),
    join(CLIENT_BIN, 'pg_dump'),
    join(CLIENT_BIN, 'pg_restore'),
  ]) {
    if (!existsSync(p)) {
      throw new Error(
        `${p} is missing: the benchmark runs a PostgreSQL ${PG_MAJOR} server and client from the toolchain cache. ` +
          'Fill it with `bash .ci/pg-toolchain.sh`, or point BENCH_PG_CACHE at one.',
      );
    }
  }
  const work = await mkdtemp(join(os.tmpdir(), 'pgbackups-bench-'));
  await mkdir(join(ROOT, 'bench/out'), { recursive: true });
  say(`size ${SIZE_MB} MB, ${REPS} repetitions, scratch ${work}`);

  const cluster = await startCluster({ serverBinDir: SERVER_BIN, clientBinDir: CLIENT_BIN });
  const bin = (p: string) => join(CLIENT_BIN, p);
  // The worker and the raw baselines find the same 18 client first on their PATH.
  const clientPath = `${CLIENT_BIN}:${process.env.PATH ?? '/usr/bin:/bin'}`;
  const rawEnv: NodeJS.ProcessEnv = {
    PATH: clientPath,
    PGHOST: '127.0.0.1',
    PGPORT: String(cluster.port),
    PGUSER: 'postgres',
    PGPASSWORD: cluster.password,
    LC_MESSAGES: 'C',
  };
  // Built before anything is timed, so no operation pays for it.
  await ensureWorkerBundle();
  const stack = await startLocalStack({
    dataDir: join(work, 'stack'),
    port: 0,
    log: silentLogger,
    workerOutput: 'ignore',
    workerEnv: { PATH: clientPath, PGBACKUPS_PG_BINDIRS: CLIENT_BIN },
  });
  const results: Results = {
    sizeMb: SIZE_MB,
    reps: REPS,
    startedAt: startedAt.toISOString(),
    loadBefore,
    databases: {},
    ops: {},
    rss: [],
    latency: { pageMs: [], fullPageMs: [], walkMs: [] },
    bundles: [],
    pgVersion: '',
    clientVersion: '',
    notes: [],
  };

  try {
    results.pgVersion = (await cluster.psql('postgres', 'SELECT version()')).trim();
    results.clientVersion = execFileSync(bin('pg_dump'), ['--version'], { encoding: 'utf8' }).trim();

    // ---- databases
    const dbs = [
      {
        name: 'real',
        att: 'REAL',
        table: 'public.events',
        build: () => buildRealistic(cluster, 'real', SIZE_MB),
      },
      {
        name: 'real_small',
        att: 'REAL_SMALL',
        table: 'public.events',
        build: () => buildRealistic(cluster, 'real_small', Math.max(10, SIZE_MB / 8)),
      },
      {
        name: 'pgb',
        att: 'PGB',
        table: 'public.pgbench_accounts',
        build: () => buildPgbench(cluster, 'pgb', Math.max(1, Math.round(SIZE_MB / 4 / 15))),
      },
    ].filter((d) => !QUICK || d.name === 'real');
    for (const d of dbs) {
      const t0 = performance.now();
      const bytes = await d.build();
      const rows = await rowCount(cluster, d.name, d.table);
      results.databases[d.name] = { bytes, rows, table: d.table, buildMs: performance.now() - t0 };
      say(`built ${d.name}: ${(bytes / 1e6).toFixed(0)} MB, ${rows} rows`);
    }
    await cluster.createDatabase('target');

    // ---- the stack's app
    const api = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(`${stack.apiUrl}${path}`, {
        method,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
      return text ? (JSON.parse(text) as Record<string, unknown>) : {};
    };
    for (const d of [...dbs, { name: 'target', att: 'TARGET' }]) {
      await api('PUT', `/v1/apps/${APP}/databases/${d.att}`, { url: cluster.url(d.name) });
    }
    await api('PUT', `/v1/apps/${APP}/settings`, { manualLimit: 1000 });

    const resetTarget = async () => {
      await cluster.dropDatabase('target');
      await cluster.createDatabase('target');
    };

    const record = (op: string, db: string, sample: Record<string, number>) => {
      results.ops[`${db}:${op}`] ??= [];
      results.ops[`${db}:${op}`]!.push(sample);
    };

    /** Starts a transfer through the API and waits for the worker to finish and exit. */
    const stackOp = async (
      op: string,
      db: string,
      path: string,
      body: Record<string, unknown>,
    ): Promise<Transfer> => {
      while (liveWorkers().length) await sleep(20);
      const sampler = new RssSampler();
      sampler.start();
      const t0 = performance.now();
      const view = await api('POST', `/v1/apps/${APP}/${path}`, body);
      const num = view.num as number;
      let t: Transfer | undefined;
      for (;;) {
        t = await stack.deps.catalog.getTransfer(APP, num);
        if (t && !['pending', 'running'].includes(t.status)) break;
        // Not faster: dynalite answers in this process, on the cores being measured.
        await sleep(250);
      }
      const e2eMs = performance.now() - t0;
      for (let i = 0; i < 400 && liveWorkers().length; i++) await sleep(25);
      const rss: RssPeaks = sampler.stop();
      if (t.status !== 'completed') {
        const full = await stack.deps.catalog.getTransfer(APP, num, { logs: true });
        throw new Error(
          `${op} on ${db} ${t.status}: ${t.error}\n${(full?.logs ?? [])
            .slice(-15)
            .map((l) => l.message)
            .join('\n')}`,
        );
      }
      const ms = Date.parse(t.finishedAt!) - Date.parse(t.startedAt!);
      const sample: Record<string, number> = {
        ms,
        e2eMs,
        bytes: t.backupBytes ?? t.processedBytes ?? 0,
        cpuMachine: rss.cpu.machine,
        cpuWorker: rss.cpu.worker,
        cpuEmulators: rss.cpu.emulators,
        cpuTools: Object.values(rss.cpu.children).reduce((a, b) => a + b, 0),
      };
      if (t.kind === 'backup') {
        // From pg_dump's exit to the end: the upload's last part, CompleteMultipartUpload and the size check.
        const logs = (await stack.deps.catalog.getTransfer(APP, num, { logs: true }))?.logs ?? [];
        const dumped = logs.find((l) => l.message === 'pg_dump finished successfully');
        if (dumped) sample.tailMs = Date.parse(t.finishedAt!) - Date.parse(dumped.at);
      }
      record(op, db, sample);
      results.rss.push({ op, db, dbBytes: results.databases[db]!.bytes, ...rss });
      return t;
    };

    const raw = async (op: string, db: string, script: string, file?: string) => {
      const busy0 = machineBusySeconds();
      const r = await timedShell(script, rawEnv);
      const cpuMachine = machineBusySeconds() - busy0;
      const bytes = file ? (await stat(file)).size : 0;
      record(op, db, { ms: r.ms, bytes, cpuMachine, cpuTools: r.cpu });
    };

    /**
     * The worker's startup: the bundle run as the image runs it, with an empty environment, so it loads and
     * evaluates every module, fails parsing its environment and exits before any work (CPU of that process).
     */
    const startup = async () => {
      const r = await timedShell(
        `"${process.execPath}" ${WORKER_ARGS.map((a) => `"${a}"`).join(' ')} 2>/dev/null || true`,
        { PATH: process.env.PATH },
      );
      record('worker_startup', 'real', { ms: r.ms, cpuTools: r.cpu });
      const boot = await timedShell(`"${process.execPath}" -e 0`, { PATH: process.env.PATH });
      record('node_boot', 'real', { ms: boot.ms, cpuTools: boot.cpu });
    };

    const pgDump = bin('pg_dump');
    const pgRestore = bin('pg_restore');
    const restoreFlags = '--no-owner --no-privileges --exit-on-error';
    const lastBackup: Record<string, Transfer> = {};

    // The worker's compression with a 16+ client (src/worker/capture.ts): zstd at level 1.
    const zstd1 = '--compress=zstd:1';
    const captureSet = (db: string, att: string, extras: boolean) => {
      const rawFile = join(work, `${db}-zstd1.dump`);
      const set: [string, () => Promise<unknown>][] = [
        ['copyout', () => raw('copyout', db, `"${pgDump}" -Fc -Z0 -d ${db} > /dev/null`)],
        [
          'raw_capture',
          () => raw('raw_capture', db, `"${pgDump}" -Fc ${zstd1} -d ${db} > ${rawFile}`, rawFile),
        ],
        [
          'stack_capture',
          async () => {
            lastBackup[db] = await stackOp('stack_capture', db, 'backups', { database: att });
          },
        ],
      ];
      if (extras) {
        const pipeFile = join(work, `${db}-pipe.dump`);
        set.push(
          // What any streaming consumer costs pg_dump on these cores: a pipe, then a pipe and a SHA-256.
          [
            'pipe_cat',
            () => raw('pipe_cat', db, `"${pgDump}" -Fc ${zstd1} -d ${db} | cat > ${pipeFile}`, pipeFile),
          ],
          ['pipe_sha', () => raw('pipe_sha', db, `"${pgDump}" -Fc ${zstd1} -d ${db} | sha256sum`)],
          // The floor for the worker's CPU per GB: a pipe plus SHA-256 of an archive of this database (the
          // worker's own job, less S3 and the catalog), with coreutils and with OpenSSL (what Node hashes with).
          ['floor_sha256sum', () => raw('floor_sha256sum', db, `cat ${rawFile} | sha256sum`, rawFile)],
          ['floor_openssl', () => raw('floor_openssl', db, `cat ${rawFile} | openssl dgst -sha256`, rawFile)],
          ['worker_startup', startup],
        );
      }
      return set;
    };

    const restoreSet = (db: string, table: string): [string, () => Promise<unknown>][] => {
      const rawFile = join(work, `${db}-zstd1.dump`);
      const expected = results.databases[db]!.rows;
      const check = async () => {
        const n = await rowCount(cluster, 'target', table);
        if (n !== expected) throw new Error(`restore of ${db}: ${n} rows, expected ${expected}`);
      };
      const stackRestore = (op: string, parallel: number) => async () => {
        await resetTarget();
        await stackOp(op, db, 'restores', {
          backup: lastBackup[db]!.id,
          database: 'TARGET',
          ...(parallel > 1 ? { parallel } : {}),
          safetyBackup: false,
        });
        await check();
      };
      const rawRestore = (op: string, jobs: number) => async () => {
        await resetTarget();
        await raw(
          op,
          db,
          `"${pgRestore}" ${restoreFlags} ${jobs > 1 ? `-j ${jobs}` : ''} -d target ${rawFile}`,
        );
        await check();
      };
      return [
        ['raw_restore', rawRestore('raw_restore', 1)],
        ['stack_restore', stackRestore('stack_restore', 1)],
        ['raw_restore_j2', rawRestore('raw_restore_j2', 2)],
        ['stack_restore_p2', stackRestore('stack_restore_p2', 2)],
      ];
    };

    const copySet = (db: string, att: string, table: string): [string, () => Promise<unknown>][] => {
      const expected = results.databases[db]!.rows;
      const check = async () => {
        const n = await rowCount(cluster, 'target', table);
        if (n !== expected) throw new Error(`copy of ${db}: ${n} rows, expected ${expected}`);
      };
      return [
        [
          'raw_copy',
          async () => {
            await resetTarget();
            await raw(
              'raw_copy',
              db,
              `"${pgDump}" -Fc -Z0 -d ${db} | "${pgRestore}" ${restoreFlags} -d target`,
            );
            await check();
          },
        ],
        [
          'stack_copy',
          async () => {
            await resetTarget();
            await stackOp('stack_copy', db, 'copies', { from: att, to: 'TARGET', safetyBackup: false });
            await check();
          },
        ],
      ];
    };

    /** Runs every step of `set` REPS times, reversing the order on alternate repetitions. */
    const alternate = async (label: string, set: [string, () => Promise<unknown>][], reps = REPS) => {
      for (let r = 0; r < reps; r++) {
        const order = r % 2 ? [...set].reverse() : set;
        for (const [name, fn] of order) {
          const t0 = performance.now();
          await fn();
          say(`${label} rep ${r + 1}/${reps} ${name}: ${((performance.now() - t0) / 1000).toFixed(2)} s`);
        }
      }
    };

    // ---- warm the page cache (the whole cluster fits in RAM): the first read must not be the one measured
    for (const d of dbs) await timedShell(`"${pgDump}" -Fc -Z0 -d ${d.name} > /dev/null`, rawEnv);

    // ---- the main database
    for (let i = 0; i < 3; i++) await startup(); // warm the page cache for the bundle and node
    results.ops['real:worker_startup'] = [];
    results.ops['real:node_boot'] = [];
    await alternate('real capture', captureSet('real', 'REAL', true));
    {
      const gz = join(work, 'real-gzip-default.dump');
      await raw('raw_capture_gzip_default', 'real', `"${pgDump}" -Fc -d real > ${gz}`, gz);
      say('real default-gzip capture done');
    }
    await alternate('real restore', restoreSet('real', 'public.events'));
    await alternate('real copy', copySet('real', 'REAL', 'public.events'));

    if (!QUICK) {
      // ---- pgbench
      await alternate('pgbench capture', captureSet('pgb', 'PGB', false));
      await alternate('pgbench restore', restoreSet('pgb', 'public.pgbench_accounts'));
      await alternate('pgbench copy', copySet('pgb', 'PGB', 'public.pgbench_accounts'));

      // ---- memory at a second size (same shape, 1/8): one of each
      await alternate('small', captureSet('real_small', 'REAL_SMALL', false), 1);
      await alternate('small', restoreSet('real_small', 'public.events'), 1);
      await alternate('small', copySet('real_small', 'REAL_SMALL', 'public.events'), 1);

      // ---- API latency: an app with 1,000 transfers, listed through HTTP (Query with pagination)
      say('latency: writing 1,000 transfers');
      const now = Date.now();
      for (let i = 1; i <= 1000; i++) {
        const num = await stack.deps.catalog.nextTransferNum(LAT_APP);
        const at = new Date(now - (1000 - i) * 60_000).toISOString();
        await stack.deps.catalog.createTransfer({
          app: LAT_APP,
          num,
          id: `b${String(num).padStart(3, '0')}`,
          kind: 'backup',
          type: 'manual',
          status: 'completed',
          database: 'DATABASE',
          source: { type: 'database', app: LAT_APP, database: 'DATABASE' },
          target: { type: 'blob', key: `manual/${LAT_APP}/DATABASE/b${num}.dump` },
          createdAt: at,
          startedAt: at,
          finishedAt: at,
          backupBytes: 123_456_789,
          processedBytes: 123_456_789,
          sha256: 'a'.repeat(64),
          compression: 'zstd:1',
        } as Transfer);
      }
      const timeGet = async (path: string) => {
        const t0 = performance.now();
        const body = await api('GET', path);
        return { ms: performance.now() - t0, body };
      };
      for (let i = 0; i < 20; i++) await timeGet(`/v1/apps/${LAT_APP}/transfers`); // warm-up
      for (let i = 0; i < 300; i++) {
        results.latency.pageMs.push((await timeGet(`/v1/apps/${LAT_APP}/transfers`)).ms);
      }
      for (let i = 0; i < 50; i++) {
        results.latency.fullPageMs.push((await timeGet(`/v1/apps/${LAT_APP}/transfers?limit=1000`)).ms);
      }
      for (let i = 0; i < 20; i++) {
        const t0 = performance.now();
        let cursor: string | null = null;
        let n = 0;
        do {
          const q: string = cursor ? `?cursor=${encodeURIComponent(cursor)}` : '';
          const { body } = await timeGet(`/v1/apps/${LAT_APP}/transfers${q}`);
          n += (body.transfers as unknown[]).length;
          cursor = body.cursor as string | null;
        } while (cursor);
        if (n !== 1000) throw new Error(`listing walked ${n} transfers, expected 1000`);
        results.latency.walkMs.push(performance.now() - t0);
      }
      say(
        `latency: page p50 ${median(results.latency.pageMs).toFixed(1)} ms, p99 ${percentile(results.latency.pageMs, 99).toFixed(1)} ms`,
      );
    }
    // ---- Lambda bundles
    results.bundles = await lambdaBundleSizes(ROOT);
  } finally {
    await stack.stop().catch((e) => say(`stack stop: ${e}`));
    await cluster.stop().catch((e) => say(`cluster stop: ${e}`));
    await rm(work, { recursive: true, force: true });
  }

  results.totalMs = performance.now() - started;
  results.loadAfter = os.loadavg();
  await writeFile(join(ROOT, 'bench/out/results.jsonl'), `${JSON.stringify(results)}\n`);
  await writeReport(OUT, results, ROOT);
  say(`wrote ${OUT} in ${(results.totalMs / 60000).toFixed(1)} min`);
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
