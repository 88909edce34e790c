/**
 * The JSON the CLI reads from the API (docs/architecture.md, "API"). Declared here rather than imported from
 * the server so the client depends on the wire contract, not on the server's internal types.
 */
export type TransferStatusJson = 'pending' | 'running' | 'completed' | 'failed' | 'cancelled';

export interface LogLineJson {
  readonly at: string;
  readonly level?: string;
  readonly message: string;
}

export type SourceJson =
  | { readonly type: 'database'; readonly app?: string; readonly database: string }
  | { readonly type: 'backup'; readonly app?: string; readonly id: string }
  | { readonly type: 'url'; readonly url: string };

export type TargetJson =
  | { readonly type: 'database'; readonly app?: string; readonly database: string }
  | { readonly type: 'blob'; readonly key?: string };

export interface TransferJson {
  readonly id: string;
  readonly num: number;
  readonly kind: 'backup' | 'restore' | 'copy';
  /** `safety`: the backup of a target taken automatically before a restore or copy overwrites it. */
  readonly type: 'manual' | 'scheduled' | 'safety';
  readonly status: TransferStatusJson;
  readonly app: string;
  readonly database: string;
  readonly source: SourceJson;
  readonly target: TargetJson;
  readonly createdAt: string;
  readonly startedAt: string | null;
  readonly finishedAt: string | null;
  readonly sourceBytes: number | null;
  readonly processedBytes: number;
  readonly backupBytes: number | null;
  readonly sha256: string | null;
  readonly compression: string | null;
  readonly pgDumpVersion?: string | null;
  readonly serverVersion?: string | null;
  readonly archiveFormat?: string | null;
  readonly oldestPgRestore?: number | null;
  readonly extensions?: readonly string[];
  /** Restores: pg_restore jobs; above 1 the restore is not atomic. */
  readonly parallel?: number;
  /** Restores and copies: the backup of the target taken before it was overwritten. */
  readonly safetyBackup?: { readonly app: string; readonly id: string } | null;
  /** Another app's copy of, or into, this app's database, listed here under this app's id: where it was started. */
  readonly mirrorOf?: { readonly app: string; readonly id: string } | null;
  /** A copy touching other apps' databases: the id each of them lists it under. */
  readonly mirrors?: readonly { readonly app: string; readonly id: string }[];
  readonly warnings: number;
  readonly error: string | null;
  readonly cancelRequested?: boolean;
  readonly logs?: readonly LogLineJson[];
}

export interface DatabaseJson {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly database: string;
  readonly user: string;
  readonly createdAt: string;
}

export interface ScheduleJson {
  readonly database: string;
  readonly hour: number;
  readonly minute: number;
  readonly timezone: string;
  readonly createdAt?: string;
}

export interface SettingsJson {
  readonly app: string;
  readonly plan: string;
  readonly manualLimit?: number;
  readonly daily?: number;
  readonly weekly?: number;
  readonly monthly?: number;
  readonly compressionLevel?: number;
  readonly notifyOnSuccess?: boolean;
  readonly updatedAt?: string;
  readonly limits: { manual: number; daily: number; weekly: number; monthly: number };
}

export interface RetentionJson {
  readonly delete: readonly { id: string; database: string; reason: string }[];
  readonly keep?: readonly { id: string; database: string; reason: string }[];
}
