/** What a command is, and the context and helpers every command shares. */
import type { FlagSpecs } from './args.js';
import { type ApiClient, appPath } from './client.js';
import { CliError } from './errors.js';
import { app as appLabel } from './format.js';
import type { Io } from './io.js';
import type { DatabaseJson, TransferJson } from './types.js';

export interface Context {
  readonly io: Io;
  /** The app every request is about (`-a` or PGBACKUPS_APP). */
  readonly app: string;
  readonly flags: Readonly<Record<string, string | boolean | undefined>>;
  readonly args: readonly string[];
  readonly json: boolean;
  readonly client: ApiClient;
}

export interface Command {
  readonly name: string;
  readonly aliases?: readonly string[];
  /** Argument synopsis for help, e.g. `[BACKUP_ID]`. */
  readonly usage: string;
  readonly summary: string;
  /** Longer help text, shown by `pgbackups help COMMAND`. */
  readonly description?: string;
  readonly flags: FlagSpecs;
  /** Most positional arguments accepted. */
  readonly maxArgs: number;
  readonly minArgs?: number;
  /** The first argument, when given, is a transfer id (b001, a2, 3): checked before any request, as bad usage. */
  readonly transferIdArg?: boolean;
  /** Returns the exit code. */
  run(ctx: Context): Promise<number>;
}

export const out = (ctx: Context, text = ''): void => ctx.io.stdout.write(`${text}\n`);
export const err = (ctx: Context, text = ''): void => ctx.io.stderr.write(`${text}\n`);
export const warn = (ctx: Context, text: string): void =>
  ctx.io.stderr.write(
    `${text
      .split('\n')
      .map((l) => ` ›   Warning: ${l}`)
      .join('\n')}\n`,
  );
export const printJson = (ctx: Context, value: unknown): void =>
  ctx.io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);

/** `Message... done` on stderr around `fn`; `... !` when it throws. `suffix` adds to `done` (e.g. `, b005`). */
export async function action<T>(
  ctx: Context,
  message: string,
  fn: () => Promise<T>,
  suffix?: (result: T) => string,
): Promise<T> {
  ctx.io.stderr.write(`${message}... `);
  try {
    const result = await fn();
    ctx.io.stderr.write(`done${suffix ? suffix(result) : ''}\n`);
    return result;
  } catch (e) {
    ctx.io.stderr.write('!\n');
    throw e;
  }
}

/**
 * Heroku's destructive-action confirmation: `--confirm VALUE` must equal `expected`, or the user types it at the
 * prompt. The warning lines come first so the user sees what will happen before agreeing to it.
 */
export async function confirm(
  ctx: Context,
  expected: string,
  warningLines: readonly string[],
): Promise<void> {
  const given = ctx.flags.confirm;
  if (typeof given === 'string') {
    if (given !== expected) throw new CliError(`Confirmation ${given} did not match ${expected}. Aborted.`);
    return;
  }
  const lines = ['Destructive Action', ...warningLines];
  ctx.io.stderr.write(`${lines.map((l, i) => ` ›   ${i === 0 ? 'Warning: ' : ''}${l}`).join('\n')}\n\n`);
  ctx.io.stderr.write(`To proceed, type ${expected} or re-run this command with --confirm ${expected}\n\n> `);
  const answer = await ctx.io.readLine();
  // A typed answer ends its own line; piped input or end of input does not.
  if (answer === undefined || !ctx.io.stdinIsTTY) ctx.io.stderr.write('\n');
  if (answer?.trim() !== expected) throw new CliError(`Confirmation did not match ${expected}. Aborted.`);
}

/** Every transfer of the app, newest first, following the API's pages. */
export async function listAllTransfers(ctx: Context, kind?: string, limit?: number): Promise<TransferJson[]> {
  const all: TransferJson[] = [];
  let cursor: string | undefined;
  do {
    const page = await ctx.client.get<{ transfers: TransferJson[]; cursor?: string | null }>(
      appPath(ctx.app, 'transfers'),
      { kind, limit: 1000, cursor },
    );
    all.push(...page.transfers);
    cursor = page.cursor ?? undefined;
  } while (cursor && (limit === undefined || all.length < limit));
  return all;
}

/** The newest transfer matching `pred`, reading only as many pages as needed. */
export async function findNewest(
  ctx: Context,
  kind: string | undefined,
  pred: (t: TransferJson) => boolean,
): Promise<TransferJson | undefined> {
  let cursor: string | undefined;
  do {
    const page = await ctx.client.get<{ transfers: TransferJson[]; cursor?: string | null }>(
      appPath(ctx.app, 'transfers'),
      { kind, limit: 100, cursor },
    );
    const hit = page.transfers.find(pred);
    if (hit) return hit;
    cursor = page.cursor ?? undefined;
  } while (cursor);
  return undefined;
}

export async function getTransfer(ctx: Context, id: string, logs = false): Promise<TransferJson> {
  return ctx.client.get<TransferJson>(appPath(ctx.app, 'transfers', id), logs ? { logs: true } : undefined);
}

/** The newest completed manual or scheduled backup of `database` (url, download and restore default to it). */
export async function latestCompletedBackup(ctx: Context, database = 'DATABASE'): Promise<TransferJson> {
  const t = await findNewest(
    ctx,
    'backup',
    (b) => b.status === 'completed' && b.type !== 'safety' && b.database === database,
  );
  if (!t) {
    throw new CliError(
      `No completed manual or scheduled backup of ${database} on ${appLabel(ctx.app)}, so there is no default. ` +
        'Name a backup (pgbackups list shows them), or capture one with pgbackups capture',
    );
  }
  return t;
}

export async function listDatabases(ctx: Context, app = ctx.app): Promise<DatabaseJson[]> {
  return (await ctx.client.get<{ databases: DatabaseJson[] }>(appPath(app, 'databases'))).databases;
}

/** An attached database, or Heroku's `Unknown database` error naming the valid ones. */
export async function requireDatabase(ctx: Context, name: string, app = ctx.app): Promise<DatabaseJson> {
  const all = await listDatabases(ctx, app);
  const found = all.find((d) => d.name === name);
  if (found) return found;
  throw new CliError(
    all.length === 0
      ? `${appLabel(app)} has no databases. Attach one with pgbackups databases:add DATABASE --url -`
      : `Unknown database: ${name}. Valid options are: ${all.map((d) => d.name).join(', ')}`,
  );
}

/** `database mydb on db.example.com:5432`: what an attachment points at, without credentials. */
export function describeDatabase(d: DatabaseJson): string {
  return `database ${d.database} on ${d.host}:${d.port}`;
}
