import type { LogLine } from './transfer.js';

/**
 * Budget of a transfer's stored log lines, in bytes. DynamoDB's item limit is 400 KB (names and values, UTF-8);
 * MAX_LOG_LINES × MAX_LOG_LINE_CHARS can reach several times that once characters take 2–4 bytes, so the oldest
 * lines give way. The margin covers the item's keys and DynamoDB's per-element overhead.
 */
export const MAX_LOG_ITEM_BYTES = 350_000;

/**
 * An upper bound of a line's stored size: its JSON in UTF-8 has every name and value DynamoDB counts, plus quotes,
 * colons and braces DynamoDB does not.
 */
export function logLineBytes(line: LogLine): number {
  return Buffer.byteLength(JSON.stringify(line), 'utf8');
}

/**
 * The newest lines that fit in `maxBytes`, oldest first. When lines were dropped, the first line says how many, so
 * a reader knows the log is cut (the newest lines, with the outcome, are what matter).
 */
export function boundLogLines(lines: readonly LogLine[], maxBytes = MAX_LOG_ITEM_BYTES): LogLine[] {
  const markerBudget = 200;
  let total = 0;
  let first = lines.length;
  while (first > 0) {
    const size = logLineBytes(lines[first - 1]!) + 1;
    if (total + size > maxBytes - markerBudget) break;
    total += size;
    first--;
  }
  if (first === 0) return [...lines];
  const kept = lines.slice(first);
  const dropped = first;
  const marker: LogLine = {
    at: lines[first - 1]!.at,
    level: 'warn',
    message: `… ${dropped} earlier log line${dropped === 1 ? '' : 's'} dropped to stay within the stored log's size`,
  };
  return [marker, ...kept];
}
