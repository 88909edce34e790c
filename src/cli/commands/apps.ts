import { type Command, out, printJson } from '../command.js';
import { CliError } from '../errors.js';
import { jsonFlag } from '../flags.js';
import { app } from '../format.js';

export const apps: Command = {
  name: 'apps',
  usage: '',
  summary: 'list the apps the API knows (those with a database or a transfer)',
  description:
    'In AWS this reads GET /v1/apps, a route IAM grants apart from the apps themselves; without that grant it fails with 403.',
  flags: { json: jsonFlag },
  maxArgs: 0,
  noApp: true,
  async run(ctx) {
    const { apps: names } = await ctx.client.get<{ apps: string[] }>('/v1/apps');
    if (ctx.json) {
      printJson(ctx, names);
      return 0;
    }
    if (names.length === 0) {
      throw new CliError(
        'No apps yet. An app starts with its first database: pgbackups databases:add DATABASE --url - -a APP',
      );
    }
    out(ctx, `=== Apps\n\n${names.map(app).join('\n')}`);
    return 0;
  },
};
