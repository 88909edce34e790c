import { ValidationError } from './errors.js';

/**
 * Extension names, as Heroku's `--extensions` takes them: `extension` or `schema.extension`, lower-case. The one
 * rule for the API (which refuses anything else), the worker (which splices the names into the SQL it feeds psql,
 * where a stray backslash could start a meta-command, so it checks again) and the CLI (which splits the flag).
 */
const EXTENSION = /^([a-z_][a-z0-9_]{0,62}\.)?[a-z_][a-z0-9_-]{0,62}$/;

/** At most this many entries in one list. */
const MAX_EXTENSIONS = 50;

/** A list of extensions (an array, or a comma-separated string): trimmed, lower-cased, each checked. */
export function parseExtensions(input: unknown): string[] {
  if (input === undefined) return [];
  const list = typeof input === 'string' ? input.split(',') : input;
  if (!Array.isArray(list) || list.length > MAX_EXTENSIONS) {
    throw new ValidationError('Invalid extensions: give a list like ["public.hstore", "pgcrypto"]');
  }
  return list.map((e) => {
    const name = typeof e === 'string' ? e.trim().toLowerCase() : '';
    if (!EXTENSION.test(name)) {
      throw new ValidationError(
        `Invalid extension ${JSON.stringify(e)}: use NAME or SCHEMA.NAME with lower-case letters, digits and underscores`,
      );
    }
    return name;
  });
}

/** {@link parseExtensions}, each split into its schema (when given) and name. */
export function parseExtensionTargets(input: unknown): { schema?: string; name: string }[] {
  return parseExtensions(input).map((entry) => {
    const [a, b] = entry.split('.') as [string, string | undefined];
    return b === undefined ? { name: a } : { schema: a, name: b };
  });
}

/**
 * The CLI's `--extensions 'a, b, schema.c'`: trimmed, lower-cased, sorted, without duplicates or empty entries;
 * the API checks each name.
 */
export function splitExtensionList(raw: string): string[] {
  const names = raw
    .split(',')
    .map((e) => e.trim().toLowerCase())
    .filter((e) => e !== '');
  return [...new Set(names)].sort();
}
