import { ValidationError } from './errors.js';

// Heroku app names: lower-case letters, digits and dashes, starting with a letter, 3–30 chars. We allow up to 63 so
// names can follow other conventions, but keep the character set: app names appear in S3 keys, IAM resource paths
// and schedule names, where anything else would need escaping.
export const APP_NAME = /^[a-z][a-z0-9-]{1,61}[a-z0-9]$/;

// Attachment names as Heroku config vars use them: upper-case letters, digits and underscores.
const DATABASE_NAME = /^[A-Z][A-Z0-9_]{0,62}$/;
/** What a caller may type: either case, ASCII only. */
const TYPED_NAME = /^[A-Za-z][A-Za-z0-9_]*$/;

/** Validates an app name and returns it unchanged. */
export function parseAppName(input: unknown): string {
  if (typeof input !== 'string' || !APP_NAME.test(input) || input.includes('--')) {
    throw new ValidationError(
      `Invalid app name ${JSON.stringify(String(input)).slice(0, 80)}: use 3–63 lower-case letters, digits and single dashes, starting with a letter (for example example-app)`,
    );
  }
  return input;
}

/**
 * Normalises a database (attachment) name the way Heroku resolves it: `DATABASE_URL` → `DATABASE`,
 * `HEROKU_POSTGRESQL_PINK_URL` and `HEROKU_POSTGRESQL_PINK` → `PINK`. Lower case is accepted and upper-cased.
 */
export function normaliseDatabaseName(input: unknown): string {
  if (typeof input !== 'string' || input.length === 0 || input.length > 100) {
    throw new ValidationError(
      'Invalid database name: give an attachment name such as DATABASE, PINK or HEROKU_POSTGRESQL_PINK_URL',
    );
  }
  const typed = input.trim();
  // Checked as typed, before any case folding: toUpperCase maps 'ſ' (long s) to 'S' and 'ﬁ' to 'FI', which would
  // let `databaſe` silently stand for DATABASE.
  if (!TYPED_NAME.test(typed)) {
    throw new ValidationError(
      `Invalid database name ${JSON.stringify(input).slice(0, 80)}: use ASCII letters, digits and underscores, starting with a letter (for example DATABASE or PINK)`,
    );
  }
  let name = typed.toUpperCase();
  if (name.endsWith('_URL')) name = name.slice(0, -'_URL'.length);
  if (name.startsWith('HEROKU_POSTGRESQL_') && name.length > 'HEROKU_POSTGRESQL_'.length) {
    name = name.slice('HEROKU_POSTGRESQL_'.length);
  }
  if (!DATABASE_NAME.test(name)) {
    throw new ValidationError(
      `Invalid database name ${JSON.stringify(input).slice(0, 80)}: use letters, digits and underscores, starting with a letter (for example DATABASE or PINK)`,
    );
  }
  return name;
}

/** `other-app::NAME` or `NAME`: the app part is optional and defaults to `defaultApp`. */
export function splitAppQualified(input: string, defaultApp: string): { app: string; name: string } {
  const at = input.indexOf('::');
  if (at === -1) return { app: defaultApp, name: input };
  return { app: parseAppName(input.slice(0, at)), name: input.slice(at + 2) };
}
