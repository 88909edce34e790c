/**
 * `npm run local` start-up failures a user can fix are said in words, without a stack trace: the port taken, and
 * the data directory already used by another running stack. The port case runs the real entry point
 * (src/local/main.ts) to show what the terminal gets; the data-directory case runs two stacks in this process.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/core/logger.js';
import { LocalStartupError, startLocalStack } from '../../src/local/stack.js';

const TSX = createRequire(import.meta.url).resolve('tsx/cli');
const MAIN = fileURLToPath(new URL('../../src/local/main.ts', import.meta.url));

let dir: string;

function local(env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [TSX, MAIN], {
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stderr }));
  });
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pgbackups-startup-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('npm run local, when it cannot start', () => {
  it('names a port in use and the variable that picks another', async () => {
    const taken: Server = createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
    const port = (taken.address() as { port: number }).port;
    try {
      const r = await local({ PGBACKUPS_PORT: String(port), PGBACKUPS_DATA_DIR: join(dir, 'a') });
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(
        `pgbackups local stack could not start: Port ${port} on 127.0.0.1 is already in use (another pgbackups local stack, or another program). Stop it, or pick a free port: PGBACKUPS_PORT=${port + 1} npm run local\n`,
      );
    } finally {
      await new Promise((r) => taken.close(r));
    }
  });

  it('names a data directory another running stack holds, and starts once it is free', async () => {
    const data = join(dir, 'b');
    const first = await startLocalStack({ dataDir: data, port: 0, log: silentLogger });
    try {
      await expect(startLocalStack({ dataDir: data, port: 0, log: silentLogger })).rejects.toThrow(
        new LocalStartupError(
          `Another pgbackups local stack (pid ${process.pid}) is using the data directory ${data}. Stop it (Ctrl-C in its terminal), or give this one its own directory: PGBACKUPS_DATA_DIR=.pgbackups-2 npm run local`,
        ),
      );
    } finally {
      await first.stop();
    }
    // A lock left by a process that is gone does not block the next start.
    await writeFile(join(data, 'stack.lock'), '999999999\n');
    const second = await startLocalStack({ dataDir: data, port: 0, log: silentLogger });
    const health = await fetch(`${second.apiUrl}/v1/health`);
    await second.stop();
    expect(health.status).toBe(200);
  });
});
