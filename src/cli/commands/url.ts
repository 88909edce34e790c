import { parseWholeNumber } from '../args.js';
import { appPath } from '../client.js';
import { type Command, latestCompletedBackup, out, printJson } from '../command.js';
import { jsonFlag } from '../flags.js';
import { formatTime } from '../format.js';

export const DEFAULT_URL_MINUTES = 60;

export const url: Command = {
  name: 'url',
  aliases: ['public-url'],
  usage: '[BACKUP_ID]',
  summary:
    'get a temporary download URL for a backup (default: the newest manual or scheduled one of DATABASE)',
  description: 'On a terminal it also says when the URL expires; piped, it prints the URL alone.',
  flags: {
    'expires-in': {
      type: 'string',
      value: 'MINUTES',
      description: `minutes until the URL expires, 1 to 720 (default ${DEFAULT_URL_MINUTES})`,
    },
    json: jsonFlag,
  },
  maxArgs: 1,
  transferIdArg: 'backup',
  async run(ctx) {
    const raw = ctx.flags['expires-in'];
    const minutes =
      typeof raw === 'string' ? parseWholeNumber(raw, 'expires-in', 1, 720) : DEFAULT_URL_MINUTES;
    const id = ctx.args[0] ?? (await latestCompletedBackup(ctx)).id;
    const res = await ctx.client.post<{ url: string; expiresAt: string }>(
      appPath(ctx.app, 'backups', id, 'url'),
      {
        expiresInSeconds: minutes * 60,
      },
    );
    if (ctx.json) printJson(ctx, res);
    else {
      if (ctx.io.stdout.isTTY) out(ctx, `The following URL will expire at ${formatTime(res.expiresAt)}:`);
      out(ctx, res.url);
    }
    return 0;
  },
};
