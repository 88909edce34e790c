/**
 * Which PostgreSQL client runs against which server: the one home of that decision (docs/compatibility.md).
 *
 * Facts it rests on (PostgreSQL's src/bin/pg_dump/pg_backup_archiver.h and release notes):
 * - custom-format archive 1.14 is written by clients 12–15, 1.15 by 16, 1.16 by 17 and 18; a pg_restore reads
 *   formats up to its own;
 * - pg_dump refuses servers newer than itself, and dumps every older server back to 9.2;
 * - pg_restore 17+ writes `SET transaction_timeout = 0;` into every script, which servers before 17 reject;
 * - clients 13.22, 14.19, 15.14, 16.10, 17.6 and 18.0 are the first to write `\restrict` (CVE-2025-8714).
 *
 * - pg_dump 15+ writes the `public` schema of a 13 or 14 server as an entry that pg_restore 13 and 14 execute as
 *   `CREATE SCHEMA public` (and fail on): only a client of the server's own major writes what its pg_restore reads
 *   cleanly.
 *
 * The rule:
 * - dump with the oldest installed client that is at least the server's major: in the image (clients 13–18) the
 *   server's own major, so a download restores with the pg_restore of its source server's major;
 * - restore with the client that wrote the archive (the same rule applied to the archive's pg_dump major): its
 *   SQL was written for the source server, which is never newer than the target;
 * - refuse, before the target is touched, a target older than the source (PostgreSQL does not support
 *   downgrades) and an archive whose pg_restore writes SQL the target rejects (a 17+ client into a pre-17 server).
 */

/** Server majors supported as sources and targets. */
export const OLDEST_SERVER = 13;
export const NEWEST_SERVER = 18;

/** The client majors the worker image carries (containers/worker/Dockerfile installs exactly these). */
export const IMAGE_CLIENTS: readonly number[] = [13, 14, 15, 16, 17, 18];

/**
 * The newest client whose scripts load into older servers too (13 and 14; shown by npm run test:pg-matrix): a
 * foreign archive it wrote may go into an older target. Newer ones may not (17+ sets transaction_timeout).
 */
export const DOWNWARD_SAFE_CLIENT = 15;

/** First release of each client major that writes and honours `\restrict` (the fix for CVE-2025-8714). */
export const RESTRICT_FIXED: Readonly<Record<number, string>> = {
  13: '13.22',
  14: '14.19',
  15: '15.14',
  16: '16.10',
  17: '17.6',
  18: '18.0',
};

/** Custom-format archive versions, newest last, with the client majors that write each. */
const FORMATS: readonly { format: string; firstClient: number; lastClient: number }[] = [
  { format: '1.14', firstClient: 12, lastClient: 15 },
  { format: '1.15', firstClient: 16, lastClient: 16 },
  { format: '1.16', firstClient: 17, lastClient: 18 },
];

/** A client the worker can run: its major and full version (`18.1`). */
export interface ClientVersion {
  readonly major: number;
  readonly version: string;
}

/** The error of a combination pgbackups refuses; always raised before the target is touched. */
export class IncompatibleVersionsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'IncompatibleVersionsError';
  }
}

/** `15.18 (Debian 15.18-0+deb12u1)`, `18beta1`, `180001` → the major, or undefined. */
export function majorOf(version: string | number | undefined): number | undefined {
  if (version === undefined) return undefined;
  if (typeof version === 'number') return version >= 100000 ? Math.floor(version / 10000) : version;
  const m = /^\s*(\d+)/.exec(version);
  return m ? Number(m[1]) : undefined;
}

/** The archive format a client major writes, e.g. `1.16` for 18. */
export function archiveFormatWrittenBy(clientMajor: number): string {
  const f = FORMATS.find((x) => clientMajor >= x.firstClient && clientMajor <= x.lastClient);
  if (!f) throw new IncompatibleVersionsError(`pg_dump ${clientMajor} is not a client pgbackups knows`);
  return f.format;
}

/** The oldest pg_restore major that reads `format`; undefined for a format newer than every known client. */
export function oldestPgRestoreFor(format: string): number | undefined {
  const f = FORMATS.find((x) => x.format === format);
  if (f) return f.firstClient;
  // Older formats (1.13 and before) are read by every supported client.
  return compareVersions(format, FORMATS[0]?.format ?? '0') < 0 ? OLDEST_SERVER : undefined;
}

/** Compares dotted versions numerically: `15.9` < `15.14`. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split(/[.]/).map((p) => Number.parseInt(p, 10) || 0);
  const pb = b.split(/[.]/).map((p) => Number.parseInt(p, 10) || 0);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** Refuses a client build without the `\restrict` fix; returns the client unchanged otherwise. */
export function assertRestrictFix(program: string, client: ClientVersion): ClientVersion {
  const fixed = RESTRICT_FIXED[client.major];
  if (fixed === undefined || compareVersions(client.version, fixed) < 0) {
    throw new IncompatibleVersionsError(
      `${program} ${client.version} is too old: pgbackups runs only PostgreSQL clients with the CVE-2025-8714 fix ` +
        `(${fixed ? `${fixed} or newer for ${client.major}` : `a major from ${OLDEST_SERVER} to ${NEWEST_SERVER}`}); ` +
        'install a current minor release',
    );
  }
  return client;
}

function assertSupportedServer(major: number, role: 'source' | 'target'): void {
  if (major < OLDEST_SERVER || major > NEWEST_SERVER) {
    throw new IncompatibleVersionsError(
      `The ${role} database runs PostgreSQL ${major}; pgbackups supports PostgreSQL ${OLDEST_SERVER} to ${NEWEST_SERVER}`,
    );
  }
}

/** The oldest installed client at least `want`, or an error naming what is missing. */
function pick(installed: readonly number[], want: number, why: string): number {
  const found = [...installed].sort((a, b) => a - b).find((m) => m >= want);
  if (found === undefined) {
    throw new IncompatibleVersionsError(
      `No PostgreSQL client ${want} or newer is installed to ${why} (installed: ${installed.join(', ') || 'none'})`,
    );
  }
  return found;
}

/** The client major that dumps a server of `serverMajor`. */
export function dumpClientFor(serverMajor: number, installed: readonly number[]): number {
  assertSupportedServer(serverMajor, 'source');
  return pick(installed, serverMajor, `dump a PostgreSQL ${serverMajor} server`);
}

/** What a restore knows of its archive (from its header, see archive-header.ts). */
export interface ArchiveVersions {
  /** `1.16` */
  readonly format: string;
  /** Major of the server the archive was dumped from, when the header says. */
  readonly sourceMajor?: number;
  /** Major of the pg_dump that wrote it, when the header says. */
  readonly dumpMajor?: number;
}

/**
 * The client major that restores `archive` into a server of `targetMajor`, or an IncompatibleVersionsError that
 * names both versions and what to do instead.
 */
export function restoreClientFor(
  archive: ArchiveVersions,
  targetMajor: number,
  installed: readonly number[],
): number {
  assertSupportedServer(targetMajor, 'target');
  const source = archive.sourceMajor;
  if (source !== undefined && source > targetMajor) {
    throw new IncompatibleVersionsError(
      `This backup is of a PostgreSQL ${source} database and the target runs PostgreSQL ${targetMajor}: ` +
        'PostgreSQL does not support moving a database to an older major version. Restore it into a ' +
        `PostgreSQL ${source} or newer database, or upgrade the target first`,
    );
  }
  const readsFormat = oldestPgRestoreFor(archive.format);
  if (readsFormat === undefined) {
    throw new IncompatibleVersionsError(
      `The archive's format ${archive.format} is newer than any PostgreSQL client pgbackups runs ` +
        `(up to ${NEWEST_SERVER}); it was written by pg_dump ${archive.dumpMajor ?? 'of a newer release'}`,
    );
  }
  const writer = archive.dumpMajor ?? readsFormat;
  const client = pick(
    installed,
    Math.max(OLDEST_SERVER, writer, readsFormat),
    `read an archive of format ${archive.format}`,
  );
  // pg_restore's own session settings must be ones the target knows (17+ adds transaction_timeout).
  if (client > targetMajor && client > DOWNWARD_SAFE_CLIENT) {
    throw new IncompatibleVersionsError(
      `This archive was written by pg_dump ${writer} (format ${archive.format}), which only pg_restore ${client} ` +
        `or newer reads, and its SQL is rejected by the target's PostgreSQL ${targetMajor}. Restore it into a ` +
        `PostgreSQL ${client} or newer database, or dump the source again with pg_dump ${targetMajor}`,
    );
  }
  return client;
}
