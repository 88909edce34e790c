import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CommitGate } from '../../../src/worker/commit-gate.js';

const HEADER =
  '--\n-- PostgreSQL database dump\n--\n\n\\restrict abc123\n\n-- Dumped from database version 15.18\n\n';
const BODY = [
  'SET statement_timeout = 0;',
  "SELECT pg_catalog.set_config('search_path', '', false);",
  'CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $$',
  'BEGIN',
  '  RETURN NEW;',
  'END;',
  '$$;',
  'COPY public.t (v) FROM stdin;',
  // A row whose text is exactly COMMIT; must pass through: it is not the script's last statement.
  'COMMIT;',
  'BEGIN;',
  'plain row',
  '\\.',
  '',
  "SELECT pg_catalog.lo_open('16777', 131072);",
  '',
].join('\n');
const TRAILER = '\n--\n-- PostgreSQL database dump complete\n--\n\n\\unrestrict abc123\n\n';
const SCRIPT = `${HEADER}BEGIN;\n\n${BODY}\nCOMMIT;\n${TRAILER}`;
const PRELUDE = 'BEGIN;\n-- wipe\n';

async function gateOutput(chunks: string[], ok: boolean) {
  const seen: boolean[] = [];
  const gate = new CommitGate({
    prelude: PRELUDE,
    decide: async (complete) => {
      seen.push(complete);
      return ok;
    },
  });
  const out = await text(Readable.from(chunks.map((c) => Buffer.from(c))).pipe(gate));
  return { out, seen, decision: gate.decision };
}

/** Splits `s` at the given (sorted, deduplicated) byte offsets. */
function split(s: string, cuts: number[]): string[] {
  const points = [...new Set(cuts.map((c) => c % (s.length + 1)))].sort((a, b) => a - b);
  const parts: string[] = [];
  let last = 0;
  for (const p of points) {
    parts.push(s.slice(last, p));
    last = p;
  }
  parts.push(s.slice(last));
  return parts.filter((p) => p.length > 0);
}

describe('CommitGate', () => {
  it('writes the prelude, drops the leading BEGIN and moves the final COMMIT after the decision', async () => {
    const { out, seen, decision } = await gateOutput([SCRIPT], true);
    expect(out).toBe(`${PRELUDE}${HEADER}\n${BODY}\n${TRAILER}\nCOMMIT;\n`);
    expect(seen).toEqual([true]);
    expect(decision).toBe('commit');
  });

  it('writes ROLLBACK instead when the decision is no', async () => {
    const { out, decision } = await gateOutput([SCRIPT], false);
    expect(out.endsWith(`${TRAILER}\nROLLBACK;\n`)).toBe(true);
    // The only COMMIT; left is the COPY row's.
    expect(out.match(/^COMMIT;$/gm)).toHaveLength(1);
    expect(decision).toBe('rollback');
  });

  it('gives the same output however the stream is chunked', async () => {
    const expected = (await gateOutput([SCRIPT], true)).out;
    await fc.assert(
      fc.asyncProperty(fc.array(fc.nat(), { maxLength: 12 }), async (cuts) => {
        expect((await gateOutput(split(SCRIPT, cuts), true)).out).toBe(expected);
      }),
      { numRuns: 200 },
    );
  });

  it('never lets the final COMMIT through before the decision, however the stream is chunked', async () => {
    const expected = (await gateOutput([SCRIPT], false)).out;
    expect(expected).not.toMatch(/\nCOMMIT;\n\n--\n-- PostgreSQL database dump complete/);
    // The split that matters most: a chunk ending exactly at the final `COMMIT;`, before its newline.
    const end = SCRIPT.lastIndexOf('\nCOMMIT;') + '\nCOMMIT;'.length;
    expect((await gateOutput([SCRIPT.slice(0, end), SCRIPT.slice(end)], false)).out).toBe(expected);
    await fc.assert(
      fc.asyncProperty(fc.array(fc.nat(), { maxLength: 12 }), async (cuts) => {
        expect((await gateOutput(split(SCRIPT, cuts), false)).out).toBe(expected);
      }),
      { numRuns: 300 },
    );
  });

  it('never commits a script that ends without its final COMMIT', async () => {
    const truncated = `${HEADER}BEGIN;\n${BODY}CREATE TABLE half`;
    const { out, seen, decision } = await gateOutput([truncated], true);
    expect(seen).toEqual([false]);
    expect(decision).toBe('rollback');
    // Nothing is appended: ROLLBACK glued to a half statement would be noise; disconnecting rolls back anyway.
    expect(out.endsWith('CREATE TABLE half')).toBe(true);
  });

  it('releases a COMMIT line followed by more statements', async () => {
    const script = `BEGIN;\nCOMMIT;\nSELECT 1;\nCOMMIT;\n`;
    const { out } = await gateOutput([script], true);
    expect(out).toBe(`${PRELUDE}COMMIT;\nSELECT 1;\n\nCOMMIT;\n`);
  });

  it('keeps BEGIN when it is not the first statement', async () => {
    const { out } = await gateOutput(['SET x = 1;\nBEGIN;\nCOMMIT;\n'], true);
    expect(out).toBe(`${PRELUDE}SET x = 1;\nBEGIN;\n\nCOMMIT;\n`);
  });

  it('passes a long line on before it ends instead of holding it', async () => {
    const gate = new CommitGate({ prelude: '', decide: async () => true });
    gate.write(Buffer.from('BEGIN;\nINSERT '));
    gate.write(Buffer.from('x'.repeat(1_000_000)));
    const first = gate.read() as Buffer;
    expect(first.length).toBeGreaterThan(1_000_000);
    gate.destroy();
  });

  it('fails the stream when the decision itself fails', async () => {
    const gate = new CommitGate({
      prelude: '',
      decide: async () => {
        throw new Error('download failed');
      },
    });
    await expect(text(Readable.from([Buffer.from(SCRIPT)]).pipe(gate))).rejects.toThrow('download failed');
    expect(gate.decision).toBe('rollback');
  });
});
