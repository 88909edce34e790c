import { describe, expect, it } from 'vitest';
import { parseArgs, parseSeconds, parseWholeNumber } from '../../../src/cli/args.js';
import { UsageError } from '../../../src/cli/errors.js';

const specs = {
  app: { type: 'string', short: 'a', description: '' },
  verbose: { type: 'boolean', short: 'v', description: '' },
  url: { type: 'string', description: '' },
} as const;

describe('parseArgs', () => {
  it('takes flags in every usual form, before or after positionals', () => {
    expect(parseArgs(['b001', '-a', 'my-app', '--verbose', 'X'], specs)).toEqual({
      flags: { app: 'my-app', verbose: true },
      positionals: ['b001', 'X'],
    });
    expect(parseArgs(['--app=my-app', '-v'], specs).flags).toEqual({ app: 'my-app', verbose: true });
    expect(parseArgs(['-amy-app'], specs).flags).toEqual({ app: 'my-app' });
  });

  it('accepts - as a value (stdin) and ends flags at --', () => {
    expect(parseArgs(['--url', '-'], specs).flags).toEqual({ url: '-' });
    expect(parseArgs(['--', '--verbose'], specs).positionals).toEqual(['--verbose']);
  });

  it('rejects unknown flags, missing values and values given to booleans, as usage errors', () => {
    expect(() => parseArgs(['--nope'], specs)).toThrow(UsageError);
    expect(() => parseArgs(['-x'], specs)).toThrow('Unknown flag -x');
    expect(() => parseArgs(['--app'], specs)).toThrow('Flag --app expects a value');
    expect(() => parseArgs(['--app', '--verbose'], specs)).toThrow('expects a value');
    expect(() => parseArgs(['--verbose=yes'], specs)).toThrow('takes no value');
  });
});

describe('number flags', () => {
  it('parses --wait-interval seconds with a floor, and rejects what Heroku turned into NaN', () => {
    expect(parseSeconds(undefined, 'wait-interval', 3, 0.2)).toBe(3);
    expect(parseSeconds('5', 'wait-interval', 3, 0.2)).toBe(5);
    expect(parseSeconds('0.5', 'wait-interval', 3, 0.2)).toBe(0.5);
    expect(parseSeconds('0', 'wait-interval', 3, 0.2)).toBe(0.2);
    expect(() => parseSeconds('soon', 'wait-interval', 3, 0.2)).toThrow(UsageError);
  });

  it('parses whole numbers within bounds', () => {
    expect(parseWholeNumber('25', 'manual-limit', 0, 1000)).toBe(25);
    expect(() => parseWholeNumber('1001', 'manual-limit', 0, 1000)).toThrow('from 0 to 1000');
    expect(() => parseWholeNumber('2.5', 'manual-limit', 0, 1000)).toThrow(UsageError);
  });
});
