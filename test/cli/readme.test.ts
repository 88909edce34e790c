/**
 * README.md's quickstart, run as written: its shell blocks, top to bottom, with the `pgbackups` that block 1
 * installs (npm install -g of the packed tarball, into a temporary prefix, offline), from a directory outside the
 * repository, against the local stack and a throwaway PostgreSQL cluster. Only what cannot be the same on a test
 * machine is substituted: the API's port (the stack listens on a free one) and the PostgreSQL URL's user, password,
 * host and port. `npm ci` is not re-run (the test runs inside an installed checkout) and block 2 (`npm run local`)
 * is the same stack started in this process.
 */
import { spawn } from 'node:child_process';
import { access, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/core/logger.js';
import { type LocalStack, startLocalStack } from '../../src/local/stack.js';
import { type PgCluster, startCluster, withoutPgEnv } from '../helpers/pg-cluster.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SECTION = '## Quickstart: the CLI on the local stack';

let pg: PgCluster;
let stack: LocalStack;
let dataDir: string;
let workDir: string;
let prefix: string;
let home: string;

/** The ```sh blocks of the quickstart section, in order. */
async function quickstartBlocks(): Promise<string[]> {
  const readme = await readFile(join(ROOT, 'README.md'), 'utf8');
  const start = readme.indexOf(SECTION);
  expect(start, `README.md has no "${SECTION}"`).toBeGreaterThan(-1);
  const end = readme.indexOf('\n## ', start + SECTION.length);
  const section = readme.slice(start, end === -1 ? undefined : end);
  return [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1] as string);
}

function bash(
  script: string,
  opts: { cwd: string; env: Record<string, string>; stdin?: string },
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', `set -euo pipefail\n${script}`], {
      cwd: opts.cwd,
      env: opts.env,
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
    child.stdin.end(opts.stdin ?? '');
  });
}

beforeAll(async () => {
  [pg, dataDir, workDir, prefix, home] = await Promise.all([
    startCluster(),
    mkdtemp(join(tmpdir(), 'pgbackups-readme-data-')),
    mkdtemp(join(tmpdir(), 'pgbackups-readme-work-')),
    mkdtemp(join(tmpdir(), 'pgbackups-readme-prefix-')),
    mkdtemp(join(tmpdir(), 'pgbackups-readme-home-')),
  ]);
  stack = await startLocalStack({ dataDir, port: 0, log: silentLogger, progressIntervalMs: 200 });
});

afterAll(async () => {
  await stack?.stop();
  await pg?.stop();
  await Promise.all(
    [dataDir, workDir, prefix, home].filter(Boolean).map((d) => rm(d, { recursive: true, force: true })),
  );
});

describe('README quickstart', () => {
  // Its own timeout: a build, an install and a whole session, which a loaded 2-core machine can take minutes for.
  it('installs pgbackups, then backs up, downloads and restores as written, from outside the repository', {
    timeout: 300_000,
  }, async () => {
    const [install, local, session] = await quickstartBlocks();
    expect(local?.trim()).toBe('npm run local');

    // Block 1, in the repository: the global install goes to a temporary prefix, and must not need the network.
    const installScript = (install as string)
      .split('\n')
      .filter((l) => !/^npm ci\b/.test(l))
      .join('\n');
    const installed = await bash(installScript, {
      cwd: ROOT,
      env: {
        ...withoutPgEnv(process.env),
        npm_config_prefix: prefix,
        npm_config_offline: 'true',
        npm_config_audit: 'false',
        npm_config_fund: 'false',
      },
    });
    expect(installed.code, installed.stderr).toBe(0);
    await access(join(prefix, 'bin', 'pgbackups'));

    // Block 3, in an empty directory, with only the installed command, node, psql and the system on PATH.
    const pgUrl = new URL(pg.url('postgres'));
    const script = (session as string)
      .replaceAll('http://127.0.0.1:8787', stack.apiUrl)
      .replaceAll(
        'postgres://me:secret@localhost:5432/',
        `postgres://postgres:${pg.password}@${pgUrl.host}/`,
      );
    const r = await bash(script, {
      cwd: workDir,
      env: {
        PATH: [join(prefix, 'bin'), pg.binDir, dirname(process.execPath), '/usr/bin', '/bin'].join(delimiter),
        HOME: home,
        FORCE_COLOR: '0',
      },
      stdin: 'example-app\n',
    });
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stderr).toContain('Backing up ⛁ DATABASE to b001... done');
    expect(r.stdout).toMatch(/^=== Backups\n\n Id .*\n b001 /m);
    expect(r.stdout).toContain('=== Backup b001\n');
    expect(r.stderr).toMatch(/Downloaded b001 to latest\.dump \(.*SHA-256 verified\)/);
    await access(join(workDir, 'latest.dump'));
    expect(r.stderr).toContain('Restoring... done');
    // The restored rows, read back by the README's own psql line.
    expect(r.stdout).toMatch(/ 1 \| tea\s*\n\s+2 \| coffee/);
    expect(r.stderr).toContain(
      'Scheduling automatic daily backups of ⛁ DATABASE at 02:00 America/Los_Angeles... done',
    );
    expect(r.stdout).toContain('=== Apps\n\n⬢ example-app\n');
    expect(r.stdout + r.stderr).not.toContain(pg.password);
  });
});
