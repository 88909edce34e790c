import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import type { IncomingMessage } from 'node:http';
import { request } from 'node:https';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import type { Readable } from 'node:stream';
import { ValidationError } from '../../core/errors.js';
import type { DatabaseHostGuard, DatabaseTarget } from '../../core/ports.js';

/**
 * The one guard for where pgbackups connects on a tenant's behalf: restore URLs (the SSRF guard) and
 * database hosts. Both classify the addresses a name resolves to (never the name), so `127.1`, `2130706433`,
 * `[::ffff:7f00:1]` and a DNS name pointing inside all land in the class of the address they reach.
 *
 * - Restore URLs: only `public` addresses, checked at connect time (the socket can only reach a vetted address,
 *   so DNS rebinding has no window), and again on every redirect.
 * - Database hosts ({@link databaseHostGuard}): `public` always; `private` only inside the operator's allowlist;
 *   `loopback` and unix sockets only where the policy allows them (the local stack); every other class never.
 */
export type AddressClass =
  | 'public'
  /** 127/8, ::1. */
  | 'loopback'
  /** 10/8, 172.16/12, 192.168/16, 100.64/10 (shared, CGNAT), fc00::/7. */
  | 'private'
  /** 169.254/16 and fe80::/10: the instance metadata (169.254.169.254) and ECS credentials (169.254.170.2). */
  | 'link-local'
  /** fd00:ec2::/32: the EC2 metadata, DNS and time endpoints over IPv6, inside fc00::/7 but never a database. */
  | 'cloud-metadata'
  /** 0/8 ("this network": 0.0.0.0 reaches the local host) and `::`. */
  | 'unspecified'
  /** 224/4, ff00::/8. */
  | 'multicast'
  /**
   * IPv6 forms that carry an IPv4 address a gateway may route to: IPv4-compatible `::/96`, SIIT `::ffff:0:0:0/96`,
   * NAT64 `64:ff9b::/96` and local-use `64:ff9b:1::/48`, 6to4 `2002::/16`, Teredo `2001::/32`.
   */
  | 'embedded-ipv4'
  /** Documentation, benchmarking, IETF, discard-only, 240/4 and broadcast, deprecated site-local fec0::/10. */
  | 'reserved';

/** Most specific first: the first list that holds an address gives its class. */
const CLASSES: readonly [AddressClass, 'ipv4' | 'ipv6', readonly (readonly [string, number])[]][] = [
  ['unspecified', 'ipv4', [['0.0.0.0', 8]]],
  ['loopback', 'ipv4', [['127.0.0.0', 8]]],
  ['link-local', 'ipv4', [['169.254.0.0', 16]]],
  ['multicast', 'ipv4', [['224.0.0.0', 4]]],
  [
    'private',
    'ipv4',
    [
      ['10.0.0.0', 8],
      ['172.16.0.0', 12],
      ['192.168.0.0', 16],
      ['100.64.0.0', 10],
    ],
  ],
  [
    'reserved',
    'ipv4',
    [
      ['192.0.0.0', 24],
      ['192.0.2.0', 24],
      ['198.18.0.0', 15],
      ['198.51.100.0', 24],
      ['203.0.113.0', 24],
      ['240.0.0.0', 4],
    ],
  ],
  ['unspecified', 'ipv6', [['::', 128]]],
  ['loopback', 'ipv6', [['::1', 128]]],
  ['cloud-metadata', 'ipv6', [['fd00:ec2::', 32]]],
  [
    'embedded-ipv4',
    'ipv6',
    [
      ['::', 96],
      ['::ffff:0:0:0', 96],
      ['64:ff9b::', 96],
      ['64:ff9b:1::', 48],
      ['2002::', 16],
      ['2001::', 32],
    ],
  ],
  ['link-local', 'ipv6', [['fe80::', 10]]],
  ['multicast', 'ipv6', [['ff00::', 8]]],
  ['private', 'ipv6', [['fc00::', 7]]],
  [
    'reserved',
    'ipv6',
    [
      ['fec0::', 10],
      ['100::', 64],
      ['2001:db8::', 32],
    ],
  ],
];

const CLASS_LISTS = CLASSES.map(([cls, family, nets]) => {
  const list = new BlockList();
  for (const [net, prefix] of nets) list.addSubnet(net, prefix, family);
  return { cls, family, list };
});

/** The 16 bytes of an IPv6 address (already checked with isIP), including a dotted IPv4 tail. */
function ipv6Bytes(address: string): number[] {
  let text = address.toLowerCase().replace(/%.*$/, '');
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = (dotted[1] as string).split('.').map(Number) as [number, number, number, number];
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? (text.split('::') as [string, string]) : [text, undefined];
  const groups = (s: string) => (s ? s.split(':').map((g) => Number.parseInt(g, 16)) : []);
  const h = groups(head);
  const t = tail === undefined ? [] : groups(tail);
  const all = tail === undefined ? h : [...h, ...new Array(8 - h.length - t.length).fill(0), ...t];
  return all.flatMap((g) => [g >> 8, g & 255]);
}

/** `::ffff:a.b.c.d` (also written `::ffff:7f00:1`) is an IPv4 address in disguise: classified as that address. */
function mappedIpv4(address: string): string | undefined {
  const b = ipv6Bytes(address);
  const isMapped = b.slice(0, 10).every((x) => x === 0) && b[10] === 255 && b[11] === 255;
  return isMapped ? b.slice(12).join('.') : undefined;
}

/** The class of an IP address; anything that is not an IP address is `reserved`. */
export function classifyAddress(address: string): AddressClass {
  let family = isIP(address);
  if (family === 0) return 'reserved';
  let ip = address;
  if (family === 6) {
    const v4 = mappedIpv4(address);
    if (v4) {
      ip = v4;
      family = 4;
    }
  }
  const type = family === 4 ? 'ipv4' : 'ipv6';
  for (const { cls, family: f, list } of CLASS_LISTS) {
    if (f === type && list.check(ip, type)) return cls;
  }
  return 'public';
}

/** True when a restore URL's address may be fetched from. */
export function isPublicAddress(address: string): boolean {
  return classifyAddress(address) === 'public';
}

const HINT = 'Use an https:// URL that resolves to a public address (for example a presigned S3 URL)';

/** Checks the shape of a restore URL: https only, no credentials in it, a host. Does not resolve it. */
export function parseRestoreUrl(input: string): URL {
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    throw new ValidationError(`Invalid restore URL: it could not be parsed. ${HINT}`);
  }
  if (url.protocol !== 'https:') {
    throw new ValidationError(
      `Invalid restore URL: only https:// is accepted, not ${url.protocol}//. ${HINT}`,
    );
  }
  if (url.username || url.password) {
    throw new ValidationError(`Invalid restore URL: user and password in the URL are not accepted. ${HINT}`);
  }
  return url;
}

export type Resolver = (hostname: string) => Promise<LookupAddress[]>;

const systemResolver: Resolver = (hostname) =>
  new Promise((resolve, reject) =>
    dnsLookup(hostname, { all: true, verbatim: true }, (err, addresses) =>
      err ? reject(err) : resolve(addresses),
    ),
  );

/** Resolves the URL's host and refuses it unless every address it resolves to is public. */
export async function assertPublicUrl(
  input: string,
  resolve: Resolver = systemResolver,
  allow: (address: string) => boolean = isPublicAddress,
): Promise<URL> {
  const url = parseRestoreUrl(input);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  let addresses: LookupAddress[];
  try {
    addresses = isIP(host) ? [{ address: host, family: isIP(host) }] : await resolve(host);
  } catch {
    throw new ValidationError(`Invalid restore URL: ${url.hostname} could not be resolved. ${HINT}`);
  }
  if (addresses.length === 0 || !addresses.every((a) => allow(a.address))) {
    throw new ValidationError(
      `Invalid restore URL: ${url.hostname} resolves to a private, loopback or link-local address, which is refused. ${HINT}`,
    );
  }
  return url;
}

/** A `lookup` for sockets that only ever yields vetted public addresses. */
function guardedLookup(resolve: Resolver, allow: (address: string) => boolean): LookupFunction {
  return (hostname, options, callback) => {
    assertPublicUrl(`https://${hostname.includes(':') ? `[${hostname}]` : hostname}/`, resolve, allow)
      .then(async () => {
        const addresses = isIP(hostname)
          ? [{ address: hostname, family: isIP(hostname) }]
          : await resolve(hostname);
        if (options.all) callback(null, addresses);
        else callback(null, (addresses[0] as LookupAddress).address, (addresses[0] as LookupAddress).family);
      })
      .catch((e: Error) => callback(Object.assign(e, { code: 'EPGBACKUPSBLOCKED' }), '', 0));
  };
}

/**
 * Where a tenant's database connections may go, set by the operator. In AWS: loopback and unix sockets never,
 * private ranges only inside `allowlist` (deploy-time setting `databaseHostAllowlist`, default the stack's VPC).
 * The local stack allows loopback and unix sockets by default.
 */
export interface DatabaseHostPolicy {
  /** Loopback addresses and unix-socket directories (the local stack's clusters). */
  readonly allowLoopback: boolean;
  /** CIDRs (`10.0.0.0/16`, `fd12::/48`) inside which private addresses may be reached. */
  readonly allowlist: readonly string[];
}

/** Parses a comma-separated CIDR list (a bare address is a /32 or /128); throws naming the first bad entry. */
export function parseCidrList(input: string | undefined): string[] {
  const items = (input ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  for (const item of items) cidrParts(item);
  return items;
}

function cidrParts(cidr: string): [string, number, 'ipv4' | 'ipv6'] {
  const [net = '', bits, extra] = cidr.split('/');
  const family = isIP(net);
  const max = family === 4 ? 32 : 128;
  const prefix = bits === undefined ? max : /^\d{1,3}$/.test(bits) ? Number(bits) : Number.NaN;
  if (family === 0 || extra !== undefined || !(prefix >= 0 && prefix <= max)) {
    throw new Error(
      `Invalid CIDR ${JSON.stringify(cidr)} in the database host allowlist: use e.g. 10.0.0.0/16`,
    );
  }
  return [net, prefix, family === 4 ? 'ipv4' : 'ipv6'];
}

const SETTING_HINT =
  "An operator allows private ranges with the deploy setting databaseHostAllowlist (CIDRs; default: the stack's VPC), " +
  'or PGBACKUPS_DB_HOST_ALLOWLIST for the local stack';
const LOCAL_HINT =
  'Loopback addresses and unix sockets are refused in AWS; the local stack allows them unless PGBACKUPS_DB_ALLOW_LOOPBACK=false';

const WHY: Record<Exclude<AddressClass, 'public' | 'loopback' | 'private'>, string> = {
  'link-local': 'a link-local address (where the metadata and credentials endpoints live), always refused',
  'cloud-metadata': 'the cloud metadata endpoint range fd00:ec2::/32, always refused',
  unspecified: 'an unspecified address (0.0.0.0/8 or ::), always refused',
  multicast: 'a multicast address, always refused',
  'embedded-ipv4':
    'an IPv6 form that embeds an IPv4 address (::/96, ::ffff:0:0:0/96, 64:ff9b::/96, 64:ff9b:1::/48, 2002::/16 or 2001::/32), always refused: give the IPv4 address itself',
  reserved: 'a reserved, documentation or deprecated address, always refused',
};

/** Why `address` may not be reached under `policy`, or undefined when it may. */
export function refusalOf(
  address: string,
  policy: DatabaseHostPolicy,
  allowlist: BlockList = compileAllowlist(policy.allowlist),
): string | undefined {
  const cls = classifyAddress(address);
  if (cls === 'public') return undefined;
  if (cls === 'loopback') return policy.allowLoopback ? undefined : `a loopback address. ${LOCAL_HINT}`;
  if (cls === 'private') {
    const v4 = isIP(address) === 6 ? mappedIpv4(address) : undefined;
    const ip = v4 ?? address;
    if (allowlist.check(ip, isIP(ip) === 4 ? 'ipv4' : 'ipv6')) return undefined;
    return `a private address outside the database host allowlist (${policy.allowlist.join(', ') || 'empty'}). ${SETTING_HINT}`;
  }
  return WHY[cls];
}

function compileAllowlist(cidrs: readonly string[]): BlockList {
  const list = new BlockList();
  for (const cidr of cidrs) {
    const [net, prefix, family] = cidrParts(cidr);
    list.addSubnet(net, prefix, family);
  }
  return list;
}

const refused = (what: string, why: string) =>
  new ValidationError(`Database host refused: ${what} is ${why}`);

/** `/run/postgresql` or Linux's abstract `@name`: libpq reads a host like these as a unix-socket directory. */
const isSocketPath = (host: string) => host.startsWith('/') || host.startsWith('@');

/**
 * The database-host guard of `policy`: used by the API when a database is attached, and by the worker each time it
 * connects. It returns the one vetted address libpq must use (the worker passes it as `PGHOSTADDR`, so a DNS change
 * between check and connect cannot move the connection), or undefined for an allowed unix socket.
 */
export function databaseHostGuard(
  policy: DatabaseHostPolicy,
  resolve: Resolver = systemResolver,
): DatabaseHostGuard {
  const allowlist = compileAllowlist(policy.allowlist);
  const check = (what: string, address: string) => {
    const why = refusalOf(address, policy, allowlist);
    if (why) throw refused(what === address ? address : `${what} (${address})`, why);
  };
  return {
    async vet({ host, hostaddr }: DatabaseTarget): Promise<string | undefined> {
      if ([host, hostaddr].some((h) => h?.includes(','))) {
        throw new ValidationError(
          'Database host refused: lists of hosts are not supported; attach one host per database',
        );
      }
      if (hostaddr !== undefined && isIP(hostaddr) === 0) {
        throw new ValidationError('Database host refused: hostaddr must be an IP address');
      }
      if (!host || isSocketPath(host)) {
        // No host at all is libpq's default unix socket.
        if (!policy.allowLoopback)
          throw refused('a unix-socket directory', `not reachable from here. ${LOCAL_HINT}`);
        if (hostaddr === undefined) return undefined;
      }
      if (hostaddr !== undefined) check(hostaddr, hostaddr);
      if (host && !isSocketPath(host)) {
        let addresses: LookupAddress[];
        try {
          addresses = isIP(host) ? [{ address: host, family: isIP(host) }] : await resolve(host);
        } catch {
          throw new ValidationError(
            `Database host refused: ${host} could not be resolved; check the host name`,
          );
        }
        if (addresses.length === 0)
          throw new ValidationError(`Database host refused: ${host} has no address`);
        // Every address, not just the first: which one a client picks is not ours to predict.
        for (const a of addresses) check(host, a.address);
        return hostaddr ?? (addresses[0] as LookupAddress).address;
      }
      return hostaddr;
    },
  };
}

export interface OpenUrlOptions {
  readonly signal?: AbortSignal;
  readonly maxRedirects?: number;
  /** Test seam: how names are resolved. */
  readonly resolve?: Resolver;
  /** Test seam: extra trusted CAs (a local https server in tests). */
  readonly ca?: string | Buffer;
  /** Test seam: which addresses may be reached. @default isPublicAddress */
  readonly allowAddress?: (address: string) => boolean;
}

/**
 * Opens an https URL for streaming through the guard. Redirects are followed by hand (at most 5), each target
 * checked like the first; any status but 200 in the end is an error that names it.
 */
export async function openGuardedUrl(input: string, opts: OpenUrlOptions = {}): Promise<Readable> {
  const resolve = opts.resolve ?? systemResolver;
  const allow = opts.allowAddress ?? isPublicAddress;
  let url = await assertPublicUrl(input, resolve, allow);
  for (let hop = 0; hop <= (opts.maxRedirects ?? 5); hop++) {
    const res = await new Promise<IncomingMessage>((ok, fail) => {
      const req = request(
        url,
        { method: 'GET', lookup: guardedLookup(resolve, allow), signal: opts.signal, ca: opts.ca },
        ok,
      );
      req.once('error', fail);
      req.end();
    });
    const status = res.statusCode ?? 0;
    if ([301, 302, 303, 307, 308].includes(status)) {
      res.resume();
      const location = res.headers.location;
      if (!location) throw new Error(`The restore URL answered ${status} without a Location`);
      url = await assertPublicUrl(new URL(location, url).toString(), resolve, allow);
      continue;
    }
    if (status !== 200) {
      res.resume();
      throw new Error(
        `The restore URL answered HTTP ${status}; check that it is current (presigned URLs expire) and publicly readable`,
      );
    }
    return res;
  }
  throw new Error('The restore URL redirected more than 5 times');
}
