import { splitExtensionList } from '../../core/extensions.js';
import { parseAppName } from '../../core/names.js';
import { parseWholeNumber } from '../args.js';
import { appPath } from '../client.js';
import {
  action,
  type Command,
  type Context,
  cmd,
  confirm,
  databaseArg,
  describeDatabase,
  err,
  findNewest,
  getTransfer,
  latestCompletedBackup,
  parseTransferIdArg,
  requireDatabase,
} from '../command.js';
import { CliError, UsageError } from '../errors.js';
import {
  confirmFlag,
  followFlags,
  keepExtensionsFlag,
  noSafetyBackupFlag,
  safetyBackupNote,
  waitIntervalMs,
} from '../flags.js';
import { followToEnd, printFollowHints } from '../follow.js';
import { app, db, isUrlLike, redactUrl } from '../format.js';
import type { TransferJson } from '../types.js';

/** What BACKUP names: a backup of this app, one of another app (`other-app::b101`), or an https URL. */
export type BackupRef =
  | { kind: 'id'; id: string }
  | { kind: 'other-app'; app: string; id: string }
  | { kind: 'url'; url: string };

export function parseBackupRef(input: string, currentApp: string): BackupRef {
  if (/^https?:\/\//i.test(input)) {
    if (!/^https:\/\//i.test(input)) {
      throw new UsageError(
        'Refusing to restore from an http:// URL: the dump would travel unencrypted and could be altered. Use an https:// URL.',
      );
    }
    try {
      new URL(input);
    } catch {
      throw new UsageError(`Invalid backup URL ${redactUrl(input)}`);
    }
    return { kind: 'url', url: input };
  }
  const at = input.indexOf('::');
  const owner = at === -1 ? currentApp : parseAppName(input.slice(0, at));
  const id = at === -1 ? input : input.slice(at + 2);
  parseTransferIdArg(id, 'backup');
  return owner === currentApp ? { kind: 'id', id } : { kind: 'other-app', app: owner, id };
}

/** Resolves BACKUP to the value sent to the API and the words the prompt uses for it. */
async function resolveBackup(
  ctx: Context,
  raw: string | undefined,
  target: string,
): Promise<{ send: string; shown: string; database?: string; bytes?: number | null }> {
  if (raw === undefined) {
    const latest = await latestCompletedBackup(ctx, target);
    return {
      send: latest.id,
      shown: `${latest.id} (the newest completed backup of ${db(latest.database)})`,
      database: latest.database,
      bytes: latest.backupBytes,
    };
  }
  // `restore DATABASE_URL`: one argument is BACKUP (as on Heroku), but a database name was clearly meant.
  if (!raw.includes('::') && !isUrlLike(raw) && !/^[abcr]?\d+$/i.test(raw.trim())) {
    let name: string | undefined;
    try {
      name = databaseArg(ctx, raw);
    } catch {
      name = undefined;
    }
    if (name) {
      const newest = await findNewest(ctx, 'backup', (b) => b.status === 'completed');
      throw new UsageError(
        `${raw} is a database, not a backup: with one argument, restore takes the BACKUP. Name both: ${cmd(ctx, `restore ${newest?.id ?? 'BACKUP_ID'} ${name}`)}`,
      );
    }
  }
  const ref = parseBackupRef(raw, ctx.app);
  if (ref.kind === 'url') return { send: ref.url, shown: `the dump at ${redactUrl(ref.url)}` };
  // Checked before the prompt, so nobody confirms a restore that cannot run; another app's backup is read from
  // that app (with the caller's own access to it).
  const owner = ref.kind === 'other-app' ? { ...ctx, app: ref.app } : ctx;
  const t = await getTransfer(owner, ref.id);
  if (t.kind !== 'backup') throw new CliError(`${t.id} is a ${t.kind}, not a backup`);
  if (t.status !== 'completed') {
    throw new CliError(`Backup ${t.id} for ${app(owner.app)} did not complete successfully (${t.status})`);
  }
  if (ref.kind === 'other-app') {
    return {
      send: `${ref.app}::${t.id}`,
      shown: `${t.id} of ${app(ref.app)} (a backup of ${db(t.database)})`,
      database: t.database,
      bytes: t.backupBytes,
    };
  }
  return {
    send: t.id,
    shown: `${t.id} (a backup of ${db(t.database)})`,
    database: t.database,
    bytes: t.backupBytes,
  };
}

export const restore: Command = {
  name: 'restore',
  usage: '[BACKUP] [DATABASE]',
  summary: 'restore a backup into a database, replacing all of its data',
  description: [
    "BACKUP is an id (b101), another app's backup (other-app::b101) or an https:// URL of a pg_dump custom-format",
    'dump; default: the newest completed backup. DATABASE defaults to DATABASE. With one argument, it is BACKUP.',
    'The target is first backed up (kept 7 days; --no-safety-backup skips it), then wiped (every object a dump can',
    'recreate: schemas, extensions, publications, subscriptions, foreign servers, event triggers, casts, large objects)',
    'and restored in one transaction: if anything fails, it is left exactly as it was. Only one restore or copy into',
    'a database runs at a time.',
    '--parallel N builds indexes and constraints with N pg_restore jobs once everything else (data, row-level',
    'security, policies, triggers) is committed: faster for many large tables, but a failure then can leave some',
    'indexes or constraints missing; --finish RESTORE_ID builds those again.',
  ].join('\n'),
  flags: {
    confirm: confirmFlag,
    extensions: {
      type: 'string',
      short: 'e',
      value: "'a, schema.b'",
      description: 'comma-separated extensions to pre-install before restoring',
    },
    'keep-extensions': keepExtensionsFlag,
    finish: {
      type: 'string',
      value: 'RESTORE_ID',
      description:
        'build again only the indexes and constraints a --parallel restore could not (drops nothing else)',
    },
    parallel: {
      type: 'string',
      value: 'N',
      description:
        'pg_restore jobs, 1 to 16 (default 1: one atomic transaction; more is faster but not atomic)',
    },
    'no-safety-backup': noSafetyBackupFlag,
    ...followFlags,
  },
  maxArgs: 2,
  async run(ctx) {
    const interval = waitIntervalMs(ctx.flags);
    if (typeof ctx.flags.finish === 'string') {
      const id = ctx.flags.finish;
      parseTransferIdArg(id, true);
      // Not destructive: it only builds what the earlier restore left missing, from the same backup.
      const started = await action(ctx, `Starting to finish ${id}`, () =>
        ctx.client.post<TransferJson>(appPath(ctx.app, 'restores'), { finish: id }),
      );
      printFollowHints(ctx, started);
      return followToEnd(ctx, started, {
        label: 'Finishing',
        verbose: ctx.flags.verbose === true,
        intervalMs: interval,
      });
    }
    const extensions =
      typeof ctx.flags.extensions === 'string' ? splitExtensionList(ctx.flags.extensions) : undefined;
    const parallel =
      typeof ctx.flags.parallel === 'string' ? parseWholeNumber(ctx.flags.parallel, 'parallel', 1, 16) : 1;
    const safety = ctx.flags['no-safety-backup'] !== true;
    const database = databaseArg(ctx, ctx.args[1] ?? 'DATABASE');
    const keep =
      typeof ctx.flags['keep-extensions'] === 'string'
        ? splitExtensionList(ctx.flags['keep-extensions'])
        : undefined;
    const backup = await resolveBackup(ctx, ctx.args[0], database);
    const target = await requireDatabase(ctx, database);
    await confirm(ctx, ctx.app, [
      `This command will restore ${backup.shown}`,
      `into ${db(database)} (${describeDatabase(target)}) of the app ${app(ctx.app)}.`,
      ...(backup.database !== undefined && backup.database !== database
        ? [
            `Note: ${backup.send} is a backup of a different database, ${db(backup.database)}, not of ${db(database)}.`,
          ]
        : []),
      `All data in ${db(database)} will be deleted: every table, view, sequence, function and type in its`,
      'non-system schemas.',
      safety
        ? `A backup of ${db(database)} is taken first and kept 7 days.`
        : `No backup of ${db(database)} is taken first (--no-safety-backup).`,
      parallel > 1
        ? `With --parallel ${parallel} the restore is not atomic: the data is committed first, and if building indexes and constraints then fails, ${db(database)} is left without some of them.`
        : `If the restore fails, ${db(database)} is left as it was.`,
    ]);
    const started = await action(
      ctx,
      `Starting restore of ${backup.send.startsWith('https://') ? redactUrl(backup.send) : backup.send} to ${db(database)}`,
      () =>
        ctx.client.post<TransferJson>(appPath(ctx.app, 'restores'), {
          backup: backup.send,
          database,
          ...(extensions && extensions.length > 0 ? { extensions } : {}),
          ...(keep && keep.length > 0 ? { keepExtensions: keep } : {}),
          ...(parallel > 1 ? { parallel } : {}),
          ...(safety ? {} : { safetyBackup: false }),
        }),
    );
    const note = safetyBackupNote(ctx, started);
    if (note) err(ctx, note);
    printFollowHints(ctx, started);
    return followToEnd(ctx, started, {
      label: 'Restoring',
      verbose: ctx.flags.verbose === true,
      intervalMs: interval,
      // The restore reads the dump, whose size is known: the status line shows a percentage.
      totalBytes: backup.bytes,
    });
  },
};
