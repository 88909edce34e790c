import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { access, link, mkdir, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { MAX_HEADER_BYTES, parseArchiveHeader } from '../../core/archive-header.js';
import { majorOf, oldestPgRestoreFor } from '../../core/pg-compat.js';
import { appPath } from '../client.js';
import {
  action,
  type Command,
  type Context,
  cmd,
  err,
  getTransfer,
  latestCompletedBackup,
  warn,
} from '../command.js';
import { CliError, UsageError } from '../errors.js';
import { app, formatBytes } from '../format.js';
import type { TransferJson } from '../types.js';

const exists = (p: string) =>
  access(p).then(
    () => true,
    () => false,
  );

/** `latest.dump`, then `latest.dump.1`, `.2`… as Heroku picks the default name. */
async function freeDefaultName(dir: string): Promise<string> {
  for (let i = 0; ; i++) {
    const candidate = join(dir, i === 0 ? 'latest.dump' : `latest.dump.${i}`);
    if (!(await exists(candidate))) return candidate;
  }
}

/** -o must name a file (not an existing directory) in a directory that exists or can be created. */
async function checkOutput(given: string, output: string): Promise<void> {
  const st = await stat(output).catch(() => undefined);
  if (st?.isDirectory()) {
    throw new UsageError(
      `-o ${given} is a directory: give a file name, for example -o ${join(given, 'latest.dump')}`,
    );
  }
  try {
    await mkdir(dirname(output), { recursive: true });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'error';
    throw new CliError(
      `Cannot create the directory ${dirname(given)} for -o ${given} (${code}). Nothing was downloaded; choose a directory you can write to.`,
    );
  }
}

/** `|████████░░░░| 42% | ETA: 12s | 1.21MB/2.88MB` */
export function progressBar(done: number, total: number, elapsedMs: number, width = 30): string {
  const ratio = total > 0 ? Math.min(1, done / total) : 0;
  const filled = Math.round(ratio * width);
  const rate = elapsedMs > 0 ? done / elapsedMs : 0;
  const eta = rate > 0 && total > done ? Math.ceil((total - done) / rate / 1000) : 0;
  return `|${'█'.repeat(filled)}${'░'.repeat(width - filled)}| ${Math.floor(ratio * 100)}% | ETA: ${eta}s | ${formatBytes(done)}/${formatBytes(total)}`;
}

/** `format 1.16 (pg_dump 18.1); restore with pg_restore 17 or newer` */
export function archiveWords(format: string, oldest: number | null | undefined, pgDump?: string): string {
  const by = pgDump ? ` (pg_dump ${pgDump.split(' ')[0]})` : '';
  return `format ${format}${by}; restore with pg_restore ${oldest ?? oldestPgRestoreFor(format) ?? '?'} or newer`;
}

/**
 * Says which pg_restore reads the file, from its own header, and warns when the one on PATH is older: a Heroku
 * user restores a download with the local tools of their server's major.
 */
async function adviseRestore(ctx: Context, backup: TransferJson, head: Buffer): Promise<void> {
  let format = backup.archiveFormat ?? undefined;
  let pgDump = backup.pgDumpVersion ?? undefined;
  try {
    const header = parseArchiveHeader(head);
    format = header?.format ?? format;
    pgDump = header?.pgDumpVersion ?? pgDump;
  } catch {
    // Not a custom-format archive: nothing to advise beyond what the backup recorded.
  }
  if (!format) return;
  const needed = oldestPgRestoreFor(format) ?? backup.oldestPgRestore ?? undefined;
  err(ctx, `Archive ${archiveWords(format, needed, pgDump)}`);
  const local = await ctx.io.localPgRestoreVersion();
  const localMajor = majorOf(/\(PostgreSQL\)\s+(\S+)/.exec(local ?? '')?.[1]);
  if (needed !== undefined && localMajor !== undefined && localMajor < needed) {
    warn(
      ctx,
      `The pg_restore on your PATH is ${localMajor} (${local}), too old to read this file: it needs pg_restore ${needed} or newer (postgresql-client-${needed})`,
    );
  }
}

/**
 * Streams the dump to a temporary file beside the destination, hashing as it goes; only a complete download whose
 * SHA-256 matches the recorded one is moved to the final name. Returns the bytes written and their hash.
 */
async function fetchToFile(
  ctx: Context,
  backup: TransferJson,
  url: string,
  tmp: string,
  label: string,
): Promise<{ bytes: number; sha256: string; head: Buffer }> {
  const res = await ctx.io.fetch(url, { method: 'GET' });
  if (!res.ok || !res.body) {
    const detail = res.body ? (await res.text()).slice(0, 200).replace(/\s+/g, ' ').trim() : '';
    throw new CliError(
      `The download failed with HTTP ${res.status}${detail ? ` (${detail})` : ''}. Nothing was written; retry, or get a new URL with ${cmd(ctx, `url ${backup.id}`)}`,
    );
  }
  const total = Number(res.headers.get('content-length')) || backup.backupBytes || 0;
  const hash = createHash('sha256');
  const started = ctx.io.now().getTime();
  const tty = ctx.io.stderr.isTTY;
  let bytes = 0;
  let lastDraw = 0;
  const head: Buffer[] = [];
  const meter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      if (bytes < MAX_HEADER_BYTES) head.push(chunk.subarray(0, MAX_HEADER_BYTES - bytes));
      bytes += chunk.length;
      const now = ctx.io.now().getTime();
      if (tty && now - lastDraw > 100) {
        lastDraw = now;
        ctx.io.stderr.write(`\r\x1b[K${label}... ${progressBar(bytes, total, now - started)}`);
      }
      cb(null, chunk);
    },
  });
  await pipeline(
    Readable.fromWeb(res.body as WebReadableStream<Uint8Array>),
    meter,
    createWriteStream(tmp, { flags: 'wx', mode: 0o600 }),
  );
  if (tty) ctx.io.stderr.write(`\r\x1b[K`);
  return { bytes, sha256: hash.digest('hex'), head: Buffer.concat(head) };
}

export const download: Command = {
  name: 'download',
  usage: '[BACKUP_ID]',
  summary:
    'download a backup and verify its SHA-256 (default: the newest manual or scheduled one of DATABASE)',
  description:
    'Writes to latest.dump (or latest.dump.1, .2… if taken) unless -o is given. The file appears under its final name only once it is complete and its checksum matches.',
  flags: {
    output: {
      type: 'string',
      short: 'o',
      value: 'FILE',
      description: 'where to write the dump (default latest.dump)',
    },
  },
  maxArgs: 1,
  transferIdArg: 'backup',
  async run(ctx) {
    const output = typeof ctx.flags.output === 'string' ? resolve(ctx.io.cwd, ctx.flags.output) : undefined;
    // Checked before anything is downloaded: a directory given as -o, or a folder that cannot be made.
    if (output) await checkOutput(ctx.flags.output as string, output);
    const { backup, url } = await action(
      ctx,
      `Getting backup from ${app(ctx.app)}`,
      async () => {
        const chosen = ctx.args[0] ? await getTransfer(ctx, ctx.args[0]) : await latestCompletedBackup(ctx);
        const link = await ctx.client.post<{ url: string }>(
          appPath(ctx.app, 'backups', chosen.id, 'url'),
          {},
        );
        return { backup: chosen, url: link.url };
      },
      (r) => `, ${r.backup.id}`,
    );
    const dir = output ? dirname(output) : ctx.io.cwd;
    await mkdir(dir, { recursive: true });
    const tmp = join(dir, `.${basename(output ?? 'latest.dump')}.${randomBytes(6).toString('hex')}.partial`);
    const label = `Downloading ${backup.id}`;
    // Silent: the partial file may not exist yet, and on the way out there is no one left to tell.
    const removeTmp = () => unlink(tmp).catch(() => {});
    // Ctrl-C must not leave the temporary file behind.
    const unregister = ctx.io.onInterrupt(() => {
      // End the progress line first, so the shell's prompt does not land on it.
      ctx.io.stderr.write(ctx.io.stderr.isTTY ? '\r\x1b[K' : '\n');
      ctx.io.stderr.write(`Download of ${backup.id} stopped; nothing was written.\n`);
      void removeTmp().then(() => process.exit(130));
    });
    let final: string;
    // Off a terminal the line is `Downloading b005... done` (or `!`); on one, the progress bar replaces it.
    let lineOpen = !ctx.io.stderr.isTTY;
    try {
      if (lineOpen) ctx.io.stderr.write(`${label}... `);
      const got = await fetchToFile(ctx, backup, url, tmp, label);
      if (backup.sha256 && got.sha256 !== backup.sha256) {
        throw new CliError(
          `The download of ${backup.id} is corrupt: its SHA-256 is ${got.sha256} but the backup recorded ${backup.sha256}. Nothing was written; retry the download.`,
        );
      }
      if (output) {
        await rename(tmp, output);
        final = output;
      } else {
        // link() fails rather than overwrite, so a name taken meanwhile moves us on to the next one.
        for (;;) {
          const candidate = await freeDefaultName(dir);
          try {
            await link(tmp, candidate);
            final = candidate;
            break;
          } catch (e) {
            if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
          }
        }
        await removeTmp();
      }
      const shown = output ? (ctx.flags.output as string) : basename(final);
      const verified = backup.sha256 ? ', SHA-256 verified' : '';
      if (lineOpen) ctx.io.stderr.write('done\n');
      lineOpen = false;
      err(ctx, `Downloaded ${backup.id} to ${shown} (${formatBytes(got.bytes)}${verified})`);
      if (!backup.sha256)
        warn(ctx, `${backup.id} has no recorded SHA-256, so the download could not be verified`);
      await adviseRestore(ctx, backup, got.head);
    } catch (e) {
      if (lineOpen) ctx.io.stderr.write('!\n');
      await removeTmp();
      throw e;
    } finally {
      unregister();
    }
    return 0;
  },
};
