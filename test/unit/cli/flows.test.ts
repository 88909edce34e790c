/** Commands that change things, against a fake API: what they send, print, and exit with. */
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { TransferJson } from '../../../src/cli/types.js';
import { APP, FakeApi, run, transfer } from './harness.js';

const T = '/v1/apps/:app/transfers';

/** Answers successive GETs of one transfer with the given states, repeating the last. */
function sequence(states: TransferJson[]) {
  let i = 0;
  return () => ({ status: 200, body: states[Math.min(i++, states.length - 1)] });
}

const HINTS = (id: string, kind: string) =>
  [
    '',
    `Use Ctrl-C at any time to stop monitoring progress; the ${kind} will continue running.`,
    `Use pgbackups info ${id} to check progress.`,
    `Stop a running ${kind} with pgbackups cancel ${id}.`,
    '',
  ].join('\n');

describe('pgbackups capture', () => {
  const pending = transfer({
    id: 'b005',
    num: 5,
    status: 'pending',
    startedAt: null,
    finishedAt: null,
    backupBytes: null,
  });
  const running = { ...pending, status: 'running' as const, processedBytes: 4096 };

  it('starts a backup and follows it to completion, progress on stderr, nothing on stdout', async () => {
    const api = new FakeApi()
      .on('POST', '/v1/apps/:app/backups', { status: 202, body: pending })
      .on('GET', `${T}/b005`, sequence([running, transfer({ id: 'b005', num: 5 })]));
    const r = await run(api, ['capture', '--wait-interval', '1']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(
      `Starting backup of ⛁ DATABASE... done\n${HINTS('b005', 'backup')}\nBacking up ⛁ DATABASE to b005... done\n`,
    );
    expect(api.writes).toEqual([
      expect.objectContaining({ path: `/v1/apps/${APP}/backups`, body: { database: 'DATABASE' } }),
    ]);
  });

  it('on failure prints the last five log lines and the error, and exits 2', async () => {
    const logs = [1, 2, 3, 4, 5, 6].map((n) => ({
      at: '2016-10-08T00:00:00Z',
      level: 'info' as const,
      message: `line ${n}`,
    }));
    const failed = transfer({
      id: 'b005',
      num: 5,
      status: 'failed',
      error: 'pg_dump failed (exit code 1)',
      logs,
    });
    const api = new FakeApi()
      .on('POST', '/v1/apps/:app/backups', { status: 202, body: pending })
      .on('GET', `${T}/b005`, sequence([running, failed]));
    const r = await run(api, ['capture', 'heroku_postgresql_pink_url']);
    expect(r.code).toBe(2);
    expect(api.writes[0]?.body).toEqual({ database: 'PINK' });
    expect(
      r.stderr.endsWith(
        [
          'Backing up ⛁ DATABASE to b005... !',
          'An error occurred and the backup did not finish.',
          '',
          'line 2',
          'line 3',
          'line 4',
          'line 5',
          'line 6',
          'pg_dump failed (exit code 1)',
          '',
          'Run pgbackups info b005 for more details.',
          '',
        ].join('\n'),
      ),
    ).toBe(true);
  });

  it('streams every log line once with --verbose, and prints the final transfer with --json', async () => {
    const l1 = { at: '2016-10-08T00:00:01Z', level: 'info' as const, message: 'pg_dump: reading schemas' };
    const l2 = {
      at: '2016-10-08T00:00:02Z',
      level: 'info' as const,
      message: 'upload finished successfully',
    };
    const api = new FakeApi()
      .on('POST', '/v1/apps/:app/backups', { status: 202, body: pending })
      .on(
        'GET',
        `${T}/b005`,
        sequence([{ ...running, logs: [l1] }, transfer({ id: 'b005', num: 5, logs: [l1, l2] })]),
      );
    const r = await run(api, ['capture', '-v', '--json']);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(
      'Backing up ⛁ DATABASE to b005...\n2016-10-08 00:00:01 +0000 pg_dump: reading schemas\n2016-10-08 00:00:02 +0000 upload finished successfully\nBacking up ⛁ DATABASE to b005... done\n',
    );
    expect(JSON.parse(r.stdout)).toMatchObject({ id: 'b005', status: 'completed' });
    expect(api.requests.filter((q) => q.method === 'GET').every((q) => q.query.logs === 'true')).toBe(true);
  });

  it('on a terminal redraws a status line with the processed size and the newest log line', async () => {
    const log = {
      at: '2016-10-08T00:00:01Z',
      level: 'info' as const,
      message: 'pg_dump: dumping contents of table "app.people"',
    };
    const api = new FakeApi()
      .on('POST', '/v1/apps/:app/backups', { status: 202, body: pending })
      .on('GET', `${T}/b005`, sequence([{ ...running, logs: [log] }, transfer({ id: 'b005', num: 5 })]));
    const r = await run(api, ['capture'], { tty: true });
    expect(r.code).toBe(0);
    // Between polls the line is redrawn with the next spinner frame and the time since the backup started.
    expect(r.stderr).toContain(
      '\r\x1b[JBacking up ⛁ DATABASE to b005... pending ⠋ 71h 17m\r\x1b[JBacking up ⛁ DATABASE to b005... pending ⠙ 71h 17m\r\x1b[JBacking up ⛁ DATABASE to b005... pending ⠹ 71h 17m',
    );
    expect(r.stderr).toContain(
      '\r\x1b[JBacking up ⛁ DATABASE to b005... 4.00KB ⠸ 71h 17m\n2016-10-08 00:00:01 +0000 pg_dump: dumping contents of table "app.people"',
    );
    expect(r.stderr.endsWith('\r\x1b[JBacking up ⛁ DATABASE to b005... done\n')).toBe(true);
  });

  it('stops watching on Ctrl-C, says the backup goes on, and exits 130', async () => {
    const api = new FakeApi()
      .on('POST', '/v1/apps/:app/backups', { status: 202, body: pending })
      .on('GET', `${T}/b005`, { status: 200, body: running });
    const r = await run(api, ['capture'], { interrupt: true });
    expect(r.code).toBe(130);
    expect(
      r.stderr.endsWith(
        'Backing up ⛁ DATABASE to b005... \nStopped watching b005; the backup continues. Check it with pgbackups info b005.\n',
      ),
    ).toBe(true);
    expect(api.writes.map((w) => w.path)).toEqual([`/v1/apps/${APP}/backups`]);
  });

  it('tolerates a brief API outage while following', async () => {
    let n = 0;
    const api = new FakeApi()
      .on('POST', '/v1/apps/:app/backups', { status: 202, body: pending })
      .on('GET', `${T}/b005`, () =>
        n++ < 3
          ? { status: 503, body: { message: 'Service Unavailable' } }
          : { status: 200, body: transfer({ id: 'b005', num: 5 }) },
      );
    expect((await run(api, ['capture'])).code).toBe(0);
  });
});

describe('pgbackups cancel', () => {
  it('cancels the newest unfinished transfer of any kind and waits until it is cancelled', async () => {
    const active = transfer({ id: 'r007', num: 7, kind: 'restore', status: 'running', finishedAt: null });
    const api = new FakeApi()
      .on('GET', T, { status: 200, body: { transfers: [active, transfer({ id: 'b006', num: 6 })] } })
      .on('POST', `${T}/:id/cancel`, { status: 200, body: { ...active, cancelRequested: true } })
      .on('GET', `${T}/r007`, { status: 200, body: { ...active, status: 'cancelled' } });
    const r = await run(api, ['cancel']);
    expect(r).toEqual({ code: 0, stdout: '', stderr: 'Cancelling r007... done\n' });
    expect(api.writes.map((w) => w.path)).toEqual([`/v1/apps/${APP}/transfers/r007/cancel`]);
  });

  it('says the cancel was requested when the worker has not stopped yet', async () => {
    const active = transfer({ id: 'b005', num: 5, status: 'running', finishedAt: null });
    const api = new FakeApi()
      .on('POST', `${T}/:id/cancel`, { status: 200, body: { ...active, cancelRequested: true } })
      .on('GET', `${T}/b005`, { status: 200, body: { ...active, cancelRequested: true } });
    expect(await run(api, ['cancel', 'b005'])).toEqual({
      code: 0,
      stdout: '',
      stderr: 'Cancelling b005... requested\nb005 is stopping; check it with pgbackups info b005\n',
    });
  });

  it('says when nothing is running, and passes on the API refusal for a finished one', async () => {
    const api = new FakeApi()
      .on('GET', T, { status: 200, body: { transfers: [transfer({ id: 'b006', num: 6 })] } })
      .on('POST', `${T}/:id/cancel`, {
        status: 409,
        body: {
          error: {
            code: 'conflict',
            message: 'Transfer b006 cannot be cancelled: it has already finished (completed)',
          },
        },
      });
    expect(await run(api, ['cancel'])).toMatchObject({
      code: 1,
      stderr: ' ›   Error: No active backups/transfers\n',
    });
    expect(await run(api, ['cancel', 'b006'])).toMatchObject({
      code: 1,
      stderr:
        'Cancelling b006... !\n ›   Error: Transfer b006 cannot be cancelled: it has already finished (completed)\n',
    });
  });
});

describe('pgbackups delete', () => {
  const api = () =>
    new FakeApi()
      .on('DELETE', '/v1/apps/:app/backups/:id', { status: 204 })
      .on('GET', '/v1/apps/:app/transfers/:id', (_r, p) => ({
        status: 200,
        body: transfer({ id: p.id as string, num: 5 }),
      }));

  it('asks for the app name first, and deletes nothing when it does not match', async () => {
    const fake = api();
    const r = await run(fake, ['delete', 'b005'], { stdin: 'wrong-app\n' });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      [
        ' ›   Warning: Destructive Action',
        ` ›   This command will delete backup b005 of the app ⬢ ${APP}.`,
        ' ›   The dump cannot be downloaded or restored afterwards.',
        '',
        `To proceed, type ${APP} or re-run this command with --confirm ${APP}`,
        '',
        '> ',
        ` ›   Error: Confirmation did not match ${APP}. Aborted.`,
        '',
      ].join('\n'),
    );
    expect(fake.writes).toEqual([]);
  });

  it('deletes with the typed name or --confirm, and refuses a wrong --confirm', async () => {
    const fake = api();
    expect(await run(fake, ['delete', 'b005'], { stdin: `${APP}\n` })).toMatchObject({ code: 0 });
    expect(await run(fake, ['delete', 'b005', '--confirm', APP])).toEqual({
      code: 0,
      stdout: '',
      stderr: `Deleting backup b005 on ⬢ ${APP}... done\n`,
    });
    expect(await run(fake, ['delete', 'b005', '-c', 'nope'])).toMatchObject({
      code: 1,
      stderr: ` ›   Error: Confirmation nope did not match ${APP}. Aborted.\n`,
    });
    expect(fake.writes.map((w) => `${w.method} ${w.path}`)).toEqual([
      `DELETE /v1/apps/${APP}/backups/b005`,
      `DELETE /v1/apps/${APP}/backups/b005`,
    ]);
  });
});

describe('pgbackups restore', () => {
  const staging = {
    name: 'STAGING',
    host: 'db.example.com',
    port: 5432,
    database: 'staging',
    user: 'u',
    createdAt: '2016-10-01T00:00:00Z',
  };
  const started = transfer({
    id: 'r008',
    num: 8,
    kind: 'restore',
    status: 'pending',
    database: 'STAGING',
    safetyBackup: { app: APP, id: 'b009' },
  });
  const api = () =>
    new FakeApi()
      .on('GET', T, {
        status: 200,
        body: {
          transfers: [transfer({ id: 'b002', num: 2, status: 'failed' }), transfer({ id: 'b001', num: 1 })],
        },
      })
      .on('GET', `${T}/:id`, (_r, p) =>
        p.id === 'r008'
          ? { status: 200, body: { ...started, status: 'completed' } }
          : { status: 200, body: transfer({ id: p.id as string, num: 1 }) },
      )
      .on('GET', '/v1/apps/:app/databases', { status: 200, body: { databases: [staging] } })
      .on('POST', '/v1/apps/:app/restores', { status: 202, body: started });

  it('names the backup, the target database and app, and what will be deleted, before asking', async () => {
    const fake = api();
    // One argument is the BACKUP, as on Heroku: `staging` is a database name, so it is refused before any
    // prompt, with the command that names both.
    expect(await run(fake, ['restore', 'staging'], { stdin: `${APP}\n` })).toMatchObject({
      code: 2,
      stderr: expect.stringContaining(
        'staging is a database, not a backup: with one argument, restore takes the BACKUP. Name both: pgbackups restore b001 STAGING',
      ),
    });
    expect(fake.writes).toEqual([]);
    const ok = await run(fake, ['restore', 'b001', 'staging', '-e', 'pgcrypto, Public.HSTORE'], {
      stdin: `${APP}\n`,
    });
    expect(ok.code).toBe(0);
    expect(ok.stderr).toBe(
      [
        ' ›   Warning: Destructive Action',
        ' ›   This command will restore b001 (a backup of ⛁ DATABASE)',
        ` ›   into ⛁ STAGING (database staging on db.example.com:5432) of the app ⬢ ${APP}.`,
        ' ›   Note: b001 is a backup of a different database, ⛁ DATABASE, not of ⛁ STAGING.',
        ' ›   All data in ⛁ STAGING will be deleted: every table, view, sequence, function and type in its',
        ' ›   non-system schemas.',
        ' ›   A backup of ⛁ STAGING is taken first and kept 7 days.',
        ' ›   If the restore fails, ⛁ STAGING is left as it was.',
        '',
        `To proceed, type ${APP} or re-run this command with --confirm ${APP}`,
        '',
        '> ',
        'Starting restore of b001 to ⛁ STAGING... done',
        'STAGING is backed up to b009 first; to undo: pgbackups restore b009 STAGING',
        HINTS('r008', 'restore'),
        'Restoring... done',
        '',
      ].join('\n'),
    );
    expect(fake.writes.map((w) => w.body)).toEqual([
      { backup: 'b001', database: 'STAGING', extensions: ['pgcrypto', 'public.hstore'] },
    ]);
  });

  it('defaults to the newest completed backup into DATABASE, and sends other-app and https references as given', async () => {
    const fake = api().on('GET', '/v1/apps/:app/databases', {
      status: 200,
      body: { databases: [staging, { ...staging, name: 'DATABASE' }] },
    });
    expect(
      await run(fake, ['restore', '--confirm', APP, '--parallel', '4', '--no-safety-backup']),
    ).toMatchObject({
      code: 0,
    });
    expect(await run(fake, ['restore', 'other-app::b101', 'STAGING', '--confirm', APP])).toMatchObject({
      code: 0,
    });
    expect(
      await run(fake, ['restore', 'https://dumps.example.com/x.dump?sig=s', 'STAGING', '--confirm', APP]),
    ).toMatchObject({ code: 0 });
    expect(fake.writes.map((w) => w.body)).toEqual([
      { backup: 'b001', database: 'DATABASE', parallel: 4, safetyBackup: false },
      { backup: 'other-app::b101', database: 'STAGING' },
      { backup: 'https://dumps.example.com/x.dump?sig=s', database: 'STAGING' },
    ]);
  });

  it('warns in the prompt when the restore is not atomic (--parallel) and takes no safety backup', async () => {
    const r = await run(api(), ['restore', 'b001', 'STAGING', '--parallel', '4', '--no-safety-backup'], {
      stdin: 'no\n',
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      [
        ' ›   No backup of ⛁ STAGING is taken first (--no-safety-backup).',
        ' ›   With --parallel 4 the restore is not atomic: the data is committed first, and if building indexes and constraints then fails, ⛁ STAGING is left without some of them.',
      ].join('\n'),
    );
    expect(await run(api(), ['restore', 'b001', 'STAGING', '--parallel', '17'])).toMatchObject({ code: 2 });
  });

  it('refuses http URLs (exit 2), unfinished backups and unknown databases (exit 1), and a wrong --confirm, changing nothing', async () => {
    const fake = api().on('GET', `${T}/b002`, {
      status: 200,
      body: transfer({ id: 'b002', num: 2, status: 'failed' }),
    });
    expect(await run(fake, ['restore', 'http://dumps.example.com/x.dump', '--confirm', APP])).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('Refusing to restore from an http:// URL'),
    });
    expect(await run(fake, ['restore', 'b002', 'STAGING', '--confirm', APP])).toMatchObject({
      code: 1,
      stderr: ` ›   Error: Backup b002 for ⬢ ${APP} did not complete successfully (failed)\n`,
    });
    expect(await run(fake, ['restore', 'b001', 'NOPE', '--confirm', APP])).toMatchObject({
      code: 1,
      stderr: ' ›   Error: Unknown database: NOPE. Valid options are: STAGING\n',
    });
    expect(await run(fake, ['restore', 'b001', 'STAGING', '--confirm', 'other-app'])).toMatchObject({
      code: 1,
    });
    expect(fake.writes).toEqual([]);
  });
});

describe('pgbackups copy', () => {
  const dbs = ['RED', 'BLUE'].map((name) => ({
    name,
    host: 'h',
    port: 5432,
    database: name.toLowerCase(),
    user: 'u',
    createdAt: '2016-10-01T00:00:00Z',
  }));
  const started = transfer({ id: 'c009', num: 9, kind: 'copy', status: 'pending', database: 'BLUE' });
  const api = () =>
    new FakeApi()
      .on('GET', '/v1/apps/:app/databases', { status: 200, body: { databases: dbs } })
      .on('POST', '/v1/apps/:app/copies', { status: 202, body: started })
      .on('GET', `${T}/c009`, { status: 200, body: { ...started, status: 'completed' } });

  it('confirms with the target name, then copies and follows', async () => {
    const fake = api();
    const r = await run(fake, ['copy', 'HEROKU_POSTGRESQL_RED_URL', 'blue'], { stdin: 'BLUE\n' });
    expect(r.code).toBe(0);
    expect(r.stderr).toBe(
      [
        ' ›   Warning: Destructive Action',
        ` ›   This command will remove all data from ⛁ BLUE (database blue on h:5432) of the app ⬢ ${APP}.`,
        ' ›   Data from ⛁ RED will then be copied to ⛁ BLUE. ⛁ RED is only read.',
        ' ›   A backup of ⛁ BLUE is taken first and kept 7 days.',
        '',
        'To proceed, type BLUE or re-run this command with --confirm BLUE',
        '',
        '> ',
        'Starting copy of ⛁ RED to ⛁ BLUE... done',
        HINTS('c009', 'copy'),
        'Copying... done',
        '',
      ].join('\n'),
    );
    expect(fake.writes.map((w) => w.body)).toEqual([{ from: 'RED', to: 'BLUE' }]);
  });

  it('takes another app as the source, and refuses a copy onto itself or a wrong --confirm', async () => {
    // The other app's database is checked before the prompt too.
    const fake = api().on('GET', '/v1/apps/other-app/databases', {
      status: 200,
      body: { databases: [{ ...(dbs[0] as object), name: 'DATABASE' }] },
    });
    expect(await run(fake, ['copy', 'other-app::DATABASE', 'BLUE', '--confirm', 'BLUE'])).toMatchObject({
      code: 0,
    });
    expect(await run(fake, ['copy', 'RED', 'RED', '--confirm', 'RED'])).toMatchObject({
      code: 1,
      stderr: ' ›   Error: Cannot copy database onto itself\n',
    });
    expect(await run(fake, ['copy', 'RED', 'BLUE', '--confirm', APP])).toMatchObject({ code: 1 });
    expect(fake.writes.map((w) => w.body)).toEqual([{ from: 'other-app::DATABASE', to: 'BLUE' }]);
    const missing = await run(api(), ['copy', 'other-app::PINK', 'BLUE', '--confirm', 'BLUE']);
    expect(missing).toMatchObject({
      code: 1,
      stderr: ' ›   Error: Unknown database: PINK. Valid options are: RED, BLUE\n',
    });
  });
});

describe('pgbackups download', () => {
  const dump = Buffer.from('PGDMP fake dump bytes '.repeat(100));
  const sha256 = createHash('sha256').update(dump).digest('hex');
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pgbackups-cli-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const api = (opts: { sha?: string; status?: number } = {}) =>
    new FakeApi()
      .on('GET', T, {
        status: 200,
        body: { transfers: [transfer({ id: 'b001', num: 1, sha256: opts.sha ?? sha256 })] },
      })
      .on('POST', '/v1/apps/:app/backups/:id/url', {
        status: 200,
        body: { url: 'https://s3.example.com/b001.dump?sig=1', expiresAt: '2016-10-08T01:00:00Z' },
      })
      .on('GET', 'https://s3.example.com/b001.dump', {
        status: opts.status ?? 200,
        raw: opts.status ? 'AccessDenied' : dump,
      });

  it('refuses an existing directory as -o, and a directory it cannot create, before downloading anything', async () => {
    const fake = api();
    const r = await run(fake, ['download', '-o', '.'], { cwd: dir });
    expect(r).toMatchObject({
      code: 2,
      stderr: ' ›   Error: -o . is a directory: give a file name, for example -o latest.dump\n',
    });
    await writeFile(join(dir, 'a-file'), 'x');
    const bad = await run(fake, ['download', '-o', 'a-file/sub/x.dump'], { cwd: dir });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(
      /^ › {3}Error: Cannot create the directory a-file\/sub for -o a-file\/sub\/x\.dump \((ENOTDIR|EEXIST)\)\. Nothing was downloaded/,
    );
    expect(fake.requests).toEqual([]);
  });

  it('writes latest.dump, then latest.dump.1, each verified against the recorded SHA-256', async () => {
    const fake = api();
    const r = await run(fake, ['download'], { cwd: dir });
    expect(r).toEqual({
      code: 0,
      stdout: '',
      stderr: `Getting backup from ⬢ ${APP}... done, b001\nDownloading b001... done\nDownloaded b001 to latest.dump (2.15KB, SHA-256 verified)\n`,
    });
    expect(await run(fake, ['download'], { cwd: dir })).toMatchObject({ code: 0 });
    expect((await readdir(dir)).sort()).toEqual(['latest.dump', 'latest.dump.1']);
    expect(
      createHash('sha256')
        .update(await readFile(join(dir, 'latest.dump.1')))
        .digest('hex'),
    ).toBe(sha256);
  });

  it('writes to -o, creating directories', async () => {
    expect(await run(api(), ['download', '-o', 'sub/dir/x.dump'], { cwd: dir })).toMatchObject({ code: 0 });
    expect(await readFile(join(dir, 'sub/dir/x.dump'))).toEqual(dump);
  });

  it('leaves no file behind when the checksum does not match or the HTTP status is an error', async () => {
    await writeFile(join(dir, 'keep.dump'), 'previous');
    const bad = await run(api({ sha: 'f'.repeat(64) }), ['download', '-o', 'keep.dump'], { cwd: dir });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain(`its SHA-256 is ${sha256} but the backup recorded ${'f'.repeat(64)}`);
    const denied = await run(api({ status: 403 }), ['download'], { cwd: dir });
    expect(denied).toMatchObject({
      code: 1,
      stderr: expect.stringContaining('The download failed with HTTP 403 (AccessDenied)'),
    });
    expect(await readdir(dir)).toEqual(['keep.dump']);
    expect(await readFile(join(dir, 'keep.dump'), 'utf8')).toBe('previous');
  });
});

describe('databases:add, databases:remove, schedule, unschedule', () => {
  const attached = {
    name: 'PINK',
    host: 'db.example.com',
    port: 5432,
    database: 'pink',
    user: 'u',
    createdAt: '2016-10-01T00:00:00Z',
  };

  it('reads the connection URL from stdin with --url - and never prints it', async () => {
    const secret = 'postgres://u:s3cret@db.example.com/pink';
    const api = new FakeApi().on('PUT', '/v1/apps/:app/databases/:name', { status: 201, body: attached });
    const r = await run(api, ['databases:add', 'heroku_postgresql_pink', '--url', '-'], {
      stdin: `${secret}\n`,
    });
    expect(r).toEqual({
      code: 0,
      stdout: '⛁ PINK: database pink on db.example.com:5432 as u\n',
      stderr: `Attaching ⛁ PINK to ⬢ ${APP}... done\n`,
    });
    expect(api.writes).toEqual([
      expect.objectContaining({ path: `/v1/apps/${APP}/databases/PINK`, body: { url: secret } }),
    ]);
  });

  it('detaches after confirming with the database name', async () => {
    const api = new FakeApi().on('DELETE', '/v1/apps/:app/databases/:name', { status: 204 });
    expect(await run(api, ['databases', 'remove', 'PINK'], { stdin: 'DATABASE\n' })).toMatchObject({
      code: 1,
    });
    expect(await run(api, ['databases:remove', 'PINK', '--confirm', 'PINK'])).toMatchObject({
      code: 0,
      stderr: `Detaching ⛁ PINK from ⬢ ${APP}... done\n`,
    });
    expect(api.writes.map((w) => w.path)).toEqual([`/v1/apps/${APP}/databases/PINK`]);
  });

  it('schedules with --at as given and shows how the API understood it', async () => {
    const api = new FakeApi().on('PUT', '/v1/apps/:app/schedules/:db', {
      status: 200,
      body: {
        database: 'DATABASE',
        hour: 2,
        minute: 0,
        timezone: 'America/Los_Angeles',
        createdAt: '2016-10-01T00:00:00Z',
      },
    });
    expect(await run(api, ['schedule', '--at', '02:00 PST'])).toEqual({
      code: 0,
      stdout: '',
      stderr:
        'Scheduling automatic daily backups of ⛁ DATABASE at 02:00 PST... done (daily at 2:00 America/Los_Angeles)\n',
    });
    expect(api.writes[0]).toMatchObject({
      method: 'PUT',
      path: `/v1/apps/${APP}/schedules/DATABASE`,
      body: { at: '02:00 PST' },
    });
    expect(await run(api, ['schedule'])).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('Missing required flag at'),
    });
  });

  it('unschedules the only schedule when no database is named, and asks which one when there are several', async () => {
    const one = { database: 'PINK', hour: 2, minute: 0, timezone: 'UTC' };
    let schedules = [one];
    const api = new FakeApi()
      .on('GET', '/v1/apps/:app/schedules', () => ({ status: 200, body: { schedules } }))
      .on('DELETE', '/v1/apps/:app/schedules/:db', { status: 204 });
    expect(await run(api, ['unschedule'])).toMatchObject({
      code: 0,
      stderr: 'Unscheduling ⛁ PINK daily backups... done\n',
    });
    schedules = [one, { ...one, database: 'DATABASE' }];
    expect(await run(api, ['unschedule'])).toMatchObject({
      code: 1,
      stderr: ` ›   Error: Specify schedule on ⬢ ${APP}. Existing schedules: ⛁ PINK, ⛁ DATABASE\n`,
    });
    expect(api.writes.map((w) => w.path)).toEqual([`/v1/apps/${APP}/schedules/PINK`]);
  });
});
