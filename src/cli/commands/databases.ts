import { appPath } from '../client.js';
import {
  action,
  type Command,
  confirm,
  databaseArg,
  describeDatabase,
  listDatabases,
  out,
  printJson,
  requireKnownApp,
} from '../command.js';
import { UsageError } from '../errors.js';
import { confirmFlag, jsonFlag } from '../flags.js';
import { app, db, formatTime, table } from '../format.js';
import type { DatabaseJson } from '../types.js';

export function renderDatabases(list: readonly DatabaseJson[], appName: string): string {
  if (list.length === 0) {
    return `=== Databases\n\nNo databases on ${app(appName)}. Attach one with pgbackups databases:add DATABASE --url -\n`;
  }
  return `=== Databases\n\n${table(
    ['Name', 'Host', 'Port', 'Database', 'User', 'Attached at'],
    list.map((d) => [db(d.name), d.host, String(d.port), d.database, d.user, formatTime(d.createdAt)]),
  )}\n`;
}

export const databases: Command = {
  name: 'databases',
  usage: '',
  summary: 'list the databases attached to the app (never their passwords)',
  flags: { json: jsonFlag },
  maxArgs: 0,
  async run(ctx) {
    const list = await listDatabases(ctx);
    if (list.length === 0) await requireKnownApp(ctx);
    if (ctx.json) printJson(ctx, list);
    else ctx.io.stdout.write(renderDatabases(list, ctx.app));
    return 0;
  },
};

export const databasesAdd: Command = {
  name: 'databases:add',
  usage: 'NAME --url -',
  summary: 'attach a database (or replace its connection URL)',
  description: [
    'NAME is an attachment name such as DATABASE or PINK (DATABASE_URL and HEROKU_POSTGRESQL_PINK_URL work too).',
    '--url - reads the postgres:// URL from stdin, which keeps the password out of your shell history and the',
    'process list: pgbackups databases:add DATABASE --url - < url.txt. The URL is kept only in the secret store.',
  ].join('\n'),
  flags: {
    url: {
      type: 'string',
      value: 'URL|-',
      description: 'the postgres:// connection URL, or - to read it from stdin',
    },
    json: jsonFlag,
  },
  minArgs: 1,
  maxArgs: 1,
  async run(ctx) {
    const name = databaseArg(ctx, ctx.args[0] as string);
    let url = ctx.flags.url;
    if (typeof url !== 'string')
      throw new UsageError('Missing required flag url: give --url - and the URL on stdin');
    if (url === '-') {
      // Typed at a terminal, the URL (and its password) is not echoed.
      const prompt = 'Connection URL (postgres://…; not shown as you type): ';
      url = ((ctx.io.stdinIsTTY ? await ctx.io.readSecret(prompt) : await ctx.io.readStdin()) ?? '').trim();
      if (ctx.io.stdinIsTTY) ctx.io.stderr.write('\n');
      if (!url) throw new UsageError('No connection URL on stdin');
    }
    const body = { url };
    const attached = await action(ctx, `Attaching ${db(name)} to ${app(ctx.app)}`, () =>
      ctx.client.put<DatabaseJson>(appPath(ctx.app, 'databases', name), body),
    );
    if (ctx.json) printJson(ctx, attached);
    else out(ctx, `${db(attached.name)}: ${describeDatabase(attached)} as ${attached.user}`);
    return 0;
  },
};

export const databasesRemove: Command = {
  name: 'databases:remove',
  usage: 'NAME',
  summary: 'detach a database: its stored URL and schedule are deleted; its backups are kept for 7 days',
  flags: { confirm: confirmFlag },
  minArgs: 1,
  maxArgs: 1,
  async run(ctx) {
    const name = databaseArg(ctx, ctx.args[0] as string);
    await confirm(ctx, name, [
      `This command will detach ${db(name)} from the app ${app(ctx.app)}: its connection URL and its schedule are deleted.`,
      'The database itself is not touched; its backups are kept for 7 days, then deleted.',
    ]);
    await action(ctx, `Detaching ${db(name)} from ${app(ctx.app)}`, () =>
      ctx.client.delete(appPath(ctx.app, 'databases', name)),
    );
    return 0;
  },
};
