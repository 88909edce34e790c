import {
  type Command,
  type Context,
  cmd,
  findNewest,
  getTransfer,
  printJson,
  requireKnownApp,
} from '../command.js';
import { CliError } from '../errors.js';
import { jsonFlag, verboseFlag, waitIntervalFlag, waitIntervalMs } from '../flags.js';
import { follow, isFinished } from '../follow.js';
import {
  capitalise,
  compressionPercent,
  db,
  describeSource,
  describeTarget,
  formatBytes,
  formatTime,
  infoStatus,
  keyValues,
  logLine,
} from '../format.js';
import type { TransferJson } from '../types.js';
import { archiveWords } from './download.js';

const TYPE_WORDS: Record<string, string> = { manual: 'Manual', scheduled: 'Scheduled', safety: 'Safety' };

/** Heroku's `pg:backups:info` layout (undefined fields omitted), plus the SHA-256 and, on failure, the error. */
export function renderInfo(t: TransferJson, viewerApp: string, withLogs: boolean): string {
  const pairs: [string, string][] = [];
  if (t.kind === 'backup') pairs.push(['Database', db(t.database)]);
  else if (t.kind === 'restore')
    pairs.push(['Database', db(t.database)], ['Backup', describeSource(t, viewerApp)]);
  else pairs.push(['From', describeSource(t, viewerApp)], ['To', describeTarget(t, viewerApp)]);
  // A copy touching two apps is listed on both, each under its own id: say where else it is.
  if (t.mirrorOf) pairs.push(['Started on', `${t.mirrorOf.app} (as ${t.mirrorOf.id})`]);
  for (const m of t.mirrors ?? []) pairs.push(['Also listed on', `${m.app} (as ${m.id})`]);
  if (t.startedAt) pairs.push(['Started at', formatTime(t.startedAt)]);
  if (t.finishedAt) pairs.push(['Finished at', formatTime(t.finishedAt)]);
  pairs.push(['Status', infoStatus(t)]);
  pairs.push(['Type', TYPE_WORDS[t.type] ?? 'Manual']);
  if (t.sourceBytes !== null && t.sourceBytes !== undefined)
    pairs.push(['Original DB Size', formatBytes(t.sourceBytes)]);
  if (t.kind === 'backup') {
    const size = t.backupBytes ?? t.processedBytes ?? 0;
    // Only a completed backup has a whole dump to compare with the database (a failed one has a partial one).
    const compression =
      t.status === 'completed' && t.sourceBytes
        ? ` (${compressionPercent(t.sourceBytes, size)}% compression)`
        : '';
    pairs.push(['Backup Size', `${formatBytes(size)}${compression}`]);
    if (t.sha256) pairs.push(['SHA-256', t.sha256]);
    if (t.archiveFormat) pairs.push(['Archive', archiveWords(t.archiveFormat, t.oldestPgRestore)]);
  } else if (t.processedBytes) {
    pairs.push(['Processed', formatBytes(t.processedBytes)]);
  }
  if (t.extensions && t.extensions.length > 0) pairs.push(['Extensions', t.extensions.join(', ')]);
  if (t.parallel && t.parallel > 1) pairs.push(['Parallel jobs', `${t.parallel} (not atomic)`]);
  if (t.safetyBackup) {
    const owner = t.safetyBackup.app === viewerApp ? '' : `${t.safetyBackup.app}::`;
    pairs.push(['Safety backup', `${owner}${t.safetyBackup.id}`]);
  }
  if (t.status === 'failed' && t.error) pairs.push(['Error', t.error]);
  const word = capitalise(t.kind);
  let text = `=== ${word} ${t.id}\n${keyValues(pairs)}\n`;
  if (withLogs) {
    text += `\n=== ${word} Logs\n${(t.logs ?? []).map(logLine).join('\n')}\n`;
  }
  return text;
}

async function resolveId(ctx: Context): Promise<string> {
  if (ctx.args[0]) return ctx.args[0];
  const newest = await findNewest(ctx, 'backup', () => true);
  if (!newest) await requireKnownApp(ctx);
  if (!newest) throw new CliError(`No backups. Capture one with ${cmd(ctx, 'capture')}`);
  return newest.id;
}

export const info: Command = {
  name: 'info',
  usage: '[BACKUP_ID]',
  summary: 'show a backup, restore or copy (default: the newest backup)',
  description:
    'With --verbose, adds the logs and, for a transfer still running, follows it to its end first.',
  flags: { verbose: verboseFlag, 'wait-interval': waitIntervalFlag, json: jsonFlag },
  maxArgs: 1,
  transferIdArg: true,
  async run(ctx) {
    const verbose = ctx.flags.verbose === true;
    const interval = waitIntervalMs(ctx.flags);
    const id = await resolveId(ctx);
    let t = await getTransfer(ctx, id, verbose || ctx.json);
    if (verbose && !isFinished(t)) {
      const followed = await follow(ctx, t, {
        label: `Waiting for ${t.id}`,
        verbose: false,
        intervalMs: interval,
      });
      t = await getTransfer(ctx, followed.transfer.id, true);
    }
    if (ctx.json) printJson(ctx, t);
    else ctx.io.stdout.write(renderInfo(t, ctx.app, verbose));
    return 0;
  },
};
