/**
 * `pgbackups doctor`, the real binary against the real local stack: its check runs in a real worker process (the
 * bundle the container runs) that connects to a throwaway PostgreSQL cluster and round-trips an object through the
 * S3 emulator. A healthy database passes; a wrong password and a closed port are explained in words.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/core/logger.js';
import { IMAGE_CLIENTS } from '../../src/core/pg-compat.js';
import { type LocalStack, startLocalStack } from '../../src/local/stack.js';
import { type PgCluster, startCluster, withoutPgEnv } from '../helpers/pg-cluster.js';

const APP = 'doctor-app';
const BIN = fileURLToPath(new URL('../../bin/pgbackups-cli.js', import.meta.url));
const WRONG_PASSWORD = 'not-the-password-7f3a';

let pg: PgCluster;
let stack: LocalStack;
let dataDir: string;
let closedPort: number;
const workerLines: string[] = [];

function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: tmpdir(),
      env: {
        ...withoutPgEnv(process.env),
        PGBACKUPS_API_URL: stack.apiUrl,
        PGBACKUPS_APP: APP,
        FORCE_COLOR: '0',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
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
  });
}

/** A port nothing listens on: bound once to learn a free one, then closed. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

beforeAll(async () => {
  pg = await startCluster();
  await pg.createDatabase('app');
  closedPort = await freePort();
  dataDir = await mkdtemp(join(tmpdir(), 'pgbackups-doctor-'));
  stack = await startLocalStack({
    dataDir,
    port: 0,
    log: silentLogger,
    progressIntervalMs: 200,
    workerOutput: (line) => workerLines.push(line),
  });
  const attach = async (name: string, url: string) => {
    const res = await fetch(`${stack.apiUrl}/v1/apps/${APP}/databases/${name}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ url }),
    });
    expect(res.status).toBe(201);
  };
  await attach('DATABASE', pg.url('app'));
  await attach('BADPASS', pg.url('app').replace(`:${pg.password}@`, `:${WRONG_PASSWORD}@`));
  await attach(
    'CLOSED',
    `postgres://postgres:${WRONG_PASSWORD}@127.0.0.1:${closedPort}/app?connect_timeout=5`,
  );
});

afterAll(async () => {
  await stack?.stop();
  await pg?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

/** The check id the report names (random per run). */
const checkIdOf = (stderr: string) => /Waiting for worker task (chk-[0-9a-f]{12})/.exec(stderr)?.[1] ?? '';

describe('pgbackups doctor against the local stack', () => {
  it('passes against a healthy attached database, naming its version and the pg_dump a capture would run', async () => {
    const r = await cli(['doctor']);
    const id = checkIdOf(r.stderr);
    expect(id).toMatch(/^chk-/);
    const clients = r.stdout.match(/PostgreSQL clients ([\d, ]+)/)?.[1] ?? '';
    // Whatever clients this machine has (the image has 13–18), the one chosen serves this server's major.
    const dumpClient = Number(r.stdout.match(/captures will run pg_dump (\d+)/)?.[1]);
    expect(dumpClient).toBeGreaterThanOrEqual(pg.major);
    expect(IMAGE_CLIENTS).toContain(pg.major);
    expect(r.stdout).toMatch(
      new RegExp(
        [
          `=== pgbackups doctor: ${APP}`,
          '',
          `ok {4}API {10}${stack.apiUrl.replace(/[.]/g, '\\.')} answers`,
          'ok {4}Credentials {2}none needed: the local stack has no authentication',
          `ok {4}App {10}${APP} has 3 databases: BADPASS, CLOSED, DATABASE`,
          `ok {4}Worker {7}a worker task started, with PostgreSQL clients ${clients}`,
          `ok {4}Database {5}DATABASE: connected to PostgreSQL ${pg.major}\\.\\d+; captures will run pg_dump ${dumpClient}`,
          `ok {4}Bucket {7}wrote, read back and deleted checks/${APP}/${id}`,
          '',
          'Every check passed\\.',
          '',
        ].join('\\n'),
      ),
    );
    expect(r.stderr).toBe(`Waiting for worker task ${id} (up to 300 s)... done\n`);
    expect(r.code).toBe(0);
    // The probe object is gone, and the check is no transfer: nothing to list, nothing numbered.
    expect(await stack.deps.blobs.list('checks/')).toEqual([]);
    expect((await stack.deps.catalog.listTransfers(APP)).transfers).toEqual([]);
  });

  it('explains a wrong password in words, still checks the bucket, and exits 1', async () => {
    const r = await cli(['doctor', '--database', 'BADPASS']);
    const id = checkIdOf(r.stderr);
    const lines = r.stdout.split('\n');
    expect(lines[6]).toMatch(
      /^FAIL {2}Database {5}BADPASS: .*password authentication failed for user "postgres"$/,
    );
    expect(lines.slice(7)).toEqual([
      '                   → The database refused the user or password in the attached URL: attach it again with the right credentials (pgbackups databases:add NAME --url -).',
      `ok    Bucket       wrote, read back and deleted checks/${APP}/${id}`,
      '',
      '1 check failed. Fix the first one first: the ones after it may depend on it.',
      '',
    ]);
    expect(r.code).toBe(1);
    // Neither password reaches the report or the worker's own log lines.
    for (const secret of [WRONG_PASSWORD, pg.password]) {
      expect(r.stdout + r.stderr).not.toContain(secret);
      expect(workerLines.join('\n')).not.toContain(secret);
    }
  });

  it('explains a port nothing listens on as a network problem, and exits 1', async () => {
    const r = await cli(['doctor', '--database', 'CLOSED']);
    const lines = r.stdout.split('\n');
    expect(lines[6]).toMatch(
      new RegExp(`^FAIL {2}Database {5}CLOSED: .*port ${closedPort} failed: Connection refused`),
    );
    expect(lines[7]).toBe(
      "                   → The worker cannot reach the database's host and port: check the host and port in the URL, that the database accepts connections from the worker's security group or address (RDS: its security group's inbound rule), and that the worker's subnets have a route to it.",
    );
    expect(r.code).toBe(1);
    expect(r.stdout + r.stderr).not.toContain(WRONG_PASSWORD);
  });

  it('names the valid databases when the one asked for is not attached, and starts no worker', async () => {
    const r = await cli(['doctor', '--database', 'PINK']);
    expect(r.stdout.split('\n')[4]).toBe(
      'FAIL  App          Unknown database: PINK. Valid options are: BADPASS, CLOSED, DATABASE',
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('');
  });
});
