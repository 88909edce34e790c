import { describe, expect, it } from 'vitest';
import { databaseHostGuard } from '../../../src/adapters/net/url-guard.js';
import { parseExtensionTargets } from '../../../src/core/extensions.js';
import { MAX_LOG_LINE_CHARS, MAX_LOG_LINES } from '../../../src/core/transfer.js';
import { chooseCompression } from '../../../src/worker/capture.js';
import { childEnv, libpqEnv, secretsOf, vettedLibpqEnv } from '../../../src/worker/libpq-env.js';
import { parseClientVersion as parsePgDumpVersion } from '../../../src/worker/pg-clients.js';
import { reasonFrom } from '../../../src/worker/pg-process.js';
import { redact } from '../../../src/worker/redact.js';
import { restorePrelude } from '../../../src/worker/restore-sql.js';
import { levelOfToolLine, TransferLog } from '../../../src/worker/transfer-log.js';
import { FakeClock } from '../../fakes/index.js';

describe('libpqEnv', () => {
  it('turns a URL into libpq variables, decoding what the URL encodes', () => {
    expect(
      libpqEnv('postgres://app%40user:p%40ss%2Fw%3Ard@db.example.com:6543/my%20db?sslmode=require'),
    ).toEqual({
      PGHOST: 'db.example.com',
      PGPORT: '6543',
      PGUSER: 'app@user',
      PGPASSWORD: 'p@ss/w:rd',
      PGDATABASE: 'my db',
      PGSSLMODE: 'require',
      PGCONNECT_TIMEOUT: '30',
      PGAPPNAME: 'pgbackups',
    });
  });

  it('accepts postgresql://, IPv6 hosts, unix sockets and connect_timeout; always names itself pgbackups', () => {
    expect(libpqEnv('postgresql://u@[::1]:5432/d?application_name=mine&connect_timeout=5')).toMatchObject({
      PGHOST: '::1',
      PGCONNECT_TIMEOUT: '5',
      PGAPPNAME: 'pgbackups',
    });
    expect(libpqEnv('postgres://%2Fvar%2Frun%2Fpostgresql/d').PGHOST).toBe('/var/run/postgresql');
    expect(libpqEnv('postgres:///d?host=/tmp/sock').PGHOST).toBe('/tmp/sock');
  });

  it('rejects other schemes and unknown parameters without echoing the URL', () => {
    const secret = 'hunter2-secret';
    for (const url of [
      `mysql://u:${secret}@h/d`,
      `postgres://u:${secret}@h/d?evil=1`,
      `not a url ${secret}`,
    ]) {
      expect(() => libpqEnv(url)).toThrow();
      try {
        libpqEnv(url);
      } catch (e) {
        expect((e as Error).message).not.toContain(secret);
      }
    }
  });

  it('refuses parameters that name files on the worker, except sslrootcert=system', () => {
    for (const p of [
      'sslkey=/etc/shadow',
      'sslcert=/proc/self/environ',
      'sslcrl=/x',
      'sslrootcert=/etc/shadow',
    ]) {
      expect(() => libpqEnv(`postgres://u:p@h/d?${p}`)).toThrow(/names a file on the backup worker/);
    }
    expect(libpqEnv('postgres://u:p@h/d?sslrootcert=system').PGSSLROOTCERT).toBe('system');
  });

  it('pins the vetted address as PGHOSTADDR, keeping the name for TLS', async () => {
    const resolved: string[] = [];
    const guard = databaseHostGuard({ allowLoopback: false, allowlist: [] }, async (host) => {
      resolved.push(host);
      return [{ address: '93.184.215.14', family: 4 }];
    });
    const env = await vettedLibpqEnv('postgres://u:p@db.example.com:5433/d?sslmode=verify-full', guard);
    expect(env).toMatchObject({ PGHOST: 'db.example.com', PGHOSTADDR: '93.184.215.14', PGPORT: '5433' });
    expect(resolved).toEqual(['db.example.com']);
    await expect(vettedLibpqEnv('postgres://u:p@h/d?hostaddr=169.254.169.254', guard)).rejects.toThrow(
      /link-local/,
    );
    await expect(vettedLibpqEnv('postgres://u:p@%2Fvar%2Frun%2Fpostgresql/d', guard)).rejects.toThrow(
      /unix-socket/,
    );
  });

  it('drops inherited PG* variables from the child environment', () => {
    const env = childEnv({ PGHOST: 'h' }, { PATH: '/bin', PGPASSFILE: '/x', PGSERVICE: 's', HOME: '/root' });
    expect(env).toEqual({ PATH: '/bin', HOME: '/root', LC_MESSAGES: 'C', PGHOST: 'h' });
  });

  it('lists the URL and password as secrets', () => {
    const url = 'postgres://u:secretpw@h/d';
    expect(secretsOf(url, libpqEnv(url))).toEqual([url, 'secretpw']);
  });
});

describe('redact', () => {
  it('removes known secrets, URL credentials and password assignments', () => {
    expect(redact('connection to postgres://u:pw1234@h:5432/d failed')).toBe(
      'connection to postgres://[REDACTED]@h:5432/d failed',
    );
    expect(redact("host=h password='a b' user=u")).toBe('host=h password=[REDACTED] user=u');
    expect(redact('PGPASSWORD=abc pg_dump')).toBe('PGPASSWORD=[REDACTED] pg_dump');
    expect(redact('FATAL: bad thing s3cr3t-value here', ['s3cr3t-value'])).toBe(
      'FATAL: bad thing [REDACTED] here',
    );
  });

  it('leaves ordinary pg tool output alone', () => {
    const line = 'pg_dump: dumping contents of table "public.users"';
    expect(redact(line, ['zzzzzz'])).toBe(line);
  });
});

describe('TransferLog', () => {
  it('keeps the newest MAX_LOG_LINES lines, each at most MAX_LOG_LINE_CHARS', () => {
    const log = new TransferLog(new FakeClock());
    for (let i = 0; i < MAX_LOG_LINES + 20; i++) log.info(`line ${i}`);
    log.error('x'.repeat(MAX_LOG_LINE_CHARS * 2));
    const lines = log.lines();
    expect(lines).toHaveLength(MAX_LOG_LINES);
    expect(lines[0]?.message).toBe('line 21');
    expect(lines.at(-1)?.message).toHaveLength(MAX_LOG_LINE_CHARS);
    expect(lines.at(-1)).toMatchObject({ level: 'error', at: '2026-01-15T12:00:00.000Z' });
  });

  it('is dirty until the snapshot it handed out is marked flushed', () => {
    const log = new TransferLog(new FakeClock());
    expect(log.dirty).toBe(false);
    log.info('a');
    const snap = log.snapshot();
    log.info('b');
    log.markFlushed(snap.version);
    expect(log.dirty).toBe(true);
    log.markFlushed(log.snapshot().version);
    expect(log.dirty).toBe(false);
  });

  it('grades pg tool lines', () => {
    expect(levelOfToolLine('pg_dump: error: query failed')).toBe('error');
    expect(levelOfToolLine('psql:<stdin>:12: ERROR:  relation exists')).toBe('error');
    expect(levelOfToolLine('pg_restore: warning: errors ignored on restore: 2')).toBe('warn');
    expect(levelOfToolLine('pg_dump: reading extensions')).toBe('info');
  });
});

describe('pg_dump version and compression', () => {
  it('parses pg_dump --version', () => {
    expect(parsePgDumpVersion('pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)\n')).toEqual({
      version: '15.18',
      major: 15,
    });
    expect(parsePgDumpVersion('pg_dump (PostgreSQL) 18beta1')).toEqual({ version: '18beta1', major: 18 });
    expect(() => parsePgDumpVersion('nonsense')).toThrow(/Unexpected/);
  });

  it('uses gzip before 16 and zstd from 16, level 1 unless the app says otherwise', () => {
    expect(chooseCompression(15)).toEqual({ args: ['--compress=1'], label: 'gzip:1' });
    expect(chooseCompression(15, 6)).toEqual({ args: ['--compress=6'], label: 'gzip:6' });
    expect(chooseCompression(16)).toEqual({ args: ['--compress=zstd:1'], label: 'zstd:1' });
    expect(chooseCompression(17, 9)).toEqual({ args: ['--compress=zstd:9'], label: 'zstd:9' });
    expect(chooseCompression(15, 0).label).toBe('none');
    expect(chooseCompression(16, 0)).toEqual({ args: ['--compress=none'], label: 'none' });
  });
});

describe('restore prelude', () => {
  it('parses extension names, with or without a schema', () => {
    expect(parseExtensionTargets(['hstore', 'heroku_ext.pg_trgm'])).toEqual([
      { name: 'hstore' },
      { schema: 'heroku_ext', name: 'pg_trgm' },
    ]);
  });

  it('refuses anything that could escape into SQL or a psql meta-command', () => {
    for (const bad of ['x; DROP', 'a.b.c', '\\! rm', 'name"', '', 'a b']) {
      expect(() => parseExtensionTargets([bad])).toThrow(/Invalid extension/);
    }
  });

  it('opens the transaction, bounds lock waits, wipes, then installs extensions', () => {
    const sql = restorePrelude({ extensions: ['public.hstore', 'citext'], lockTimeout: '5min' });
    const order = [
      'BEGIN;',
      "SET lock_timeout = '5min';",
      'DROP SCHEMA',
      'lo_unlink',
      'CREATE SCHEMA public',
    ];
    const positions = order.map((s) => sql.indexOf(s));
    expect(positions.every((p) => p >= 0)).toBe(true);
    expect([...positions].sort((a, b) => a - b)).toEqual(positions);
    expect(sql).toContain('CREATE EXTENSION IF NOT EXISTS "hstore" WITH SCHEMA "public";');
    expect(sql).toContain('CREATE EXTENSION IF NOT EXISTS "citext";');
    expect(sql).not.toMatch(/COMMIT/);
  });
});

describe('reasonFrom', () => {
  it("keeps PostgreSQL's DETAIL and HINT lines with the error, not its CONTEXT", () => {
    expect(
      reasonFrom([
        'psql:<stdin>:4: ERROR:  out of shared memory',
        'psql:<stdin>:4: HINT:  You might need to increase max_locks_per_transaction.',
        'CONTEXT:  SQL statement "DROP SCHEMA t1 CASCADE"',
        'PL/pgSQL function inline_code_block line 9 at EXECUTE',
      ]),
    ).toBe(
      'psql:<stdin>:4: ERROR:  out of shared memory HINT: You might need to increase max_locks_per_transaction.',
    );
    expect(
      reasonFrom([
        'pg_restore: error: could not execute query: ERROR:  permission denied to create extension "x"',
        'HINT:  Must be superuser to create this extension.',
        'Command was: CREATE EXTENSION x;',
        'DETAIL:  not this one: it follows another statement',
      ]),
    ).toBe(
      'pg_restore: error: could not execute query: ERROR:  permission denied to create extension "x" HINT: Must be superuser to create this extension.',
    );
    expect(reasonFrom(['ERROR:  a', 'DETAIL:  b', 'pg_restore: warning: errors ignored'])).toBe(
      'ERROR:  a DETAIL: b',
    );
    expect(reasonFrom(['just a line'])).toBe('just a line');
  });
});
