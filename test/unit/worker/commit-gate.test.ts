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
    const script = `\\restrict k\nBEGIN;\nCOMMIT;\nSELECT 1;\nCOMMIT;\n`;
    const { out } = await gateOutput([script], true);
    expect(out).toBe(`${PRELUDE}\\restrict k\nCOMMIT;\nSELECT 1;\n\nCOMMIT;\n`);
  });

  it('keeps BEGIN when it is not the first statement', async () => {
    const { out } = await gateOutput(['\\restrict k\nSET x = 1;\nBEGIN;\nCOMMIT;\n'], true);
    expect(out).toBe(`${PRELUDE}\\restrict k\nSET x = 1;\nBEGIN;\n\nCOMMIT;\n`);
  });

  it('passes a long line on before it ends instead of holding it', async () => {
    const gate = new CommitGate({ prelude: '', decide: async () => true });
    gate.write(Buffer.from('\\restrict k\nBEGIN;\nINSERT '));
    gate.write(Buffer.from('x'.repeat(1_000_000)));
    const first = gate.read() as Buffer;
    expect(first.length).toBeGreaterThan(1_000_000);
    gate.destroy();
  });

  describe('refuses a script without \\restrict (CVE-2025-8714) before any statement reaches psql', () => {
    const unrestricted = SCRIPT.replace('\\restrict abc123\n', '');
    const refused = async (chunks: string[]) => {
      const gate = new CommitGate({ prelude: PRELUDE, decide: async () => true });
      const out: string[] = [];
      gate.on('data', (c: Buffer) => out.push(c.toString()));
      await expect(
        new Promise((resolve, reject) => {
          gate.on('error', reject);
          gate.on('end', resolve);
          Readable.from(chunks.map((c) => Buffer.from(c))).pipe(gate);
        }),
      ).rejects.toThrow(/does not start with a \\restrict line.*CVE-2025-8714/);
      return { out: out.join(''), decision: gate.decision };
    };

    it('whatever the chunking: only the prelude and comment lines went out', async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(fc.nat(), { maxLength: 12 }), async (cuts) => {
          const { out, decision } = await refused(split(unrestricted, cuts));
          expect(out.startsWith(PRELUDE)).toBe(true);
          for (const line of out.slice(PRELUDE.length).split('\n')) expect(line).toMatch(/^(--.*)?$/);
          expect(decision).not.toBe('commit');
        }),
        { numRuns: 100 },
      );
    });

    it('a meta-command before \\restrict', async () => {
      const { out } = await refused([`--\n\\! touch /tmp/x\n\\restrict k\nBEGIN;\nCOMMIT;\n`]);
      expect(out).not.toContain('touch');
    });

    it('a statement before \\restrict, and a header line too long to be a header', async () => {
      expect((await refused(['SET x = 1;\n\\restrict k\nBEGIN;\nCOMMIT;\n'])).out).toBe(PRELUDE);
      expect((await refused([`--\n${'x'.repeat(5000)}`])).out).not.toContain('xxx');
    });
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
