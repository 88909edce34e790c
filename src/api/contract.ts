/**
 * The API contract: one table of routes, each with its path, summary, request schemas (path parameters, query,
 * body) and response schemas. Everything else reads it: the router (src/api/router.ts) binds one handler per
 * entry and validates bodies and decodes queries with these schemas; the OpenAPI document (src/api/openapi.ts)
 * is generated from them; the API Gateway routes (lib/constructs/api.ts) are created from the same table.
 * Adding a route is one entry here plus its handler, which the compiler then asks for in router.ts.
 *
 * Paths use OpenAPI's `{param}` syntax, which is also API Gateway's route-key syntax.
 *
 * Bounds marked with `.meta({ minimum, maximum })` are shown in the document but enforced by the use case, which
 * owns the rule and its message; both read the same constant from src/core.
 */
import { z } from 'zod';
import { CHECK_STATUSES, CHECK_STEP_NAMES } from '../core/check.js';
import { APP_NAME } from '../core/names.js';
import { PLANS, settingsPatchSchema } from '../core/settings.js';
import { TRANSFER_STATUSES, type TransferType } from '../core/transfer.js';
import { MAX_RESTORE_JOBS } from '../core/use-cases/restore-backup.js';
import {
  DEFAULT_URL_EXPIRY_SECONDS,
  KINDS,
  MAX_URL_EXPIRY_SECONDS,
  MIN_URL_EXPIRY_SECONDS,
  TRANSFER_PAGE_MAX,
} from '../core/use-cases/transfers.js';

/** Named schemas: the document lists them under `components.schemas` and refers to them by `$ref`. */
export const components = z.registry<{ id: string }>();
const named = <T extends z.ZodType>(id: string, schema: T): T => {
  components.add(schema, { id });
  return schema;
};

const TYPES = ['manual', 'scheduled', 'safety'] as const satisfies readonly TransferType[];
// The statuses are the core's own list (src/core/transfer.ts).
const STATUSES = TRANSFER_STATUSES;
// Compile-time proof that the enum above lists every member of the core's union.
type Missing<All, Listed> = Exclude<All, Listed> extends never ? true : never;
const _everyType: Missing<TransferType, (typeof TYPES)[number]> = true;
void _everyType;

const isoTime = z.string().meta({ format: 'date-time' });
const nullableIso = isoTime.nullable();

// ---- Response bodies ----

export const errorSchema = named(
  'Error',
  z.object({
    error: z.object({
      code: z.string().meta({ description: 'bad_request, forbidden, not_found, conflict, unprocessable, …' }),
      message: z.string(),
    }),
  }),
);

const databaseSchema = named(
  'Database',
  z.object({
    name: z.string().meta({ example: 'DATABASE' }),
    host: z.string(),
    hostaddr: z
      .string()
      .optional()
      .meta({ description: 'Present when the URL gives hostaddr=: the address connected to' }),
    port: z.int(),
    database: z.string(),
    user: z.string(),
    createdAt: isoTime,
  }),
);

const limitsSchema = z.object({ manual: z.int(), daily: z.int(), weekly: z.int(), monthly: z.int() });

const settingsSchema = named(
  'Settings',
  z.object({
    app: z.string(),
    plan: z.enum(PLANS),
    manualLimit: z.int().optional(),
    daily: z.int().optional(),
    weekly: z.int().optional(),
    monthly: z.int().optional(),
    compressionLevel: z.int().optional(),
    notifyOnSuccess: z.boolean().optional(),
    updatedAt: isoTime.optional(),
    limits: limitsSchema.meta({ description: "The limits in force: the plan's, with the overrides applied" }),
  }),
);

const transferRef = z.object({ type: z.literal('database'), app: z.string(), database: z.string() });

export const transferSchema = named(
  'Transfer',
  z.object({
    id: z.string().meta({ example: 'b001' }),
    num: z.int(),
    kind: z.enum(KINDS),
    type: z.enum(TYPES),
    status: z.enum(STATUSES),
    app: z.string(),
    database: z.string(),
    source: z.union([
      transferRef,
      z.object({ type: z.literal('backup'), app: z.string(), id: z.string() }),
      z.object({
        type: z.literal('url'),
        url: z
          .string()
          .meta({ description: 'Without its query string (a presigned signature is a credential)' }),
      }),
    ]),
    target: z.union([transferRef, z.object({ type: z.literal('blob'), key: z.string() })]),
    createdAt: isoTime,
    startedAt: nullableIso,
    finishedAt: nullableIso,
    sourceBytes: z.int().nullable(),
    processedBytes: z.int(),
    backupBytes: z.int().nullable(),
    sha256: z.string().nullable(),
    compression: z.string().nullable().meta({ example: 'zstd:1' }),
    pgDumpVersion: z.string().nullable().meta({ description: 'The pg_dump that wrote the backup' }),
    serverVersion: z.string().nullable().meta({ description: 'The source server the backup was taken from' }),
    archiveFormat: z
      .string()
      .nullable()
      .meta({ description: 'Backups: the pg_dump custom-format archive version, e.g. 1.16' }),
    oldestPgRestore: z
      .int()
      .nullable()
      .meta({ description: 'Backups: the oldest pg_restore major version that can read the archive' }),
    extensions: z.array(z.string()).meta({ description: 'Restores: extensions created before the restore' }),
    keepExtensions: z
      .array(z.string())
      .meta({ description: "Restores and copies: the target's extensions the wipe kept" }),
    parallel: z
      .int()
      .meta({ description: 'Restores: pg_restore jobs for indexes and constraints (1: atomic)' }),
    safetyBackup: z
      .object({ app: z.string(), id: z.string() })
      .nullable()
      .meta({ description: 'The backup of the target taken first' }),
    mirrorOf: z.object({ app: z.string(), id: z.string() }).nullable().meta({
      description:
        "Another app's copy that read or overwrote this app's database, listed here under this app's own id; its state is the copy's own. Cancelling it cancels the copy",
    }),
    mirrors: z
      .array(z.object({ app: z.string(), id: z.string() }))
      .meta({ description: 'Each other app that lists this copy (its database was read or overwritten)' }),
    warnings: z.int(),
    error: z.string().nullable(),
    cancelRequested: z.boolean().meta({ description: 'A cancel was asked; the worker is stopping' }),
    logs: z
      .array(z.object({ at: isoTime, level: z.enum(['info', 'warn', 'error']), message: z.string() }))
      .optional()
      .meta({ description: 'Only with ?logs=true' }),
  }),
);

export const checkSchema = named(
  'Check',
  z.object({
    id: z.string().meta({ example: 'chk-0123456789ab' }),
    app: z.string(),
    database: z.string(),
    status: z.enum(CHECK_STATUSES),
    createdAt: isoTime,
    startedAt: nullableIso,
    finishedAt: nullableIso,
    steps: z
      .array(
        z.object({
          name: z.enum(CHECK_STEP_NAMES),
          ok: z.boolean(),
          message: z.string(),
          hint: z.string().nullable(),
        }),
      )
      .meta({
        description: 'worker, database, bucket: each ok or not, what was found, and when not ok what to do',
      }),
    serverVersion: z.string().nullable(),
    dumpClient: z.int().nullable().meta({ description: 'The pg_dump major a capture would run' }),
    clients: z.array(z.int()).meta({ description: 'Client majors in the worker image' }),
  }),
);

const scheduleSchema = named(
  'Schedule',
  z.object({
    database: z.string(),
    hour: z.int(),
    minute: z.int(),
    timezone: z.string().meta({ example: 'America/Los_Angeles' }),
    createdAt: isoTime,
    description: z.string().meta({ example: 'daily at 2:00 America/Los_Angeles' }),
  }),
);

const pruneEntrySchema = z.object({
  id: z.string(),
  num: z.int(),
  kind: z.enum(KINDS),
  type: z.enum(TYPES),
  status: z.enum(STATUSES),
  database: z.string(),
  createdAt: isoTime,
  reason: z.string(),
});

// ---- Request bodies ----

const optionalString = z.string().min(1).max(2048).optional();
const extensionList = z.union([z.array(z.string().max(200)).max(50), z.string().max(2000)]);
const keepExtensions = extensionList.optional().meta({
  description:
    "Extensions already installed in the target to keep: the wipe leaves them, the dump's CREATE EXTENSION is skipped. For extensions only a superuser can create, when the target's owner is not one",
});

// ---- Path parameters: every `{name}` in a path takes its schema from here ----

export const PATH_PARAMS = {
  app: z.string().regex(APP_NAME),
  name: z.string().meta({ example: 'DATABASE' }),
  database: z.string().meta({ example: 'DATABASE' }),
  id: z.string().meta({ example: 'b001' }),
} as const;

/** One route of the table. */
export interface RouteContract {
  readonly method: 'GET' | 'PUT' | 'POST' | 'DELETE';
  /** `{param}` syntax; each param is one of {@link PATH_PARAMS}. */
  readonly path: string;
  readonly summary: string;
  /** Query parameters, all optional. The router decodes integer and boolean ones from their text. */
  readonly query?: z.ZodObject;
  readonly body?: {
    readonly schema: z.ZodType;
    /** Absent or empty is allowed (and read as `{}`). */
    readonly optional?: boolean;
    /** The use case validates the body with this same schema and its own message; the router passes it on. */
    readonly checkedByUseCase?: boolean;
  };
  /** Success statuses and their bodies (`null`: no body). Errors are {@link errorSchema}. */
  readonly responses: Readonly<Record<number, z.ZodType | null>>;
}

/** The routes, by operation id. */
export const API_CONTRACT = {
  health: {
    method: 'GET',
    path: '/v1/health',
    summary: 'Liveness',
    responses: { 200: z.object({ status: z.literal('ok') }) },
  },
  openApi: {
    method: 'GET',
    path: '/v1/openapi.json',
    summary: 'This document',
    responses: { 200: z.looseObject({ openapi: z.string() }) },
  },
  listApps: {
    method: 'GET',
    path: '/v1/apps',
    summary: 'The apps that have a database or a transfer (names only)',
    responses: { 200: z.object({ apps: z.array(z.string()) }) },
  },
  attachDatabase: {
    method: 'PUT',
    path: '/v1/apps/{app}/databases/{name}',
    summary: 'Attach a database (the URL is stored in the secret store, never returned)',
    body: { schema: z.object({ url: z.string().min(1).max(2048) }).strict() },
    responses: { 201: databaseSchema },
  },
  listDatabases: {
    method: 'GET',
    path: '/v1/apps/{app}/databases',
    summary: 'List attached databases',
    responses: { 200: z.object({ databases: z.array(databaseSchema) }) },
  },
  removeDatabase: {
    method: 'DELETE',
    path: '/v1/apps/{app}/databases/{name}',
    summary: 'Detach a database',
    responses: { 204: null },
  },
  getSettings: {
    method: 'GET',
    path: '/v1/apps/{app}/settings',
    summary: 'Plan and retention settings',
    responses: { 200: settingsSchema },
  },
  updateSettings: {
    method: 'PUT',
    path: '/v1/apps/{app}/settings',
    summary: 'Change plan or retention overrides (null clears an override)',
    body: { schema: settingsPatchSchema, checkedByUseCase: true },
    responses: { 200: settingsSchema },
  },
  captureBackup: {
    method: 'POST',
    path: '/v1/apps/{app}/backups',
    summary: 'Capture a backup (default database DATABASE)',
    body: { schema: z.object({ database: optionalString }).strict(), optional: true },
    responses: { 202: transferSchema },
  },
  listTransfers: {
    method: 'GET',
    path: '/v1/apps/{app}/transfers',
    summary: 'Transfers, newest first',
    query: z.object({
      kind: z.enum(KINDS).optional(),
      limit: z.int().optional().meta({ minimum: 1, maximum: TRANSFER_PAGE_MAX, default: 100 }),
      cursor: z.string().optional(),
    }),
    responses: {
      200: z.object({
        transfers: z.array(transferSchema),
        cursor: z
          .string()
          .nullable()
          .meta({ description: 'Pass as ?cursor= for the next page; null: last page' }),
      }),
    },
  },
  getTransfer: {
    method: 'GET',
    path: '/v1/apps/{app}/transfers/{id}',
    summary: 'One transfer (with logs=true, its log lines)',
    query: z.object({ logs: z.boolean().optional() }),
    responses: { 200: transferSchema },
  },
  cancelTransfer: {
    method: 'POST',
    path: '/v1/apps/{app}/transfers/{id}/cancel',
    summary: 'Cancel a pending or running transfer',
    body: { schema: z.object({}).strict(), optional: true },
    responses: { 200: transferSchema },
  },
  backupUrl: {
    method: 'POST',
    path: '/v1/apps/{app}/backups/{id}/url',
    summary: `A presigned download URL (default ${DEFAULT_URL_EXPIRY_SECONDS} s, at most ${MAX_URL_EXPIRY_SECONDS} s)`,
    body: {
      schema: z
        .object({
          expiresInSeconds: z.number().int().optional().meta({
            minimum: MIN_URL_EXPIRY_SECONDS,
            maximum: MAX_URL_EXPIRY_SECONDS,
            default: DEFAULT_URL_EXPIRY_SECONDS,
          }),
        })
        .strict(),
      optional: true,
    },
    responses: { 200: z.object({ url: z.string(), expiresAt: isoTime }) },
  },
  deleteBackup: {
    method: 'DELETE',
    path: '/v1/apps/{app}/backups/{id}',
    summary: 'Delete a backup: its object, then its record (a running one is cancelled first)',
    responses: { 204: null },
  },
  restoreBackup: {
    method: 'POST',
    path: '/v1/apps/{app}/restores',
    summary: 'Restore a backup into an attached database, atomically',
    body: {
      schema: z
        .object({
          backup: optionalString.meta({
            description:
              'b101 or other-app::b101 (needs IAM permission on other-app too), or an https:// URL; default: the newest completed manual or scheduled backup of the target database (never a safety backup)',
          }),
          database: optionalString.meta({ description: 'default DATABASE' }),
          extensions: extensionList.optional().meta({
            description:
              'NAME or SCHEMA.NAME (a list, or one comma-separated string): extensions created before the restore, also in a schema the dump creates',
          }),
          keepExtensions,
          parallel: z.number().int().optional().meta({
            minimum: 1,
            maximum: MAX_RESTORE_JOBS,
            default: 1,
            description:
              'schema and data atomically, then indexes and constraints with pg_restore --jobs N: not atomic',
          }),
          safetyBackup: z.boolean().optional().meta({
            default: true,
            description: 'Back up the target (b###, kept 7 days) before overwriting it; false skips it',
          }),
          finish: z.string().min(1).max(40).optional().meta({
            description:
              'r### of a --parallel restore whose index and constraint builds failed: builds only those again, from the same backup (the other fields are taken from it)',
          }),
        })
        .strict(),
      optional: true,
    },
    responses: { 202: transferSchema },
  },
  copyDatabase: {
    method: 'POST',
    path: '/v1/apps/{app}/copies',
    summary:
      'Copy a database into another directly (pg_dump → atomic restore); either may be other-app::NAME',
    body: {
      schema: z
        .object({
          from: z.string().min(1).max(200),
          to: z.string().min(1).max(200),
          safetyBackup: z.boolean().optional().meta({ default: true }),
          keepExtensions,
        })
        .strict(),
    },
    responses: { 202: transferSchema },
  },
  setSchedule: {
    method: 'PUT',
    path: '/v1/apps/{app}/schedules/{database}',
    summary: "Back up a database daily at HH:MM in a time zone (Heroku's --at '02:00 America/Los_Angeles')",
    body: { schema: z.object({ at: z.string().min(1).max(100).meta({ example: '02:00 UTC' }) }).strict() },
    responses: { 200: scheduleSchema },
  },
  listSchedules: {
    method: 'GET',
    path: '/v1/apps/{app}/schedules',
    summary: 'Daily backup schedules',
    responses: { 200: z.object({ schedules: z.array(scheduleSchema) }) },
  },
  removeSchedule: {
    method: 'DELETE',
    path: '/v1/apps/{app}/schedules/{database}',
    summary: 'Stop the daily backups of a database',
    responses: { 204: null },
  },
  retentionPlan: {
    method: 'GET',
    path: '/v1/apps/{app}/retention',
    summary: 'What retention would delete now, and why (a dry run of the pruner)',
    responses: {
      200: z.object({ app: z.string(), dryRun: z.literal(true), delete: z.array(pruneEntrySchema) }),
    },
  },
  startCheck: {
    method: 'POST',
    path: '/v1/apps/{app}/checks',
    summary:
      'Start a deployment check (pgbackups doctor): a worker task connects to the database and round-trips an object through the bucket',
    body: {
      schema: z.object({ database: optionalString.meta({ description: 'default DATABASE' }) }).strict(),
      optional: true,
    },
    responses: { 202: checkSchema },
  },
  getCheck: {
    method: 'GET',
    path: '/v1/apps/{app}/checks/{id}',
    summary: 'A check and what each step found (kept one day)',
    responses: { 200: checkSchema },
  },
  checkAccess: {
    method: 'GET',
    path: '/v1/apps/{app}/access',
    summary:
      'Succeeds only for callers allowed on this app; cross-app requests are checked against the same permission',
    responses: { 200: z.object({ app: z.string(), access: z.literal(true) }) },
  },
} as const satisfies Record<string, RouteContract>;

export type OperationId = keyof typeof API_CONTRACT;

/** The JSON a route answers with on `status`: the one description of the wire that clients (the CLI) read. */
export type ResponseOf<
  Op extends OperationId,
  S extends keyof (typeof API_CONTRACT)[Op]['responses'],
> = (typeof API_CONTRACT)[Op]['responses'][S] extends z.ZodType
  ? z.output<(typeof API_CONTRACT)[Op]['responses'][S]>
  : never;

/** The table as a list, in its order. */
export const ROUTE_LIST: ReadonlyArray<RouteContract & { readonly operationId: OperationId }> =
  Object.entries(API_CONTRACT).map(([operationId, r]) => ({ ...r, operationId: operationId as OperationId }));

/** A request path as routes are matched: trailing slashes ignored. */
export function normalisePath(path: string): string {
  return path.length > 1 ? path.replace(/\/+$/, '') : path;
}

/** The `{name}` parameters of a path, in order. */
export function pathParams(path: string): string[] {
  return [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1] as string);
}

/**
 * Matches a concrete path against a `{param}` template; the params come back percent-decoded. An empty segment,
 * or one that does not decode, matches nothing.
 */
export function matchPath(template: string, path: string): Record<string, string> | undefined {
  const want = template.split('/');
  const got = path.split('/');
  if (want.length !== got.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < want.length; i++) {
    const w = want[i] as string;
    const g = got[i] as string;
    if (w.startsWith('{') && w.endsWith('}')) {
      if (g === '') return undefined;
      try {
        params[w.slice(1, -1)] = decodeURIComponent(g);
      } catch {
        return undefined;
      }
    } else if (w !== g) {
      return undefined;
    }
  }
  return params;
}
