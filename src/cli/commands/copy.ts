import { splitExtensionList } from '../../core/extensions.js';
import { parseAppName } from '../../core/names.js';
import { appPath } from '../client.js';
import {
  action,
  type Command,
  confirm,
  databaseArg,
  describeDatabase,
  err,
  requireDatabase,
} from '../command.js';
import { CliError } from '../errors.js';
import {
  confirmFlag,
  followFlags,
  keepExtensionsFlag,
  noSafetyBackupFlag,
  safetyBackupNote,
  waitIntervalMs,
} from '../flags.js';
import { followToEnd, printFollowHints } from '../follow.js';
import { app, db, isUrlLike } from '../format.js';
import type { TransferJson } from '../types.js';

/** `NAME` or `other-app::NAME`, normalised as Heroku does (`HEROKU_POSTGRESQL_PINK_URL` → `PINK`). */
export function parseDatabaseRef(
  input: string,
  currentApp: string,
  appHint = '',
): { app: string; name: string; ref: string } {
  const at = isUrlLike(input) ? -1 : input.indexOf('::');
  const owner = at === -1 ? currentApp : parseAppName(input.slice(0, at));
  const name = databaseArg({ appHint }, at === -1 ? input : input.slice(at + 2));
  return { app: owner, name, ref: owner === currentApp ? name : `${owner}::${name}` };
}

export const copy: Command = {
  name: 'copy',
  usage: 'SOURCE TARGET',
  summary: 'copy one database into another (pg_dump streamed straight into a restore, no intermediate dump)',
  description: [
    "SOURCE and TARGET are attachment names (DATABASE, PINK) or another app's (other-app::NAME).",
    'All data in TARGET is replaced; the copy runs in one transaction, so a failure leaves TARGET as it was.',
    'TARGET is backed up first (kept 7 days) unless --no-safety-backup is given.',
    "Confirm by typing the target's name, or with --confirm TARGET.",
  ].join('\n'),
  flags: {
    confirm: confirmFlag,
    'keep-extensions': keepExtensionsFlag,
    'no-safety-backup': noSafetyBackupFlag,
    ...followFlags,
  },
  minArgs: 2,
  maxArgs: 2,
  async run(ctx) {
    const interval = waitIntervalMs(ctx.flags);
    const source = parseDatabaseRef(ctx.args[0] as string, ctx.app, ctx.appHint);
    const target = parseDatabaseRef(ctx.args[1] as string, ctx.app, ctx.appHint);
    if (source.ref === target.ref) throw new CliError('Cannot copy database onto itself');
    // Databases of this app are checked (and described) before the prompt; another app's are checked by the API.
    // Both databases are checked (and the target described) before the prompt, another app's too: whoever may
    // copy from or to it may read its attachments.
    const where = (r: typeof source) => requireDatabase(ctx, r.name, r.app);
    const [, targetDb] = await Promise.all([where(source), where(target)]);
    const targetShown = `${db(target.ref)} (${describeDatabase(targetDb)}) of the app ${app(target.app)}`;
    const safety = ctx.flags['no-safety-backup'] !== true;
    const keep =
      typeof ctx.flags['keep-extensions'] === 'string'
        ? splitExtensionList(ctx.flags['keep-extensions'])
        : [];
    await confirm(ctx, target.name, [
      `This command will remove all data from ${targetShown}.`,
      `Data from ${db(source.ref)} will then be copied to ${db(target.ref)}. ${db(source.ref)} is only read.`,
      safety
        ? `A backup of ${db(target.ref)} is taken first and kept 7 days.`
        : `No backup of ${db(target.ref)} is taken first (--no-safety-backup).`,
    ]);
    const started = await action(ctx, `Starting copy of ${db(source.ref)} to ${db(target.ref)}`, () =>
      ctx.client.post<TransferJson>(appPath(ctx.app, 'copies'), {
        from: source.ref,
        to: target.ref,
        ...(safety ? {} : { safetyBackup: false }),
        ...(keep.length > 0 ? { keepExtensions: keep } : {}),
      }),
    );
    const note = safetyBackupNote(ctx, started);
    if (note) err(ctx, note);
    printFollowHints(ctx, started);
    return followToEnd(ctx, started, {
      label: 'Copying',
      verbose: ctx.flags.verbose === true,
      intervalMs: interval,
    });
  },
};
