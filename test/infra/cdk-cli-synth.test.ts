import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** The environment a CI machine has: no AWS credentials or profile, telemetry off. */
function offlineEnv(): NodeJS.ProcessEnv {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith('AWS_') && !k.startsWith('CDK_')),
  );
  return { ...env, CDK_DISABLE_CLI_TELEMETRY: 'true', AWS_EC2_METADATA_DISABLED: 'true' };
}

it('synthesizes with the real CDK CLI offline: no lookups, no Docker, no credentials', async () => {
  const out = await mkdtemp(join(tmpdir(), 'cdk-out-'));
  try {
    const result = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn(
        join(ROOT, 'node_modules/.bin/cdk'),
        ['synth', '--lookups=false', '--no-notices', '--no-version-reporting', '--quiet', '--output', out],
        { cwd: ROOT, env: offlineEnv(), stdio: ['ignore', 'ignore', 'pipe'] },
      );
      let stderr = '';
      child.stderr.on('data', (d) => {
        stderr += d;
      });
      child.on('close', (code) => resolve({ code, stderr }));
    });
    expect(result.code, result.stderr.slice(-3000)).toBe(0);
    const files = await readdir(out);
    const template = files.find((f) => f.endsWith('.template.json'));
    expect(template).toBeDefined();
    const assets = JSON.parse(
      await readFile(join(out, (template as string).replace('.template.json', '.assets.json')), 'utf8'),
    );
    // The worker image is only staged for a build at deploy time; nothing was built here.
    expect(Object.keys(assets.dockerImages ?? {})).toHaveLength(1);
  } finally {
    await rm(out, { recursive: true, force: true });
  }
}, 180_000);
