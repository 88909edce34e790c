// A namespace import lets the worker bundle drop zod's locales (about 0.35 MB of its start-up).
import * as z from 'zod';
import { parseCidrList } from '../adapters/net/url-guard.js';

/**
 * One line naming every problem of a parse, in the words an operator acts on: a variable (or context key) that is
 * absent is "not set", one that is present says what is wrong with it. Shared by every entrypoint's environment
 * and by the CDK context (lib/context.ts), so the messages read the same everywhere. Environment values are never
 * repeated (one may hold a password); `style: 'context'` reads `key must be …, got <value>` for CDK context,
 * whose values are resource ids and sizes.
 */
export function describeIssues(
  error: z.ZodError,
  given: Readonly<Record<string, unknown>>,
  style: 'env' | 'context' = 'env',
): string {
  return error.issues
    .map((i) => {
      const key = String(i.path[0] ?? '');
      if (key === '') return i.message;
      if (given[key] === undefined) return `${key} is not set`;
      return style === 'context'
        ? `${key} ${i.message}, got ${JSON.stringify(given[key])}`
        : `${i.path.map(String).join('.')}: ${i.message}`;
    })
    .join('; ');
}

/** Parses `env` with `schema` or throws one error, `Invalid <what>: …`, naming every missing or bad variable. */
export function parseEnv<S extends z.ZodType>(
  schema: S,
  env: Readonly<Record<string, string | undefined>>,
  what: string,
): z.output<S> {
  const parsed = schema.safeParse(env);
  if (!parsed.success) throw new Error(`Invalid ${what}: ${describeIssues(parsed.error, env)}`);
  return parsed.data;
}

/** A comma-separated list: trimmed, empty entries dropped. */
export function splitCommas(v: string | undefined): string[] {
  return (v ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

/** A string whose empty value (`NAME=`) means unset, as a shell user expects. */
export const optionalText = z
  .string()
  .optional()
  .transform((v) => v || undefined);

/** `true` or `false`, as a boolean. */
export const booleanFlag = z.enum(['true', 'false']).transform((v) => v === 'true');

/**
 * CIDRs, comma-separated (the database-host allowlist), checked by the URL guard's rules; `required` for the
 * functions, whose stack always sets it.
 */
export function cidrList(required: boolean) {
  return (required ? z.string() : z.string().optional()).transform((v, ctx) => {
    try {
      return parseCidrList(v);
    } catch (e) {
      ctx.addIssue({ code: 'custom', message: (e as Error).message });
      return z.NEVER;
    }
  });
}
