/**
 * Peak resident memory of the local stack's worker processes (children of this process running
 * containers/worker/main.ts) and of their own children (pg_dump, pg_restore, psql), from /proc/<pid>/status
 * VmHWM — the kernel's high-water mark, so sampling only has to catch each process before it exits.
 */
import { readdirSync, readFileSync } from 'node:fs';

function childrenOf(pid: number): number[] {
  const out: number[] = [];
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    try {
      const text = readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim();
      if (text) out.push(...text.split(/\s+/).map(Number));
    } catch {
      // The thread or process is gone.
    }
  }
  return out;
}

function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** VmHWM in bytes, or undefined once the process is gone. */
function hwm(pid: number): number | undefined {
  const m = /VmHWM:\s+(\d+) kB/.exec(read(`/proc/${pid}/status`) ?? '');
  return m ? Number(m[1]) * 1024 : undefined;
}

function comm(pid: number): string {
  return (read(`/proc/${pid}/comm`) ?? '?').trim();
}

export interface RssPeaks {
  /** Peak RSS of the Node worker process. */
  worker: number;
  /** Peak RSS per child program name (pg_dump, pg_restore, psql, …), the largest instance. */
  children: Record<string, number>;
}

export class RssSampler {
  private timer: NodeJS.Timeout | undefined;
  private worker = 0;
  private readonly kids = new Map<string, number>();
  private readonly workerPids = new Set<number>();

  start(intervalMs = 20): void {
    this.timer = setInterval(() => this.sample(), intervalMs);
  }

  private sample(): void {
    for (const pid of childrenOf(process.pid)) {
      if (!this.workerPids.has(pid)) {
        const cmd = read(`/proc/${pid}/cmdline`) ?? '';
        if (!cmd.includes('containers/worker/main.ts')) continue;
        this.workerPids.add(pid);
      }
      const w = hwm(pid);
      if (w !== undefined) this.worker = Math.max(this.worker, w);
      const stack = childrenOf(pid);
      while (stack.length) {
        const c = stack.pop()!;
        const h = hwm(c);
        if (h !== undefined) {
          const name = comm(c);
          this.kids.set(name, Math.max(this.kids.get(name) ?? 0, h));
        }
        stack.push(...childrenOf(c));
      }
    }
  }

  stop(): RssPeaks {
    this.sample();
    clearInterval(this.timer);
    return { worker: this.worker, children: Object.fromEntries(this.kids) };
  }
}

/** Worker processes (children of this process) still alive. */
export function liveWorkers(): number[] {
  return childrenOf(process.pid).filter((pid) => {
    const cmd = read(`/proc/${pid}/cmdline`) ?? '';
    const state = /State:\s+(\S)/.exec(read(`/proc/${pid}/status`) ?? '')?.[1];
    return cmd.includes('containers/worker/main.ts') && state !== 'Z';
  });
}
