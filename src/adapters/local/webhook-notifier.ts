import { createHmac } from 'node:crypto';
import { bestEffort, errorMessage, type Logger } from '../../core/logger.js';
import type { Alert, Notifier } from '../../core/ports.js';
import { logNotifier, multiNotifier } from './log-notifier.js';

/** Header carrying `sha256=<hex HMAC-SHA256 of the raw body>`, keyed with PGBACKUPS_WEBHOOK_SECRET. */
export const SIGNATURE_HEADER = 'X-Pgbackups-Signature';
export const DEFAULT_WEBHOOK_TIMEOUT_MS = 5000;

export interface WebhookNotifierOptions {
  readonly url: string;
  /** Signs each body; without it the POST is sent unsigned (and a warning is logged once). */
  readonly secret?: string;
  readonly timeoutMs?: number;
  readonly log: Logger;
  /** For tests; the global fetch otherwise. */
  readonly fetch?: typeof fetch;
}

/** `sha256=<hex>`: what a receiver recomputes over the raw body and compares in constant time. */
export function signWebhookBody(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** The body POSTed for an alert: the alert itself plus `source`, as in the EventBridge events on AWS. */
export function webhookBody(alert: Alert): string {
  return JSON.stringify({ source: 'pgbackups', ...alert });
}

/**
 * POSTs each alert as JSON to a webhook, once (no retries: a receiver that is down must not delay the caller, and
 * the log line still records the alert). Delivery errors are logged, never thrown. The URL may itself be a
 * credential (Slack-style webhooks), so only its origin is logged, and the secret never is.
 */
export function webhookNotifier(opts: WebhookNotifierOptions): Notifier {
  const url = new URL(opts.url);
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new Error(`PGBACKUPS_WEBHOOK_URL must be an http(s) URL, got ${url.protocol}`);
  }
  const target = url.origin;
  const doFetch = opts.fetch ?? fetch;
  const timeoutMs = opts.timeoutMs ?? DEFAULT_WEBHOOK_TIMEOUT_MS;
  if (!opts.secret) opts.log.warn('webhook alerts are unsigned: set PGBACKUPS_WEBHOOK_SECRET', { target });
  return {
    async notify(alert: Alert) {
      const body = webhookBody(alert);
      const headers: Record<string, string> = {
        'content-type': 'application/json',
        'user-agent': 'pgbackups',
      };
      if (opts.secret) headers[SIGNATURE_HEADER] = signWebhookBody(opts.secret, body);
      try {
        const res = await doFetch(url, {
          method: 'POST',
          headers,
          body,
          redirect: 'error',
          signal: AbortSignal.timeout(timeoutMs),
        });
        // Drain the body so the connection is released.
        await bestEffort(opts.log, 'drain the webhook response', res.arrayBuffer());
        if (!res.ok) {
          opts.log.error('webhook rejected alert', {
            target,
            status: res.status,
            alert: alert.type,
            app: alert.app,
          });
        }
      } catch (e) {
        opts.log.error('webhook alert failed', {
          target,
          alert: alert.type,
          app: alert.app,
          error: errorMessage(e),
        });
      }
    },
  };
}

/**
 * The local stack's notifier: a log line for every alert, plus the webhook when PGBACKUPS_WEBHOOK_URL is set
 * (signed with PGBACKUPS_WEBHOOK_SECRET).
 */
export function localNotifier(opts: { url?: string; secret?: string }, log: Logger): Notifier {
  const { url, secret } = opts;
  if (!url) return logNotifier(log);
  const webhook = webhookNotifier({ url, secret, log });
  return multiNotifier([logNotifier(log), webhook], log);
}
