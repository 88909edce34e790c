import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { logNotifier, multiNotifier } from '../../../src/adapters/local/log-notifier.js';
import {
  localNotifier,
  SIGNATURE_HEADER,
  signWebhookBody,
  webhookNotifier,
} from '../../../src/adapters/local/webhook-notifier.js';
import { jsonLogger } from '../../../src/core/logger.js';
import type { Alert, Notifier } from '../../../src/core/ports.js';

const SECRET = 'whsec-test-secret-value';
const alert: Alert = {
  type: 'transfer.failed',
  app: 'example-app',
  database: 'DATABASE',
  transferId: 'a012',
  message: 'Backup a012 of DATABASE failed: pg_dump exited with code 1',
  at: '2026-01-15T12:00:00.000Z',
};

interface Received {
  headers: IncomingMessage['headers'];
  body: string;
}

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

/** A webhook receiver on 127.0.0.1 that records every request and answers with `respond`. */
async function receiver(respond: (res: ServerResponse) => void = (res) => res.writeHead(204).end()) {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      respond(res);
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return { received, url: `http://127.0.0.1:${port}/hooks/pgbackups?token=path-secret` };
}

function capturingLog() {
  const lines: string[] = [];
  return { lines, log: jsonLogger({}, (l) => lines.push(l)) };
}

/** What a receiver does: recompute the HMAC over the raw body and compare in constant time. */
function verify(secret: string, body: string, header: string | string[] | undefined): boolean {
  const expected = Buffer.from(`sha256=${createHmac('sha256', secret).update(body).digest('hex')}`);
  const got = Buffer.from(String(header));
  return got.length === expected.length && timingSafeEqual(got, expected);
}

describe('webhookNotifier', () => {
  it('POSTs the alert once, as JSON, signed with HMAC-SHA256 of the body', async () => {
    const { received, url } = await receiver();
    const { lines, log } = capturingLog();
    await webhookNotifier({ url, secret: SECRET, log }).notify(alert);

    expect(received).toHaveLength(1);
    const [req] = received;
    expect(req!.headers['content-type']).toBe('application/json');
    expect(verify(SECRET, req!.body, req!.headers[SIGNATURE_HEADER.toLowerCase()])).toBe(true);
    expect(verify('another-secret', req!.body, req!.headers[SIGNATURE_HEADER.toLowerCase()])).toBe(false);
    expect(JSON.parse(req!.body)).toEqual({ source: 'pgbackups', ...alert });
    expect(lines).toEqual([]);
  });

  it('signs exactly the bytes sent', () => {
    expect(signWebhookBody('k', '{"a":1}')).toBe(
      `sha256=${createHmac('sha256', 'k').update('{"a":1}').digest('hex')}`,
    );
  });

  it('logs a rejected delivery without retrying, and never logs the secret or the URL path', async () => {
    const { received, url } = await receiver((res) => res.writeHead(500).end('boom'));
    const { lines, log } = capturingLog();
    await expect(webhookNotifier({ url, secret: SECRET, log }).notify(alert)).resolves.toBeUndefined();
    expect(received).toHaveLength(1);
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({
      level: 'error',
      message: 'webhook rejected alert',
      status: 500,
    });
    expect(lines.join('\n')).not.toContain(SECRET);
    expect(lines.join('\n')).not.toContain('path-secret');
  });

  it('logs, and does not throw, when the receiver is unreachable', async () => {
    const { url } = await receiver();
    await new Promise((r) => servers.pop()!.close(r));
    const { lines, log } = capturingLog();
    await expect(webhookNotifier({ url, secret: SECRET, log }).notify(alert)).resolves.toBeUndefined();
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: 'error', message: 'webhook alert failed' });
    expect(lines.join('\n')).not.toContain(SECRET);
  });

  it('gives up after its timeout when the receiver does not answer', async () => {
    const { received, url } = await receiver(() => {
      // never answers
    });
    const { lines, log } = capturingLog();
    await webhookNotifier({ url, secret: SECRET, log, timeoutMs: 100 }).notify(alert);
    expect(received).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ message: 'webhook alert failed' });
    servers[0]!.closeAllConnections();
  });

  it('sends unsigned, with a warning, when no secret is set', async () => {
    const { received, url } = await receiver();
    const { lines, log } = capturingLog();
    await webhookNotifier({ url, log }).notify(alert);
    expect(received[0]!.headers[SIGNATURE_HEADER.toLowerCase()]).toBeUndefined();
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: 'warn', target: new URL(url).origin });
  });

  it('refuses a non-http URL at construction', () => {
    expect(() => webhookNotifier({ url: 'file:///etc/passwd', log: capturingLog().log })).toThrow(
      /http\(s\) URL/,
    );
  });
});

describe('localNotifier, logNotifier and multiNotifier', () => {
  it('logs each alert as one structured line', async () => {
    const { lines, log } = capturingLog();
    await logNotifier(log).notify(alert);
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({
      level: 'error',
      message: 'alert',
      alert: 'transfer.failed',
      app: 'example-app',
      database: 'DATABASE',
      transfer: 'a012',
      detail: alert.message,
      at: alert.at,
    });
  });

  it('without PGBACKUPS_WEBHOOK_URL only logs; with it, logs and POSTs once', async () => {
    const only = capturingLog();
    await localNotifier({}, only.log).notify({ ...alert, type: 'schedule.missed' });
    expect(only.lines.map((l) => JSON.parse(l).level)).toEqual(['warn']);

    const { received, url } = await receiver();
    const both = capturingLog();
    await localNotifier({ url, secret: SECRET }, both.log).notify(alert);
    expect(received).toHaveLength(1);
    expect(verify(SECRET, received[0]!.body, received[0]!.headers['x-pgbackups-signature'])).toBe(true);
    expect(both.lines).toHaveLength(1);
  });

  it('one failing channel does not stop the others', async () => {
    const delivered: Alert[] = [];
    const failing: Notifier = { notify: async () => Promise.reject(new Error('SNS down')) };
    const recording: Notifier = { notify: async (a) => void delivered.push(a) };
    const { lines, log } = capturingLog();
    await multiNotifier([failing, recording], log).notify(alert);
    expect(delivered).toEqual([alert]);
    expect(JSON.parse(lines[0]!)).toMatchObject({ message: 'alert not delivered', error: 'SNS down' });
  });
});
