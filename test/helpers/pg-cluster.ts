/**
 * Throwaway PostgreSQL clusters for integration tests: initdb into a temp dir, start on a free loopback port,
 * stop and delete. Works as a normal user and as root (PostgreSQL refuses to run as root, so initdb, pg_ctl and
 * the server then run as the `postgres` OS user through spawn's uid/gid — never through a shell).
 */
import { type SpawnOptions, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { appendFile, chown, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { clientBinDirFor, serverBinDirs } from './pg-toolchain.js';

export interface PgCluster {
  /** Directory holding initdb and pg_ctl of this server (and, for this machine's own PostgreSQL, its clients). */
  readonly binDir: string;
  /** Directory of the pg_dump, pg_restore and psql that fit this server (a client of its major or newer). */
  readonly clientBinDir: string;
  /** The server's major version. */
  readonly major: number;
  readonly port: number;
  /** Password of the `postgres` superuser (TCP connections use scram-sha-256). */
  readonly password: string;
  /** Unix socket directory (local connections are trusted). */
  readonly socketDir: string;
  /** `postgres://postgres:<password>@127.0.0.1:<port>/<dbname>` */
  url(dbname?: string): string;
  createDatabase(name: string): Promise<void>;
  dropDatabase(name: string): Promise<void>;
  /** Runs `sql` (any number of statements, fed on stdin) and returns stdout in unaligned tuples-only form. */
  psql(db: string, sql: string): Promise<string>;
  /** Runs a SQL file, stopping at the first error. */
  psqlFile(db: string, file: string): Promise<string>;
  /** An open psql session, e.g. to hold a lock or an open transaction while something else runs. */
  session(db: string): Promise<PgSession>;
  restart(): Promise<void>;
  /** Immediate shutdown, then the data directory is deleted. Safe to call twice. */
  stop(): Promise<void>;
}

/** One long-lived connection: statements run in order, each `run` resolving with its output. */
export interface PgSession {
  /** Runs `sql` and resolves with its unaligned tuples-only output; rejects on the first error. */
  run(sql: string): Promise<string>;
  /** Ends the session (an open transaction is rolled back). */
  close(): Promise<void>;
}

export interface CommandResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a program with an argument array; resolves with its output whatever the exit code. */
export function run(
  program: string,
  args: readonly string[],
  opts: SpawnOptions & { input?: string } = {},
): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, { ...opts, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout?.on('data', (c: Buffer) => out.push(c));
    child.stderr?.on('data', (c: Buffer) => err.push(c));
    child.on('error', reject);
    // psql may exit before reading all input (ON_ERROR_STOP); the exit code tells the story, not EPIPE.
    child.stdin?.on('error', () => {});
    child.stdin?.end(opts.input ?? '');
    child.on('close', (code, signal) =>
      resolve({
        code,
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      }),
    );
  });
}

async function runOk(
  program: string,
  args: readonly string[],
  opts: SpawnOptions & { input?: string } = {},
): Promise<string> {
  const r = await run(program, args, opts);
  if (r.code !== 0) {
    const name = program.split('/').pop();
    throw new Error(`${name} exited with ${r.code ?? r.signal}: ${r.stderr.trim() || r.stdout.trim()}`);
  }
  return r.stdout;
}

/** The newest installed PostgreSQL's bin directory: $PG_BINDIR, `pg_config --bindir`, or /usr/lib/postgresql/N. */
export async function findPgBinDir(): Promise<string> {
  const candidates: string[] = [];
  if (process.env.PG_BINDIR) candidates.push(process.env.PG_BINDIR);
  const root = '/usr/lib/postgresql';
  if (existsSync(root)) {
    const majors = readdirSync(root)
      .filter((d) => /^\d+$/.test(d))
      .sort((a, b) => Number(b) - Number(a));
    candidates.push(...majors.map((m) => join(root, m, 'bin')));
  }
  try {
    candidates.push((await runOk('pg_config', ['--bindir'])).trim());
  } catch {
    // No pg_config on PATH: the Debian layout above is the remaining option.
  }
  const found = candidates.find((d) => existsSync(join(d, 'initdb')) && existsSync(join(d, 'pg_ctl')));
  if (!found) throw new Error('No PostgreSQL installation with initdb found (set PG_BINDIR)');
  return found;
}

/** uid/gid to run the server as: the caller's own, or `postgres` when the caller is root. */
function serverIdentity(): { uid: number; gid: number } | undefined {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return undefined;
  const entry = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .map((l) => l.split(':'))
    .find((f) => f[0] === 'postgres');
  if (!entry) throw new Error('Running as root but there is no postgres OS user to run PostgreSQL as');
  return { uid: Number(entry[2]), gid: Number(entry[3]) };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const addr = server.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** A temp root the server user can reach: os.tmpdir(), unless (as root) some ancestor is closed to others. */
function tempRoot(asOtherUser: boolean): string {
  const dir = tmpdir();
  if (!asOtherUser) return dir;
  for (let d = dir; ; d = dirname(d)) {
    if ((statSync(d).mode & 0o001) === 0) return '/tmp';
    if (d === dirname(d)) return dir;
  }
}

/** Servers still running when the process exits (a crashed test file) are stopped rather than left behind. */
const running = new Map<string, () => void>();
process.once('exit', () => {
  for (const stop of running.values()) stop();
});

const quoteIdent = (name: string) => `"${name.replaceAll('"', '""')}"`;

/** Settings that trade durability for speed: a test cluster is thrown away anyway. */
const FAST_SETTINGS = [
  'fsync = off',
  'synchronous_commit = off',
  'full_page_writes = off',
  'wal_level = minimal',
  'max_wal_senders = 0',
  'shared_buffers = 32MB',
  'max_connections = 40',
  'checkpoint_timeout = 1h',
  'autovacuum = off',
  "dynamic_shared_memory_type = 'posix'",
  "log_min_messages = 'warning'",
];

export interface ClusterOptions {
  /** A server of this major from the version toolchain (test/helpers/pg-toolchain.ts). @default this machine's */
  readonly major?: number;
  /** Where initdb, pg_ctl and postgres are (e.g. a server without client programs). @default by `major` */
  readonly serverBinDir?: string;
  /** Where psql, pg_dump and pg_restore are. @default the server's, else the oldest client that fits */
  readonly clientBinDir?: string;
}

export async function startCluster(opts: ClusterOptions = {}): Promise<PgCluster> {
  const binDir =
    opts.serverBinDir ?? (opts.major === undefined ? await findPgBinDir() : serverBinDirs().get(opts.major));
  if (!binDir) throw new Error(`No PostgreSQL ${opts.major} server: run bash .ci/pg-toolchain.sh`);
  const major = opts.major ?? Number(/(\d+)[/]bin[/]?$/.exec(binDir)?.[1] ?? Number.NaN);
  // The cache's servers carry no client programs: use the oldest client that fits (pg_dump ≥ its server).
  const clientBinDir =
    opts.clientBinDir ?? (existsSync(join(binDir, 'psql')) ? binDir : clientBinDirFor(major));
  if (!clientBinDir) throw new Error(`No PostgreSQL client ${major} or newer: run bash .ci/pg-toolchain.sh`);
  const identity = serverIdentity();
  const base = await mkdtemp(join(tempRoot(identity !== undefined), 'pgbackups-pg-'));
  const dataDir = join(base, 'data');
  const socketDir = join(base, 'sock');
  const logFile = join(base, 'server.log');
  const password = randomBytes(18).toString('base64url');
  try {
    await mkdir(socketDir);
    await writeFile(join(base, 'pwfile'), `${password}\n`, { mode: 0o600 });
    if (identity) {
      for (const p of [base, socketDir, join(base, 'pwfile')]) await chown(p, identity.uid, identity.gid);
    }
    // The server user must be able to reach its own directory; cwd matters because pg_ctl stays in it.
    const asServer: SpawnOptions = { ...identity, cwd: base, env: { ...process.env, LC_ALL: 'C' } };
    await runOk(
      join(binDir, 'initdb'),
      [
        '-D',
        dataDir,
        '-U',
        'postgres',
        `--pwfile=${join(base, 'pwfile')}`,
        '--auth-local=trust',
        '--auth-host=scram-sha-256',
        '--encoding=UTF8',
        '--locale=C',
        '--no-sync',
        // 14+; older initdb only prints the start command, which is harmless.
        ...(major >= 14 ? ['--no-instructions'] : []),
      ],
      asServer,
    );
    await rm(join(base, 'pwfile'));

    let port = 0;
    for (let attempt = 1; ; attempt++) {
      port = await freePort();
      const conf = [
        ...FAST_SETTINGS,
        "listen_addresses = '127.0.0.1'",
        `port = ${port}`,
        `unix_socket_directories = '${socketDir}'`,
      ];
      await appendFile(join(dataDir, 'postgresql.conf'), `\n# pgbackups test cluster\n${conf.join('\n')}\n`);
      const started = await run(
        join(binDir, 'pg_ctl'),
        ['-D', dataDir, '-l', logFile, '-w', '-t', '60', 'start'],
        asServer,
      );
      if (started.code === 0) {
        running.set(base, () =>
          spawnSync(join(binDir, 'pg_ctl'), ['-D', dataDir, '-m', 'immediate', 'stop'], {
            ...asServer,
            stdio: 'ignore',
          }),
        );
        break;
      }
      // Another process may have taken the port between freePort() and the server's bind: try another one.
      if (attempt >= 3) {
        const log = existsSync(logFile) ? readFileSync(logFile, 'utf8').slice(-2000) : '';
        throw new Error(`pg_ctl start failed: ${started.stderr.trim()}\n${log}`);
      }
    }

    const psqlArgs = (db: string) => [
      '-X',
      '-q',
      '-A',
      '-t',
      '-v',
      'ON_ERROR_STOP=1',
      '-h',
      '127.0.0.1',
      '-p',
      String(port),
      '-U',
      'postgres',
      '-d',
      db,
    ];
    // Credentials go through the environment, never argv (visible in ps).
    const clientEnv = { ...withoutPgEnv(process.env), PGPASSWORD: password, PGCONNECT_TIMEOUT: '10' };
    let stopped = false;

    const cluster: PgCluster = {
      binDir,
      clientBinDir,
      major,
      port,
      password,
      socketDir,
      url: (dbname = 'postgres') =>
        `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/${encodeURIComponent(dbname)}`,
      psql: (db, sql) => runOk(join(clientBinDir, 'psql'), psqlArgs(db), { env: clientEnv, input: sql }),
      psqlFile: (db, file) =>
        runOk(join(clientBinDir, 'psql'), [...psqlArgs(db), '-f', file], { env: clientEnv }),
      session: (db) =>
        openSession(join(clientBinDir, 'psql'), [...psqlArgs(db).filter((a) => a !== '-q'), '-n'], clientEnv),
      createDatabase: async (name) => {
        await cluster.psql('postgres', `CREATE DATABASE ${quoteIdent(name)}`);
      },
      dropDatabase: async (name) => {
        await cluster.psql('postgres', `DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`);
      },
      restart: async () => {
        await runOk(
          join(binDir, 'pg_ctl'),
          ['-D', dataDir, '-l', logFile, '-w', '-t', '60', '-m', 'fast', 'restart'],
          asServer,
        );
      },
      stop: async () => {
        if (stopped) return;
        stopped = true;
        running.delete(base);
        await run(join(binDir, 'pg_ctl'), ['-D', dataDir, '-m', 'immediate', '-w', 'stop'], asServer);
        await rm(base, { recursive: true, force: true });
      },
    };
    return cluster;
  } catch (e) {
    if (existsSync(join(dataDir, 'postmaster.pid'))) {
      await run(join(binDir, 'pg_ctl'), ['-D', dataDir, '-m', 'immediate', 'stop'], {
        ...identity,
        cwd: base,
      });
    }
    await rm(base, { recursive: true, force: true });
    throw e;
  }
}

/**
 * psql reading statements from a pipe. Each `run` is followed by an `\echo` of a unique marker, so its output
 * ends where the marker appears; errors (psql with ON_ERROR_STOP exits) reject the pending run.
 */
async function openSession(psql: string, args: string[], env: NodeJS.ProcessEnv): Promise<PgSession> {
  const child = spawn(psql, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  let waiting: { marker: string; resolve: (s: string) => void; reject: (e: Error) => void } | undefined;
  let exited = false;
  const closed = new Promise<void>((resolve) => child.on('close', () => resolve()));
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stdin.on('error', () => {});
  child.stdout.on('data', (text: string) => {
    out += text;
    const w = waiting;
    const at = w ? out.indexOf(`${w.marker}\n`) : -1;
    if (w && at >= 0) {
      waiting = undefined;
      const result = out.slice(0, at);
      out = out.slice(at + w.marker.length + 1);
      w.resolve(result);
    }
  });
  child.stderr.on('data', (text: string) => {
    err += text;
  });
  child.on('close', (code) => {
    exited = true;
    waiting?.reject(new Error(`psql session ended (${code}): ${err.trim()}`));
    waiting = undefined;
  });
  let n = 0;
  return {
    run: (sql) =>
      new Promise<string>((resolve, reject) => {
        if (exited) return reject(new Error(`psql session already ended: ${err.trim()}`));
        if (waiting) return reject(new Error('a statement is already running in this session'));
        const marker = `__pgbackups_session_${process.pid}_${++n}__`;
        waiting = { marker, resolve, reject };
        child.stdin.write(`${sql}\n;\n\\echo ${marker}\n`);
      }),
    close: async () => {
      child.stdin.end();
      await closed;
    },
  };
}

/** The environment minus libpq's PG* variables, so a developer's PGHOST or PGSERVICE cannot leak into tests. */
export function withoutPgEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([k]) => !k.startsWith('PG')));
}
