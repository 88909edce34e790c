import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  archiveFormatWrittenBy,
  assertRestrictFix,
  dumpClientFor,
  IMAGE_CLIENTS,
  IncompatibleVersionsError,
  majorOf,
  oldestPgRestoreFor,
  restoreClientFor,
} from '../../../src/core/pg-compat.js';

const SUPPORTED = [13, 14, 15, 16, 17, 18];

describe('which client runs against which server', () => {
  it('the image carries exactly the clients the Dockerfile installs', () => {
    const dockerfile = readFileSync(
      new URL('../../../containers/worker/Dockerfile', import.meta.url),
      'utf8',
    );
    const arg = /^ARG PG_CLIENTS="([^"]+)"/m.exec(dockerfile)?.[1];
    expect(arg?.split(' ').map(Number)).toEqual(IMAGE_CLIENTS);
  });

  it('dumps each supported server with its own major', () => {
    expect(SUPPORTED.map((m) => dumpClientFor(m, IMAGE_CLIENTS))).toEqual(SUPPORTED);
  });

  it('so a download restores with the pg_restore of its source server major', () => {
    for (const m of SUPPORTED) {
      const format = archiveFormatWrittenBy(dumpClientFor(m, IMAGE_CLIENTS));
      expect(oldestPgRestoreFor(format)).toBeLessThanOrEqual(m);
    }
  });

  it('takes the oldest installed client above the server when its own is missing', () => {
    expect(dumpClientFor(16, [13, 15, 17, 18])).toBe(17);
    expect(dumpClientFor(14, [13, 15, 17, 18])).toBe(15);
  });

  it('refuses servers outside 13–18 and a missing client, naming them', () => {
    expect(() => dumpClientFor(12, IMAGE_CLIENTS)).toThrow(
      /PostgreSQL 12; pgbackups supports PostgreSQL 13 to 18/,
    );
    expect(() => dumpClientFor(19, IMAGE_CLIENTS)).toThrow(IncompatibleVersionsError);
    expect(() => dumpClientFor(18, [15, 17])).toThrow(
      /No PostgreSQL client 18 or newer is installed.*15, 17/,
    );
  });

  it('restores its own backups into every target at least as new as the source, with the client that wrote them', () => {
    for (const s of SUPPORTED) {
      const writer = dumpClientFor(s, IMAGE_CLIENTS);
      const archive = { format: archiveFormatWrittenBy(writer), sourceMajor: s, dumpMajor: writer };
      for (const t of SUPPORTED.filter((t) => t >= s)) {
        expect(restoreClientFor(archive, t, IMAGE_CLIENTS), `${s} → ${t}`).toBe(writer);
      }
    }
  });

  it('refuses a target older than the source, naming both versions', () => {
    const archive = { format: '1.16', sourceMajor: 18, dumpMajor: 18 };
    expect(() => restoreClientFor(archive, 17, IMAGE_CLIENTS)).toThrow(
      /backup is of a PostgreSQL 18 database and the target runs PostgreSQL 17.*older major version/,
    );
  });

  it('refuses an archive whose pg_restore writes SQL the target rejects (a 17+ client into an older server)', () => {
    const archive = { format: '1.16', sourceMajor: 13, dumpMajor: 18 };
    expect(() => restoreClientFor(archive, 13, IMAGE_CLIENTS)).toThrow(
      /written by pg_dump 18.*PostgreSQL 13.*dump the source again with pg_dump 13/,
    );
    expect(restoreClientFor(archive, 18, IMAGE_CLIENTS)).toBe(18);
    // A 15 client's scripts load into 13 and 14 (shown by the matrix): a foreign archive it wrote is accepted.
    expect(restoreClientFor({ format: '1.14', sourceMajor: 13, dumpMajor: 15 }, 13, IMAGE_CLIENTS)).toBe(15);
  });

  it('restores archives of older pg_dumps with the oldest client that reads them', () => {
    expect(restoreClientFor({ format: '1.14' }, 13, IMAGE_CLIENTS)).toBe(13);
    expect(restoreClientFor({ format: '1.13', sourceMajor: 11, dumpMajor: 11 }, 14, IMAGE_CLIENTS)).toBe(13);
    expect(restoreClientFor({ format: '1.15' }, 16, IMAGE_CLIENTS)).toBe(16);
  });

  it('refuses a format newer than every client', () => {
    expect(() => restoreClientFor({ format: '1.17', dumpMajor: 19 }, 18, IMAGE_CLIENTS)).toThrow(
      /format 1.17 is newer than any PostgreSQL client pgbackups runs/,
    );
  });

  it('knows which pg_restore reads which format', () => {
    expect([12, 15, 16, 17, 18].map(archiveFormatWrittenBy)).toEqual([
      '1.14',
      '1.14',
      '1.15',
      '1.16',
      '1.16',
    ]);
    expect(['1.12', '1.14', '1.15', '1.16', '1.17'].map(oldestPgRestoreFor)).toEqual([
      13,
      12,
      16,
      17,
      undefined,
    ]);
  });

  it('reads majors from version strings and numbers', () => {
    expect(majorOf('15.18 (Debian 15.18-0+deb12u1)')).toBe(15);
    expect(majorOf('18beta1')).toBe(18);
    expect(majorOf(170004)).toBe(17);
    expect(majorOf(undefined)).toBeUndefined();
  });
});

describe('the \\restrict fix (CVE-2025-8714)', () => {
  it.each([
    ['15.13', false],
    ['15.14', true],
    ['16.9', false],
    ['16.10', true],
    ['17.5', false],
    ['17.6', true],
    ['18.0', true],
    ['13.16', false],
  ])('client %s accepted: %s', (version, ok) => {
    const client = { major: majorOf(version) as number, version };
    if (ok) expect(assertRestrictFix('pg_restore', client)).toBe(client);
    else expect(() => assertRestrictFix('pg_restore', client)).toThrow(/too old.*CVE-2025-8714.*or newer/);
  });
});
