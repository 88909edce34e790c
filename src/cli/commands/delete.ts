import { appPath } from '../client.js';
import { action, type Command, confirm } from '../command.js';
import { confirmFlag } from '../flags.js';
import { app } from '../format.js';

export const deleteBackup: Command = {
  name: 'delete',
  usage: 'BACKUP_ID',
  summary: 'delete a backup (its record and its stored dump)',
  flags: { confirm: confirmFlag },
  minArgs: 1,
  maxArgs: 1,
  transferIdArg: true,
  async run(ctx) {
    const id = ctx.args[0] as string;
    await confirm(ctx, ctx.app, [
      `This command will delete backup ${id} of the app ${app(ctx.app)}.`,
      'The dump cannot be downloaded or restored afterwards.',
    ]);
    await action(ctx, `Deleting backup ${id} on ${app(ctx.app)}`, () =>
      ctx.client.delete(appPath(ctx.app, 'backups', id)),
    );
    return 0;
  },
};
