import { appPath } from '../client.js';
import { action, type Command, databaseArg } from '../command.js';
import { followFlags, waitIntervalMs } from '../flags.js';
import { followToEnd, printFollowHints } from '../follow.js';
import { db } from '../format.js';
import type { TransferJson } from '../types.js';

export const capture: Command = {
  name: 'capture',
  usage: '[DATABASE]',
  summary: 'capture a new backup (default database: DATABASE)',
  flags: followFlags,
  maxArgs: 1,
  async run(ctx) {
    const interval = waitIntervalMs(ctx.flags);
    const database = databaseArg(ctx, ctx.args[0] ?? 'DATABASE');
    const started = await action(ctx, `Starting backup of ${db(database)}`, () =>
      ctx.client.post<TransferJson>(appPath(ctx.app, 'backups'), { database }),
    );
    printFollowHints(ctx, started);
    return followToEnd(ctx, started, {
      label: `Backing up ${db(started.database)} to ${started.id}`,
      verbose: ctx.flags.verbose === true,
      intervalMs: interval,
    });
  },
};
