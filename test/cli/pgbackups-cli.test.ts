/**
 * The real `pgbackups` binary (bin/pgbackups-cli.js, a child process without a TTY) against the real local stack
 * and a throwaway PostgreSQL cluster: what a user switching from `heroku pg:backups` would run.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatBytes, formatTime } from '../../src/cli/format.js';
import type { TransferJson } from '../../src/cli/types.js';
import { silentLogger } from '../../src/core/logger.js';
import { type LocalStack, startLocalStack } from '../../src/local/stack.js';
import { fingerprint } from '../helpers/db-fingerprint.js';
import { type PgCluster, run, startCluster, withoutPgEnv } from '../helpers/pg-cluster.js';
import { waitForWorkerSessions } from '../helpers/stack-api.js';

const APP = 'example-app';
const BIN = fileURLToPath(new URL('../../bin/pgbackups-cli.js', import.meta.url));
const FIXTURE = fileURLToPath(new URL('../helpers/fixtures/awkward.sql', import.meta.url));

let pg: PgCluster;
let stack: LocalStack;
let dataDir: string;
/** The CLI's working directory: not the repository, to show the binary works from anywhere. */
let workDir: string;

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the binary with only the environment a user would set; stdin is `input` (or empty), never a TTY. */
function cli(args: string[], input = ''): Promise<CliResult> {
  return cliProcess(args, input).done;
}

function cliProcess(args: string[], input = ''): { done: Promise<CliResult> } {
  const done = new Promise<CliResult>((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: workDir,
      env: {
        ...withoutPgEnv(process.env),
        PGBACKUPS_API_URL: stack.apiUrl,
        PGBACKUPS_APP: APP,
        FORCE_COLOR: '0',
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input);
  });
  return { done };
}

/** Holds an ACCESS EXCLUSIVE lock so pg_dump blocks: a capture that stays running until cancelled. */
function holdLock(db: string, table: string): ChildProcess {
  const child = spawn(
    join(pg.binDir, 'psql'),
    ['-X', '-h', '127.0.0.1', '-p', String(pg.port), '-U', 'postgres', '-d', db, '-v', 'ON_ERROR_STOP=1'],
    { env: { ...withoutPgEnv(process.env), PGPASSWORD: pg.password }, stdio: ['pipe', 'ignore', 'ignore'] },
  );
  child.stdin?.write(`BEGIN; LOCK TABLE ${table} IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(120);\n`);
  return child;
}

async function waitForBlockedDump(db: string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    const n = await pg.psql(
      db,
      "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pgbackups' AND wait_event_type = 'Lock'",
    );
    if (n.trim() === '1') return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('pg_dump never blocked on the lock');
}

async function transferJson(id: string): Promise<TransferJson> {
  const r = await cli(['info', id, '--json']);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as TransferJson;
}

beforeAll(async () => {
  [pg, dataDir, workDir] = await Promise.all([
    startCluster(),
    mkdtemp(join(tmpdir(), 'pgbackups-cli-data-')),
    mkdtemp(join(tmpdir(), 'pgbackups-cli-work-')),
  ]);
  stack = await startLocalStack({ dataDir, port: 0, log: silentLogger, progressIntervalMs: 200 });
  await pg.createDatabase('source');
  await pg.psqlFile('source', FIXTURE);
  await Promise.all(['restored', 'copied', 'mirrored'].map((d) => pg.createDatabase(d)));
  await pg.psql(
    'restored',
    'CREATE TABLE public.old_stuff (x text); INSERT INTO public.old_stuff VALUES ($$old$$);',
  );
});

afterAll(async () => {
  await stack?.stop();
  await pg?.stop();
  await Promise.all([dataDir, workDir].filter(Boolean).map((d) => rm(d, { recursive: true, force: true })));
});

describe('pgbackups, the command line, end to end', () => {
  let b001: TransferJson;

  it('attaches databases with the URL on stdin, and lists them without the password', async () => {
    for (const [name, db] of [
      ['DATABASE_URL', 'source'],
      ['RESTORED', 'restored'],
      ['HEROKU_POSTGRESQL_COPIED_URL', 'copied'],
    ] as const) {
      const r = await cli(['databases:add', name, '--url', '-'], `${pg.url(db)}\n`);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout + r.stderr).not.toContain(pg.password);
    }
    const list = await cli(['databases']);
    expect(list.code).toBe(0);
    expect(list.stdout.split('\n').slice(0, 2)).toEqual(['=== Databases', '']);
    expect(list.stdout).toMatch(/^ ⛁ COPIED\s+127\.0\.0\.1 \d+ copied\s+postgres /m);
    expect(list.stdout).not.toContain(pg.password);
  });

  it('captures b001 and follows it to completion', async () => {
    const r = await cli(['capture', '--wait-interval', '0.2']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^Starting backup of ⛁ DATABASE\.\.\. done\n/);
    expect(r.stderr).toContain('Backing up ⛁ DATABASE to b001... done\n');
    b001 = await transferJson('b001');
    expect(b001).toMatchObject({ status: 'completed', kind: 'backup', database: 'DATABASE' });
  });

  it('lists b001 as Completed, in the fixed layout', async () => {
    const r = await cli([]);
    expect(r.code).toBe(0);
    const size = formatBytes(b001.backupBytes);
    const status = `Completed ${formatTime(b001.finishedAt)}`;
    expect(r.stdout).toBe(
      [
        '=== Backups',
        '',
        ` Id   Created at                ${'Status'.padEnd(status.length)} ${'Size'.padEnd(size.length)} Database`,
        ` b001 ${formatTime(b001.createdAt)} ${status} ${size.padEnd(4)} ⛁ DATABASE`,
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
  });

  it("shows b001 in Heroku's info layout with its SHA-256", async () => {
    const r = await cli(['info']);
    expect(r.code).toBe(0);
    const pct = Math.max(
      0,
      Math.round(
        (((b001.sourceBytes as number) - (b001.backupBytes as number)) / (b001.sourceBytes as number)) * 100,
      ),
    );
    expect(r.stdout).toBe(
      [
        '=== Backup b001',
        'Database:         ⛁ DATABASE',
        `Started at:       ${formatTime(b001.startedAt)}`,
        `Finished at:      ${formatTime(b001.finishedAt)}`,
        'Status:           Completed',
        'Type:             Manual',
        `Original DB Size: ${formatBytes(b001.sourceBytes)}`,
        `Backup Size:      ${formatBytes(b001.backupBytes)} (${pct}% compression)`,
        `SHA-256:          ${b001.sha256}`,
        // This machine's PostgreSQL 15 dumps with its own client: archive 1.14 (docs/compatibility.md).
        'Archive:          format 1.14; restore with pg_restore 12 or newer',
        '',
      ].join('\n'),
    );
  });

  it('prints the URL alone, on one line, when piped', async () => {
    const r = await cli(['url']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/\S+\n$/);
  });

  it('downloads latest.dump, verified against the recorded SHA-256, and pg_restore can read it', async () => {
    const r = await cli(['download']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('SHA-256 verified');
    expect(await readdir(workDir)).toEqual(['latest.dump']);
    const bytes = await readFile(join(workDir, 'latest.dump'));
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(b001.sha256);
    const toc = await run(join(pg.binDir, 'pg_restore'), ['-l', join(workDir, 'latest.dump')]);
    expect(toc.code, toc.stderr).toBe(0);
    expect(toc.stdout).toMatch(/TABLE DATA app people/);
  });

  it('changes nothing when --confirm does not match', async () => {
    const before = await fingerprint(pg, 'restored');
    const restore = await cli(['restore', 'b001', 'RESTORED', '--confirm', 'wrong-app']);
    expect(restore).toMatchObject({
      code: 1,
      stderr: ` ›   Error: Confirmation wrong-app did not match ${APP}. Aborted.\n`,
    });
    const typed = await cli(['restore', 'b001', 'RESTORED'], 'not-the-app\n');
    expect(typed.code).toBe(1);
    expect(typed.stderr).toContain(`All data in ⛁ RESTORED will be deleted:`);
    const copy = await cli(['copy', 'DATABASE', 'COPIED', '--confirm', 'DATABASE']);
    expect(copy.code).toBe(1);
    const del = await cli(['delete', 'b001', '--confirm', 'nope']);
    expect(del.code).toBe(1);
    expect(await fingerprint(pg, 'restored')).toEqual(before);
    const list = await cli(['--json']);
    expect((JSON.parse(list.stdout) as TransferJson[]).map((t) => t.id)).toEqual(['b001']);
  });

  it('restores b001 into another database and makes it identical to the source', async () => {
    const r = await cli(['restore', 'b001', 'RESTORED', '--confirm', APP, '--wait-interval', '0.2']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('Starting restore of b001 to ⛁ RESTORED... done\n');
    expect(r.stderr).toContain('Restoring... done\n');
    expect(await fingerprint(pg, 'restored')).toEqual(await fingerprint(pg, 'source'));
    // The target was backed up before it was overwritten; that backup is listed and can undo the restore.
    const safety = /RESTORED is backed up to (b\d{3}) first; to undo: pgbackups restore \1 RESTORED\n/.exec(
      r.stderr,
    )?.[1];
    expect(safety, r.stderr).toBeDefined();
    expect(await transferJson(safety as string)).toMatchObject({
      type: 'safety',
      status: 'completed',
      database: 'RESTORED',
    });
  });

  it('copies a database into another directly and makes it identical to the source', async () => {
    const r = await cli(['copy', 'DATABASE', 'COPIED', '--confirm', 'COPIED', '--wait-interval', '0.2']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('Starting copy of ⛁ DATABASE to ⛁ COPIED... done\n');
    expect(r.stderr).toContain('Copying... done\n');
    expect(await fingerprint(pg, 'copied')).toEqual(await fingerprint(pg, 'source'));
    const list = await cli([]);
    expect(list.stdout).toMatch(/^ r\d{3} .* Completed .* ⛁ RESTORED$/m);
    expect(list.stdout).toMatch(/^ c\d{3} .* Completed .* ⛁ DATABASE\s+⛁ COPIED$/m);
  });

  it('lists a copy into another app on both apps, each with the side it played and the final status', async () => {
    const OTHER = 'mirror-app';
    const add = await cli(
      ['databases:add', 'DATABASE', '--url', '-', '-a', OTHER],
      `${pg.url('mirrored')}\n`,
    );
    expect(add.code, add.stderr).toBe(0);
    const r = await cli([
      'copy',
      'DATABASE',
      `${OTHER}::DATABASE`,
      '--confirm',
      'DATABASE',
      '--wait-interval',
      '0.2',
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`Starting copy of ⛁ DATABASE to ⛁ ${OTHER}::DATABASE... done\n`);
    expect(await fingerprint(pg, 'mirrored')).toEqual(await fingerprint(pg, 'source'));
    const copies = JSON.parse((await cli(['list', '--json'])).stdout) as TransferJson[];
    const copy = copies.find(
      (t) => t.kind === 'copy' && t.target.type === 'database' && t.target.app === OTHER,
    );
    expect(copy).toMatchObject({ status: 'completed', mirrors: [{ app: OTHER, id: 'c001' }] });
    const id = copy?.id as string;

    // On the app that started it: from DATABASE to the other app's database.
    const here = await cli([]);
    expect(here.stdout).toMatch(
      new RegExp(`^ ${id} .* Completed .* ⛁ DATABASE\\s+⛁ ${OTHER}::DATABASE$`, 'm'),
    );
    // On the app whose database it overwrote: the same copy under that app's own id, from example-app.
    const there = await cli(['-a', OTHER]);
    expect(there.code, there.stderr).toBe(0);
    expect(there.stdout).toMatch(new RegExp(`^ c001 .* Completed .* ⛁ ${APP}::DATABASE\\s+⛁ DATABASE$`, 'm'));
    // Its safety backup is that app's, numbered after the copy.
    expect(there.stdout).toMatch(/^ b002 .* Completed .* ⛁ DATABASE \(safety backup\)$/m);
    const info = await cli(['info', 'c001', '--verbose', '-a', OTHER]);
    expect(info.code, info.stderr).toBe(0);
    expect(info.stdout).toContain(
      `=== Copy c001\nFrom:             ⛁ ${APP}::DATABASE\nTo:               ⛁ DATABASE\nStarted on:       ${APP} (as ${id})\n`,
    );
    expect(info.stdout).toContain('Status:           Completed\n');
    expect(info.stdout).toContain('Safety backup:    b002\n');
    // One record: the logs are the copy's own.
    const own = JSON.parse((await cli(['info', id, '--json'])).stdout) as TransferJson;
    const mirrored = JSON.parse((await cli(['info', 'c001', '--json', '-a', OTHER])).stdout) as TransferJson;
    expect(mirrored.logs?.length).toBeGreaterThan(0);
    expect(mirrored.logs).toEqual(own.logs);
    expect(mirrored).toMatchObject({ app: OTHER, id: 'c001', mirrorOf: { app: APP, id } });
    expect({ ...mirrored, app: 0, id: 0, num: 0, mirrorOf: 0, mirrors: 0 }).toEqual({
      ...own,
      app: 0,
      id: 0,
      num: 0,
      mirrorOf: 0,
      mirrors: 0,
    });
  });

  it("cancels a copy from the app whose database it overwrites; the copy's follower sees it cancelled", async () => {
    const OTHER = 'mirror-app';
    const before = await fingerprint(pg, 'mirrored');
    // The copy's atomic restore waits for this lock in the target, running until it is cancelled.
    const lock = holdLock('mirrored', 'app.people');
    try {
      const copy = cliProcess([
        'copy',
        'DATABASE',
        `${OTHER}::DATABASE`,
        '--confirm',
        'DATABASE',
        '--no-safety-backup',
        '--wait-interval',
        '0.2',
      ]);
      await waitForWorkerSessions(pg, 'mirrored', { waitingOnLock: true });
      // No id: the newest unfinished transfer of mirror-app is its mirror of the copy (c001, b002 came first).
      const cancel = await cli(['cancel', '-a', OTHER]);
      expect(cancel.code, cancel.stderr).toBe(0);
      expect(cancel.stderr).toBe('Cancelling c003... done\n');
      const followed = await copy.done;
      expect(followed.code).toBe(2);
      const id = /The copy (c\d{3}) was cancelled/.exec(followed.stderr)?.[1];
      expect(id, followed.stderr).toBeDefined();
      expect(await transferJson(id as string)).toMatchObject({
        kind: 'copy',
        status: 'cancelled',
        mirrors: [{ app: OTHER, id: 'c003' }],
      });
    } finally {
      lock.kill();
      // The server keeps sleeping (and locking) after psql goes: end that session too.
      await pg.psql(
        'postgres',
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = 'mirrored' AND query LIKE '%pg_sleep%'",
      );
    }
    // The copy ran in one transaction: the cancelled one left the target as it was.
    expect(await fingerprint(pg, 'mirrored')).toEqual(before);
  });

  it('reports a failed backup with its last log lines and exits 2', async () => {
    const broken = pg.url('source').replace(`:${pg.password}@`, ':wrong-password@');
    expect((await cli(['databases:add', 'BROKEN', '--url', '-'], broken)).code).toBe(0);
    const r = await cli(['capture', 'BROKEN', '--wait-interval', '0.2']);
    expect(r.code).toBe(2);
    const id =
      /Backing up ⛁ BROKEN to (b\d{3})\.\.\. !\nAn error occurred and the backup did not finish\.\n/.exec(
        r.stderr,
      )?.[1];
    expect(id, r.stderr).toBeDefined();
    expect(r.stderr.endsWith(`Run pgbackups info ${id} for more details.\n`)).toBe(true);
    expect(r.stderr).toMatch(/password authentication failed/);
    expect(r.stderr).not.toContain('wrong-password');
  });

  it('cancels the newest unfinished transfer; the capture following it reports the cancellation and exits 2', async () => {
    const lock = holdLock('source', 'app.people');
    try {
      const capture = cliProcess(['capture', '--wait-interval', '0.2']);
      await waitForBlockedDump('source');
      const cancel = await cli(['cancel']);
      expect(cancel).toMatchObject({ code: 0, stdout: '' });
      const id = /^Cancelling (b\d{3})\.\.\. done\n$/.exec(cancel.stderr)?.[1];
      expect(id, cancel.stderr).toBeDefined();
      const followed = await capture.done;
      expect(followed.code).toBe(2);
      expect(followed.stderr).toContain(
        `Backing up ⛁ DATABASE to ${id}... !\nThe backup ${id} was cancelled`,
      );
      expect((await cli(['cancel'])).stderr).toBe(' ›   Error: No active backups/transfers\n');
    } finally {
      lock.kill();
    }
  });

  it('schedules daily backups and lists them in Heroku wording', async () => {
    const r = await cli(['schedule', 'DATABASE_URL', '--at', '02:00 America/Los_Angeles']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe(
      'Scheduling automatic daily backups of ⛁ DATABASE at 02:00 America/Los_Angeles... done (daily at 2:00 America/Los_Angeles)\n',
    );
    expect(await cli(['schedules'])).toEqual({
      code: 0,
      stdout: '=== Backup Schedules\nDATABASE: daily at 2:00 America/Los_Angeles\n',
      stderr: '',
    });
    expect((await cli(['unschedule'])).code).toBe(0);
    expect((await cli(['schedules'])).stderr).toContain('No backup schedules found');
  });

  it('reports that retention has nothing to delete yet', async () => {
    expect(await cli(['retention', '--dry-run'])).toEqual({
      code: 0,
      stdout: `=== Retention for ⬢ ${APP}\n\nNothing to delete: every backup is within the retention policy.\n`,
      stderr: '',
    });
  });

  it('deletes a backup once confirmed, and answers an unknown id with exit 1', async () => {
    expect((await cli(['delete', 'b001', '--confirm', APP])).code).toBe(0);
    const info = await cli(['info', 'b001']);
    expect(info.code).toBe(1);
    expect(info.stderr).toMatch(/^ › {3}Error: .*b001.*\n$/);
  });
});
