/**
 * The pgbackups command line: finds the command, parses its flags, builds the API client, runs it, and turns
 * errors into Heroku-style messages and exit codes. `main.ts` calls `runCli` with the real process.
 */
import { ENV } from '../config/env-names.js';
import { isPgBackupsError } from '../core/errors.js';
import { parseAppName } from '../core/names.js';
import { type FlagSpecs, parseArgs, suggest } from './args.js';
import { ApiClient, awsSigning, isLoopback, needsSigning, regionFor } from './client.js';
import { type Command, type Context, parseTransferIdArg } from './command.js';
import { apps } from './commands/apps.js';
import { cancel } from './commands/cancel.js';
import { capture } from './commands/capture.js';
import { copy } from './commands/copy.js';
import { databases, databasesAdd, databasesRemove } from './commands/databases.js';
import { deleteBackup } from './commands/delete.js';
import { doctor } from './commands/doctor.js';
import { download } from './commands/download.js';
import { info } from './commands/info.js';
import { list } from './commands/list.js';
import { restore } from './commands/restore.js';
import { retention } from './commands/retention.js';
import { schedule, schedules, unschedule } from './commands/schedule.js';
import { settings } from './commands/settings.js';
import { url } from './commands/url.js';
import { ApiError, CliError, EXIT, UsageError } from './errors.js';
import { redactSecrets } from './format.js';
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
  apps,
  doctor,
];

const GLOBAL_FLAGS: FlagSpecs = {
  app: {
    type: 'string',
    short: 'a',
    value: 'APP',
    description: 'the app (default: $PGBACKUPS_APP, then $HEROKU_APP)',
  },
  help: { type: 'boolean', short: 'h', description: 'show help for the command' },
};

/**
 * Heroku's hidden flags of `pg:backups` (the list), accepted and ignored as Heroku does (its list command kept
 * them for old scripts): `-v`, `-c`, `-o`, `-q`, `--wait-interval`, `--at`.
 */
const HEROKU_LIST_NO_OPS: FlagSpecs = {
  verbose: { type: 'boolean', short: 'v', description: 'ignored (Heroku compatibility)', hidden: true },
  confirm: { type: 'string', short: 'c', description: 'ignored (Heroku compatibility)', hidden: true },
  output: { type: 'string', short: 'o', description: 'ignored (Heroku compatibility)', hidden: true },
  quiet: { type: 'boolean', short: 'q', description: 'ignored (Heroku compatibility)', hidden: true },
  'wait-interval': { type: 'string', description: 'ignored (Heroku compatibility)', hidden: true },
  at: { type: 'string', description: 'ignored (Heroku compatibility)', hidden: true },
};

/** Words that mean the list itself: `pgbackups pg:backups`, Heroku's most-typed spelling. */
const LIST_WORDS = new Set(['pg:backups', 'backups']);

/**
 * `capture`, Heroku's `pg:backups:capture` and `backups:capture`, `pg:copy`, `public-url`, `databases add` all
 * resolve.
 */
function findCommand(word: string): Command | undefined {
  if (LIST_WORDS.has(word)) return list;
  const name = word.replace(/^(pg:)?backups:/, '').replace(/^pg:/, '');
  return COMMANDS.find((c) => c.name === name || c.aliases?.includes(name));
}

/** Every spelling a user may type for the commands, for "did you mean". */
const commandWords = (): string[] => COMMANDS.flatMap((c) => [c.name, ...(c.aliases ?? [])]);

function unknownCommand(word: string): UsageError {
  const bare = word.replace(/^(pg:)?backups:/, '').replace(/^pg:/, '');
  const hint = suggest(bare, commandWords());
  return new UsageError(
    `Unknown command: ${redactSecrets(word)}.${hint ? ` Did you mean pgbackups ${hint}?` : ''} Run pgbackups help for the list of commands`,
  );
}

/** Leading `-a APP` / `--app APP` / `--app=APP` / `-aAPP` before the command word (`pgbackups -a app capture`). */
function leadingAppFlags(argv: readonly string[]): number {
  let i = 0;
  while (i < argv.length) {
    const a = argv[i] as string;
    if (a === '-a' || a === '--app') i += 2;
    else if (a.startsWith('--app=') || (a.startsWith('-a') && a.length > 2 && !a.startsWith('--'))) i += 1;
    else break;
  }
  return Math.min(i, argv.length);
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
    '  PGBACKUPS_APP       the app when -a is not given (then HEROKU_APP)',
    '  AWS_PROFILE, AWS_REGION, …  credentials for signing requests to an AWS API (default AWS chain)',
    '',
    'Exit codes: 0 success, 1 error, 2 bad usage or a failed transfer, 130 stopped watching (Ctrl-C).',
    'Run pgbackups help COMMAND for its flags. Heroku: heroku pg:backups:X → pgbackups X, heroku pg:copy → pgbackups copy.',
    '',
  ].join('\n');
}

/** Builds the client: SigV4 for an https AWS endpoint, plain fetch for the local stack. */
export async function createClient(io: Io): Promise<ApiClient> {
  const base = io.env[ENV.API_URL]?.trim();
  if (!base) {
    throw new UsageError(
      'Set PGBACKUPS_API_URL to your pgbackups API (for the local stack: export PGBACKUPS_API_URL=http://127.0.0.1:8787)',
    );
  }
  // `127.0.0.1:8787` or `localhost:8787` without a scheme: say the likely URL rather than only what is wrong.
  const schemeless = !/^[a-z][a-z0-9+.-]*:\/\//i.test(base);
  const guess = schemeless
    ? `${isLoopback(base.split(/[:/]/)[0] ?? '') ? 'http' : 'https'}://${base}`
    : undefined;
  let parsed: URL | undefined;
  try {
    parsed = new URL(base);
  } catch {
    parsed = undefined;
  }
  if (!parsed || schemeless || (parsed.protocol !== 'https:' && parsed.protocol !== 'http:')) {
    throw new UsageError(
      `PGBACKUPS_API_URL must be an https:// (or, for the local stack, http://) URL, not ${JSON.stringify(redactSecrets(base))}${
        guess ? `. Did you mean export PGBACKUPS_API_URL=${guess}` : ''
      }`,
    );
  }
  // The local stack has no authentication: requests to it are not signed.
  const aws = needsSigning(parsed) ? await awsSigning(regionFor(parsed, io.env)) : undefined;
  return new ApiClient({ baseUrl: base, fetch: io.fetch, ...aws, userAgent: `pgbackups-cli/${VERSION}` });
}

/**
 * The API's messages name the HTTP call and, in brackets, the CLI command that does it
 * (`Attach one with PUT /v1/apps/x/databases/DATABASE {…} (pgbackups databases:add …)`): a CLI user gets the command.
 */
export function preferCliCommand(message: string): string {
  return message.replace(/\b(?:GET|PUT|POST|DELETE) \/v1\/\S+(?: \{[^}]*\})? \((pgbackups [^)]+)\)/g, '$1');
}

function reportError(io: Io, e: unknown): number {
  // One place for every message: whatever it quotes, no URL password or presigned query reaches the terminal.
  if (e instanceof CliError) {
    const message = e instanceof ApiError ? preferCliCommand(e.message) : e.message;
    io.stderr.write(` ›   Error: ${redactSecrets(message)}\n`);
    if (e instanceof UsageError && e.command) io.stderr.write(` ›   See: pgbackups help ${e.command}\n`);
    return e.exitCode;
  }
  // The core's validation (names, ids) runs here too: its errors are bad input, so usage errors.
  if (isPgBackupsError(e)) {
    io.stderr.write(` ›   Error: ${redactSecrets(e.message)}\n`);
    return EXIT.usage;
  }
  io.stderr.write(` ›   Error: ${redactSecrets((e as Error)?.message ?? String(e))}\n`);
  if (io.env[ENV.DEBUG]) io.stderr.write(`${redactSecrets((e as Error)?.stack ?? '')}\n`);
  return EXIT.error;
}

/** Runs one command line; resolves with the exit code. Never throws. */
export async function runCli(argv: readonly string[], io: Io): Promise<number> {
  try {
    // Global flags before the command word (`pgbackups -a app capture`) move after it.
    const lead = leadingAppFlags(argv);
    if (lead > 0 && argv[lead] !== undefined && !(argv[lead] as string).startsWith('-')) {
      return await runCli([...argv.slice(lead), ...argv.slice(0, lead)], io);
    }
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
      if (argv[1] !== undefined && !target) throw unknownCommand(argv[1]);
      io.stdout.write(target ? commandHelp(target) : generalHelp());
      return EXIT.ok;
    }
    // `databases add NAME` as well as `databases:add NAME`; the older `pg:backups capture` space form too.
    const second = argv[1] && !argv[1].startsWith('-') ? argv[1] : undefined;
    const joined =
      second === undefined
        ? undefined
        : LIST_WORDS.has(first)
          ? COMMANDS.find((c) => c.name === second || c.aliases?.includes(second))
          : findCommand(`${first}:${second}`);
    if (joined) return await runCommand(joined, argv.slice(2), io);
    const command = findCommand(first);
    if (!command) throw unknownCommand(first);
    return await runCommand(command, argv.slice(1), io);
  } catch (e) {
    return reportError(io, e);
  }
}

/**
 * The app: `-a/--app`, else `PGBACKUPS_APP`, else `HEROKU_APP` (so a shell set up for the Heroku CLI works).
 * Returns the hint suffix too: ` -a APP` whenever the app is not the one the environment gives, so every printed
 * command runs against the same app when pasted.
 */
export function resolveApp(
  flag: string | boolean | undefined,
  env: Io['env'],
  command?: string,
): { app: string; appHint: string } {
  const fromEnv = (env[ENV.APP]?.trim() || env[ENV.HEROKU_APP]?.trim()) ?? '';
  const chosen = typeof flag === 'string' ? flag.trim() : fromEnv;
  if (!chosen) {
    throw new UsageError(
      'Missing required flag app: give -a APP, or set PGBACKUPS_APP (HEROKU_APP is read too). Run pgbackups apps for the apps there are',
      command,
    );
  }
  const app = parseAppName(chosen);
  return { app, appHint: fromEnv && app === fromEnv ? '' : ` -a ${app}` };
}

async function runCommand(command: Command, argv: readonly string[], io: Io): Promise<number> {
  const specs = command === list ? { ...HEROKU_LIST_NO_OPS, ...command.flags } : command.flags;
  const parsed = parseArgs(argv, { ...specs, ...GLOBAL_FLAGS }, command.name);
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
  if (command.transferIdArg && parsed.positionals[0] !== undefined) {
    parseTransferIdArg(parsed.positionals[0], command.transferIdArg);
  }
  const { app, appHint } = command.noApp
    ? { app: '', appHint: '' }
    : resolveApp(parsed.flags.app, io.env, command.name);
  const ctx: Context = {
    io,
    app,
    appHint,
    flags: parsed.flags,
    args: parsed.positionals,
    json: parsed.flags.json === true,
    client: await createClient(io),
  };
  return command.run(ctx);
}
