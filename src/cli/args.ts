/**
 * A small argument parser: `--flag value`, `--flag=value`, `-a value`, `-avalue`, boolean flags, `--` to end flags.
 * Flags may appear before or after positional arguments, as with oclif.
 */
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

export function parseArgs(argv: readonly string[], specs: FlagSpecs, command?: string): ParsedArgs {
  const flags: Record<string, string | boolean> = {};
  const positionals: string[] = [];
  const byShort = new Map(
    Object.entries(specs)
      .filter(([, s]) => s.short)
      .map(([name, s]) => [s.short as string, name]),
  );
  const takeValue = (name: string, inline: string | undefined, i: number): [string, number] => {
    if (inline !== undefined) return [inline, i];
    const next = argv[i + 1];
    // `-` alone is a value (it means stdin); anything else starting with a dash is another flag.
    if (next === undefined || (next.startsWith('-') && next !== '-' && !/^-\d/.test(next))) {
      throw new UsageError(
        `Flag --${name} expects a value: --${name} ${specs[name]?.value ?? 'VALUE'}`,
        command,
      );
    }
    return [next, i + 1];
  };

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      const name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
      const inline = eq === -1 ? undefined : arg.slice(eq + 1);
      const spec = specs[name];
      if (!spec) throw new UsageError(`Unknown flag --${name}`, command);
      if (spec.type === 'boolean') {
        if (inline !== undefined) throw new UsageError(`Flag --${name} takes no value`, command);
        flags[name] = true;
      } else {
        const [value, next] = takeValue(name, inline, i);
        flags[name] = value;
        i = next;
      }
      continue;
    }
    if (arg.startsWith('-') && arg !== '-' && arg.length > 1) {
      const short = arg.slice(1, 2);
      const name = byShort.get(short);
      if (!name) throw new UsageError(`Unknown flag -${short}`, command);
      const spec = specs[name] as FlagSpec;
      if (spec.type === 'boolean') {
        if (arg.length > 2) throw new UsageError(`Flag -${short} takes no value`, command);
        flags[name] = true;
      } else {
        const [value, next] = takeValue(name, arg.length > 2 ? arg.slice(2) : undefined, i);
        flags[name] = value;
        i = next;
      }
      continue;
    }
    positionals.push(arg);
  }
  return { flags, positionals };
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
