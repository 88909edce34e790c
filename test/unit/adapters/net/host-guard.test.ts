/**
 * The one guard for restore URLs and database hosts (src/adapters/net/url-guard.ts): the class of every kind of
 * address, and the database-host policy — what is always refused, what the allowlist opens, loopback and unix
 * sockets by setting, names checked on every address they resolve to.
 */
import { describe, expect, it } from 'vitest';
import {
  type AddressClass,
  classifyAddress,
  type DatabaseHostPolicy,
  databaseHostGuard,
  isPublicAddress,
  parseCidrList,
  type Resolver,
} from '../../../../src/adapters/net/url-guard.js';

describe('classifyAddress', () => {
  it.each<[string, AddressClass]>([
    ['8.8.8.8', 'public'],
    ['2606:4700:4700::1111', 'public'],
    ['::ffff:8.8.8.8', 'public'],
    ['127.0.0.1', 'loopback'],
    ['::1', 'loopback'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['10.1.2.3', 'private'],
    ['100.64.0.1', 'private'],
    ['fd12:3456::1', 'private'],
    ['::ffff:10.0.0.1', 'private'],
    ['169.254.169.254', 'link-local'],
    ['169.254.170.2', 'link-local'],
    ['fe80::1', 'link-local'],
    ['::ffff:169.254.169.254', 'link-local'],
    ['fd00:ec2::254', 'cloud-metadata'],
    ['0.0.0.0', 'unspecified'],
    ['0.1.2.3', 'unspecified'],
    ['::', 'unspecified'],
    ['224.0.0.1', 'multicast'],
    ['ff02::1', 'multicast'],
    // IPv6 forms that embed an IPv4 address (issue #14): each carried 127.0.0.1 or the metadata endpoint.
    ['2002:7f00:1::', 'embedded-ipv4'], // 6to4
    ['2002:a9fe:a9fe::1', 'embedded-ipv4'],
    ['::127.0.0.1', 'embedded-ipv4'], // IPv4-compatible ::/96
    ['::a9fe:a9fe', 'embedded-ipv4'],
    ['::ffff:0:7f00:1', 'embedded-ipv4'], // SIIT ::ffff:0:0:0/96
    ['::ffff:0:169.254.169.254', 'embedded-ipv4'],
    ['64:ff9b::7f00:1', 'embedded-ipv4'], // NAT64, well-known prefix
    ['64:ff9b:1::a9fe:a9fe', 'embedded-ipv4'], // NAT64, local-use prefix
    ['2001:0:4136:e378:8000:63bf:3fff:fdd2', 'embedded-ipv4'], // Teredo
    ['fec0::1', 'reserved'], // deprecated site-local
    ['2001:db8::1', 'reserved'],
    ['192.0.2.1', 'reserved'],
    ['255.255.255.255', 'reserved'],
    ['not an ip', 'reserved'],
  ])('%s is %s', (address, cls) => {
    expect(classifyAddress(address)).toBe(cls);
    expect(isPublicAddress(address)).toBe(cls === 'public');
  });
});

describe('parseCidrList', () => {
  it('reads CIDRs and bare addresses, comma-separated', () => {
    expect(parseCidrList(' 10.0.0.0/16, fd12::/48,192.168.1.5 ')).toEqual([
      '10.0.0.0/16',
      'fd12::/48',
      '192.168.1.5',
    ]);
    expect(parseCidrList(undefined)).toEqual([]);
    expect(parseCidrList('')).toEqual([]);
  });

  it.each(['10.0.0.0/33', 'fd12::/129', 'vpc-123', '10.0.0.0/16/2', '10.0.0.0/x'])('refuses %s', (bad) => {
    expect(() => parseCidrList(bad)).toThrow(/Invalid CIDR .* database host allowlist/);
  });
});

const AWS: DatabaseHostPolicy = { allowLoopback: false, allowlist: ['10.0.0.0/16'] };
const LOCAL: DatabaseHostPolicy = { allowLoopback: true, allowlist: [] };
const dns =
  (table: Record<string, string[]>): Resolver =>
  async (host) => {
    const addresses = table[host];
    if (!addresses) throw new Error('ENOTFOUND');
    return addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  };
const resolve = dns({
  'db.example.com': ['93.184.215.14'],
  'inside.example': ['10.0.3.4'],
  'elsewhere.example': ['10.9.0.1'],
  'metadata.example': ['169.254.169.254'],
  'mixed.example': ['93.184.215.14', '127.0.0.1'],
  'v6meta.example': ['fd00:ec2::254'],
});

describe('databaseHostGuard', () => {
  it('passes public hosts and returns the address to pin', async () => {
    const guard = databaseHostGuard(AWS, resolve);
    await expect(guard.vet({ host: 'db.example.com' })).resolves.toBe('93.184.215.14');
    await expect(guard.vet({ host: '8.8.8.8' })).resolves.toBe('8.8.8.8');
  });

  it('passes private addresses inside the allowlist only, naming the setting otherwise', async () => {
    const guard = databaseHostGuard(AWS, resolve);
    await expect(guard.vet({ host: 'inside.example' })).resolves.toBe('10.0.3.4');
    await expect(guard.vet({ host: '::ffff:10.0.0.9' })).resolves.toBe('::ffff:10.0.0.9');
    await expect(guard.vet({ host: 'elsewhere.example' })).rejects.toMatchObject({
      code: 'bad_request',
      message: expect.stringMatching(
        /elsewhere\.example \(10\.9\.0\.1\) is a private address outside the database host allowlist \(10\.0\.0\.0\/16\).*databaseHostAllowlist/,
      ),
    });
    await expect(guard.vet({ host: '192.168.1.1' })).rejects.toThrow(/private address/);
  });

  it.each([
    ['169.254.169.254', /link-local/],
    ['169.254.170.2', /link-local/],
    ['fe80::1', /link-local/],
    ['fd00:ec2::254', /metadata/],
    ['0.0.0.0', /unspecified/],
    ['224.0.0.1', /multicast/],
    ['2002:a9fe:a9fe::1', /embeds an IPv4 address/],
    ['::ffff:0:a9fe:a9fe', /embeds an IPv4 address/],
    ['64:ff9b:1::a9fe:a9fe', /embeds an IPv4 address/],
    ['fec0::1', /reserved/],
  ])('always refuses %s, whatever the policy', async (host, why) => {
    const open: DatabaseHostPolicy = { allowLoopback: true, allowlist: ['0.0.0.0/0', '::/0'] };
    for (const policy of [AWS, LOCAL, open]) {
      await expect(databaseHostGuard(policy, resolve).vet({ host })).rejects.toThrow(why);
    }
  });

  it('checks every address a name resolves to, and hostaddr as well as the host', async () => {
    const guard = databaseHostGuard(AWS, resolve);
    await expect(guard.vet({ host: 'metadata.example' })).rejects.toThrow(
      /metadata\.example \(169\.254\.169\.254\)/,
    );
    await expect(guard.vet({ host: 'v6meta.example' })).rejects.toThrow(/fd00:ec2::\/32/);
    await expect(guard.vet({ host: 'mixed.example' })).rejects.toThrow(/loopback/);
    await expect(guard.vet({ host: 'db.example.com', hostaddr: '169.254.169.254' })).rejects.toThrow(
      /169\.254\.169\.254 is a link-local/,
    );
    await expect(guard.vet({ host: 'db.example.com', hostaddr: 'db.example.com' })).rejects.toThrow(
      /hostaddr must be an IP address/,
    );
    // A vetted hostaddr is the address used.
    await expect(guard.vet({ host: 'db.example.com', hostaddr: '10.0.0.7' })).resolves.toBe('10.0.0.7');
  });

  it('refuses loopback and unix sockets in AWS, allows them where the policy does (the local stack)', async () => {
    const aws = databaseHostGuard(AWS, resolve);
    const local = databaseHostGuard(LOCAL, resolve);
    for (const host of ['127.0.0.1', '::1', '/var/run/postgresql', '@abstract', undefined]) {
      await expect(aws.vet({ host })).rejects.toThrow(/loopback|unix-socket/);
      await expect(aws.vet({ host })).rejects.toThrow(/PGBACKUPS_DB_ALLOW_LOOPBACK/);
    }
    await expect(local.vet({ host: '127.0.0.1' })).resolves.toBe('127.0.0.1');
    await expect(local.vet({ host: '/var/run/postgresql' })).resolves.toBeUndefined();
    await expect(local.vet({})).resolves.toBeUndefined();
    // Allowing loopback does not open private ranges.
    await expect(local.vet({ host: '10.0.0.1' })).rejects.toThrow(/allowlist \(empty\)/);
  });

  it('refuses lists of hosts and names that do not resolve', async () => {
    const guard = databaseHostGuard(AWS, resolve);
    await expect(guard.vet({ host: 'db.example.com,169.254.169.254' })).rejects.toThrow(/lists of hosts/);
    await expect(guard.vet({ host: 'db.example.com', hostaddr: '8.8.8.8,169.254.169.254' })).rejects.toThrow(
      /lists of hosts/,
    );
    await expect(guard.vet({ host: 'nowhere.invalid' })).rejects.toThrow(/could not be resolved/);
  });
});
