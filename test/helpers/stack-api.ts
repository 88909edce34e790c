/**
 * Small helpers for tests that drive a local stack over HTTP and strike at its workers and databases: calls to the
 * API, waiting for a transfer's status, and waiting for the worker's sessions in PostgreSQL.
 */
import type { PgCluster } from './pg-cluster.js';

export interface TransferJson {
  id: string;
  num: number;
  kind: string;
  status: string;
  sha256: string | null;
  backupBytes: number | null;
  processedBytes: number;
  error: string | null;
  startedAt: string | null;
  finishedAt: string | null;
  logs?: { message: string }[];
  target: { type: string; key?: string; database?: string };
}

export interface ApiResult {
  status: number;
  // biome-ignore lint/suspicious/noExplicitAny: JSON answers are inspected field by field in the tests
  body: any;
  text: string;
}

export const isFinished = (t: { status: string }) => ['completed', 'failed', 'cancelled'].includes(t.status);

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `check` until it returns a value other than undefined, or throws after `timeoutMs`. */
export async function until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

export class StackApi {
  /** Every answer's text, so a test can scan them all (e.g. for a password). */
  readonly answers: string[] = [];

  constructor(
    private readonly baseUrl: () => string,
    readonly app: string,
  ) {}

  async call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
    const res = await fetch(`${this.baseUrl()}${path}`, {
      method,
      headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    this.answers.push(text);
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = text;
    }
    return { status: res.status, body: parsed, text } as ApiResult;
  }

  /** The app's own routes: `/v1/apps/<app><path>`. */
  appCall(method: string, path: string, body?: unknown) {
    return this.call(method, `/v1/apps/${this.app}${path}`, body);
  }

  async transfer(id: string): Promise<TransferJson> {
    const res = await this.appCall('GET', `/transfers/${id}?logs=true`);
    if (res.status !== 200) throw new Error(`GET ${id}: ${res.status} ${res.text}`);
    return res.body as TransferJson;
  }

  waitFor(id: string, done: (t: TransferJson) => boolean, what: string, timeoutMs = 60_000) {
    return until(
      `${id} to be ${what}`,
      async () => {
        const t = await this.transfer(id);
        return done(t) ? t : undefined;
      },
      timeoutMs,
    );
  }

  waitFinished(id: string, timeoutMs = 60_000) {
    return this.waitFor(id, isFinished, 'finished', timeoutMs);
  }

  async attach(name: string, url: string): Promise<void> {
    const res = await this.appCall('PUT', `/databases/${name}`, { url });
    if (res.status !== 201) throw new Error(`attach ${name}: ${res.status} ${res.text}`);
  }
}

/** Waits until at least `atLeast` (or exactly 0) of the worker's sessions (application_name pgbackups) match. */
export async function waitForWorkerSessions(
  pg: PgCluster,
  db: string,
  opts: { waitingOnLock?: boolean; atLeast?: number; none?: boolean; timeoutMs?: number } = {},
): Promise<void> {
  const where = [
    "application_name = 'pgbackups'",
    `datname = '${db}'`,
    opts.waitingOnLock ? "wait_event_type = 'Lock'" : 'true',
  ].join(' AND ');
  await until(
    opts.none
      ? `no worker session on ${db}`
      : `a worker session on ${db}${opts.waitingOnLock ? ' waiting on a lock' : ''}`,
    async () => {
      const n = Number(await pg.psql('postgres', `SELECT count(*) FROM pg_stat_activity WHERE ${where}`));
      if (opts.none) return n === 0 ? true : undefined;
      return n >= (opts.atLeast ?? 1) ? true : undefined;
    },
    opts.timeoutMs ?? 60_000,
  );
}

/** Terminates whatever worker sessions are left (cleanup after a test that orphaned pg processes). */
export async function terminateWorkerSessions(pg: PgCluster): Promise<void> {
  await pg.psql(
    'postgres',
    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'pgbackups'",
  );
}

/** Percentile (nearest rank) of numbers. */
export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank] as number;
}
