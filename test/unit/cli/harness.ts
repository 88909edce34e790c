/**
 * Runs the CLI in-process against a fake API: a fetch function that routes requests to handlers and records
 * them, and an Io whose streams are strings. No sockets, no timers (sleep resolves at once).
 */
import { runCli } from '../../../src/cli/cli.js';
import type { Io } from '../../../src/cli/io.js';
import type { TransferJson } from '../../../src/cli/types.js';

export const API = 'http://127.0.0.1:8787';
export const APP = 'example-app';

export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly query: Record<string, string>;
  readonly headers: Record<string, string>;
  readonly body: unknown;
}

type Reply = { status: number; body?: unknown; headers?: Record<string, string>; raw?: Uint8Array | string };
type Handler = (req: RecordedRequest, params: Record<string, string>) => Reply | Promise<Reply>;

export class FakeApi {
  readonly requests: RecordedRequest[] = [];
  private readonly routes: { method: string; pattern: string; handler: Handler }[] = [];

  on(method: string, pattern: string, handler: Handler | Reply): this {
    this.routes.push({ method, pattern, handler: typeof handler === 'function' ? handler : () => handler });
    return this;
  }

  /** Requests other than GETs: what the command changed. */
  get writes(): RecordedRequest[] {
    return this.requests.filter((r) => r.method !== 'GET');
  }

  fetch = async (url: string, init: RequestInit): Promise<Response> => {
    const u = new URL(url);
    const req: RecordedRequest = {
      method: init.method ?? 'GET',
      path: u.pathname,
      query: Object.fromEntries(u.searchParams),
      headers: Object.fromEntries(Object.entries((init.headers ?? {}) as Record<string, string>)),
      body: typeof init.body === 'string' && init.body ? JSON.parse(init.body) : undefined,
    };
    this.requests.push(req);
    // The latest registration wins, so a test can override a shared fixture's route.
    for (const r of [...this.routes].reverse()) {
      const params = match(r.pattern, u.origin + u.pathname);
      if (r.method === req.method && params) {
        const reply = await r.handler(req, params);
        const body = reply.raw ?? (reply.body === undefined ? null : JSON.stringify(reply.body));
        return new Response(body, { status: reply.status, headers: reply.headers });
      }
    }
    return new Response(
      JSON.stringify({ error: { code: 'not_found', message: `No route for ${req.method} ${u.pathname}` } }),
      {
        status: 404,
      },
    );
  };
}

/** `:name` segments match one path segment; the pattern may be a path or a full URL. */
function match(pattern: string, url: string): Record<string, string> | undefined {
  const full = pattern.startsWith('http') ? pattern : API + pattern;
  const want = full.split('/');
  const got = url.split('/');
  if (want.length !== got.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < want.length; i++) {
    const w = want[i] as string;
    const g = got[i] as string;
    if (w.startsWith(':')) params[w.slice(1)] = decodeURIComponent(g);
    else if (w !== g) return undefined;
  }
  return params;
}

export interface RunOptions {
  readonly env?: Record<string, string | undefined>;
  readonly stdin?: string;
  readonly tty?: boolean;
  readonly cwd?: string;
  /** Records each prompt read: `line` (echoed) or `secret` (not echoed). */
  readonly reads?: string[];
  /** Press Ctrl-C as soon as the command starts listening for it. */
  readonly interrupt?: boolean;
  /** What `pg_restore --version` on PATH prints; undefined: there is none. */
  readonly pgRestoreVersion?: string;
}

export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export async function run(api: FakeApi, argv: string[], opts: RunOptions = {}): Promise<RunResult> {
  let stdout = '';
  let stderr = '';
  const lines = (opts.stdin ?? '').split('\n');
  let lineIndex = 0;
  const io: Io = {
    stdout: {
      write: (t) => {
        stdout += t;
      },
      isTTY: opts.tty ?? false,
      columns: 120,
    },
    stderr: {
      write: (t) => {
        stderr += t;
      },
      isTTY: opts.tty ?? false,
      columns: 120,
    },
    stdinIsTTY: opts.tty ?? false,
    readStdin: async () => opts.stdin ?? '',
    readLine: async () => {
      opts.reads?.push('line');
      return opts.stdin === undefined || lineIndex >= lines.length ? undefined : lines[lineIndex++];
    },
    readSecret: async (prompt) => {
      opts.reads?.push('secret');
      stderr += prompt;
      return opts.stdin === undefined || lineIndex >= lines.length ? undefined : lines[lineIndex++];
    },
    env: { PGBACKUPS_API_URL: API, PGBACKUPS_APP: APP, ...opts.env },
    fetch: api.fetch,
    cwd: opts.cwd ?? '/nonexistent',
    now: () => new Date('2016-10-08T00:00:00Z'),
    sleep: async () => {},
    onInterrupt: (handler) => {
      if (opts.interrupt) handler();
      return () => {};
    },
    localPgRestoreVersion: async () => opts.pgRestoreVersion,
  };
  const code = await runCli(argv, io);
  return { code, stdout, stderr };
}

/** A transfer with the API's defaults; override what the test is about. */
export function transfer(over: Partial<TransferJson> & Pick<TransferJson, 'id' | 'num'>): TransferJson {
  return {
    kind: 'backup',
    type: 'manual',
    status: 'completed',
    app: APP,
    database: 'DATABASE',
    source: { type: 'database', app: APP, database: 'DATABASE' },
    target: { type: 'blob', key: 'manual/example-app/0000000001.dump' },
    createdAt: '2016-10-05T00:42:54.000Z',
    startedAt: '2016-10-05T00:42:55.000Z',
    finishedAt: '2016-10-08T00:43:00.000Z',
    sourceBytes: 1_000_000,
    processedBytes: 1434,
    backupBytes: 1434,
    sha256: null,
    compression: 'zstd:1',
    pgDumpVersion: null,
    serverVersion: null,
    archiveFormat: null,
    oldestPgRestore: null,
    extensions: [],
    keepExtensions: [],
    parallel: 1,
    safetyBackup: null,
    mirrorOf: null,
    mirrors: [],
    warnings: 0,
    error: null,
    cancelRequested: false,
    ...over,
  };
}
