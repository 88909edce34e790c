/**
 * Lambda bundle sizes: each lambdas/<name>/handler.ts bundled with esbuild's JS API using the options
 * lib/constructs/app-function.ts gives NodejsFunction (ESM, node22, minified, external source map, `@aws-sdk/*`
 * left to the runtime, the createRequire banner). Built in memory: nothing lands in the repository.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { deflateRawSync } from 'node:zlib';
import { build } from 'esbuild';

export interface BundleSize {
  name: string;
  /** index.mjs, the code Lambda loads. */
  bytes: number;
  /** Its deflated size: about what the deployment zip adds (the source map is not counted). */
  zippedBytes: number;
  /** The external source map, shipped alongside. */
  mapBytes: number;
}

export async function lambdaBundleSizes(repoRoot: string): Promise<BundleSize[]> {
  const dir = join(repoRoot, 'lambdas');
  const names = readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort();
  const out: BundleSize[] = [];
  for (const name of names) {
    const result = await build({
      entryPoints: [join(dir, name, 'handler.ts')],
      absWorkingDir: repoRoot,
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node22',
      minify: true,
      sourcemap: 'external',
      mainFields: ['module', 'main'],
      external: ['@aws-sdk/*'],
      banner: {
        js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
      },
      outfile: join(repoRoot, 'bench/out/bundles', name, 'index.mjs'),
      write: false,
      logLevel: 'silent',
    });
    const code = result.outputFiles.find((f) => f.path.endsWith('.mjs'));
    const map = result.outputFiles.find((f) => f.path.endsWith('.map'));
    out.push({
      name,
      bytes: code?.contents.length ?? 0,
      zippedBytes: code ? deflateRawSync(code.contents, { level: 9 }).length : 0,
      mapBytes: map?.contents.length ?? 0,
    });
  }
  return out;
}
