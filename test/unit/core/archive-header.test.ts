import { describe, expect, it } from 'vitest';
import { NotAnArchiveError, parseArchiveHeader } from '../../../src/core/archive-header.js';

/** Writes a custom-format header the way pg_dump's WriteHead() does (int size 4, little-endian with a sign byte). */
function header(opts: {
  vmin: number;
  format?: number;
  compression?: number;
  server?: string;
  dump?: string;
}) {
  const bytes: number[] = [...Buffer.from('PGDMP'), 1, opts.vmin, 0, 4, 8, opts.format ?? 1];
  const int = (n: number) => {
    bytes.push(n < 0 ? 1 : 0, ...[0, 8, 16, 24].map((s) => (Math.abs(n) >> s) & 0xff));
  };
  const str = (s: string | undefined) => {
    if (s === undefined) {
      int(-1);
      return;
    }
    const b = Buffer.from(s);
    int(b.length);
    bytes.push(...b);
  };
  if (opts.vmin >= 15) bytes.push(opts.compression ?? 3);
  else int(opts.compression ?? -1);
  for (const n of [5, 4, 3, 25, 10, 126, 0]) int(n);
  str('shop');
  str(opts.server);
  str(opts.dump);
  return Buffer.from([...bytes, ...Buffer.from('TOC follows…')]);
}

describe('parseArchiveHeader', () => {
  it('reads format, versions and compression of a 1.16 archive', () => {
    expect(parseArchiveHeader(header({ vmin: 16, server: '15.18 (Debian)', dump: '18.1' }))).toEqual({
      format: '1.16',
      serverVersion: '15.18 (Debian)',
      pgDumpVersion: '18.1',
      compression: 'zstd',
    });
  });

  it('reads a 1.14 archive, whose compression is a gzip level', () => {
    expect(
      parseArchiveHeader(header({ vmin: 14, compression: 0, server: '13.2', dump: '15.4' })),
    ).toMatchObject({
      format: '1.14',
      compression: 'none',
    });
    expect(
      parseArchiveHeader(header({ vmin: 14, compression: -1, server: '13.2', dump: '15.4' })),
    ).toMatchObject({
      compression: 'gzip',
    });
  });

  it('asks for more bytes while the header is cut short, at every length', () => {
    const full = header({ vmin: 16, server: '17.2', dump: '17.2' });
    const end = full.indexOf(Buffer.from('TOC'));
    for (let n = 0; n < end; n++)
      expect(parseArchiveHeader(full.subarray(0, n)), `${n} bytes`).toBeUndefined();
    expect(parseArchiveHeader(full.subarray(0, end))?.pgDumpVersion).toBe('17.2');
  });

  it('refuses what is not a custom-format archive, saying how to make one', () => {
    expect(() => parseArchiveHeader(Buffer.from('--\n-- PostgreSQL database dump\n'))).toThrow(
      /not a pg_dump custom-format archive.*--format=custom/,
    );
    expect(() => parseArchiveHeader(header({ vmin: 16, format: 3 }))).toThrow(NotAnArchiveError);
    expect(() => parseArchiveHeader(Buffer.from([...Buffer.from('PGDMP'), 1, 5, 0]))).toThrow(/too old/);
  });
});
