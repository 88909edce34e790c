import { describe, expect, it } from 'vitest';
import { chooseCompression } from '../../../src/worker/capture.js';
import { downloadDir, parallelRestoreArgs, targetDbName } from '../../../src/worker/parallel-restore.js';

describe('parallel restore parts', () => {
  it('runs pg_restore with N jobs, no owner or privileges, stopping at the first error, from the file', () => {
    expect(parallelRestoreArgs(4, 'app_db', '/tmp/x/archive.dump')).toEqual([
      '--format=custom',
      '--jobs=4',
      '--no-owner',
      '--no-privileges',
      '--exit-on-error',
      '--verbose',
      '--dbname=app_db',
      '/tmp/x/archive.dump',
    ]);
  });

  it('names the target database only (credentials stay in the environment)', () => {
    expect(targetDbName({ PGDATABASE: 'd', PGUSER: 'u', PGPASSWORD: 'secret' })).toBe('d');
    expect(targetDbName({ PGUSER: 'u' })).toBe('u');
    expect(targetDbName({})).toBe('postgres');
  });

  it('downloads under PGBACKUPS_TMPDIR, else the OS temp dir', () => {
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
