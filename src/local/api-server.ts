import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ApiRequest, ApiResponse } from '../api/http.js';
import { json } from '../api/http.js';

const MAX_BODY_BYTES = 1024 * 1024;

class BodyTooLarge extends Error {}

/** Past this, a too-large body is cut off (the socket is destroyed) instead of read to its end. */
const DRAIN_LIMIT_BYTES = 16 * MAX_BODY_BYTES;

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    // Keep reading (and dropping) a body somewhat over the limit: leaving the loop destroys the socket, and the
    // client would see a reset instead of the 413.
    if (size > DRAIN_LIMIT_BYTES) break;
    if (size <= MAX_BODY_BYTES) chunks.push(chunk as Buffer);
  }
  if (size > MAX_BODY_BYTES) throw new BodyTooLarge();
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * What the local API accepts beyond requests to its own address. It has no authentication, so a web page the
 * developer visits must not be able to use it: a foreign `Origin` (cross-site request), a `Host` other than its own
 * (DNS rebinding: a page's own name pointed at 127.0.0.1 would let it read answers) and a body that is not JSON
 * (`text/plain` and forms are sent without a CORS preflight) are refused unless opened here.
 */
export interface ApiServerAccess {
  /** Further `Host` values (`name:port`) to answer, or `*` for any. */
  readonly hosts?: readonly string[];
  /** Further `Origin` values (`https://tool.example`) to accept, or `*` for any. */
  readonly origins?: readonly string[];
  /** Accept request bodies of any content type. @default false */
  readonly anyContentType?: boolean;
}

const JSON_TYPE = /^application\/json\s*(;|$)/i;

function refusal(status: number, code: string, message: string): ApiResponse {
  return json(status, { error: { code, message } });
}

/** Serves the router over node:http on loopback: the local stand-in for API Gateway. */
export async function startApiServer(
  route: (req: ApiRequest) => Promise<ApiResponse>,
  opts: { host: string; port: number; access?: ApiServerAccess },
): Promise<{ server: Server; url: string }> {
  const access = opts.access ?? {};
  // Filled in once listening: with port 0 the port is only known then.
  let ownHosts = new Set<string>();
  let ownUrl = '';
  const hostAllowed = (h: string | undefined) =>
    h !== undefined && (access.hosts?.includes('*') || ownHosts.has(h.toLowerCase()));
  const originAllowed = (o: string | undefined) =>
    o === undefined ||
    access.origins?.includes('*') ||
    access.origins?.includes(o) ||
    [...ownHosts].some((h) => o.toLowerCase() === `http://${h}`);

  /** Refuses what a web page could send; undefined when the request may go on. */
  const screen = (req: IncomingMessage, body: string): ApiResponse | undefined => {
    if (!hostAllowed(req.headers.host)) {
      return refusal(
        403,
        'forbidden',
        `This local API answers only requests addressed to ${ownUrl} (the Host header did not match). Set PGBACKUPS_ALLOWED_HOSTS to answer other names`,
      );
    }
    if (!originAllowed(req.headers.origin)) {
      return refusal(
        403,
        'forbidden',
        'Cross-origin requests are refused: the local API has no authentication. Set PGBACKUPS_ALLOWED_ORIGINS to accept an origin',
      );
    }
    if (body.length > 0 && !access.anyContentType && !JSON_TYPE.test(req.headers['content-type'] ?? '')) {
      return refusal(
        415,
        'unsupported_media_type',
        'Send the body as JSON with content-type application/json',
      );
    }
    return undefined;
  };

  const server = createServer(async (req, res) => {
    let out: ApiResponse;
    try {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const body = await readBody(req);
      out =
        screen(req, body) ??
        (await route({
          method: req.method ?? 'GET',
          path: url.pathname,
          query: Object.fromEntries(url.searchParams),
          body,
          headers: Object.fromEntries(
            Object.entries(req.headers).map(([k, v]) => [
              k.toLowerCase(),
              Array.isArray(v) ? v.join(', ') : v,
            ]),
          ),
          requestId: randomUUID(),
        }));
    } catch (e) {
      out =
        e instanceof BodyTooLarge
          ? json(413, { error: { code: 'too_large', message: 'The body is larger than 1 MiB' } })
          : json(400, { error: { code: 'bad_request', message: 'The request could not be read' } });
    }
    res.writeHead(out.status, out.headers);
    res.end(out.body);
  });
  // Clients keep connections open between requests (undici: up to the server's keep-alive hint minus 1 s). With
  // Node's 5 s default, a busy machine lets a pooled connection be closed by the server just as the client
  // reuses it: a reset instead of an answer. server.close() still closes idle connections at once.
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const hostPart = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  ownUrl = `http://${hostPart}:${port}`;
  ownHosts = new Set([`${hostPart}:${port}`.toLowerCase(), ...(access.hosts ?? [])]);
  // `localhost` always means this machine (browsers never ask DNS for it), so it cannot be a rebinding name.
  if (['127.0.0.1', '::1', 'localhost'].includes(opts.host)) ownHosts.add(`localhost:${port}`);
  return { server, url: ownUrl };
}
