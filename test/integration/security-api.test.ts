/**
 * Hostile input over real HTTP, against the local stack's API server (docs/reliability.md): every class of
 * address the SSRF guard must refuse, sent as a restore URL, is answered 400 before anything is fetched (a canary
 * listening on loopback sees no connection) and before any transfer exists; and fuzzed requests — random methods,
 * escaped and raw paths, junk bodies, oversized bodies, malformed HTTP — never get a 5xx nor start a worker.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/core/logger.js';
import { type LocalStack, startLocalStack } from '../../src/local/stack.js';
import { StackApi } from '../helpers/stack-api.js';

const APP = 'example-app';
let stack: LocalStack;
let dataDir: string;
let canary: Server;
let canaryPort: number;
let canaryHits = 0;
const api = new StackApi(() => stack.apiUrl, APP);

beforeAll(async () => {
  canary = createServer((s) => {
    canaryHits++;
    s.destroy();
  });
  await new Promise<void>((r) => canary.listen(0, '127.0.0.1', r));
  canaryPort = (canary.address() as { port: number }).port;
  dataDir = await mkdtemp(join(tmpdir(), 'pgbackups-security-api-'));
  stack = await startLocalStack({ dataDir, port: 0, log: silentLogger, workerOutput: 'ignore' });
  // A database to restore into, so a refusal can only come from the guard (nothing ever connects to it).
  await api.attach('DATABASE', 'postgres://u:p@db.invalid:5432/app');
});

afterAll(async () => {
  await stack?.stop();
  await new Promise<void>((r) => (canary ? canary.close(() => r()) : r()));
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

describe('restore-from-URL SSRF guard, over HTTP', () => {
  const cases = (p: number): [string, string][] => [
    ['http://', `http://127.0.0.1:${p}/b001.dump`],
    ['http:// to a public address', 'http://8.8.8.8/b001.dump'],
    ['file:', 'file:///etc/passwd'],
    ['ftp:', 'ftp://8.8.8.8/x'],
    ['loopback', `https://127.0.0.1:${p}/x`],
    ['loopback, short form', `https://127.1:${p}/x`],
    ['loopback, decimal', `https://2130706433:${p}/x`],
    ['loopback, hex', `https://0x7f.0.0.1:${p}/x`],
    ['unspecified', `https://0.0.0.0:${p}/x`],
    ['10/8', 'https://10.1.2.3/x'],
    ['172.16/12 (low)', 'https://172.16.0.1/x'],
    ['172.16/12 (high)', 'https://172.31.255.255/x'],
    ['192.168/16', 'https://192.168.1.1/x'],
    ['169.254/16: instance metadata', 'https://169.254.169.254/latest/meta-data/iam/security-credentials/'],
    ['169.254/16: ECS task credentials', 'https://169.254.170.2/v2/credentials/abc'],
    ['100.64/10', 'https://100.64.0.1/x'],
    ['::1', `https://[::1]:${p}/x`],
    ['fc00::/7', 'https://[fc00::1]/x'],
    ['fc00::/7 (fd)', 'https://[fd12:3456::1]/x'],
    ['fe80::/10', 'https://[fe80::1]/x'],
    ['IPv4-mapped loopback', `https://[::ffff:127.0.0.1]:${p}/x`],
    ['IPv4-mapped loopback, hex', `https://[::ffff:7f00:1]:${p}/x`],
    ['IPv4-mapped metadata', 'https://[::ffff:169.254.169.254]/latest/meta-data/'],
    ['a DNS name resolving to loopback', `https://localhost:${p}/x`],
    ['credentials in the URL', `https://user:pw@127.0.0.1:${p}/x`],
  ];

  it.each(cases(0).map(([what], i) => [what, i] as const))(
    'refuses %s before fetching anything',
    async (_what, i) => {
      const [, url] = cases(canaryPort)[i] as [string, string];
      const before = canaryHits;
      const res = await api.appCall('POST', '/restores', { backup: url });
      expect(res.status, res.text).toBe(400);
      expect(res.body.error.message).toMatch(/https|public|address|resolve|user and password/i);
      expect(canaryHits).toBe(before);
      expect((await api.appCall('GET', '/transfers')).body.transfers).toEqual([]);
    },
  );
});

/** Sends raw bytes as an HTTP request and returns the status line's code. */
function rawRequest(request: string): Promise<number> {
  const { port } = new URL(stack.apiUrl);
  return new Promise((resolve, reject) => {
    const socket = new Socket();
    let data = '';
    socket.setTimeout(10_000, () => socket.destroy(new Error('raw request timed out')));
    socket.on('data', (c) => {
      data += c.toString('latin1');
    });
    socket.on('error', reject);
    socket.on('close', () => {
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(data);
      if (m) resolve(Number(m[1]));
      else reject(new Error(`no status line in ${JSON.stringify(data.slice(0, 200))}`));
    });
    socket.connect(Number(port), '127.0.0.1', () => socket.end(request, 'latin1'));
  });
}

// Fuzzed requests go to an app with no database: none of them can then be a valid capture (a bare
// `POST …/backups` is one), so any worker started would come from bad input.
const FUZZ_APP = 'fuzz-app';

describe('fuzzed HTTP requests', () => {
  it('never answer 5xx, always explain a 4xx, and start no worker', async () => {
    const statuses = new Map<number, number>();
    const segment = fc.oneof(
      fc.constantFrom(
        FUZZ_APP,
        'DATABASE',
        'b001',
        'transfers',
        'backups',
        'restores',
        'copies',
        'cancel',
        'url',
        '..',
      ),
      fc.string({ maxLength: 16 }).map(encodeURIComponent),
      fc.string({ unit: 'binary', maxLength: 8 }).map(encodeURIComponent),
      fc.constantFrom('%', '%ZZ', '%E0%A4%A', '%00', '%2F'),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('GET', 'PUT', 'POST', 'DELETE', 'PATCH', 'OPTIONS'),
        fc.array(segment, { maxLength: 6 }),
        fc.constantFrom('/v1/apps/', '/v1/', '/', `/v1/apps/${FUZZ_APP}/`),
        fc.oneof(
          fc.constant(undefined),
          fc.string({ maxLength: 80 }),
          fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
        ),
        fc
          .string({ maxLength: 12 })
          .map((q) => (q ? `?${encodeURIComponent(q)}=${encodeURIComponent(q)}` : '')),
        async (method, parts, prefix, body, query) => {
          const path = `${prefix}${parts.join('/')}${query}`;
          const res = await api.call(method, path, method === 'GET' ? undefined : body);
          statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
          expect(res.status, `${method} ${path} ${body}`).toBeLessThan(500);
          if (res.status >= 400) expect(res.body.error.message, `${method} ${path}`).toMatch(/\S{3}/);
        },
      ),
      { numRuns: 300 },
    );
    expect([...statuses.keys()].some((s) => s >= 400)).toBe(true);

    // Bodies too large, bodies that are not UTF-8, and requests that are not HTTP at all.
    const big = await api.appCall('POST', '/restores', `{"backup": "${'x'.repeat(2 * 1024 * 1024)}"}`);
    expect(big.status).toBe(413);
    expect(big.body.error.message).toMatch(/larger than 1 MiB/);
    const notUtf8 = await fetch(`${stack.apiUrl}/v1/apps/${APP}/backups`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: Buffer.from([0x7b, 0xff, 0xfe, 0x7d]),
    });
    expect(notUtf8.status).toBe(400);
    for (const raw of [
      'GET /v1/health HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n',
      'POST /v1/apps/example-app/backups HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n',
      'GET /v1/apps/\u0000/transfers HTTP/1.1\r\nHost: x\r\n\r\n',
      'GET /v1/apps/exa mple/transfers HTTP/1.1\r\nHost: x\r\n\r\n',
      'NOT-HTTP\r\n\r\n',
      `GET /${'a'.repeat(100_000)} HTTP/1.1\r\nHost: x\r\n\r\n`,
    ]) {
      const status = await rawRequest(raw);
      expect(status, JSON.stringify(raw.slice(0, 60))).toBeGreaterThanOrEqual(400);
      expect(status, JSON.stringify(raw.slice(0, 60))).toBeLessThan(500);
    }
    // Still alive, and nothing ever started a worker.
    expect((await api.call('GET', '/v1/health')).status).toBe(200);
    expect(stack.runner.running).toBe(0);
    expect(await stack.deps.catalog.listActiveTransfers()).toEqual([]);
    expect((await api.appCall('GET', '/transfers')).body.transfers).toEqual([]);
    expect((await stack.deps.catalog.listTransfers(FUZZ_APP)).transfers).toEqual([]);
  });
});
