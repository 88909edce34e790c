import { describe, expect, it } from 'vitest';
import { errorResponse } from '../../../src/api/http-errors.js';
import { NotFoundError } from '../../../src/core/errors.js';
import { jsonLogger } from '../../../src/core/logger.js';

function capture() {
  const lines: Record<string, unknown>[] = [];
  return { lines, log: jsonLogger({}, (line) => lines.push(JSON.parse(line))) };
}

describe('errorResponse', () => {
  it('logs an unexpected error in full — stack and causes — and answers a generic 500', () => {
    const { lines, log } = capture();
    const root = new Error('connect ECONNREFUSED 10.0.0.5:443');
    const res = errorResponse(new Error('Could not list transfers', { cause: root }), log);
    expect(res.status).toBe(500);
    expect(res.body).not.toContain('10.0.0.5');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      level: 'error',
      message: 'unhandled error',
      error: 'Error: Could not list transfers',
      causes: ['Error: connect ECONNREFUSED 10.0.0.5:443'],
    });
    expect(lines[0]!.stack).toMatch(/^Error: Could not list transfers\n\s+at /);
  });

  it('maps a typed error to its status without logging it', () => {
    const { lines, log } = capture();
    const res = errorResponse(new NotFoundError('Transfer b9 not found', { cause: new Error('inner') }), log);
    expect(res.status).toBe(404);
    expect(JSON.parse(res.body ?? '{}')).toEqual({
      error: { code: 'not_found', message: 'Transfer b9 not found' },
    });
    expect(lines).toEqual([]);
  });
});
