import { appPath } from '../client.js';
import { action, type Command, confirm, getTransfer } from '../command.js';
import { CliError } from '../errors.js';
import { confirmFlag } from '../flags.js';
import { app } from '../format.js';

export const deleteBackup: Command = {
  name: 'delete',
  usage: 'BACKUP_ID',
  summary: 'delete a backup (its record and its stored dump)',
  flags: { confirm: confirmFlag },
  minArgs: 1,
  maxArgs: 1,
  transferIdArg: 'backup',
  async run(ctx) {
    // Checked before the prompt: nobody confirms deleting a backup that is not there or is not a backup.
    const t = await getTransfer(ctx, ctx.args[0] as string);
    if (t.kind !== 'backup') throw new CliError(`${t.id} is a ${t.kind}, not a backup`);
    const id = t.id;
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
