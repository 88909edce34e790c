/** Timed raw PostgreSQL tool pipelines (the baselines), run through bash with `pipefail`. */
import { spawn } from 'node:child_process';
import { chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface ShellResult {
  ms: number;
}

/** Runs `script` under `bash -c` with `env`; rejects on a non-zero exit with its stderr. */
export function timedShell(script: string, env: NodeJS.ProcessEnv): Promise<ShellResult> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn('bash', ['-c', `set -eo pipefail\n${script}`], {
      env,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (c: Buffer) => {
      err = (err + c.toString('utf8')).slice(-4000);
    });
    child.on('error', reject);
    child.on('close', (code) => {
      const ms = performance.now() - t0;
      if (code === 0) resolve({ ms });
      else reject(new Error(`bench command failed (${code}): ${script}\n${err}`));
    });
  });
}

/**
 * A `pg_dump` that claims to be 16 and turns `--compress=zstd:N` into pg_dump 15's uncompressed custom format
 * piped through `zstd -N` (single-threaded): the same codec, level and thread count as a 16+ client's
 * `--compress=zstd:N`, to measure the worker at a 16+ client's byte rate on a machine that only has 15. Its
 * output is a zstd-wrapped archive, not one pg_restore reads: the benchmark never restores it.
 */
export async function writeZstdShim(dir: string, realPgDump: string): Promise<void> {
  const script = `#!/bin/bash
set -o pipefail
REAL=${JSON.stringify(realPgDump)}
if [ "$1" = "--version" ]; then echo "pg_dump (PostgreSQL) 16.0 (bench shim: $("$REAL" --version))"; exit 0; fi
args=(); level=""
for a in "$@"; do
  case "$a" in
    --compress=zstd:*) level="\${a#--compress=zstd:}"; args+=(--compress=0) ;;
    *) args+=("$a") ;;
  esac
done
if [ -z "$level" ]; then exec "$REAL" "\${args[@]}"; fi
"$REAL" "\${args[@]}" | zstd -q -T1 -"$level" -c
`;
  const file = join(dir, 'pg_dump');
  await writeFile(file, script);
  await chmod(file, 0o755);
}
