import { isActive } from '../../core/transfer.js';
import { appPath } from '../client.js';
import {
  type Command,
  type Context,
  cmd,
  err,
  findNewest,
  getTransfer,
  requireKnownApp,
} from '../command.js';
import { CliError } from '../errors.js';
import { isFinished } from '../follow.js';
import type { TransferJson } from '../types.js';

/** How long `cancel` waits for a running transfer's worker to stop (30 × 0.5 s) before saying it was asked to. */
const SETTLE_POLLS = 30;
const SETTLE_POLL_MS = 500;

async function settle(ctx: Context, t: TransferJson): Promise<TransferJson> {
  let current = t;
  for (let i = 0; i < SETTLE_POLLS && !isFinished(current); i++) {
    await ctx.io.sleep(SETTLE_POLL_MS);
    current = await getTransfer(ctx, t.id);
  }
  return current;
}

export const cancel: Command = {
  name: 'cancel',
  usage: '[BACKUP_ID]',
  summary: 'cancel an in-progress backup, restore or copy (default: the newest unfinished one)',
  flags: {},
  maxArgs: 1,
  transferIdArg: true,
  async run(ctx) {
    const id = ctx.args[0] ?? (await findNewest(ctx, undefined, (t) => isActive(t.status)))?.id;
    if (!id) {
      await requireKnownApp(ctx);
      throw new CliError('No active backups/transfers');
    }
    ctx.io.stderr.write(`Cancelling ${id}... `);
    let t: TransferJson;
    try {
      t = await ctx.client.post<TransferJson>(appPath(ctx.app, 'transfers', id, 'cancel'));
      // A running transfer is stopped by its worker, which records `cancelled` once nothing is left behind.
      t = await settle(ctx, t);
    } catch (e) {
      ctx.io.stderr.write('!\n');
      throw e;
    }
    if (t.status === 'cancelled') {
      ctx.io.stderr.write('done\n');
      return 0;
    }
    if (isFinished(t)) {
      ctx.io.stderr.write('!\n');
      throw new CliError(
        `${t.id} ${t.status === 'completed' ? 'completed' : 'failed'} before it could be cancelled`,
      );
    }
    ctx.io.stderr.write('requested\n');
    err(ctx, `${t.id} is stopping; check it with ${cmd(ctx, `info ${t.id}`)}`);
    return 0;
  },
};
