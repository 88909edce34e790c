/**
 * Peak resident memory of the local stack's worker processes (children of this process running
 * the worker bundle, dist/worker.mjs) and of their own children (pg_dump, pg_restore, psql), from /proc/<pid>/status
 * VmHWM — the kernel's high-water mark, so sampling only has to catch each process before it exits.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { WORKER_ENTRY } from '../../src/adapters/local/process-runner.js';

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
  /** CPU seconds (user + system) while sampling: the worker process(es), their children by program name. */
  cpu: CpuSeconds;
}

export interface CpuSeconds {
  /** The Node worker process(es), startup included. */
  worker: number;
  /** The worker's children by program name (pg_dump, pg_restore, psql, …). */
  children: Record<string, number>;
  /** This process: dynalite, s3rver, the API and the sampler itself. */
  emulators: number;
  /** All CPUs, from /proc/stat: everything above plus the PostgreSQL server and the rest of the machine. */
  machine: number;
}

const TICKS_PER_S = 100; // USER_HZ on Linux

/** utime + stime of `pid` in seconds, or undefined once the process is gone. */
function cpuSeconds(pid: number): number | undefined {
  const text = read(`/proc/${pid}/stat`);
  if (!text) return undefined;
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / TICKS_PER_S;
}

/** Busy CPU seconds of the whole machine so far (all CPUs, idle and iowait excluded). */
export function machineBusySeconds(): number {
  const f = (read('/proc/stat') ?? '').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = f.reduce((a, b) => a + b, 0);
  return (total - (f[3] ?? 0) - (f[4] ?? 0)) / TICKS_PER_S;
}

export class RssSampler {
  private timer: NodeJS.Timeout | undefined;
  private worker = 0;
  private readonly kids = new Map<string, number>();
  private readonly workerPids = new Set<number>();
  /** Last CPU seconds seen per pid, with its program name (a process's last sample before it exits counts). */
  private readonly cpuSeen = new Map<number, { name: string; s: number }>();
  private busy0 = 0;
  private self0 = process.cpuUsage();

  start(intervalMs = 20): void {
    this.busy0 = machineBusySeconds();
    this.self0 = process.cpuUsage();
    this.timer = setInterval(() => this.sample(), intervalMs);
  }

  private sample(): void {
    for (const pid of childrenOf(process.pid)) {
      if (!this.workerPids.has(pid)) {
        const cmd = read(`/proc/${pid}/cmdline`) ?? '';
        if (!cmd.includes(WORKER_ENTRY)) continue;
        this.workerPids.add(pid);
      }
      const w = hwm(pid);
      if (w !== undefined) this.worker = Math.max(this.worker, w);
      this.noteCpu(pid, 'worker');
      const stack = childrenOf(pid);
      while (stack.length) {
        const c = stack.pop()!;
        const h = hwm(c);
        if (h !== undefined) {
          const name = comm(c);
          this.kids.set(name, Math.max(this.kids.get(name) ?? 0, h));
          this.noteCpu(c, name);
        }
        stack.push(...childrenOf(c));
      }
    }
  }

  private noteCpu(pid: number, name: string): void {
    const s = cpuSeconds(pid);
    if (s !== undefined) this.cpuSeen.set(pid, { name: this.cpuSeen.get(pid)?.name ?? name, s });
  }

  stop(): RssPeaks {
    this.sample();
    clearInterval(this.timer);
    const self = process.cpuUsage(this.self0);
    const cpu: CpuSeconds = {
      worker: 0,
      children: {},
      emulators: (self.user + self.system) / 1e6,
      machine: machineBusySeconds() - this.busy0,
    };
    for (const { name, s } of this.cpuSeen.values()) {
      if (name === 'worker') cpu.worker += s;
      else cpu.children[name] = (cpu.children[name] ?? 0) + s;
    }
    return { worker: this.worker, children: Object.fromEntries(this.kids), cpu };
  }
}

/** Worker processes (children of this process) still alive. */
export function liveWorkers(): number[] {
  return childrenOf(process.pid).filter((pid) => {
    const cmd = read(`/proc/${pid}/cmdline`) ?? '';
    const state = /State:\s+(\S)/.exec(read(`/proc/${pid}/status`) ?? '')?.[1];
    return cmd.includes(WORKER_ENTRY) && state !== 'Z';
  });
}
