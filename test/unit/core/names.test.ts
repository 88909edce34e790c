import { describe, expect, it } from 'vitest';
import { normaliseDatabaseName, parseAppName, splitAppQualified } from '../../../src/core/names.js';
import {
  canTransition,
  parseTransferId,
  statusesLeadingTo,
  transferName,
} from '../../../src/core/transfer.js';

describe('transferName', () => {
  it('prefixes by kind and type and pads to three digits', () => {
    expect(transferName('backup', 'manual', 1)).toBe('b001');
    expect(transferName('backup', 'scheduled', 2)).toBe('a002');
    expect(transferName('restore', 'manual', 3)).toBe('r003');
    expect(transferName('copy', 'manual', 4)).toBe('c004');
    expect(transferName('backup', 'manual', 999)).toBe('b999');
    expect(transferName('backup', 'manual', 1000)).toBe('b1000');
  });
});

describe('parseTransferId', () => {
  it.each([
    ['b5', 5],
    ['b005', 5],
    ['5', 5],
    ['a12', 12],
    ['r003', 3],
    ['c1000', 1000],
  ])('reads %s as %i', (input, num) => {
    expect(parseTransferId(input)).toBe(num);
  });

  it.each(['', 'b', 'x5', 'b-1', 'b0', '0', 'B005', 'b5; drop table', 'b1234567890'])(
    'refuses %j',
    (input) => {
      expect(() => parseTransferId(input)).toThrow(/Invalid transfer id/);
    },
  );
});

describe('database names', () => {
  it.each([
    ['DATABASE_URL', 'DATABASE'],
    ['DATABASE', 'DATABASE'],
    ['HEROKU_POSTGRESQL_PINK_URL', 'PINK'],
    ['HEROKU_POSTGRESQL_PINK', 'PINK'],
    ['pink', 'PINK'],
    ['ANALYTICS_DB', 'ANALYTICS_DB'],
  ])('normalises %s to %s', (input, name) => {
    expect(normaliseDatabaseName(input)).toBe(name);
  });

  it.each(['', '1DB', 'PINK-DB', 'a b', '../etc', 'DB#1', 'X'.repeat(101)])(
    'refuses %j with a hint',
    (input) => {
      expect(() => normaliseDatabaseName(input)).toThrow(/Invalid database name.*(DATABASE|attachment)/);
    },
  );

  // Upper-casing first turned these into DATABASE and FINANCE, silently replacing those attachments.
  it.each([
    ['databa\u017fe', 'long s'],
    ['\ufb01nance', 'fi ligature'],
    ['\u0130NDEX', 'dotted capital I'],
    ['pınk', 'dotless i'],
    ['\uff24ATABASE', 'full-width D'],
  ])('refuses %j (%s): checked as typed, before any case folding', (input) => {
    expect(() => normaliseDatabaseName(input)).toThrow(/Invalid database name.*ASCII letters/);
  });
});

describe('app names', () => {
  it('accepts Heroku-style names', () => {
    expect(parseAppName('example-app')).toBe('example-app');
    expect(parseAppName('a1b')).toBe('a1b');
  });

  it.each(['', 'ab', 'Example', '-app', 'app-', 'my--app', 'app_1', 'app::x', 'a'.repeat(64)])(
    'refuses %j',
    (input) => {
      expect(() => parseAppName(input)).toThrow(/Invalid app name/);
    },
  );

  it('splits app-qualified references', () => {
    expect(splitAppQualified('other-app::b101', 'mine')).toEqual({ app: 'other-app', name: 'b101' });
    expect(splitAppQualified('b101', 'mine')).toEqual({ app: 'mine', name: 'b101' });
    expect(() => splitAppQualified('BAD::b1', 'mine')).toThrow(/Invalid app name/);
  });
});

describe('status transitions', () => {
  it('allows only forward moves to a terminal state', () => {
    expect(canTransition('pending', 'running')).toBe(true);
    expect(canTransition('pending', 'cancelled')).toBe(true);
    expect(canTransition('running', 'completed')).toBe(true);
    expect(canTransition('pending', 'completed')).toBe(false);
    expect(canTransition('completed', 'failed')).toBe(false);
    expect(canTransition('cancelled', 'running')).toBe(false);
    expect(canTransition('failed', 'completed')).toBe(false);
  });

  it('derives the write condition for each target status', () => {
    expect(statusesLeadingTo('running')).toEqual(['pending']);
    expect(statusesLeadingTo('completed')).toEqual(['running']);
    expect(statusesLeadingTo('cancelled')).toEqual(['pending', 'running']);
  });
});
