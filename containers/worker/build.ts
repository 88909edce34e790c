/**
 * The one definition of the worker bundle: containers/worker/main.ts and everything it imports, bundled by
 * esbuild into dist/worker.mjs (ESM for Node 22, minified, with a source map). The Dockerfile's build stage runs
 * it (`npm run build:worker`) and the local stack runs the same file with `node` (src/adapters/local/process-runner.ts
 * calls `ensureWorkerBundle`), so what runs on this machine is what runs in the ECS task.
 */
import { readFileSync, statSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { builtinModules } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Plugin } from 'esbuild';

const HERE = dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = resolve(HERE, '../..');
export const WORKER_SOURCE = join(HERE, 'main.ts');
/** The bundle the image's CMD and the local stack both run. */
export const WORKER_BUNDLE = join(REPO_ROOT, 'dist/worker.mjs');
/** esbuild's list of the bundle's inputs, kept next to it so staleness can be checked without bundling. */
const metaFile = (outfile: string) => `${outfile}.meta.json`;

const BUILTINS = new Set(builtinModules);

/**
 * Node built-ins imported from ESM code are loaded with `require` instead. An ESM `import … from 'node:http'`
 * makes Node build the module's ESM facade, which reads every export, including Node 22's lazy `http.WebSocket`
 * getters that load all of undici (~70 ms of CPU at every worker start, measured with --cpu-prof); `require`
 * reads only what the code uses. Same modules, same objects.
 */
const requireBuiltins: Plugin = {
  name: 'require-builtins',
  setup(b) {
    b.onResolve({ filter: /^(node:)?[a-z_/0-9]+$/ }, (args) => {
      if (args.kind !== 'import-statement' || args.namespace === 'builtin') return undefined;
      const name = args.path.replace(/^node:/, '');
      return BUILTINS.has(name) ? { path: name, namespace: 'builtin' } : undefined;
    });
    b.onLoad({ filter: /.*/, namespace: 'builtin' }, (args) => ({
      contents: `module.exports = require(${JSON.stringify(`node:${args.path}`)});`,
      loader: 'js',
    }));
  },
};

/**
 * Bundles the worker into `outfile` (and `outfile.map`). Written under temporary names and renamed into place, so
 * a process starting `node outfile` — or another build racing this one — never sees a half-written file.
 */
export async function buildWorkerBundle(outfile = WORKER_BUNDLE): Promise<void> {
  const result = await build({
    entryPoints: [WORKER_SOURCE],
    absWorkingDir: REPO_ROOT,
    bundle: true,
    platform: 'node',
    target: 'node22',
    format: 'esm',
    // ESM builds of the dependencies first: the AWS SDK's CommonJS builds are one file per client with every
    // command, which nothing can tree-shake. Minified: less for Node to read and compile at every worker start.
    mainFields: ['module', 'main'],
    minify: true,
    plugins: [requireBuiltins],
    sourcemap: 'linked',
    // Stack traces need file:line, not the sources: with `node --enable-source-maps` (the image's CMD) Node reads
    // and parses the whole map at every start, and the sources were three quarters of it.
    sourcesContent: false,
    // Some bundled CommonJS dependencies call require(); an ESM bundle has none of its own.
    banner: {
      js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
    },
    outfile,
    metafile: true,
    write: false,
    logLevel: 'warning',
  });
  await mkdir(dirname(outfile), { recursive: true });
  const tmp = `.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  const files = result.outputFiles.map((f) => ({ path: f.path, tmp: `${f.path}${tmp}`, data: f.contents }));
  files.push({
    path: metaFile(outfile),
    tmp: `${metaFile(outfile)}${tmp}`,
    data: Buffer.from(JSON.stringify({ inputs: Object.keys(result.metafile.inputs) })),
  });
  try {
    for (const f of files) await writeFile(f.tmp, f.data);
    // The map first and the list of inputs last: a bundle newer than its inputs is complete.
    for (const f of [...files].sort((a, b) => rank(a.path) - rank(b.path))) await rename(f.tmp, f.path);
  } finally {
    for (const f of files) await rm(f.tmp, { force: true });
  }
}

const rank = (path: string) => (path.endsWith('.map') ? 0 : path.endsWith('.mjs') ? 1 : 2);

const mtime = (path: string) => {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return undefined;
  }
};

/**
 * Whether `outfile` is missing or older than any of its inputs: the source files esbuild read (dependencies
 * stand for themselves through package-lock.json) and this build definition.
 */
export function workerBundleIsStale(outfile = WORKER_BUNDLE): boolean {
  const built = Math.min(mtime(outfile) ?? 0, mtime(metaFile(outfile)) ?? 0);
  if (!built) return true;
  let inputs: string[];
  try {
    inputs = (JSON.parse(readFileSync(metaFile(outfile), 'utf8')) as { inputs: string[] }).inputs;
  } catch {
    return true;
  }
  const checked = [
    // Files only: not dependencies, nor the virtual modules of plugins (`builtin:http`).
    ...inputs
      .filter((p) => !p.includes('node_modules/') && !/^[a-z-]+:/.test(p))
      .map((p) => resolve(REPO_ROOT, p)),
    join(REPO_ROOT, 'package-lock.json'),
    fileURLToPath(import.meta.url),
  ];
  // A deleted input (a renamed module) counts as a change too.
  return checked.some((p) => (mtime(p) ?? Number.POSITIVE_INFINITY) > built);
}

/** Builds the bundle when it is missing or stale; returns its path. Cheap when it is fresh (a few stat calls). */
export async function ensureWorkerBundle(outfile = WORKER_BUNDLE): Promise<string> {
  if (workerBundleIsStale(outfile)) await buildWorkerBundle(outfile);
  return outfile;
}

// `npm run build:worker` (and the Dockerfile's build stage): build unconditionally.
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await buildWorkerBundle();
  process.stderr.write(`built ${WORKER_BUNDLE}\n`);
}
