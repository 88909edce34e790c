/**
 * Defensive redaction of pg tools' stderr before it reaches a transfer's logs or error. libpq may echo
 * connection details in its messages; the password is never meant to be in them, but a user-supplied `options`
 * parameter or a future libpq message must not be the day it leaks.
 */
const REDACTED = '[REDACTED]';

const PATTERNS: readonly [RegExp, string][] = [
  // scheme://user:password@host → scheme://user:[REDACTED]@host (and any userinfo at all)
  [/\b([a-z][a-z0-9+.-]*:\/\/)[^\s/@]*@/gi, `$1${REDACTED}@`],
  // conninfo keywords: password=…, sslpassword='…'
  [/\b((?:ssl)?password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)/gi, `$1${REDACTED}`],
  // environment-style assignments: PGPASSWORD=…
  [/\b(PGPASSWORD\s*=\s*)\S+/g, `$1${REDACTED}`],
];

/** Replaces every known secret and anything that looks like a credential. */
export function redact(text: string, secrets: readonly string[] = []): string {
  let out = text;
  // Longest first, so a URL is replaced whole before the password inside it.
  for (const s of [...secrets].sort((a, b) => b.length - a.length)) {
    if (s) out = out.split(s).join(REDACTED);
  }
  for (const [pattern, replacement] of PATTERNS) out = out.replace(pattern, replacement);
  return out;
}
