/** Timed raw PostgreSQL tool pipelines (the baselines), run through bash with `pipefail`. */
import { spawn } from 'node:child_process';

export interface ShellResult {
  ms: number;
  /** CPU seconds (user + system) of every process the script ran, from bash's `times` (getrusage children). */
  cpu: number;
}

const seconds = (m: string, s: string) => Number(m) * 60 + Number(s);

/**
 * Runs `script` under `bash -c` with `env`; rejects on a non-zero exit with its stderr. The script's own stdout
 * is discarded: bash's `times` reports on it instead.
 */
export function timedShell(script: string, env: NodeJS.ProcessEnv): Promise<ShellResult> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn('bash', ['-c', `set -eo pipefail\n{\n${script}\n} > /dev/null\ntimes`], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString('utf8');
    });
    child.stderr.on('data', (c: Buffer) => {
      err = (err + c.toString('utf8')).slice(-4000);
    });
    child.on('error', reject);
    child.on('close', (code) => {
      const ms = performance.now() - t0;
      // `times` prints the shell's own user/system times, then its children's: "0m1.234s 0m0.567s".
      const m = /(\d+)m([\d.]+)s\s+(\d+)m([\d.]+)s\s*$/.exec(out.trim());
      if (code === 0 && m) resolve({ ms, cpu: seconds(m[1]!, m[2]!) + seconds(m[3]!, m[4]!) });
      else reject(new Error(`bench command failed (${code}): ${script}\n${err}`));
    });
  });
}
