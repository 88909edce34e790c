import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildWorkerBundle,
  ensureWorkerBundle,
  workerBundleIsStale,
} from '../../../containers/worker/build.js';

let dir: string;
let out: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pgbackups-bundle-'));
  out = join(dir, 'worker.mjs');
  await buildWorkerBundle(out);
}, 60_000);

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('the worker bundle (containers/worker/build.ts)', () => {
  it('is one ESM file with its map, and leaves no temporary files behind', async () => {
    expect((await readdir(dir)).sort()).toEqual(['worker.mjs', 'worker.mjs.map', 'worker.mjs.meta.json']);
    const code = readFileSync(out, 'utf8');
    expect(code.startsWith("import { createRequire } from 'node:module';")).toBe(true);
    expect(code.trimEnd().endsWith('//# sourceMappingURL=worker.mjs.map')).toBe(true);
  });

  it('loads every module under node, as the image runs it, and stops at the environment check', () => {
    const r = spawnSync(process.execPath, ['--enable-source-maps', out], {
      env: { PATH: process.env.PATH },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(r.status).toBe(1);
    const line = JSON.parse(r.stdout.trim().split('\n').pop() ?? r.stderr.trim());
    expect(line).toMatchObject({ level: 'error', message: 'worker crashed', service: 'pgbackups-worker' });
    expect(line.error).toMatch(/Invalid worker environment: PGBACKUPS_APP/);
  });

  it('is stale when missing, or when an input is newer or gone', async () => {
    expect(workerBundleIsStale(out)).toBe(false);
    const meta = `${out}.meta.json`;
    const original = readFileSync(meta, 'utf8');
    const input = join(dir, 'input.ts');
    try {
      writeFileSync(input, '');
      writeFileSync(meta, JSON.stringify({ inputs: [input] }));
      const past = new Date(Date.now() - 3_600_000);
      utimesSync(input, past, past);
      utimesSync(out, new Date(), new Date());
      utimesSync(meta, new Date(), new Date());
      expect(workerBundleIsStale(out)).toBe(false);
      const future = new Date(Date.now() + 3_600_000);
      utimesSync(input, future, future);
      expect(workerBundleIsStale(out)).toBe(true);
      await rm(input);
      expect(workerBundleIsStale(out)).toBe(true);
    } finally {
      writeFileSync(meta, original);
    }
    expect(workerBundleIsStale(join(dir, 'absent.mjs'))).toBe(true);
  });

  it('ensureWorkerBundle builds a missing bundle', async () => {
    const other = join(dir, 'again', 'worker.mjs');
    expect(existsSync(other)).toBe(false);
    await expect(ensureWorkerBundle(other)).resolves.toBe(other);
    expect(existsSync(other)).toBe(true);
    expect(workerBundleIsStale(other)).toBe(false);
  }, 60_000);
});
