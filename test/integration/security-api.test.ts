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
  // A database to restore into, so a refusal can only come from the guard (nothing ever connects to it: port 9 is
  // discard, and no restore is ever started).
  await api.attach('DATABASE', 'postgres://u:p@127.0.0.1:9/app');
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
    ['6to4 of loopback', `https://[2002:7f00:1::]:${p}/x`],
    ['IPv4-compatible loopback', `https://[::7f00:1]:${p}/x`],
    ['SIIT loopback', `https://[::ffff:0:7f00:1]:${p}/x`],
    ['NAT64 local-use metadata', 'https://[64:ff9b:1::a9fe:a9fe]/latest/meta-data/'],
    ['site-local', 'https://[fec0::1]/x'],
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

describe('database-host guard at attach time, over HTTP', () => {
  // Each refused before anything is stored: no secret, no attachment.
  it.each([
    ['instance metadata', 'postgres://u:p@169.254.169.254:5432/x', /169\.254\.169\.254 is a link-local/],
    ['ECS credentials endpoint', 'postgres://u:p@169.254.170.2:5432/x', /link-local/],
    ['IPv6 metadata endpoint', 'postgres://u:p@[fd00:ec2::254]:5432/x', /fd00:ec2::\/32/],
    ['hostaddr= to the metadata', 'postgres://u:p@8.8.8.8:5432/x?hostaddr=169.254.169.254', /link-local/],
    ['host= to the metadata', 'postgres://u:p@8.8.8.8:5432/x?host=169.254.169.254', /link-local/],
    ['a name resolving to loopback, IPv6', 'postgres://u:p@[::ffff:0:7f00:1]:5432/x', /embeds an IPv4/],
    ['6to4 of the metadata', 'postgres://u:p@[2002:a9fe:a9fe::]:5432/x', /embeds an IPv4/],
    ['0.0.0.0', 'postgres://u:p@0.0.0.0:5432/x', /unspecified/],
    [
      'a private address outside the allowlist',
      'postgres://u:p@10.1.2.3:5432/x',
      /allowlist.*databaseHostAllowlist/,
    ],
    ['a list of hosts', 'postgres://u:p@8.8.8.8:5432/x?host=8.8.8.8,169.254.169.254', /lists of hosts/],
    [
      'sslkey naming a worker file',
      'postgres://u:p@8.8.8.8:5432/x?sslkey=/etc/shadow',
      /sslkey names a file/,
    ],
    [
      'sslrootcert naming a worker file',
      'postgres://u:p@8.8.8.8:5432/x?sslrootcert=/etc/shadow',
      /sslrootcert=system/,
    ],
  ])('refuses %s with a 400 naming the rule', async (_what, url, rule) => {
    const res = await api.appCall('PUT', '/databases/PROBE', { url });
    expect(res.status, res.text).toBe(400);
    expect(res.body.error.message).toMatch(rule);
    expect(res.text).not.toContain('u:p@');
    expect(
      (await api.appCall('GET', '/databases')).body.databases.map((d: { name: string }) => d.name),
    ).toEqual(['DATABASE']);
  });

  it('shows the hostaddr a connection will use, not only the host name', async () => {
    await api.attach('PINNED', 'postgres://u:p@localhost:9/x?hostaddr=127.0.0.1');
    const dbs = (await api.appCall('GET', '/databases')).body.databases;
    expect(dbs.find((d: { name: string }) => d.name === 'PINNED')).toMatchObject({
      host: 'localhost',
      hostaddr: '127.0.0.1',
    });
    expect((await api.appCall('DELETE', '/databases/PINNED')).status).toBe(204);
  });

  it('refuses names that only case folding would make valid: databaſe does not replace DATABASE', async () => {
    for (const name of ['databa%C5%BFe', '%EF%AC%81nance']) {
      const res = await api.appCall('PUT', `/databases/${name}`, { url: 'postgres://u:p@127.0.0.1:9/other' });
      expect(res.status, res.text).toBe(400);
      expect(res.body.error.message).toMatch(/ASCII letters/);
    }
    const dbs = (await api.appCall('GET', '/databases')).body.databases;
    expect(dbs).toHaveLength(1);
    expect(dbs[0]).toMatchObject({ name: 'DATABASE', database: 'app' });
  });
});

describe('the local API refuses what a web page could send', () => {
  const post = (headers: Record<string, string>, body = '{}') =>
    fetch(`${stack.apiUrl}/v1/apps/${APP}/backups`, { method: 'POST', headers, body });

  it('refuses a body that is not application/json (415): text/plain needs no CORS preflight', async () => {
    for (const type of [
      'text/plain',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
    ]) {
      const res = await post({ 'content-type': type });
      expect(res.status, type).toBe(415);
      expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(
        /application\/json/,
      );
    }
    const restore = await fetch(`${stack.apiUrl}/v1/apps/${APP}/restores`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: '{}',
    });
    expect(restore.status).toBe(415);
    expect((await api.appCall('GET', '/transfers')).body.transfers).toEqual([]);
  });

  it('refuses a foreign Origin (403), accepts its own', async () => {
    const res = await post({ 'content-type': 'application/json', origin: 'https://evil.example' });
    expect(res.status).toBe(403);
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(
      /Cross-origin requests are refused.*PGBACKUPS_ALLOWED_ORIGINS/,
    );
    expect((await api.appCall('GET', '/transfers')).body.transfers).toEqual([]);
    const own = await fetch(`${stack.apiUrl}/v1/health`, { headers: { origin: stack.apiUrl } });
    expect(own.status).toBe(200);
  });

  it('answers only its own Host (DNS rebinding): another name gets 403 and no data', async () => {
    const { port } = new URL(stack.apiUrl);
    for (const host of [`rebind.example:${port}`, 'rebind.example', `127.0.0.1:${Number(port) + 1}`]) {
      const raw = await rawExchange(
        `GET /v1/apps/${APP}/databases HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`,
      );
      expect(raw, host).toMatch(/^HTTP\/1\.1 403/);
      expect(raw).not.toContain('127.0.0.1:9');
      expect(raw).toContain('PGBACKUPS_ALLOWED_HOSTS');
    }
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`]) {
      expect(
        await rawExchange(`GET /v1/health HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`),
      ).toMatch(/^HTTP\/1\.1 200/);
    }
  });

  it('never echoes a body in an error: malformed JSON holding a password', async () => {
    const res = await api.appCall('POST', '/backups', '{"database": "hunter2-pass');
    expect(res.status).toBe(400);
    expect(res.body.error.message).toMatch(/Malformed JSON/);
    expect(res.text).not.toMatch(/hunter2|pass/);
    const keyed = await api.appCall('PUT', '/databases/X', {
      url: 'postgres://u:p@127.0.0.1:9/x',
      'hunter2 secret': 1,
    });
    expect(keyed.status).toBe(400);
    expect(keyed.text).not.toContain('hunter2');
  });
});

/** Sends raw bytes and returns the whole answer as text. */
function rawExchange(request: string): Promise<string> {
  const { port } = new URL(stack.apiUrl);
  return new Promise((resolve, reject) => {
    const socket = new Socket();
    let data = '';
    socket.setTimeout(10_000, () => socket.destroy(new Error('raw request timed out')));
    socket.on('data', (c) => {
      data += c.toString('latin1');
    });
    socket.on('error', reject);
    socket.on('close', () => resolve(data));
    socket.connect(Number(port), '127.0.0.1', () => socket.write(request, 'latin1'));
  });
}

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

describe('a stack with the AWS policy: loopback and unix sockets refused, the allowlist opens a range', () => {
  let strict: LocalStack;
  let strictDir: string;
  const strictApi = new StackApi(() => strict.apiUrl, APP);

  beforeAll(async () => {
    strictDir = await mkdtemp(join(tmpdir(), 'pgbackups-security-strict-'));
    strict = await startLocalStack({
      dataDir: strictDir,
      port: 0,
      log: silentLogger,
      workerOutput: 'ignore',
      databaseHosts: { allowLoopback: false, allowlist: ['10.0.0.0/16'] },
    });
  });

  afterAll(async () => {
    await strict?.stop();
    if (strictDir) await rm(strictDir, { recursive: true, force: true });
  });

  it.each([
    ['loopback', 'postgres://u:p@127.0.0.1:5432/x', /loopback/],
    ['localhost', 'postgres://u:p@localhost:5432/x', /loopback/],
    ['a unix-socket directory', 'postgres://u:p@%2Ftmp/x', /unix-socket/],
    ['a unix-socket directory as host=', 'postgres://u:p@8.8.8.8/x?host=/var/run/postgresql', /unix-socket/],
    ['a private address outside the allowlist', 'postgres://u:p@10.1.0.1/x', /allowlist \(10\.0\.0\.0\/16\)/],
  ])('refuses %s', async (_what, url, rule) => {
    const res = await strictApi.appCall('PUT', '/databases/DATABASE', { url });
    expect(res.status, res.text).toBe(400);
    expect(res.body.error.message).toMatch(rule);
    expect(res.body.error.message).toMatch(/PGBACKUPS_DB_ALLOW_LOOPBACK|databaseHostAllowlist/);
  });

  it('the worker checks again at connect time: an attachment stored behind the API is refused, nothing reached', async () => {
    const secretRef = await strict.deps.secrets.put(
      APP,
      'SNEAKY',
      `postgres://u:p@127.0.0.1:${canaryPort}/x`,
    );
    await strict.deps.catalog.putDatabase({
      app: APP,
      name: 'SNEAKY',
      secretRef,
      host: 'db.example.com',
      port: canaryPort,
      database: 'x',
      user: 'u',
      createdAt: new Date().toISOString(),
    });
    const before = canaryHits;
    const res = await strictApi.appCall('POST', '/backups', { database: 'SNEAKY' });
    expect(res.status, res.text).toBe(202);
    const done = await strictApi.waitFinished(res.body.id);
    expect(done.status).toBe('failed');
    expect(done.error).toMatch(/Database host refused: 127\.0\.0\.1 is a loopback address/);
    expect(canaryHits).toBe(before);
  });

  it('accepts a private address inside the allowlist', async () => {
    await strictApi.attach('DATABASE', 'postgres://u:p@10.0.3.4:5432/x');
  });
});
