/** Flags several commands share. `-a/--app` and `-h/--help` are added to every command by the dispatcher. */
import type { FlagSpec } from './args.js';
import { parseSeconds } from './args.js';
import { type Context, cmd } from './command.js';
import { DEFAULT_WAIT_SECONDS, MIN_WAIT_SECONDS } from './follow.js';

export const jsonFlag: FlagSpec = { type: 'boolean', description: 'print JSON on stdout instead of text' };
export const confirmFlag: FlagSpec = {
  type: 'string',
  short: 'c',
  value: 'NAME',
  description: 'skip the prompt: give the name the prompt asks for',
};
export const verboseFlag: FlagSpec = { type: 'boolean', short: 'v', description: 'print every log line' };
export const waitIntervalFlag: FlagSpec = {
  type: 'string',
  value: 'SECONDS',
  description: `seconds between progress checks (default ${DEFAULT_WAIT_SECONDS})`,
};

export const followFlags = { verbose: verboseFlag, 'wait-interval': waitIntervalFlag, json: jsonFlag };

export function waitIntervalMs(flags: Readonly<Record<string, string | boolean | undefined>>): number {
  return parseSeconds(flags['wait-interval'], 'wait-interval', DEFAULT_WAIT_SECONDS, MIN_WAIT_SECONDS) * 1000;
}

export const noSafetyBackupFlag: FlagSpec = {
  type: 'boolean',
  description: 'do not back up the target first (by default a backup of it is taken and kept 7 days)',
};

/** Restore and copy: extensions installed in the target to keep (for those only a superuser can create). */
export const keepExtensionsFlag: FlagSpec = {
  type: 'string',
  value: "'a, b'",
  description:
    "extensions already installed in the target to keep: not dropped, the dump's CREATE EXTENSION skipped",
};

/** The line printed once a restore or copy started, naming the backup that can undo it. */
export function safetyBackupNote(
  ctx: Pick<Context, 'appHint'>,
  t: {
    readonly safetyBackup?: { readonly app: string; readonly id: string } | null;
    readonly database: string;
    readonly app: string;
  },
): string | undefined {
  if (!t.safetyBackup) return undefined;
  // The undo runs on the app whose database was overwritten, which owns the safety backup.
  const hint = t.safetyBackup.app === t.app ? ctx : { appHint: ` -a ${t.safetyBackup.app}` };
  return `${t.database} is backed up to ${t.safetyBackup.id} first; to undo: ${cmd(hint, `restore ${t.safetyBackup.id} ${t.database}`)}`;
}
