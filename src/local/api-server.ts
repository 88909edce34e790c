import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ApiRequest, ApiResponse } from '../api/http.js';
import { json } from '../api/http.js';

const MAX_BODY_BYTES = 1024 * 1024;

class BodyTooLarge extends Error {}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new BodyTooLarge();
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Serves the router over node:http on loopback: the local stand-in for API Gateway. */
export async function startApiServer(
  route: (req: ApiRequest) => Promise<ApiResponse>,
  opts: { host: string; port: number },
): Promise<{ server: Server; url: string }> {
  const server = createServer(async (req, res) => {
    let out: ApiResponse;
    try {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const body = await readBody(req);
      out = await route({
        method: req.method ?? 'GET',
        path: url.pathname,
        query: Object.fromEntries(url.searchParams),
        body,
        headers: Object.fromEntries(
          Object.entries(req.headers).map(([k, v]) => [k.toLowerCase(), Array.isArray(v) ? v.join(', ') : v]),
        ),
        requestId: randomUUID(),
      });
    } catch (e) {
      out =
        e instanceof BodyTooLarge
          ? json(413, { error: { code: 'too_large', message: 'The body is larger than 1 MiB' } })
          : json(400, { error: { code: 'bad_request', message: 'The request could not be read' } });
    }
    res.writeHead(out.status, out.headers);
    res.end(out.body);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return { server, url: `http://${opts.host}:${port}` };
}
