/**
 * The PostgreSQL clients installed beside the worker, and which one runs a given pipeline. The decision itself is
 * src/core/pg-compat.ts; this module finds the clients, checks their builds, and hands out program paths.
 *
 * Where clients are found: the directories of `PGBACKUPS_PG_BINDIRS` when set; otherwise every
 * /usr/lib/postgresql/<major>/bin (Debian's and PGDG's layout: the image carries 15–18 there) plus the pg_dump on
 * PATH (Homebrew and other layouts).
 */
import { existsSync, readdirSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import {
  type ArchiveVersions,
  assertRestrictFix,
  type ClientVersion,
  dumpClientFor,
  IncompatibleVersionsError,
  restoreClientFor,
} from '../core/pg-compat.js';
import { childEnv } from './libpq-env.js';
import { describeExit, runPgCommand } from './pg-process.js';

export type PgProgram = 'pg_dump' | 'pg_restore' | 'psql';

/** One client installation: a directory (or PATH) holding pg_dump, pg_restore and psql of one major. */
export interface PgClient {
  readonly major: number;
  /** The program to spawn: an absolute path, or a bare name looked up on PATH. */
  path(program: PgProgram): string;
  /**
   * The program's full version, checked once per program: it must be the expected major and carry the
   * `\restrict` fix (CVE-2025-8714). Rejects with a message naming the program and what to install.
   */
  version(program: PgProgram): Promise<string>;
}

/** Parses `pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)`. */
export function parseClientVersion(output: string): ClientVersion {
  const m = /\(PostgreSQL\)\s+((\d+)(?:\.\d+)?\S*)/.exec(output);
  if (!m?.[1] || !m[2]) throw new Error(`Unexpected --version output: ${output.trim().slice(0, 100)}`);
  return { version: m[1], major: Number(m[2]) };
}

const MAJOR_DIR = /(?:^|[/\\])(\d+)[/\\]bin[/\\]?$/;
const DEBIAN_ROOT = '/usr/lib/postgresql';

class InstalledClient implements PgClient {
  private readonly checked = new Map<PgProgram, Promise<string>>();

  constructor(
    readonly major: number,
    private readonly dir: string | undefined,
  ) {}

  path(program: PgProgram): string {
    return this.dir ? join(this.dir, program) : program;
  }

  version(program: PgProgram): Promise<string> {
    let v = this.checked.get(program);
    if (!v) {
      v = this.check(program);
      this.checked.set(program, v);
    }
    return v;
  }

  private async check(program: PgProgram): Promise<string> {
    const r = await runPgCommand({
      name: program,
      program: this.path(program),
      args: ['--version'],
      env: childEnv({}),
      secrets: [],
    });
    if (r.exit.code !== 0) {
      throw new Error(
        `${this.path(program)} --version failed (${describeExit(r.exit)}): ${r.stderr.join(' ')}`,
      );
    }
    const found = parseClientVersion(r.stdout);
    if (found.major !== this.major) {
      throw new Error(
        `${this.path(program)} is PostgreSQL ${found.version}, expected a ${this.major} client`,
      );
    }
    return assertRestrictFix(program, found).version;
  }
}

/** The clients a worker may run, by major. */
export class PgClients {
  private constructor(private readonly byMajor: ReadonlyMap<number, PgClient>) {}

  /** Clients given as `major → client`: for tests, and for layouts found by {@link discoverPgClients}. */
  static of(clients: readonly PgClient[]): PgClients {
    if (clients.length === 0) {
      throw new Error(
        'No PostgreSQL client (pg_dump, pg_restore, psql) found: install postgresql-client (15 or newer) or set PGBACKUPS_PG_BINDIRS',
      );
    }
    return new PgClients(new Map(clients.map((c) => [c.major, c])));
  }

  /** Installed majors, ascending. */
  get majors(): number[] {
    return [...this.byMajor.keys()].sort((a, b) => a - b);
  }

  /** The newest client: for plain queries (server version, size), which any client can run. */
  newest(): PgClient {
    return this.get(this.majors.at(-1) as number);
  }

  /** The client that dumps a server of `serverMajor` (capture, copy's source, safety backups). */
  forDump(serverMajor: number): PgClient {
    return this.get(dumpClientFor(serverMajor, this.majors));
  }

  /** The client that restores `archive` into a server of `targetMajor`; refuses what cannot work. */
  forRestore(archive: ArchiveVersions, targetMajor: number): PgClient {
    return this.get(restoreClientFor(archive, targetMajor, this.majors));
  }

  private get(major: number): PgClient {
    const c = this.byMajor.get(major);
    if (!c) throw new IncompatibleVersionsError(`No PostgreSQL ${major} client is installed`);
    return c;
  }
}

/**
 * Finds the installed clients. A directory's major comes from its path (`…/<major>/bin`) when it says, else from
 * its pg_dump's `--version`; `dirs` (PGBACKUPS_PG_BINDIRS) replaces the search when given.
 */
export async function discoverPgClients(dirs?: readonly string[]): Promise<PgClients> {
  const found = new Map<number, PgClient>();
  const add = async (dir: string | undefined) => {
    const named = dir ? MAJOR_DIR.exec(dir) : null;
    let major = named ? Number(named[1]) : undefined;
    if (major === undefined) {
      const r = await runPgCommand({
        name: 'pg_dump',
        program: dir ? join(dir, 'pg_dump') : 'pg_dump',
        args: ['--version'],
        env: childEnv({}),
        secrets: [],
      });
      if (r.exit.code !== 0) {
        if (dirs)
          throw new Error(`No working pg_dump in ${dir}: ${r.stderr.join(' ') || describeExit(r.exit)}`);
        return;
      }
      major = parseClientVersion(r.stdout).major;
    }
    if (!found.has(major)) found.set(major, new InstalledClient(major, dir));
  };
  if (dirs && dirs.length > 0) {
    for (const d of dirs) await add(d);
  } else {
    if (existsSync(DEBIAN_ROOT)) {
      for (const m of readdirSync(DEBIAN_ROOT).filter((d) => /^\d+$/.test(d))) {
        const bin = join(DEBIAN_ROOT, m, 'bin');
        if (existsSync(join(bin, 'pg_dump'))) await add(bin);
      }
    }
    const onPath = (process.env.PATH ?? '')
      .split(delimiter)
      .find((d) => d && existsSync(join(d, 'pg_dump')) && !d.startsWith(DEBIAN_ROOT));
    // Debian's /usr/bin/pg_dump is a wrapper over the same /usr/lib/postgresql dirs: nothing new to find there.
    if (onPath && found.size === 0) await add(undefined);
  }
  return PgClients.of([...found.values()]);
}

/** `PGBACKUPS_PG_BINDIRS` → directories. */
export function parseBinDirs(value: string | undefined): string[] | undefined {
  const dirs = value
    ?.split(delimiter)
    .map((d) => d.trim())
    .filter(Boolean);
  return dirs && dirs.length > 0 ? dirs : undefined;
}
