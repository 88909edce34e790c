/**
 * Heroku habits and the messages around them (issue: "the CLI a Heroku user installs once and never has to
 * second-guess"): spellings, hidden flags, "did you mean", the app's sources, unknown apps, hints that carry -a,
 * URL-like arguments, id prefixes, checks before prompts.
 */
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { type HiddenInput, readHiddenLine } from '../../../src/cli/io.js';
import { APP, FakeApi, run, transfer } from './harness.js';

const T = '/v1/apps/:app/transfers';
const listApi = () =>
  new FakeApi()
    .on('GET', T, { status: 200, body: { transfers: [transfer({ id: 'b001', num: 1 })], cursor: null } })
    .on('GET', '/v1/apps', { status: 200, body: { apps: [APP, 'other-app'] } });

describe("Heroku's spellings", () => {
  it('runs pg:backups (the list), pg:backups:X, the older pg:backups X form, backups:X and pg:copy', async () => {
    const plain = await run(listApi(), []);
    expect(plain.code).toBe(0);
    for (const argv of [['pg:backups'], ['backups'], ['pg:backups', 'list'], ['pg:backups:list']]) {
      expect(await run(listApi(), argv), argv.join(' ')).toEqual(plain);
    }
    const info = await run(
      listApi().on('GET', `${T}/:id`, { status: 200, body: transfer({ id: 'b001', num: 1 }) }),
      ['pg:backups', 'info', 'b001'],
    );
    expect(info.stdout).toMatch(/^=== Backup b001\n/);
    const copy = await run(new FakeApi(), ['pg:copy', 'DATABASE', 'DATABASE']);
    expect(copy.stderr).toBe(' ›   Error: Cannot copy database onto itself\n');
  });

  it("accepts the list's hidden Heroku flags and ignores them; other commands still refuse them", async () => {
    const plain = await run(listApi(), []);
    const r = await run(listApi(), [
      'pg:backups',
      '-v',
      '-q',
      '-c',
      'x',
      '-o',
      'f',
      '--at',
      '02:00',
      '--wait-interval',
      '3',
    ]);
    expect(r).toEqual(plain);
    const refused = await run(listApi(), ['schedules', '-q']);
    expect(refused).toMatchObject({ code: 2, stderr: expect.stringContaining('Unknown flag -q') });
  });

  it('suggests the command or flag that was meant', async () => {
    expect(await run(listApi(), ['captre'])).toEqual({
      code: 2,
      stdout: '',
      stderr:
        ' ›   Error: Unknown command: captre. Did you mean pgbackups capture? Run pgbackups help for the list of commands\n',
    });
    expect((await run(listApi(), ['pg:backups:restor'])).stderr).toContain('Did you mean pgbackups restore?');
    expect((await run(listApi(), ['capture', '--wait-intervl', '1'])).stderr).toContain(
      'Unknown flag --wait-intervl. Did you mean --wait-interval?',
    );
    expect((await run(listApi(), ['frobnicate'])).stderr).toBe(
      ' ›   Error: Unknown command: frobnicate. Run pgbackups help for the list of commands\n',
    );
  });
});

describe('the app', () => {
  it('comes from -a, else PGBACKUPS_APP, else HEROKU_APP', async () => {
    const paths = async (argv: string[], env: Record<string, string | undefined>) => {
      const api = listApi();
      await run(api, argv, { env });
      return api.requests[0]?.path;
    };
    expect(await paths([], { PGBACKUPS_APP: undefined, HEROKU_APP: 'heroku-app' })).toBe(
      '/v1/apps/heroku-app/transfers',
    );
    expect(await paths([], { PGBACKUPS_APP: 'pg-app', HEROKU_APP: 'heroku-app' })).toBe(
      '/v1/apps/pg-app/transfers',
    );
    expect(await paths(['-a', 'flag-app'], { HEROKU_APP: 'heroku-app' })).toBe('/v1/apps/flag-app/transfers');
    const none = await run(listApi(), [], { env: { PGBACKUPS_APP: undefined } });
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('give -a APP, or set PGBACKUPS_APP (HEROKU_APP is read too)');
  });

  it('may be given before the command, as with the heroku CLI', async () => {
    const api = listApi().on('POST', '/v1/apps/:app/backups', {
      status: 202,
      body: transfer({ id: 'b002', num: 2 }),
    });
    const r = await run(api, ['-a', 'other-app', 'capture']);
    expect(r.code, r.stderr).toBe(0);
    expect(api.writes[0]?.path).toBe('/v1/apps/other-app/backups');
  });

  it('is added to every printed command when it is not the environment one, so pasting it works', async () => {
    const api = listApi()
      .on('POST', '/v1/apps/:app/backups', {
        status: 202,
        body: transfer({ id: 'b002', num: 2, app: 'other-app', status: 'pending' }),
      })
      .on('GET', `${T}/:id`, {
        status: 200,
        body: transfer({ id: 'b002', num: 2, app: 'other-app', status: 'failed', error: 'boom' }),
      });
    const r = await run(api, ['capture', '-a', 'other-app']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('Use pgbackups info b002 -a other-app to check progress.');
    expect(r.stderr).toContain('Stop a running backup with pgbackups cancel b002 -a other-app.');
    expect(r.stderr).toContain('Run pgbackups info b002 -a other-app for more details.');
    // The same app as the environment's: no -a, as before.
    const same = await run(api, ['capture', '-a', APP]);
    expect(same.stderr).toContain('Use pgbackups info b002 to check progress.');
  });

  it('that the API does not know is named, with the apps it knows and the closest one', async () => {
    const api = new FakeApi()
      .on('GET', T, { status: 200, body: { transfers: [], cursor: null } })
      .on('GET', '/v1/apps/:app/databases', { status: 200, body: { databases: [] } })
      .on('GET', '/v1/apps', { status: 200, body: { apps: ['fresh-app', 'other-app'] } });
    const expected = {
      code: 1,
      stdout: '',
      stderr:
        ' ›   Error: Unknown app frsh-app: it has no databases and no transfers. Did you mean -a fresh-app? Known apps: fresh-app, other-app. To start using frsh-app, attach a database: pgbackups databases:add DATABASE --url - -a frsh-app\n',
    };
    expect(await run(api, ['-a', 'frsh-app'])).toEqual(expected);
    expect(await run(api, ['databases', '-a', 'frsh-app'])).toEqual(expected);
    expect((await run(api, ['info', '-a', 'frsh-app'])).stderr).toBe(expected.stderr);
    // A known app with nothing in it keeps Heroku's "No backups" layout.
    expect((await run(api, ['-a', 'fresh-app'])).stdout).toContain('No backups. Capture one with');
  });

  it('apps lists them, one per line, or as JSON', async () => {
    const api = new FakeApi().on('GET', '/v1/apps', { status: 200, body: { apps: ['a-app', 'b-app'] } });
    expect(await run(api, ['apps'], { env: { PGBACKUPS_APP: undefined } })).toEqual({
      code: 0,
      stdout: '=== Apps\n\n⬢ a-app\n⬢ b-app\n',
      stderr: '',
    });
    expect(JSON.parse((await run(api, ['apps', '--json'])).stdout)).toEqual(['a-app', 'b-app']);
  });
});

describe('secrets and pasted URLs', () => {
  it('refuses a database URL where a name is expected, without echoing it, and with the command that attaches it', async () => {
    const api = new FakeApi();
    const r = await run(api, ['copy', 'postgres://me:s3cret@db.example.com/shop', 'STAGING']);
    expect(r.code).toBe(2);
    expect(r.stderr).not.toContain('s3cret');
    expect(r.stderr).toContain('Attach it under a name first: pgbackups databases:add NAME --url -');
    expect(api.requests).toEqual([]);
    const cap = await run(api, ['capture', 'postgresql://me:s3cret@db/shop', '-a', 'other-app']);
    expect(cap.stderr).not.toContain('s3cret');
    expect(cap.stderr).toContain('pgbackups databases:add NAME --url - -a other-app');
  });

  it('redacts URLs in every message, including the API’s and unknown words', async () => {
    const api = new FakeApi().on('GET', T, {
      status: 400,
      body: { error: { code: 'bad', message: 'cannot reach postgres://u:hunter2@db/x?sslmode=require' } },
    });
    const r = await run(api, []);
    expect(r.stderr).toBe(' ›   Error: cannot reach postgres://u:…@db/x?…\n');
    const word = await run(api, ['postgres://u:hunter2@db/x']);
    expect(word.stderr).not.toContain('hunter2');
  });

  it('says what PGBACKUPS_API_URL was probably meant to be', async () => {
    const r = await run(listApi(), [], { env: { PGBACKUPS_API_URL: '127.0.0.1:8787' } });
    expect(r).toMatchObject({ code: 2 });
    expect(r.stderr).toContain('Did you mean export PGBACKUPS_API_URL=http://127.0.0.1:8787');
    const aws = await run(listApi(), [], {
      env: { PGBACKUPS_API_URL: 'abc.execute-api.eu-west-1.amazonaws.com' },
    });
    expect(aws.stderr).toContain(
      'Did you mean export PGBACKUPS_API_URL=https://abc.execute-api.eu-west-1.amazonaws.com',
    );
  });
});

describe('ids and checks before prompts', () => {
  const b062 = transfer({ id: 'b062', num: 62 });
  const api = () =>
    new FakeApi()
      .on('GET', `${T}/:id`, { status: 200, body: b062 })
      .on('DELETE', '/v1/apps/:app/backups/:id', { status: 204 })
      .on('GET', '/v1/apps/:app/databases', {
        status: 200,
        body: {
          databases: [{ name: 'DATABASE', host: 'h', port: 5432, database: 'd', user: 'u', createdAt: '' }],
        },
      });

  it('refuses a copy or restore id where a backup is expected, before any request', async () => {
    for (const argv of [
      ['delete', 'c062'],
      ['url', 'r062'],
      ['download', 'c062'],
      ['restore', 'other-app::r001'],
    ]) {
      const fake = api();
      const r = await run(fake, argv, { stdin: `${APP}\n` });
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.stderr).toMatch(/names a (copy|restore), not a backup: give a backup id such as b0(62|01)/);
      expect(fake.requests).toEqual([]);
    }
  });

  it('refuses an id whose letter is not the transfer’s, in every command that reads one', async () => {
    const fake = api();
    const info = await run(fake, ['info', 'a062']);
    expect(info).toMatchObject({
      code: 1,
      stderr: ' ›   Error: a062 does not exist: transfer 062 is b062 (a backup). Use b062\n',
    });
    const del = await run(fake, ['delete', 'a062'], { stdin: `${APP}\n` });
    expect(del.code).toBe(1);
    expect(del.stderr).not.toContain('Destructive Action');
    expect(fake.writes).toEqual([]);
  });

  it("reads another app's backup before the prompt", async () => {
    const fake = api().on('GET', '/v1/apps/other-app/transfers/:id', {
      status: 200,
      body: transfer({ id: 'b001', num: 1, app: 'other-app', status: 'failed' }),
    });
    const r = await run(fake, ['restore', 'other-app::b001', 'DATABASE'], { stdin: `${APP}\n` });
    expect(r).toMatchObject({ code: 1 });
    expect(r.stderr).toBe(' ›   Error: Backup b001 for ⬢ other-app did not complete successfully (failed)\n');
    expect(fake.writes).toEqual([]);
  });

  it('says that no answer came on stdin, and how to confirm without a prompt', async () => {
    const fake = api();
    const r = await run(fake, ['delete', 'b062']);
    expect(r.code).toBe(1);
    expect(
      r.stderr.endsWith(
        ` ›   Error: No answer on stdin; nothing was changed. To proceed without a prompt, pass --confirm ${APP}\n`,
      ),
    ).toBe(true);
    expect(fake.writes).toEqual([]);
  });
});

describe('secret prompts', () => {
  it('reads a URL typed at a terminal without echo, and never prints it', async () => {
    const reads: string[] = [];
    const api = new FakeApi().on('PUT', '/v1/apps/:app/databases/:name', {
      status: 201,
      body: { name: 'DATABASE', host: 'db', port: 5432, database: 'shop', user: 'me', createdAt: '' },
    });
    const r = await run(api, ['databases:add', 'DATABASE', '--url', '-'], {
      tty: true,
      stdin: 'postgres://me:s3cret@db/shop\n',
      reads,
    });
    expect(r.code, r.stderr).toBe(0);
    expect(reads).toEqual(['secret']);
    expect(r.stderr).toContain('Connection URL (postgres://…; not shown as you type): \n');
    expect(r.stdout + r.stderr).not.toContain('s3cret');
    expect(api.writes[0]?.body).toEqual({ url: 'postgres://me:s3cret@db/shop' });
  });
});

describe('readHiddenLine, the raw-mode reader', () => {
  /** A terminal's input: a stream with raw mode, recording the modes set. */
  function terminal() {
    const stream = new PassThrough() as PassThrough & { isRaw: boolean; setRawMode(raw: boolean): void };
    const modes: boolean[] = [];
    stream.isRaw = false;
    stream.setRawMode = (raw: boolean) => {
      modes.push(raw);
      stream.isRaw = raw;
    };
    return { stream, modes, input: stream as unknown as HiddenInput };
  }

  it('reads up to Enter in raw mode (so the terminal echoes nothing), with Backspace, then restores the mode', async () => {
    const t = terminal();
    const line = readHiddenLine(t.input);
    t.stream.write('pa');
    t.stream.write('sx\u007fs\r');
    expect(await line).toBe('pass');
    expect(t.modes).toEqual([true, false]);
  });

  it('shows the prompt only once raw mode is on, so input typed as soon as it appears is never echoed', async () => {
    const t = terminal();
    const modesAtPrompt: boolean[][] = [];
    const line = readHiddenLine(t.input, () => modesAtPrompt.push([...t.modes]));
    t.stream.write('s3cret\r');
    expect(await line).toBe('s3cret');
    expect(modesAtPrompt).toEqual([[true]]);
  });

  it('ends at Ctrl-D or end of input, and aborts at Ctrl-C with exit code 130', async () => {
    const d = terminal();
    const atEof = readHiddenLine(d.input);
    d.stream.write('\u0004');
    expect(await atEof).toBeUndefined();
    const c = terminal();
    const interrupted = readHiddenLine(c.input);
    c.stream.write('secr\u0003');
    await expect(interrupted).rejects.toMatchObject({ exitCode: 130 });
    expect(c.modes).toEqual([true, false]);
  });
});

describe('progress', () => {
  const T2 = '/v1/apps/:app/transfers';
  it('shows a restore’s percentage, the dump’s size being known', async () => {
    const restoring = transfer({
      id: 'r002',
      num: 2,
      kind: 'restore',
      status: 'running',
      database: 'DATABASE',
      processedBytes: 420,
    });
    const api = new FakeApi()
      .on('GET', `${T2}/b001`, { status: 200, body: transfer({ id: 'b001', num: 1, backupBytes: 1000 }) })
      .on(
        'GET',
        `${T2}/r002`,
        (() => {
          let n = 0;
          return () => ({
            status: 200,
            body: n++ === 0 ? restoring : { ...restoring, status: 'completed', processedBytes: 1000 },
          });
        })(),
      )
      .on('GET', '/v1/apps/:app/databases', {
        status: 200,
        body: {
          databases: [{ name: 'DATABASE', host: 'h', port: 5432, database: 'd', user: 'u', createdAt: '' }],
        },
      })
      .on('POST', '/v1/apps/:app/restores', {
        status: 202,
        body: { ...restoring, status: 'pending', processedBytes: 0 },
      });
    const r = await run(api, ['restore', 'b001', '--confirm', APP], { tty: true });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('\r\x1b[JRestoring... 42% 420B/1000B ⠸ 71h 17m');
    expect(r.stderr.endsWith('\r\x1b[JRestoring... done\n')).toBe(true);
  });

  it('ends the status line before an error met while following', async () => {
    const api = new FakeApi()
      .on('POST', '/v1/apps/:app/backups', {
        status: 202,
        body: transfer({ id: 'b005', num: 5, status: 'pending' }),
      })
      .on('GET', `${T2}/b005`, {
        status: 404,
        body: { error: { code: 'not_found', message: 'b005 was deleted' } },
      });
    const plain = await run(api, ['capture']);
    expect(plain.stderr.endsWith('Backing up ⛁ DATABASE to b005... !\n ›   Error: b005 was deleted\n')).toBe(
      true,
    );
    const tty = await run(api, ['capture'], { tty: true });
    expect(
      tty.stderr.endsWith('\r\x1b[JBacking up ⛁ DATABASE to b005... !\n ›   Error: b005 was deleted\n'),
    ).toBe(true);
  });
});

describe('list and info details', () => {
  it('marks safety backups and says when restores or copies are cut at 10', async () => {
    const restores = Array.from({ length: 12 }, (_, i) =>
      transfer({ id: `r${String(i + 10).padStart(3, '0')}`, num: i + 10, kind: 'restore' }),
    );
    const api = new FakeApi().on('GET', T, {
      status: 200,
      body: {
        transfers: [transfer({ id: 'b002', num: 2, type: 'safety', database: 'STAGING' }), ...restores],
        cursor: null,
      },
    });
    const r = await run(api, []);
    expect(r.stdout).toMatch(/^ b002 .* ⛁ STAGING \(safety backup\)$/m);
    expect(r.stdout).toContain('\n(the newest 10 of 12 restores; pgbackups list --json lists them all)\n');
    expect(r.stdout).not.toContain('copies; pgbackups');
  });

  it('shows no compression figure for a backup that did not complete', async () => {
    for (const status of ['failed', 'cancelled'] as const) {
      const api = new FakeApi().on('GET', `${T}/:id`, {
        status: 200,
        body: transfer({
          id: 'b003',
          num: 3,
          status,
          sourceBytes: 1_000_000,
          backupBytes: null,
          processedBytes: 5000,
        }),
      });
      const r = await run(api, ['info', 'b003']);
      expect(r.stdout).toContain('Backup Size:      4.88KB\n');
    }
  });
});

describe('API messages', () => {
  it('show the CLI command where the API names both its path and the command', async () => {
    const api = new FakeApi().on('GET', `${T}/:id`, {
      status: 404,
      body: {
        error: {
          code: 'not_found',
          message: `Transfer b009 not found for ${APP}. List transfers with GET /v1/apps/${APP}/transfers (pgbackups list -a ${APP})`,
        },
      },
    });
    expect((await run(api, ['info', 'b009'])).stderr).toBe(
      ` ›   Error: Transfer b009 not found for ${APP}. List transfers with pgbackups list -a ${APP}\n`,
    );
  });
});
