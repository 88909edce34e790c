/**
 * The header of a pg_dump custom-format archive: its format version and the versions of the server it was dumped
 * from and of the pg_dump that wrote it. Read from the first bytes of any archive (a stored backup, a URL, a
 * download), before anything is restored. Layout: PostgreSQL's ReadHead() in src/bin/pg_dump/pg_backup_archiver.c.
 */

export interface ArchiveHeader {
  /** `1.16` */
  readonly format: string;
  /** `15.18 (Debian 15.18-0+deb12u1)`, when the archive says (format 1.10 and newer). */
  readonly serverVersion?: string;
  /** `18.1`, likewise. */
  readonly pgDumpVersion?: string;
  /** `gzip`, `lz4`, `zstd` or `none` for 1.15 and newer; for older formats `gzip` or `none` from the level. */
  readonly compression: string;
}

/** Thrown when the bytes are not a custom-format archive at all (or are cut short of a whole header). */
export class NotAnArchiveError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NotAnArchiveError';
  }
}

/** The header is never longer than this (a database name is at most 63 bytes; versions are short strings). */
export const MAX_HEADER_BYTES = 64 * 1024;

const MAGIC = 'PGDMP';
const FORMAT_CUSTOM = 1;
const COMPRESSION = ['none', 'gzip', 'lz4', 'zstd'];

class Truncated extends Error {}

/**
 * Parses an archive header. Returns undefined when `buf` is a prefix too short to hold the whole header (read more
 * and try again); throws NotAnArchiveError when it cannot be a custom-format archive.
 */
export function parseArchiveHeader(buf: Buffer): ArchiveHeader | undefined {
  let pos = 0;
  const byte = (): number => {
    if (pos >= buf.length) throw new Truncated();
    return buf[pos++] as number;
  };
  try {
    for (const ch of MAGIC) {
      if (byte() !== ch.charCodeAt(0)) {
        throw new NotAnArchiveError(
          'The file is not a pg_dump custom-format archive (it does not start with PGDMP): ' +
            'create it with pg_dump --format=custom (-Fc)',
        );
      }
    }
    const vmaj = byte();
    const vmin = byte();
    const vrev = byte();
    const format = `${vmaj}.${vmin}`;
    const atLeast = (min: number) => vmaj > 1 || vmin >= min;
    if (vmaj !== 1 || vmin < 7) {
      throw new NotAnArchiveError(`Archive format ${format}.${vrev} is too old to be restored`);
    }
    const intSize = byte();
    if (intSize < 1 || intSize > 8)
      throw new NotAnArchiveError(`Archive header is corrupt (int size ${intSize})`);
    byte(); // offSize
    const fmt = byte();
    if (fmt !== FORMAT_CUSTOM) {
      throw new NotAnArchiveError(
        'The archive is not in custom format (pg_dump --format=custom, -Fc); tar and directory archives cannot be restored',
      );
    }
    const readInt = (): number => {
      const sign = byte();
      let value = 0;
      for (let i = 0; i < intSize; i++) value += byte() * 2 ** (8 * i);
      return sign ? -value : value;
    };
    const readStr = (): string | undefined => {
      const len = readInt();
      if (len < 0) return undefined;
      if (len > MAX_HEADER_BYTES) throw new NotAnArchiveError('Archive header is corrupt (string too long)');
      if (pos + len > buf.length) throw new Truncated();
      const s = buf.toString('utf8', pos, pos + len);
      pos += len;
      return s;
    };
    let compression: string;
    if (atLeast(15)) {
      compression = COMPRESSION[byte()] ?? 'unknown';
    } else {
      const level = readInt();
      compression = level === 0 ? 'none' : 'gzip';
    }
    for (let i = 0; i < 7; i++) readInt(); // creation date: sec, min, hour, mday, mon, year, isdst
    readStr(); // database name
    const serverVersion = atLeast(10) ? readStr() : undefined;
    const pgDumpVersion = atLeast(10) ? readStr() : undefined;
    return { format, serverVersion, pgDumpVersion, compression };
  } catch (e) {
    if (e instanceof Truncated) {
      if (buf.length >= MAX_HEADER_BYTES) throw new NotAnArchiveError('Archive header is corrupt (too long)');
      return undefined;
    }
    throw e;
  }
}
