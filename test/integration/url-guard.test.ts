/**
 * The SSRF guard for restores from a URL (docs/architecture.md, "Where the worker may connect"): every refused
 * kind of address, names resolving to them, and redirects to them — refused before any connection is made to
 * them.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer as createHttpsServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  assertPublicUrl,
  isPublicAddress,
  openGuardedUrl,
  parseRestoreUrl,
  type Resolver,
} from '../../src/adapters/net/url-guard.js';
import { selfSignedCert } from '../helpers/tls.js';

describe('isPublicAddress', () => {
  it.each([
    '127.0.0.1',
    '127.255.0.9',
    '10.1.2.3',
    '172.16.0.1',
    '172.31.255.255',
    '192.168.1.1',
    '169.254.169.254', // EC2 instance metadata
    '169.254.170.2', // ECS task credentials
    '100.64.0.1',
    '0.0.0.0',
    '224.0.0.1',
    '::1',
    '::',
    'fc00::1',
    'fd12:3456::1',
    'fe80::1',
    '::ffff:127.0.0.1',
    '::ffff:7f00:1',
    '::ffff:169.254.169.254',
    '::ffff:a9fe:a9fe',
    // IPv6 forms embedding an IPv4 address (issue #14): 6to4, IPv4-compatible, SIIT, NAT64 local-use, site-local.
    '2002:7f00:1::',
    '2002:a9fe:a9fe::',
    '::7f00:1',
    '::169.254.169.254',
    '::ffff:0:7f00:1',
    '::ffff:0:a9fe:a9fe',
    '64:ff9b:1::a9fe:a9fe',
    'fec0::1',
    'not an ip',
  ])('refuses %s', (address) => {
    expect(isPublicAddress(address)).toBe(false);
  });

  it.each(['8.8.8.8', '52.216.10.10', '172.32.0.1', '100.128.0.1', '2606:4700:4700::1111', '::ffff:8.8.8.8'])(
    'allows %s',
    (address) => {
      expect(isPublicAddress(address)).toBe(true);
    },
  );
});

describe('parseRestoreUrl and assertPublicUrl', () => {
  const resolver =
    (table: Record<string, string[]>): Resolver =>
    async (host) => {
      const addresses = table[host];
      if (!addresses) throw new Error('ENOTFOUND');
      return addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
    };

  it.each([
    ['http://example.com/x.dump', /only https/],
    ['file:///etc/passwd', /only https/],
    ['ftp://example.com/x', /only https/],
    ['https://user:pw@example.com/x', /user and password/],
    ['not a url', /could not be parsed/],
  ])('refuses %s by its shape', (url, message) => {
    expect(() => parseRestoreUrl(url)).toThrow(message);
  });

  it.each([
    ['https://127.0.0.1/x'],
    ['https://[::1]/x'],
    ['https://169.254.169.254/latest/meta-data/'],
    ['https://[::ffff:169.254.169.254]/'],
    ['https://10.0.0.8/x'],
    ['https://internal.example/x'],
    ['https://mixed.example/x'],
    ['https://rebind.example/x'],
  ])('refuses %s after resolving it', async (url) => {
    const resolve = resolver({
      'internal.example': ['10.0.0.5'],
      'mixed.example': ['52.216.10.10', '192.168.0.7'],
      'rebind.example': ['fd00::1'],
    });
    await expect(assertPublicUrl(url, resolve)).rejects.toMatchObject({ code: 'bad_request' });
  });

  it('accepts a name that resolves only to public addresses', async () => {
    const url = await assertPublicUrl(
      'https://bucket.s3.example/b001.dump',
      resolver({ 'bucket.s3.example': ['52.216.10.10'] }),
    );
    expect(url.hostname).toBe('bucket.s3.example');
  });

  it('says when a name does not resolve', async () => {
    await expect(assertPublicUrl('https://nowhere.example/x', resolver({}))).rejects.toThrow(
      /could not be resolved/,
    );
  });
});

describe('openGuardedUrl against a real https server', () => {
  let dir: string;
  let server: Server;
  let port: number;
  let ca: Buffer;
  let hits: string[];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'url-guard-'));
    const tls = selfSignedCert(dir, ['dump.test', 'evil.test']);
    ca = tls.cert;
    hits = [];
    const redirects: Record<string, [number, () => string]> = {
      '/to-metadata': [302, () => 'https://169.254.169.254/latest/meta-data/iam/'],
      '/to-evil': [307, () => `https://evil.test:${port}/ok.dump`],
      '/to-http': [301, () => `http://dump.test:${port}/ok.dump`],
      '/hop': [302, () => '/ok.dump'],
    };
    server = createHttpsServer({ key: tls.key, cert: ca }, (req, res) => {
      hits.push(`${req.headers.host}${req.url}`);
      const redirect = redirects[req.url ?? ''];
      if (req.url === '/ok.dump') {
        res.end('PGDMP-bytes');
      } else if (redirect) {
        res.writeHead(redirect[0], { location: redirect[1]() });
        res.end();
      } else {
        res.writeHead(403);
        res.end('AccessDenied');
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });

  afterAll(async () => {
    await new Promise((r) => server.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  // dump.test stands in for a public host (only its test address is allowed); evil.test resolves to a private one.
  const resolve: Resolver = async (host) => {
    if (host === 'dump.test') return [{ address: '127.0.0.1', family: 4 }];
    if (host === 'evil.test') return [{ address: '10.0.0.1', family: 4 }];
    throw new Error('ENOTFOUND');
  };
  const allowAddress = (a: string) => a === '127.0.0.1' || isPublicAddress(a);
  const open = (path: string) =>
    openGuardedUrl(`https://dump.test:${port}${path}`, { resolve, allowAddress, ca });

  async function read(stream: AsyncIterable<Buffer>): Promise<string> {
    let text = '';
    for await (const chunk of stream) text += chunk.toString();
    return text;
  }

  it('streams a permitted URL, following a same-host redirect', async () => {
    expect(await read(await open('/ok.dump'))).toBe('PGDMP-bytes');
    expect(await read(await open('/hop'))).toBe('PGDMP-bytes');
  });

  it('refuses a redirect to the metadata endpoint, to a private name, or to http, without following it', async () => {
    hits = [];
    await expect(open('/to-metadata')).rejects.toThrow(/private, loopback or link-local/);
    await expect(open('/to-evil')).rejects.toThrow(/evil.test resolves to a private/);
    await expect(open('/to-http')).rejects.toThrow(/only https/);
    // Only the first hops reached our server; nothing was fetched from where they pointed.
    expect(hits).toEqual([
      `dump.test:${port}/to-metadata`,
      `dump.test:${port}/to-evil`,
      `dump.test:${port}/to-http`,
    ]);
  });

  it('names the HTTP status of a refused download', async () => {
    await expect(open('/expired')).rejects.toThrow(/HTTP 403.*presigned URLs expire/);
  });

  it('refuses loopback itself when it is not explicitly allowed', async () => {
    await expect(openGuardedUrl(`https://dump.test:${port}/ok.dump`, { resolve, ca })).rejects.toThrow(
      /private, loopback or link-local/,
    );
  });
});
