import { describe, expect, it } from 'vitest';
import {
  compressionPercent,
  formatBytes,
  formatTime,
  infoStatus,
  keyValues,
  listStatus,
  redactUrl,
  table,
} from '../../../src/cli/format.js';
import { transfer } from './harness.js';

describe('formatBytes', () => {
  it('prints 1024-based sizes with two decimals, as the bytes package does for Heroku', () => {
    expect(formatBytes(0)).toBe('0B');
    expect(formatBytes(1023)).toBe('1023B');
    expect(formatBytes(1024)).toBe('1.00KB');
    expect(formatBytes(1434)).toBe('1.40KB');
    expect(formatBytes(1_000_000)).toBe('976.56KB');
    expect(formatBytes(100_000)).toBe('97.66KB');
    expect(formatBytes(5 * 1024 ** 3)).toBe('5.00GB');
    expect(formatBytes(3 * 1024 ** 4)).toBe('3.00TB');
  });

  it('prints nothing for an unknown size', () => {
    expect(formatBytes(null)).toBe('');
    expect(formatBytes(undefined)).toBe('');
    expect(formatBytes(-1)).toBe('');
  });
});

describe('formatTime', () => {
  it('prints ISO times the way Heroku does, in UTC', () => {
    expect(formatTime('2016-10-05T00:42:54.123Z')).toBe('2016-10-05 00:42:54 +0000');
    expect(formatTime('2016-10-05T02:42:54+02:00')).toBe('2016-10-05 00:42:54 +0000');
    expect(formatTime(null)).toBe('');
  });
});

describe('status strings', () => {
  it('uses Heroku words in the list, and says Cancelled rather than Failed for a cancelled transfer', () => {
    const at = { finishedAt: '2016-10-08T00:43:00Z' };
    expect(listStatus(transfer({ id: 'b1', num: 1, status: 'completed', ...at }))).toBe(
      'Completed 2016-10-08 00:43:00 +0000',
    );
    expect(listStatus(transfer({ id: 'b1', num: 1, status: 'completed', warnings: 2 }))).toBe(
      'Finished with 2 warnings',
    );
    expect(listStatus(transfer({ id: 'b1', num: 1, status: 'failed', ...at }))).toBe(
      'Failed 2016-10-08 00:43:00 +0000',
    );
    expect(listStatus(transfer({ id: 'b1', num: 1, status: 'cancelled', ...at }))).toBe(
      'Cancelled 2016-10-08 00:43:00 +0000',
    );
    expect(listStatus(transfer({ id: 'b1', num: 1, status: 'running', processedBytes: 1434 }))).toBe(
      'Running (processed 1.40KB)',
    );
    expect(listStatus(transfer({ id: 'b1', num: 1, status: 'pending' }))).toBe('Pending');
  });

  it('uses the info words', () => {
    expect(infoStatus(transfer({ id: 'b1', num: 1, status: 'completed', warnings: 1 }))).toBe(
      'Finished with 1 warning',
    );
    expect(infoStatus(transfer({ id: 'b1', num: 1, status: 'cancelled' }))).toBe('Cancelled');
    expect(infoStatus(transfer({ id: 'b1', num: 1, status: 'running', cancelRequested: true }))).toBe(
      'Running (cancelling)',
    );
  });
});

describe('compressionPercent', () => {
  it("follows Heroku's rounding, floored at 0, and 0 when a size is unknown", () => {
    expect(compressionPercent(1_000_000, 100_000)).toBe(90);
    expect(compressionPercent(100, 150)).toBe(0);
    expect(compressionPercent(null, 100)).toBe(0);
    expect(compressionPercent(100, 0)).toBe(0);
  });
});

describe('layout helpers', () => {
  it('pads table columns to the widest cell, with a leading space and no trailing spaces', () => {
    expect(
      table(
        ['Id', 'Name'],
        [
          ['b001', 'x'],
          ['b1000', 'longer'],
        ],
      ),
    ).toBe([' Id    Name', ' b001  x', ' b1000 longer'].join('\n'));
  });

  it('aligns key-value pairs after the longest label', () => {
    expect(
      keyValues([
        ['Database', 'a'],
        ['Original DB Size', 'b'],
      ]),
    ).toBe(['Database:         a', 'Original DB Size: b'].join('\n'));
  });

  it('drops the query string of URLs, where presigned signatures live', () => {
    expect(redactUrl('https://example.com/a/b.dump?X-Amz-Signature=secret')).toBe(
      'https://example.com/a/b.dump?…',
    );
  });
});
