/**
 * Text formatting for the CLI: sizes, times, Heroku's status strings and tables. Pure functions, so every layout
 * can be checked against fixed expected text.
 */
import type { LogLineJson, TransferJson } from './types.js';

/** Heroku's glyphs: ⛁ marks a database, ⬢ an app. */
export const db = (name: string): string => `⛁ ${name}`;
export const app = (name: string): string => `⬢ ${name}`;

const UNITS = ['B', 'KB', 'MB', 'GB', 'TB', 'PB'] as const;

/** `1.40KB`, `976.56KB`, `0B`: 1024-based, two decimals, as the npm `bytes` package prints them for Heroku. */
export function formatBytes(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n) || n < 0) return '';
  if (n < 1024) return `${Math.round(n)}B`;
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(2)}${UNITS[unit]}`;
}

/** `2016-10-05 00:42:54 +0000`: Heroku's timestamp layout, always UTC. */
export function formatTime(iso: string | null | undefined): string {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return `${d.toISOString().slice(0, 19).replace('T', ' ')} +0000`;
}

/** The Status cell of `pgbackups list`. */
export function listStatus(t: TransferJson): string {
  switch (t.status) {
    case 'completed':
      return t.warnings > 0
        ? `Finished with ${t.warnings} warning${t.warnings === 1 ? '' : 's'}`
        : `Completed ${formatTime(t.finishedAt)}`;
    case 'failed':
      return `Failed ${formatTime(t.finishedAt)}`;
    // Heroku shows a cancelled transfer as Failed here; we say what happened.
    case 'cancelled':
      return `Cancelled ${formatTime(t.finishedAt)}`;
    case 'running':
      return `Running (processed ${formatBytes(t.processedBytes ?? 0)})`;
    default:
      return 'Pending';
  }
}

/** The Status line of `pgbackups info`. */
export function infoStatus(t: TransferJson): string {
  switch (t.status) {
    case 'completed':
      return t.warnings > 0
        ? `Finished with ${t.warnings} warning${t.warnings === 1 ? '' : 's'}`
        : 'Completed';
    case 'failed':
      return 'Failed';
    case 'cancelled':
      return 'Cancelled';
    case 'running':
      return t.cancelRequested ? 'Running (cancelling)' : 'Running';
    default:
      return 'Pending';
  }
}

/** Heroku's compression figure: `round((source - backup) / source * 100)`, floored at 0; 0 when nothing is known. */
export function compressionPercent(sourceBytes: number | null, backupBytes: number | null): number {
  if (!sourceBytes || !backupBytes) return 0;
  return Math.max(0, Math.round(((sourceBytes - backupBytes) / sourceBytes) * 100));
}

/**
 * A table as Heroku's CLI renders it: one leading space, columns separated by one space and padded to the widest
 * cell, the header above the rows. Trailing spaces are trimmed so output compares cleanly.
 */
export function table(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, i) => Math.max(width(h), ...rows.map((r) => width(r[i] ?? ''))));
  const line = (cells: readonly string[]) =>
    ` ${cells.map((c, i) => c + ' '.repeat((widths[i] ?? 0) - width(c))).join(' ')}`.trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

/** Display width: every code point counts one column (our glyphs ⛁ and ⬢ are single-width). */
function width(s: string): number {
  return [...s].length;
}

/** `Label:   value` lines with the values aligned, as in `pgbackups info`. */
export function keyValues(pairs: readonly (readonly [string, string])[]): string {
  const w = Math.max(...pairs.map(([k]) => width(k))) + 1;
  return pairs.map(([k, v]) => `${`${k}:`.padEnd(w + 1)}${v}`.trimEnd()).join('\n');
}

export const logLine = (l: LogLineJson): string => `${formatTime(l.at)} ${l.message}`;

/** How a transfer's source appears: `⛁ DATABASE`, `b001`, `other-app::b001` or the URL without its query. */
export function describeSource(t: TransferJson, viewerApp: string): string {
  const s = t.source;
  if (s.type === 'database') return db(qualified(s.app, s.database, viewerApp));
  if (s.type === 'backup') return qualified(s.app, s.id, viewerApp);
  return redactUrl(s.url);
}

export function describeTarget(t: TransferJson, viewerApp: string): string {
  const target = t.target;
  if (target.type === 'database') return db(qualified(target.app, target.database, viewerApp));
  return 'BACKUP';
}

function qualified(owner: string | undefined, name: string, viewerApp: string): string {
  return owner && owner !== viewerApp ? `${owner}::${name}` : name;
}

/** Drops the password and the query string (presigned URLs carry their signature there). */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    // `origin` is "null" for postgres:// URLs, so the parts are put back by hand.
    const user = u.username ? `${u.username}${u.password ? ':…' : ''}@` : '';
    return `${u.protocol}//${user}${u.host}${u.pathname}${u.search ? '?…' : ''}`;
  } catch {
    return `${/^[a-z][a-z0-9+.-]*:\/\//i.exec(url)?.[0] ?? ''}(URL)`;
  }
}

/** Every URL in a text redacted as by `redactUrl`, and `password=…` pairs hidden: what a message may quote. */
export function redactSecrets(text: string): string {
  return text
    .replace(/\b[a-z][a-z0-9+.-]*:\/\/[^\s"'<>`]+/gi, (u) => redactUrl(u))
    .replace(/\b(password\s*=\s*)[^\s"']+/gi, '$1…');
}

/** `postgres://…`, `https://…`: an argument that is a URL (and may hold a password) rather than a name. */
export const isUrlLike = (s: string): boolean => /^[a-z][a-z0-9+.-]*:\/\//i.test(s.trim());

export function capitalise(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
