/** Read commands against a fake API, their output checked against fixed expected text. */
import { describe, expect, it } from 'vitest';
import { APP, FakeApi, run, transfer } from './harness.js';

const T = '/v1/apps/:app/transfers';

describe('pgbackups (list)', () => {
  it("prints Heroku's three sections; the backups match Heroku's own unit-test fixture", async () => {
    const api = new FakeApi().on('GET', T, {
      status: 200,
      body: {
        cursor: null,
        transfers: [
          transfer({
            id: 'c011',
            num: 11,
            kind: 'copy',
            createdAt: '2016-10-06T00:42:54Z',
            database: 'STAGING',
            source: { type: 'database', app: 'other-app', database: 'DATABASE' },
            target: { type: 'database', app: APP, database: 'STAGING' },
            processedBytes: 2048,
            backupBytes: null,
          }),
          transfer({
            id: 'b006',
            num: 6,
            status: 'running',
            createdAt: '2016-10-05T00:42:54Z',
            finishedAt: null,
            backupBytes: null,
          }),
          transfer({
            id: 'b005',
            num: 5,
            status: 'pending',
            createdAt: '2016-10-04T00:42:54Z',
            startedAt: null,
            finishedAt: null,
            backupBytes: null,
          }),
          transfer({
            id: 'b004',
            num: 4,
            status: 'failed',
            createdAt: '2016-10-03T00:42:54Z',
            backupBytes: null,
          }),
          transfer({ id: 'a010', num: 10, type: 'scheduled', createdAt: '2016-10-02T00:42:54Z' }),
          transfer({
            id: 'r007',
            num: 7,
            kind: 'restore',
            createdAt: '2016-10-01T12:00:00Z',
            database: 'STAGING',
            source: { type: 'backup', app: APP, id: 'b003' },
            target: { type: 'database', app: APP, database: 'STAGING' },
          }),
          transfer({ id: 'b003', num: 3, warnings: 2, createdAt: '2016-10-01T00:42:54Z' }),
        ],
      },
    });
    const r = await run(api, []);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toBe(
      [
        '=== Backups',
        '',
        ' Id   Created at                Status                              Size   Database',
        ' b006 2016-10-05 00:42:54 +0000 Running (processed 1.40KB)          1.40KB ⛁ DATABASE',
        ' b005 2016-10-04 00:42:54 +0000 Pending                             1.40KB ⛁ DATABASE',
        ' b004 2016-10-03 00:42:54 +0000 Failed 2016-10-08 00:43:00 +0000    1.40KB ⛁ DATABASE',
        ' a010 2016-10-02 00:42:54 +0000 Completed 2016-10-08 00:43:00 +0000 1.40KB ⛁ DATABASE',
        ' b003 2016-10-01 00:42:54 +0000 Finished with 2 warnings            1.40KB ⛁ DATABASE',
        '',
        '=== Restores',
        '',
        ' Id   Started at                Status                              Size   Database',
        ' r007 2016-10-01 12:00:00 +0000 Completed 2016-10-08 00:43:00 +0000 1.40KB ⛁ STAGING',
        '',
        '=== Copies',
        '',
        ' Id   Started at                Status                              Size   From                  To',
        ' c011 2016-10-06 00:42:54 +0000 Completed 2016-10-08 00:43:00 +0000 2.00KB ⛁ other-app::DATABASE ⛁ STAGING',
        '',
      ].join('\n'),
    );
    expect(api.requests[0]).toMatchObject({ path: `/v1/apps/${APP}/transfers`, query: { limit: '1000' } });
  });

  it('says how to start when there is nothing yet, and reads every page', async () => {
    let page = 0;
    const api = new FakeApi()
      .on('GET', T, () =>
        page++ === 0
          ? { status: 200, body: { transfers: [], cursor: 'next' } }
          : { status: 200, body: { transfers: [], cursor: null } },
      )
      .on('GET', '/v1/apps', { status: 200, body: { apps: [APP] } });
    const r = await run(api, ['list']);
    expect(r.stdout).toBe(
      [
        '=== Backups',
        '',
        'No backups. Capture one with pgbackups capture',
        '',
        '=== Restores',
        '',
        'No restores found. Use pgbackups restore to restore a backup',
        '',
        '=== Copies',
        '',
        'No copies found. Use pgbackups copy to copy a database to another',
        '',
      ].join('\n'),
    );
    expect(api.requests.filter((q) => q.path.endsWith('/transfers')).map((q) => q.query.cursor)).toEqual([
      undefined,
      'next',
    ]);
  });

  it('prints the transfers as JSON with --json', async () => {
    const t = transfer({ id: 'b001', num: 1 });
    const api = new FakeApi().on('GET', T, { status: 200, body: { transfers: [t], cursor: null } });
    const r = await run(api, ['--json']);
    expect(JSON.parse(r.stdout)).toEqual([t]);
  });
});

describe('pgbackups info', () => {
  const done = transfer({
    id: 'b003',
    num: 3,
    database: 'RED',
    createdAt: '2016-10-08T00:42:50Z',
    startedAt: '2016-10-08T00:42:54Z',
    finishedAt: '2016-10-08T00:43:00Z',
    sourceBytes: 1_000_000,
    processedBytes: 100_000,
    backupBytes: 100_000,
    sha256: 'a'.repeat(64),
    logs: [
      { at: '2016-10-08T00:42:55Z', level: 'info', message: 'pg_dump: reading extensions' },
      { at: '2016-10-08T00:43:00Z', level: 'info', message: 'upload finished successfully' },
    ],
  });

  it("prints Heroku's layout with the SHA-256, for the newest backup by default", async () => {
    const api = new FakeApi()
      .on('GET', T, { status: 200, body: { transfers: [done], cursor: null } })
      .on('GET', `${T}/:id`, { status: 200, body: done });
    const r = await run(api, ['info']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      [
        '=== Backup b003',
        'Database:         ⛁ RED',
        'Started at:       2016-10-08 00:42:54 +0000',
        'Finished at:      2016-10-08 00:43:00 +0000',
        'Status:           Completed',
        'Type:             Manual',
        'Original DB Size: 976.56KB',
        'Backup Size:      97.66KB (90% compression)',
        `SHA-256:          ${'a'.repeat(64)}`,
        '',
      ].join('\n'),
    );
    expect(api.requests.map((q) => `${q.path} ${JSON.stringify(q.query)}`)).toEqual([
      `/v1/apps/${APP}/transfers {"kind":"backup","limit":"100"}`,
      `/v1/apps/${APP}/transfers/b003 {}`,
    ]);
  });

  it('adds the logs with --verbose', async () => {
    const api = new FakeApi().on('GET', `${T}/:id`, { status: 200, body: done });
    const r = await run(api, ['info', 'b3', '--verbose']);
    expect(r.stdout).toContain(
      [
        '=== Backup Logs',
        '2016-10-08 00:42:55 +0000 pg_dump: reading extensions',
        '2016-10-08 00:43:00 +0000 upload finished successfully',
        '',
      ].join('\n'),
    );
    expect(api.requests[0]).toMatchObject({ path: `/v1/apps/${APP}/transfers/b3`, query: { logs: 'true' } });
  });

  it('shows a failed restore with its source and error, and no compression for an unfinished backup', async () => {
    const failed = transfer({
      id: 'r004',
      num: 4,
      kind: 'restore',
      status: 'failed',
      database: 'STAGING',
      source: { type: 'backup', app: 'other-app', id: 'b101' },
      target: { type: 'database', app: APP, database: 'STAGING' },
      sourceBytes: null,
      processedBytes: 2048,
      error: 'pg_restore failed (exit code 1)',
    });
    const running = transfer({ id: 'b005', num: 5, status: 'running', finishedAt: null, backupBytes: null });
    const api = new FakeApi()
      .on('GET', `${T}/r004`, { status: 200, body: failed })
      .on('GET', `${T}/b005`, { status: 200, body: running });
    expect((await run(api, ['info', 'r004'])).stdout).toBe(
      [
        '=== Restore r004',
        'Database:    ⛁ STAGING',
        'Backup:      other-app::b101',
        'Started at:  2016-10-05 00:42:55 +0000',
        'Finished at: 2016-10-08 00:43:00 +0000',
        'Status:      Failed',
        'Type:        Manual',
        'Processed:   2.00KB',
        'Error:       pg_restore failed (exit code 1)',
        '',
      ].join('\n'),
    );
    expect((await run(api, ['info', 'b005'])).stdout).toContain('Backup Size:      1.40KB\n');
  });

  it('names the safety backup and the parallel jobs of a restore, and the Safety type of its backup', async () => {
    const r = transfer({
      id: 'r006',
      num: 6,
      kind: 'restore',
      database: 'STAGING',
      source: { type: 'backup', app: APP, id: 'b003' },
      target: { type: 'database', app: APP, database: 'STAGING' },
      parallel: 4,
      safetyBackup: { app: APP, id: 'b007' },
    });
    const api = new FakeApi()
      .on('GET', `${T}/r006`, { status: 200, body: r })
      .on('GET', `${T}/b007`, { status: 200, body: transfer({ id: 'b007', num: 7, type: 'safety' }) });
    expect((await run(api, ['info', 'r006'])).stdout).toContain(
      'Parallel jobs:    4 (not atomic)\nSafety backup:    b007\n',
    );
    expect((await run(api, ['info', 'b007'])).stdout).toContain('Type:             Safety\n');
  });

  it('shows a cross-app copy from each side: where it was started, and where else it is listed', async () => {
    const copy = {
      kind: 'copy' as const,
      source: { type: 'database' as const, app: 'src-app', database: 'DATABASE' },
      target: { type: 'database' as const, app: APP, database: 'STAGING' },
      processedBytes: 2048,
      backupBytes: null,
    };
    // On the target app: its own id c012 for the copy src-app started as c004.
    const mirror = transfer({
      ...copy,
      id: 'c012',
      num: 12,
      database: 'STAGING',
      mirrorOf: { app: 'src-app', id: 'c004' },
    });
    const api = new FakeApi().on('GET', `${T}/c012`, { status: 200, body: mirror });
    expect((await run(api, ['info', 'c012'])).stdout).toBe(
      [
        '=== Copy c012',
        'From:             ⛁ src-app::DATABASE',
        'To:               ⛁ STAGING',
        'Started on:       src-app (as c004)',
        'Started at:       2016-10-05 00:42:55 +0000',
        'Finished at:      2016-10-08 00:43:00 +0000',
        'Status:           Completed',
        'Type:             Manual',
        'Original DB Size: 976.56KB',
        'Processed:        2.00KB',
        '',
      ].join('\n'),
    );
    // On the source app, where it was started: the id the target app lists it under.
    const primary = transfer({
      ...copy,
      id: 'c004',
      num: 4,
      app: 'src-app',
      mirrors: [{ app: APP, id: 'c012' }],
    });
    const src = new FakeApi().on('GET', '/v1/apps/src-app/transfers/c004', { status: 200, body: primary });
    expect((await run(src, ['info', 'c004', '-a', 'src-app'])).stdout).toContain(
      'From:             ⛁ DATABASE\nTo:               ⛁ example-app::STAGING\nAlso listed on:   example-app (as c012)\n',
    );
  });

  it('prints the API error and exits 1 for an unknown id', async () => {
    const api = new FakeApi().on('GET', `${T}/:id`, {
      status: 404,
      body: { error: { code: 'not_found', message: 'Transfer b999 not found for example-app' } },
    });
    expect(await run(api, ['info', 'b999'])).toEqual({
      code: 1,
      stdout: '',
      stderr: ' ›   Error: Transfer b999 not found for example-app\n',
    });
  });
});

describe('pgbackups url', () => {
  const api = () =>
    new FakeApi()
      .on('GET', T, {
        status: 200,
        body: {
          transfers: [transfer({ id: 'b002', num: 2, status: 'failed' }), transfer({ id: 'b001', num: 1 })],
        },
      })
      .on('POST', '/v1/apps/:app/backups/:id/url', (req) => ({
        status: 200,
        body: {
          url: `https://s3.example.com/${req.path.split('/')[5]}.dump?sig=1`,
          expiresAt: '2016-10-08T01:00:00Z',
        },
      }));

  it('prints the URL alone when piped, for the newest completed backup', async () => {
    const fake = api();
    const r = await run(fake, ['url']);
    expect(r).toEqual({ code: 0, stdout: 'https://s3.example.com/b001.dump?sig=1\n', stderr: '' });
    expect(fake.writes[0]?.body).toEqual({ expiresInSeconds: 3600 });
  });

  it('says when it expires on a terminal, and takes --expires-in minutes', async () => {
    const fake = api();
    const r = await run(fake, ['url', 'b001', '--expires-in', '15'], { tty: true });
    expect(r.stdout).toBe(
      'The following URL will expire at 2016-10-08 01:00:00 +0000:\nhttps://s3.example.com/b001.dump?sig=1\n',
    );
    expect(fake.writes[0]?.body).toEqual({ expiresInSeconds: 900 });
  });

  it('says there is nothing to share when no backup completed', async () => {
    const fake = new FakeApi().on('GET', T, { status: 200, body: { transfers: [] } });
    const r = await run(fake, ['url']);
    expect(r).toMatchObject({
      code: 1,
      stderr: ` ›   Error: No completed manual or scheduled backup of DATABASE on ⬢ ${APP}, so there is no default. Name a backup (pgbackups list shows them), or capture one with pgbackups capture\n`,
    });
  });
});

describe('schedules, databases, settings, retention', () => {
  it("lists schedules in Heroku's wording", async () => {
    const api = new FakeApi().on('GET', '/v1/apps/:app/schedules', {
      status: 200,
      body: {
        schedules: [
          { database: 'DATABASE', hour: 2, minute: 0, timezone: 'America/Los_Angeles' },
          { database: 'PINK', hour: 23, minute: 30, timezone: 'UTC' },
        ],
      },
    });
    expect((await run(api, ['schedules'])).stdout).toBe(
      '=== Backup Schedules\nDATABASE: daily at 2:00 America/Los_Angeles\nPINK: daily at 23:30 UTC\n',
    );
  });

  it('warns on stderr when there are no schedules, and exits 0', async () => {
    const api = new FakeApi().on('GET', '/v1/apps/:app/schedules', { status: 200, body: { schedules: [] } });
    expect(await run(api, ['schedules'])).toEqual({
      code: 0,
      stdout: '',
      stderr: `No backup schedules found on ⬢ ${APP}\nUse pgbackups schedule DATABASE --at '02:00 UTC' to set one up\n`,
    });
  });

  it('lists databases without credentials', async () => {
    const api = new FakeApi().on('GET', '/v1/apps/:app/databases', {
      status: 200,
      body: {
        databases: [
          {
            name: 'DATABASE',
            host: 'db.example.com',
            port: 5432,
            database: 'app',
            user: 'app',
            createdAt: '2016-10-01T00:00:00Z',
          },
        ],
      },
    });
    expect((await run(api, ['databases'])).stdout).toBe(
      [
        '=== Databases',
        '',
        ' Name       Host           Port Database User Attached at',
        ' ⛁ DATABASE db.example.com 5432 app      app  2016-10-01 00:00:00 +0000',
        '',
      ].join('\n'),
    );
  });

  it('shows settings, and changes only what the flags name (default clears an override)', async () => {
    const api = new FakeApi().on('PUT', '/v1/apps/:app/settings', (req) => ({
      status: 200,
      body: {
        app: APP,
        plan: 'premium',
        manualLimit: 10,
        limits: { manual: 10, daily: 7, weekly: 8, monthly: 12 },
        ...(req.body as object),
      },
    }));
    const r = await run(api, [
      'settings',
      '--plan',
      'Premium',
      '--manual-limit',
      '10',
      '--weekly',
      'default',
    ]);
    expect(api.writes[0]?.body).toEqual({ plan: 'premium', manualLimit: 10, weekly: null });
    expect(r.stdout).toBe(
      [
        `=== Settings for ⬢ ${APP}`,
        'Plan:                 premium',
        'Manual backups kept:  10 per database (override)',
        'Daily backups kept:   7 (plan)',
        'Weekly backups kept:  8 (plan)',
        'Monthly backups kept: 12 (plan)',
        'Compression level:    default',
        'Notify on success:    no',
        '',
      ].join('\n'),
    );
  });

  it('reports what retention would delete and why', async () => {
    const api = new FakeApi().on('GET', '/v1/apps/:app/retention', {
      status: 200,
      body: {
        delete: [
          { id: 'b001', database: 'DATABASE', reason: 'beyond the newest 25 manual backups of DATABASE' },
          { id: 'b004', database: 'PINK', reason: 'failed more than 7 days ago' },
        ],
        keep: [],
      },
    });
    expect((await run(api, ['retention', '--dry-run'])).stdout).toBe(
      [
        `=== Retention for ⬢ ${APP}`,
        '',
        '2 transfers would be deleted:',
        '',
        ' Id   Database Reason',
        ' b001 DATABASE beyond the newest 25 manual backups of DATABASE',
        ' b004 PINK     failed more than 7 days ago',
        '',
      ].join('\n'),
    );
  });
});

describe('usage errors', () => {
  const api = new FakeApi();

  it('exits 2 for unknown commands and flags, missing arguments, a missing app or API URL', async () => {
    expect(await run(api, ['frobnicate'])).toMatchObject({ code: 2 });
    expect(await run(api, ['info', '--bogus'])).toMatchObject({
      code: 2,
      stderr: ' ›   Error: Unknown flag --bogus\n ›   See: pgbackups help info\n',
    });
    expect(await run(api, ['delete'])).toMatchObject({ code: 2 });
    expect(await run(api, ['info', 'b1', 'b2'])).toMatchObject({ code: 2 });
    expect(await run(api, ['list'], { env: { PGBACKUPS_APP: undefined } })).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('Missing required flag app'),
    });
    expect(await run(api, ['list'], { env: { PGBACKUPS_API_URL: undefined } })).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('Set PGBACKUPS_API_URL'),
    });
    expect(await run(api, ['capture', '--wait-interval', 'soon'])).toMatchObject({ code: 2 });
    expect(await run(api, ['info', 'latest'])).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('Invalid transfer id "latest"'),
    });
    expect(api.requests).toEqual([]);
  });

  it("accepts Heroku's command names and -a", async () => {
    const fake = new FakeApi().on('GET', '/v1/apps/:app/schedules', { status: 200, body: { schedules: [] } });
    expect(await run(fake, ['pg:backups:schedules', '-a', 'other-app'])).toMatchObject({ code: 0 });
    expect(fake.requests[0]?.path).toBe('/v1/apps/other-app/schedules');
  });

  it('prints help', async () => {
    const r = await run(api, ['help', 'restore']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Usage: pgbackups restore [BACKUP] [DATABASE] [flags]');
    expect(r.stdout).toContain("-e, --extensions 'a, schema.b'");
  });
});
