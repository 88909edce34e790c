/**
 * Flag parsing on `node:util` `parseArgs` (tokens mode): `--flag value`, `--flag=value`, `-a value`, `-avalue`,
 * boolean flags, `--` to end flags, flags before or after positional arguments (as with oclif). Node's parser
 * splits the tokens; the checks and the messages (with a "did you mean" for a mistyped flag) are ours, so every
 * refusal is a usage error that names the fix.
 */
import { parseArgs as nodeParseArgs } from 'node:util';
import { UsageError } from './errors.js';

export interface FlagSpec {
  readonly type: 'boolean' | 'string';
  readonly short?: string;
  /** Shown in help as `--name VALUE`. */
  readonly value?: string;
  readonly description: string;
  /** Accepted (for Heroku compatibility) but not listed in help. */
  readonly hidden?: boolean;
}

export type FlagSpecs = Readonly<Record<string, FlagSpec>>;

export interface ParsedArgs {
  readonly flags: Readonly<Record<string, string | boolean | undefined>>;
  readonly positionals: readonly string[];
}

/** A value that looks like another flag: `--app --verbose` forgot the app. `-` (stdin) and `-5` are values. */
const looksLikeFlag = (v: string) => v.length > 1 && v.startsWith('-') && !/^-\d/.test(v);

export function parseArgs(argv: readonly string[], specs: FlagSpecs, command?: string): ParsedArgs {
  const options: Record<string, { type: 'boolean' | 'string'; short?: string }> = {};
  for (const [name, s] of Object.entries(specs)) {
    options[name] = s.short ? { type: s.type, short: s.short } : { type: s.type };
  }
  // strict: false so that unknown flags come back as tokens and get our message instead of node's.
  const { tokens } = nodeParseArgs({
    args: [...argv],
    options,
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  const flags: Record<string, string | boolean> = {};
  const positionals: string[] = [];
  for (const token of tokens) {
    if (token.kind === 'positional') {
      positionals.push(token.value);
      continue;
    }
    if (token.kind === 'option-terminator') continue;
    const spec = specs[token.name];
    if (!spec) {
      const hint = suggest(
        token.rawName,
        Object.entries(specs).flatMap(([n, s]) => [`--${n}`, ...(s.short ? [`-${s.short}`] : [])]),
      );
      throw new UsageError(`Unknown flag ${token.rawName}${hint ? `. Did you mean ${hint}?` : ''}`, command);
    }
    const shown = token.rawName.startsWith('--') ? `--${token.name}` : token.rawName;
    if (spec.type === 'boolean') {
      if (token.value !== undefined) throw new UsageError(`Flag ${shown} takes no value`, command);
      flags[token.name] = true;
      continue;
    }
    if (token.value === undefined || (!token.inlineValue && looksLikeFlag(token.value))) {
      throw new UsageError(`Flag ${shown} expects a value: ${shown} ${spec.value ?? 'VALUE'}`, command);
    }
    flags[token.name] = token.value;
  }
  return { flags, positionals };
}

/** Levenshtein distance, for "did you mean". */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(
        (prev[j] as number) + 1,
        (row[j - 1] as number) + 1,
        (prev[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    prev = row;
  }
  return prev[b.length] as number;
}

/** The closest candidate to a mistyped word, if it is close enough to be what was meant (or starts with it). */
export function suggest(word: string, candidates: readonly string[]): string | undefined {
  const w = word.toLowerCase();
  let best: { c: string; d: number } | undefined;
  for (const c of candidates) {
    const d = c.length > 2 && c.startsWith(w) && w.length >= 3 ? 0.5 : distance(w, c.toLowerCase());
    if (!best || d < best.d) best = { c, d };
  }
  if (!best) return undefined;
  return best.d <= Math.max(1, Math.floor(Math.min(w.length, best.c.length) / 3)) ? best.c : undefined;
}

/** A number of seconds from `--wait-interval`; rejects what Heroku silently turned into NaN. */
export function parseSeconds(
  raw: string | boolean | undefined,
  name: string,
  fallback: number,
  min: number,
): number {
  if (raw === undefined || raw === true || raw === false) return fallback;
  const value = Number(raw);
  if (!/^\d+(\.\d+)?$/.test(raw.trim()) || !Number.isFinite(value)) {
    throw new UsageError(`Invalid --${name} ${JSON.stringify(raw)}: give a number of seconds, for example 3`);
  }
  return Math.max(min, value);
}

/** A whole number within bounds, for settings flags. */
export function parseWholeNumber(raw: string, name: string, min: number, max: number): number {
  if (!/^\d{1,7}$/.test(raw.trim()) || Number(raw) < min || Number(raw) > max) {
    throw new UsageError(
      `Invalid --${name} ${JSON.stringify(raw)}: give a whole number from ${min} to ${max}`,
    );
  }
  return Number(raw);
}
