/** What a command is, and the context and helpers every command shares. */
import { normaliseDatabaseName } from '../core/names.js';
import { paginate } from '../core/paginate.js';
import { parseTransferId } from '../core/transfer.js';
import { type FlagSpecs, suggest } from './args.js';
import { type ApiClient, appPath } from './client.js';
import { CliError, UsageError } from './errors.js';
import { app as appLabel, isUrlLike } from './format.js';
import type { Io } from './io.js';
import type { DatabaseJson, TransferJson } from './types.js';

export interface Context {
  readonly io: Io;
  /** The app every request is about (`-a`, PGBACKUPS_APP or HEROKU_APP). */
  readonly app: string;
  /** ` -a APP` when the app is not the environment's, else empty: appended to every command printed as a hint. */
  readonly appHint: string;
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
  /**
   * The first argument, when given, is a transfer id (b001, a2, 3): checked before any request, as bad usage.
   * `backup`: only a backup's id (`a`/`b` prefix or none); `c062` is refused rather than read as b062.
   */
  readonly transferIdArg?: true | 'backup';
  /** The command is not about one app (`apps`): no `-a` needed. */
  readonly noApp?: boolean;
  /** Returns the exit code. */
  run(ctx: Context): Promise<number>;
}

/** A command to print as a hint: `pgbackups info b005`, with ` -a APP` when pasting it needs that. */
export const cmd = (ctx: Pick<Context, 'appHint'>, words: string): string =>
  `pgbackups ${words}${ctx.appHint}`;

const PREFIX_WORDS: Record<string, string> = {
  a: 'a scheduled backup',
  b: 'a backup',
  c: 'a copy',
  r: 'a restore',
};

/**
 * Checks a transfer-id argument's syntax and, for commands that take only backups, its prefix: `delete c062` is
 * refused rather than deleting b062 (ids share one counter, so 62 is one transfer whatever the letter says).
 */
export function parseTransferIdArg(raw: string, kind: true | 'backup'): number {
  const num = parseTransferId(raw);
  const prefix = /^[a-z]/i.exec(raw.trim())?.[0];
  if (kind === 'backup' && (prefix === 'c' || prefix === 'r')) {
    throw new UsageError(
      `${raw} names ${PREFIX_WORDS[prefix]}, not a backup: give a backup id such as b${String(num).padStart(3, '0')}`,
    );
  }
  return num;
}

/** The letter the user typed must be the transfer's: `info r003` when 3 is b003 is an error, not b003's info. */
export function checkIdPrefix(raw: string, t: TransferJson): void {
  const prefix = /^[a-z]/i.exec(raw.trim())?.[0];
  if (prefix && prefix !== t.id[0]) {
    throw new CliError(
      `${raw} does not exist: transfer ${t.id.slice(1)} is ${t.id} (${PREFIX_WORDS[t.id[0] as string] ?? t.kind}). Use ${t.id}`,
    );
  }
}

/**
 * A database-name argument. A connection URL typed here (Heroku's `pg:copy` takes one) is refused without
 * echoing it, with the command that attaches it under a name.
 */
export function databaseArg(ctx: Pick<Context, 'appHint'>, raw: string): string {
  if (isUrlLike(raw)) {
    throw new UsageError(
      `A connection URL cannot be used as a database name here (it was not echoed: it may hold a password). Attach it under a name first: ${cmd(ctx, 'databases:add NAME --url -')} (paste the URL when asked), then use NAME`,
    );
  }
  return normaliseDatabaseName(raw);
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
  if (answer === undefined) {
    throw new CliError(
      `No answer on stdin; nothing was changed. To proceed without a prompt, pass --confirm ${expected}`,
    );
  }
  if (answer.trim() !== expected) throw new CliError(`Confirmation did not match ${expected}. Aborted.`);
}

/** The apps the API knows, or undefined when it cannot say (an older API, or IAM not granting GET /v1/apps). */
export async function knownApps(ctx: Context): Promise<string[] | undefined> {
  try {
    return (await ctx.client.get<{ apps: string[] }>('/v1/apps')).apps;
  } catch {
    return undefined;
  }
}

/**
 * Called when a command found nothing for the app: if the API does not know the app at all (no database, no
 * transfer), that is a typo in `-a`/PGBACKUPS_APP far more often than an empty app, so it is an error naming the
 * apps there are. The check costs a request only on these empty answers.
 */
export async function requireKnownApp(ctx: Context): Promise<void> {
  const apps = await knownApps(ctx);
  if (!apps || apps.includes(ctx.app)) return;
  const close = suggest(ctx.app, apps);
  throw new CliError(
    [
      `Unknown app ${ctx.app}: it has no databases and no transfers.`,
      close ? ` Did you mean -a ${close}?` : '',
      apps.length > 0 ? ` Known apps: ${apps.join(', ')}.` : ' The API knows no apps yet.',
      ` To start using ${ctx.app}, attach a database: ${cmd(ctx, 'databases:add DATABASE --url -')}`,
    ].join(''),
  );
}

/** Every transfer of the app, newest first, following the API's pages. */
export async function listAllTransfers(ctx: Context, kind?: string, limit?: number): Promise<TransferJson[]> {
  const all: TransferJson[] = [];
  for await (const page of transferPages(ctx, kind, 1000)) {
    all.push(...page.items);
    if (limit !== undefined && all.length >= limit) break;
  }
  return all;
}

/** The newest transfer matching `pred`, reading only as many pages as needed. */
export async function findNewest(
  ctx: Context,
  kind: string | undefined,
  pred: (t: TransferJson) => boolean,
): Promise<TransferJson | undefined> {
  for await (const page of transferPages(ctx, kind, 100)) {
    const hit = page.items.find(pred);
    if (hit) return hit;
  }
  return undefined;
}

/** The app's transfers, newest first, one API page at a time. */
function transferPages(ctx: Context, kind: string | undefined, limit: number) {
  return paginate(async (cursor: string | undefined) => {
    const page = await ctx.client.get<{ transfers: TransferJson[]; cursor?: string | null }>(
      appPath(ctx.app, 'transfers'),
      { kind, limit, cursor },
    );
    return { items: page.transfers, next: page.cursor };
  });
}

export async function getTransfer(ctx: Context, id: string, logs = false): Promise<TransferJson> {
  const t = await ctx.client.get<TransferJson>(
    appPath(ctx.app, 'transfers', id),
    logs ? { logs: true } : undefined,
  );
  checkIdPrefix(id, t);
  return t;
}

/** The newest completed manual or scheduled backup of `database` (url, download and restore default to it). */
export async function latestCompletedBackup(ctx: Context, database = 'DATABASE'): Promise<TransferJson> {
  const t = await findNewest(
    ctx,
    'backup',
    (b) => b.status === 'completed' && b.type !== 'safety' && b.database === database,
  );
  if (!t) {
    await requireKnownApp(ctx);
    throw new CliError(
      `No completed manual or scheduled backup of ${database} on ${appLabel(ctx.app)}, so there is no default. ` +
        'Name a backup (pgbackups list shows them), or capture one with ' +
        cmd(ctx, 'capture'),
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
  if (all.length === 0) await requireKnownApp(app === ctx.app ? ctx : { ...ctx, app });
  throw new CliError(
    all.length === 0
      ? `${appLabel(app)} has no databases. Attach one with ${cmd(app === ctx.app ? ctx : { appHint: ` -a ${app}` }, 'databases:add DATABASE --url -')}`
      : `Unknown database: ${name}. Valid options are: ${all.map((d) => d.name).join(', ')}`,
  );
}

/** `database mydb on db.example.com:5432`: what an attachment points at, without credentials. */
export function describeDatabase(d: DatabaseJson): string {
  return `database ${d.database} on ${d.host}:${d.port}`;
}
