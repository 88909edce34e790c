/**
 * The PostgreSQL versions the version tests run (docs/compatibility.md), as `.ci/pg-toolchain.sh` leaves them in
 * $PGBACKUPS_PG_CACHE (default /var/cache/pgbackups-pg):
 * - servers/<major>/bin: initdb, pg_ctl, postgres of every supported major (13–18);
 * - clients/<major>/bin: pg_dump, pg_restore, psql of the majors a Debian suite carries (13, 17, 18);
 * plus this machine's own PostgreSQL (Debian's /usr/lib/postgresql/<major>/bin, client and server).
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { discoverPgClients, type PgClients } from '../../src/worker/pg-clients.js';

export const PG_CACHE = process.env.PGBACKUPS_PG_CACHE || '/var/cache/pgbackups-pg';
const SYSTEM_ROOT = '/usr/lib/postgresql';

function majorsIn(root: string, has: string): Map<number, string> {
  const found = new Map<number, string>();
  if (!existsSync(root)) return found;
  for (const m of readdirSync(root).filter((d) => /^\d+$/.test(d))) {
    const bin = join(root, m, 'bin');
    if (existsSync(join(bin, has))) found.set(Number(m), bin);
  }
  return found;
}

/** Server bin dirs by major: the cache's, and this machine's own where the cache has none. */
export function serverBinDirs(): Map<number, string> {
  const cached = new Map(
    [...majorsIn(join(PG_CACHE, 'servers'), 'postgres')].filter(([m]) =>
      existsSync(join(PG_CACHE, 'servers', String(m), '.done')),
    ),
  );
  for (const [m, dir] of majorsIn(SYSTEM_ROOT, 'initdb')) if (!cached.has(m)) cached.set(m, dir);
  return cached;
}

/** Client bin dirs by major: this machine's own first, then the cache's debootstrapped ones. */
export function clientBinDirs(): Map<number, string> {
  const dirs = majorsIn(SYSTEM_ROOT, 'pg_dump');
  for (const [m, dir] of majorsIn(join(PG_CACHE, 'clients'), 'pg_dump')) {
    if (!dirs.has(m) && existsSync(join(PG_CACHE, 'clients', String(m), '.done'))) dirs.set(m, dir);
  }
  return new Map([...dirs].sort(([a], [b]) => a - b));
}

/** The oldest client at least `major` (a pg_dump must be at least its server's major). */
export function clientBinDirFor(major: number): string | undefined {
  return [...clientBinDirs()].find(([m]) => m >= major)?.[1];
}

/** The client that reads what `major`'s pg_restore reads: exactly that major, or undefined. */
export function exactClientBinDir(major: number): string | undefined {
  return clientBinDirs().get(major);
}

/**
 * The worker's clients for a test: the majors given (each must be installed), or every installed client (the
 * image carries 13–18).
 */
export async function workerClients(majors?: readonly number[]): Promise<PgClients> {
  const all = clientBinDirs();
  const chosen = (majors ?? [...all.keys()]).map((m) => {
    const dir = all.get(m);
    if (!dir) throw new Error(`No PostgreSQL ${m} client installed: run bash .ci/pg-toolchain.sh`);
    return dir;
  });
  return discoverPgClients(chosen);
}
