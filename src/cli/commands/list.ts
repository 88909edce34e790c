import { type Command, type Context, listAllTransfers, printJson, requireKnownApp } from '../command.js';
import { jsonFlag } from '../flags.js';
import { db, describeSource, describeTarget, formatBytes, formatTime, listStatus, table } from '../format.js';
import type { TransferJson } from '../types.js';

/** Heroku shows every backup but only the newest 10 restores and copies. */
const RECENT = 10;

const size = (t: TransferJson) => formatBytes(t.backupBytes ?? t.processedBytes ?? 0);

/** The three sections of `pgbackups` / `heroku pg:backups`, from transfers listed newest first. */
export function renderList(transfers: readonly TransferJson[], viewerApp: string): string {
  const backups = transfers.filter((t) => t.kind === 'backup');
  const allRestores = transfers.filter((t) => t.kind === 'restore');
  const allCopies = transfers.filter((t) => t.kind === 'copy');
  const restores = allRestores.slice(0, RECENT);
  const copies = allCopies.slice(0, RECENT);
  const section = (title: string, body: string) => `=== ${title}\n\n${body}\n`;
  // A cut list says so, and how to see the rest.
  const more = (shown: number, all: number, word: string) =>
    all > shown ? `\n(the newest ${shown} of ${all} ${word}; pgbackups list --json lists them all)` : '';
  return [
    section(
      'Backups',
      backups.length === 0
        ? 'No backups. Capture one with pgbackups capture'
        : table(
            ['Id', 'Created at', 'Status', 'Size', 'Database'],
            backups.map((t) => [
              t.id,
              formatTime(t.createdAt),
              listStatus(t),
              size(t),
              // Taken automatically before a restore or copy overwrote the database: told apart from manual ones.
              `${db(t.database || 'UNKNOWN')}${t.type === 'safety' ? ' (safety backup)' : ''}`,
            ]),
          ),
    ),
    section(
      'Restores',
      restores.length === 0
        ? 'No restores found. Use pgbackups restore to restore a backup'
        : table(
            ['Id', 'Started at', 'Status', 'Size', 'Database'],
            restores.map((t) => [t.id, formatTime(t.createdAt), listStatus(t), size(t), db(t.database)]),
          ) + more(restores.length, allRestores.length, 'restores'),
    ),
    section(
      'Copies',
      copies.length === 0
        ? 'No copies found. Use pgbackups copy to copy a database to another'
        : table(
            ['Id', 'Started at', 'Status', 'Size', 'From', 'To'],
            copies.map((t) => [
              t.id,
              formatTime(t.createdAt),
              listStatus(t),
              size(t),
              describeSource(t, viewerApp),
              describeTarget(t, viewerApp),
            ]),
          ) + more(copies.length, allCopies.length, 'copies'),
    ),
  ].join('\n');
}

export const list: Command = {
  name: 'list',
  usage: '',
  summary: 'list backups, restores and copies',
  description: 'With no command, pgbackups runs this one (heroku pg:backups).',
  flags: { json: jsonFlag },
  maxArgs: 0,
  async run(ctx: Context) {
    const transfers = await listAllTransfers(ctx);
    if (transfers.length === 0) await requireKnownApp(ctx);
    if (ctx.json) printJson(ctx, transfers);
    else ctx.io.stdout.write(renderList(transfers, ctx.app));
    return 0;
  },
};
