/**
 * Builds the installable CLI: one self-contained ES module (the CLI and the AWS signing code it loads, bundled by
 * esbuild) and a package.json with no dependencies, in `dist/cli/`, then packs it as
 * `dist/pgbackups-cli-VERSION.tgz`. `npm install -g` of that tarball needs only Node.js: no repository, no tsx,
 * no registry. Run by `npm run build:cli`.
 */
import { execFile } from 'node:child_process';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { build } from 'esbuild';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Builds `outDir` (default `dist/cli`) and packs it next to it; returns the tarball's path. */
export async function buildCli(outDir = join(ROOT, 'dist', 'cli')): Promise<string> {
  const root = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as {
    version: string;
    license: string;
    engines: Record<string, string>;
  };
  await rm(outDir, { recursive: true, force: true });
  await mkdir(outDir, { recursive: true });
  await build({
    entryPoints: [join(ROOT, 'src/cli/main.ts')],
    outfile: join(outDir, 'pgbackups.mjs'),
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    logLevel: 'warning',
    // The AWS SDK's CommonJS modules call require(); an ES module has none unless it is made.
    banner: {
      js: "#!/usr/bin/env node\nimport { createRequire as __createRequire } from 'node:module';\nconst require = __createRequire(import.meta.url);",
    },
  });
  const manifest = {
    name: 'pgbackups-cli',
    version: root.version,
    description: 'The pgbackups command line (Heroku PGBackups commands for your own pgbackups API).',
    license: root.license,
    type: 'module',
    engines: root.engines,
    bin: { pgbackups: 'pgbackups.mjs' },
    files: ['pgbackups.mjs'],
  };
  await writeFile(join(outDir, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  const { stdout } = await promisify(execFile)(
    'npm',
    ['pack', outDir, '--pack-destination', join(outDir, '..'), '--offline', '--silent'],
    { cwd: outDir },
  );
  return join(outDir, '..', stdout.trim().split('\n').at(-1) as string);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const tarball = await buildCli();
  process.stdout.write(`Built ${tarball}\nInstall it with: npm install -g ${tarball}\n`);
}
