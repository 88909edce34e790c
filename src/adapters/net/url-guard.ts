import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import type { IncomingMessage } from 'node:http';
import { request } from 'node:https';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import type { Readable } from 'node:stream';
import { ValidationError } from '../../core/errors.js';

/**
 * The SSRF guard of DESIGN §7 for restores from a URL. Only `https://`; and never an address that is loopback,
 * private, shared (CGNAT), link-local (169.254/16 holds the instance metadata and ECS credential endpoints),
 * unique-local, multicast or unspecified — checked on the addresses a name resolves to, at connect time (the
 * socket can only reach a vetted address, so DNS rebinding has no window), and again on every redirect.
 */
const blocked = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  blocked.addSubnet(net, prefix, 'ipv4');
}
for (const [net, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['64:ff9b::', 96],
  ['100::', 64],
  ['2001:db8::', 32],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
] as const) {
  blocked.addSubnet(net, prefix, 'ipv6');
}

/** `::ffff:127.0.0.1` and `::ffff:7f00:1` are IPv4 addresses in disguise. */
function embeddedIpv4(address: string): string | undefined {
  const m = /^(?:0{0,4}:){0,5}:?ffff:(.+)$/i.exec(address);
  if (!m) return undefined;
  const tail = m[1] as string;
  if (isIP(tail) === 4) return tail;
  const hex = /^([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(tail);
  if (!hex) return undefined;
  const hi = Number.parseInt(hex[1] as string, 16);
  const lo = Number.parseInt(hex[2] as string, 16);
  return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
}

/** True when the address may be fetched from. */
export function isPublicAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 0) return false;
  if (family === 6) {
    const v4 = embeddedIpv4(address);
    if (v4) return !blocked.check(v4, 'ipv4');
    return !blocked.check(address, 'ipv6');
  }
  return !blocked.check(address, 'ipv4');
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
