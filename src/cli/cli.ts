/**
 * The pgbackups command line: finds the command, parses its flags, builds the API client, runs it, and turns
 * errors into Heroku-style messages and exit codes. `main.ts` calls `runCli` with the real process.
 */
import { isPgBackupsError } from '../core/errors.js';
import { parseAppName } from '../core/names.js';
import { parseTransferId } from '../core/transfer.js';
import { type FlagSpecs, parseArgs } from './args.js';
import { ApiClient, awsSigning, needsSigning, regionFor } from './client.js';
import type { Command, Context } from './command.js';
import { cancel } from './commands/cancel.js';
import { capture } from './commands/capture.js';
import { copy } from './commands/copy.js';
import { databases, databasesAdd, databasesRemove } from './commands/databases.js';
import { deleteBackup } from './commands/delete.js';
import { download } from './commands/download.js';
import { info } from './commands/info.js';
import { list } from './commands/list.js';
import { restore } from './commands/restore.js';
import { retention } from './commands/retention.js';
import { schedule, schedules, unschedule } from './commands/schedule.js';
import { settings } from './commands/settings.js';
import { url } from './commands/url.js';
import { CliError, EXIT, UsageError } from './errors.js';
import type { Io } from './io.js';

export const VERSION = '0.1.0';

export const COMMANDS: readonly Command[] = [
  list,
  capture,
  cancel,
  deleteBackup,
  download,
  info,
  url,
  restore,
  copy,
  schedule,
  unschedule,
  schedules,
  databases,
  databasesAdd,
  databasesRemove,
  settings,
  retention,
];

const GLOBAL_FLAGS: FlagSpecs = {
  app: { type: 'string', short: 'a', value: 'APP', description: 'the app (default: $PGBACKUPS_APP)' },
  help: { type: 'boolean', short: 'h', description: 'show help for the command' },
};

/** `capture`, Heroku's `pg:backups:capture` and `backups:capture`, `public-url`, `databases add` all resolve. */
function findCommand(word: string): Command | undefined {
  const name = word.replace(/^(pg:)?backups:/, '').replace(/^pg:/, '');
  return COMMANDS.find((c) => c.name === name || c.aliases?.includes(name));
}

function flagHelp(specs: FlagSpecs): string[] {
  const rows = Object.entries(specs)
    .filter(([, s]) => !s.hidden)
    .map(([name, s]) => {
      const short = s.short ? `-${s.short}, ` : '    ';
      return [
        `  ${short}--${name}${s.type === 'string' ? ` ${s.value ?? 'VALUE'}` : ''}`,
        s.description,
      ] as const;
    });
  const w = Math.max(...rows.map(([l]) => l.length)) + 2;
  return rows.map(([l, d]) => `${l.padEnd(w)}${d}`);
}

export function commandHelp(c: Command): string {
  return [
    `Usage: pgbackups ${c.name}${c.usage ? ` ${c.usage}` : ''} [flags]`,
    '',
    c.summary,
    ...(c.description ? ['', c.description] : []),
    '',
    'Flags:',
    ...flagHelp({ ...c.flags, ...GLOBAL_FLAGS }),
    '',
  ].join('\n');
}

export function generalHelp(): string {
  const w = Math.max(...COMMANDS.map((c) => c.name.length + (c.usage ? c.usage.length + 1 : 0))) + 4;
  return [
    'pgbackups: logical PostgreSQL backups in your own AWS account (Heroku PGBackups commands).',
    '',
    'Usage: pgbackups [COMMAND] [ARGS] [-a APP] [flags]     (no command: list)',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${`${c.name}${c.usage ? ` ${c.usage}` : ''}`.padEnd(w)}${c.summary}`),
    '',
    'Environment:',
    '  PGBACKUPS_API_URL   the API, e.g. https://abc123.execute-api.eu-west-1.amazonaws.com or http://127.0.0.1:8787',
    '  PGBACKUPS_APP       the app when -a is not given',
    '  AWS_PROFILE, AWS_REGION, …  credentials for signing requests to an AWS API (default AWS chain)',
    '',
    'Exit codes: 0 success, 1 error, 2 bad usage or a failed transfer, 130 stopped watching (Ctrl-C).',
    'Run pgbackups help COMMAND for its flags. Heroku: heroku pg:backups:X → pgbackups X, heroku pg:copy → pgbackups copy.',
    '',
  ].join('\n');
}

/** Builds the client: SigV4 for an https AWS endpoint, plain fetch for the local stack. */
export async function createClient(io: Io): Promise<ApiClient> {
  const base = io.env.PGBACKUPS_API_URL?.trim();
  if (!base) {
    throw new UsageError(
      'Set PGBACKUPS_API_URL to your pgbackups API (for the local stack: export PGBACKUPS_API_URL=http://127.0.0.1:8787)',
    );
  }
  let parsed: URL;
  try {
    parsed = new URL(base);
  } catch {
    throw new UsageError(`PGBACKUPS_API_URL is not a URL: ${JSON.stringify(base)}`);
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
    throw new UsageError('PGBACKUPS_API_URL must be an https:// (or, for the local stack, http://) URL');
  }
  // The local stack has no authentication: neither signatures nor access proofs.
  const aws = needsSigning(parsed) ? await awsSigning(regionFor(parsed, io.env)) : undefined;
  return new ApiClient({ baseUrl: base, fetch: io.fetch, ...aws, userAgent: `pgbackups-cli/${VERSION}` });
}

function reportError(io: Io, e: unknown): number {
  if (e instanceof CliError) {
    io.stderr.write(` ›   Error: ${e.message}\n`);
    if (e instanceof UsageError && e.command) io.stderr.write(` ›   See: pgbackups help ${e.command}\n`);
    return e.exitCode;
  }
  // The core's validation (names, ids) runs here too: its errors are bad input, so usage errors.
  if (isPgBackupsError(e)) {
    io.stderr.write(` ›   Error: ${e.message}\n`);
    return EXIT.usage;
  }
  io.stderr.write(` ›   Error: ${(e as Error)?.message ?? String(e)}\n`);
  if (io.env.PGBACKUPS_DEBUG) io.stderr.write(`${(e as Error)?.stack ?? ''}\n`);
  return EXIT.error;
}

/** Runs one command line; resolves with the exit code. Never throws. */
export async function runCli(argv: readonly string[], io: Io): Promise<number> {
  try {
    const first = argv[0];
    if (first === undefined || first.startsWith('-')) {
      if (first === '--version') {
        io.stdout.write(`pgbackups-cli/${VERSION}\n`);
        return EXIT.ok;
      }
      if (first === '-h' || first === '--help') {
        io.stdout.write(generalHelp());
        return EXIT.ok;
      }
      return await runCommand(list, argv, io);
    }
    if (first === 'help') {
      const target = argv[1] === undefined ? undefined : findCommand(argv[1]);
      if (argv[1] !== undefined && !target)
        throw new UsageError(`Unknown command: ${argv[1]}. Run pgbackups help`);
      io.stdout.write(target ? commandHelp(target) : generalHelp());
      return EXIT.ok;
    }
    // `databases add NAME` as well as `databases:add NAME`.
    const joined = argv[1] && !argv[1].startsWith('-') ? findCommand(`${first}:${argv[1]}`) : undefined;
    if (joined) return await runCommand(joined, argv.slice(2), io);
    const command = findCommand(first);
    if (!command)
      throw new UsageError(`Unknown command: ${first}. Run pgbackups help for the list of commands`);
    return await runCommand(command, argv.slice(1), io);
  } catch (e) {
    return reportError(io, e);
  }
}

async function runCommand(command: Command, argv: readonly string[], io: Io): Promise<number> {
  const parsed = parseArgs(argv, { ...command.flags, ...GLOBAL_FLAGS }, command.name);
  if (parsed.flags.help) {
    io.stdout.write(commandHelp(command));
    return EXIT.ok;
  }
  if (parsed.positionals.length > command.maxArgs) {
    throw new UsageError(
      `Unexpected argument${parsed.positionals.length - command.maxArgs > 1 ? 's' : ''}: ${parsed.positionals
        .slice(command.maxArgs)
        .join(' ')}`,
      command.name,
    );
  }
  if (parsed.positionals.length < (command.minArgs ?? 0)) {
    throw new UsageError(
      `Missing required argument: pgbackups ${command.name} ${command.usage}`,
      command.name,
    );
  }
  if (command.transferIdArg && parsed.positionals[0] !== undefined) parseTransferId(parsed.positionals[0]);
  const appName = (typeof parsed.flags.app === 'string' ? parsed.flags.app : io.env.PGBACKUPS_APP)?.trim();
  if (!appName)
    throw new UsageError('Missing required flag app: give -a APP or set PGBACKUPS_APP', command.name);
  const ctx: Context = {
    io,
    app: parseAppName(appName),
    flags: parsed.flags,
    args: parsed.positionals,
    json: parsed.flags.json === true,
    client: await createClient(io),
  };
  return command.run(ctx);
}
