import { z } from 'zod';
import type { CoreDeps } from '../core/deps.js';
import { NotFoundError, ValidationError } from '../core/errors.js';
import { parseAppName, splitAppQualified } from '../core/names.js';
import { listApps } from '../core/use-cases/apps.js';
import { captureBackup } from '../core/use-cases/capture-backup.js';
import { getCheck, startCheck } from '../core/use-cases/checks.js';
import { copyDatabase } from '../core/use-cases/copy-database.js';
import { attachDatabase, listDatabases, removeDatabase } from '../core/use-cases/databases.js';
import { deleteBackup } from '../core/use-cases/delete-backup.js';
import { pruneApp } from '../core/use-cases/prune.js';
import { restoreBackup } from '../core/use-cases/restore-backup.js';
import { listSchedules, removeSchedule, setSchedule } from '../core/use-cases/schedules.js';
import { getSettings, updateSettings } from '../core/use-cases/settings.js';
import { backupUrl, cancelTransfer, getTransfer, listTransfers } from '../core/use-cases/transfers.js';
import type { AppAccessVerifier } from './app-access.js';
import {
  type API_CONTRACT,
  matchPath,
  normalisePath,
  type OperationId,
  ROUTE_LIST,
  type RouteContract,
} from './contract.js';
import { type ApiRequest, type ApiResponse, json } from './http.js';
import { errorResponse } from './http-errors.js';
import { openApiDocument } from './openapi.js';
import { checkView, transferView } from './views.js';

type Params = Record<string, string>;

/** Path parameter names of a `{param}` template, as a type. */
type ParamNames<P extends string> = P extends `${string}{${infer N}}${infer Rest}`
  ? N | ParamNames<Rest>
  : never;
type Contract = typeof API_CONTRACT;
type BodyOf<R> = R extends { body: { checkedByUseCase: true } }
  ? unknown
  : R extends { body: { schema: infer S extends z.ZodType } }
    ? z.infer<S>
    : undefined;
type QueryOf<R> = R extends { query: infer Q extends z.ZodType } ? z.infer<Q> : Record<string, never>;
/** What a handler gets: the request, its path params, its decoded query, its validated body. */
interface Input<R extends RouteContract> {
  readonly req: ApiRequest;
  readonly params: Readonly<Record<ParamNames<R['path']>, string>>;
  readonly query: QueryOf<R>;
  readonly body: BodyOf<R>;
}
type Handlers = { readonly [K in OperationId]: (input: Input<Contract[K]>) => Promise<ApiResponse> };

/** Parses a JSON body that must be an object (or absent, when `optional`). */
function parseBody(req: ApiRequest, schema: z.ZodType, optional = false): unknown {
  let value: unknown = {};
  if (req.body !== undefined && req.body.trim() !== '') {
    try {
      value = JSON.parse(req.body);
    } catch {
      // Not the parser's message: it quotes the body around the error, which may hold a password.
      throw new ValidationError('Malformed JSON body: it could not be parsed. Send a JSON object.');
    }
  } else if (!optional) {
    throw new ValidationError('Missing JSON body: send a JSON object with content-type application/json');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ValidationError('The body must be a JSON object');
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.length ? `field ${issue.path.join('.')}` : 'body';
    if (issue?.code === 'unrecognized_keys') {
      // Key names come from the body: only ones that look like field names are repeated.
      const keys = issue.keys.filter((k) => /^[A-Za-z_][A-Za-z0-9_]{0,40}$/.test(k));
      throw new ValidationError(
        `Invalid ${where}: unknown field${keys.length ? ` ${keys.join(', ')}` : 's'}; see GET /v1/openapi.json`,
      );
    }
    throw new ValidationError(`Invalid ${where}: ${issue?.message ?? 'invalid value'}`);
  }
  return parsed.data;
}

/** The other app a reference like `other-app::b101` names, if it is not the path's app. */
function otherApp(ref: string | undefined, app: string): string | undefined {
  if (ref === undefined || ref.startsWith('https://') || ref.startsWith('http://')) return undefined;
  const other = splitAppQualified(ref, app).app;
  return other === app ? undefined : other;
}

function queryInt(raw: string, name: string): number {
  if (!/^\d{1,6}$/.test(raw)) throw new ValidationError(`Invalid ${name}: use a whole number`);
  return Number(raw);
}

function queryBool(raw: string, name: string): boolean {
  if (raw === 'false' || raw === '0') return false;
  if (raw === 'true' || raw === '1' || raw === '') return true;
  throw new ValidationError(`Invalid ${name}: use true or false`);
}

type QueryDecoder = (req: ApiRequest) => Record<string, unknown>;

/**
 * Decodes the query parameters a route declares from their text, by their schema's type: integers and booleans
 * here, the rest as strings. Ranges and enums are the use case's to check (see contract.ts).
 */
function queryDecoder(schema: z.ZodObject | undefined): QueryDecoder {
  const fields = Object.entries(schema?.shape ?? {}).map(([name, field]) => {
    const type = z.toJSONSchema(field as z.ZodType, { unrepresentable: 'any' }).type;
    return {
      name,
      decode: type === 'integer' ? queryInt : type === 'boolean' ? queryBool : (raw: string) => raw,
    };
  });
  return (req) => {
    const query: Record<string, unknown> = {};
    for (const { name, decode } of fields) {
      const raw = req.query[name];
      if (raw !== undefined) query[name] = decode(raw, name);
    }
    return query;
  };
}

/** Options of the router: checks that need the network, injected so unit tests stay offline. */
export interface RouterOptions {
  /** Proves access to apps other than the path's. */
  readonly access: AppAccessVerifier;
  /** Refuses restore URLs that are not https or resolve to a non-public address (SSRF guard). */
  readonly checkRestoreUrl: (url: string) => Promise<unknown>;
}

/** One thin adapter per route of the contract (src/api/contract.ts); the compiler asks for each. */
function handlers(deps: CoreDeps, { access, checkRestoreUrl }: RouterOptions): Handlers {
  /** Checks access to every app a request names besides its own. */
  const verifyOthers = async (req: ApiRequest, own: string, refs: (string | undefined)[]) => {
    const others = new Set(refs.map((r) => otherApp(r, own)).filter((a): a is string => a !== undefined));
    for (const other of others) await access.verify(req, other);
  };
  return {
    health: async () => json(200, { status: 'ok' }),
    openApi: async () => json(200, openApiDocument()),
    // Names only. In AWS it is a route of its own, so IAM can grant it apart from any app's paths.
    listApps: async () => json(200, { apps: await listApps(deps) }),
    attachDatabase: async ({ params: p, body }) =>
      json(201, await attachDatabase(deps, { app: parseAppName(p.app), name: p.name, url: body.url })),
    listDatabases: async ({ params: p }) =>
      json(200, { databases: await listDatabases(deps, parseAppName(p.app)) }),
    removeDatabase: async ({ params: p }) => {
      await removeDatabase(deps, { app: parseAppName(p.app), name: p.name });
      return json(204, undefined);
    },
    getSettings: async ({ params: p }) => json(200, await getSettings(deps, parseAppName(p.app))),
    updateSettings: async ({ params: p, body }) =>
      json(200, await updateSettings(deps, parseAppName(p.app), body)),
    captureBackup: async ({ params: p, body }) => {
      const t = await captureBackup(deps, {
        app: parseAppName(p.app),
        database: body.database,
        type: 'manual',
      });
      return json(202, transferView(t));
    },
    listTransfers: async ({ params: p, query }) => {
      const page = await listTransfers(deps, { app: parseAppName(p.app), ...query });
      return json(200, { transfers: page.transfers.map(transferView), cursor: page.cursor ?? null });
    },
    getTransfer: async ({ params: p, query }) =>
      json(
        200,
        transferView(
          await getTransfer(deps, { app: parseAppName(p.app), id: p.id, logs: query.logs ?? false }),
        ),
      ),
    cancelTransfer: async ({ params: p }) =>
      json(200, transferView(await cancelTransfer(deps, { app: parseAppName(p.app), id: p.id }))),
    backupUrl: async ({ params: p, body }) =>
      json(
        200,
        await backupUrl(deps, {
          app: parseAppName(p.app),
          id: p.id,
          expiresInSeconds: body.expiresInSeconds,
        }),
      ),
    deleteBackup: async ({ params: p }) => {
      await deleteBackup(deps, { app: parseAppName(p.app), id: p.id });
      return json(204, undefined);
    },
    restoreBackup: async ({ req, params: p, body }) => {
      const app = parseAppName(p.app);
      await verifyOthers(req, app, [body.backup]);
      if (body.backup && /^[a-z][a-z0-9+.-]*:\/\//i.test(body.backup)) await checkRestoreUrl(body.backup);
      return json(202, transferView(await restoreBackup(deps, { app, ...body })));
    },
    copyDatabase: async ({ req, params: p, body }) => {
      const app = parseAppName(p.app);
      await verifyOthers(req, app, [body.from, body.to]);
      return json(202, transferView(await copyDatabase(deps, { app, ...body })));
    },
    setSchedule: async ({ params: p, body }) =>
      json(200, await setSchedule(deps, { app: parseAppName(p.app), database: p.database, at: body.at })),
    listSchedules: async ({ params: p }) =>
      json(200, { schedules: await listSchedules(deps, parseAppName(p.app)) }),
    removeSchedule: async ({ params: p }) => {
      await removeSchedule(deps, { app: parseAppName(p.app), database: p.database });
      return json(204, undefined);
    },
    retentionPlan: async ({ params: p }) => {
      const plan = await pruneApp(deps, parseAppName(p.app), { dryRun: true });
      return json(200, { app: plan.app, dryRun: true, delete: plan.deleted });
    },
    startCheck: async ({ params: p, body }) =>
      json(202, checkView(await startCheck(deps, { app: parseAppName(p.app), database: body.database }))),
    getCheck: async ({ params: p }) =>
      json(200, checkView(await getCheck(deps, { app: parseAppName(p.app), id: p.id }))),
    // Behind IAM like every route: reaching it proves the caller may act on this app (see app-access.ts).
    checkAccess: async ({ params: p }) => json(200, { app: parseAppName(p.app), access: true }),
  };
}

/** One router for every transport: the Lambda handler and the local server both call it. */
export function createRouter(deps: CoreDeps, opts: RouterOptions): (req: ApiRequest) => Promise<ApiResponse> {
  const bound = handlers(deps, opts);
  const decoders = new Map(ROUTE_LIST.map((r) => [r, queryDecoder(r.query)]));
  return async (req) => {
    const log = deps.log.child({ requestId: req.requestId, method: req.method, path: req.path });
    try {
      const path = normalisePath(req.path);
      const candidates = ROUTE_LIST.map((r) => ({ route: r, params: matchPath(r.path, path) })).filter(
        (c) => c.params !== undefined,
      );
      const hit = candidates.find((c) => c.route.method === req.method);
      if (!hit) {
        if (candidates.length > 0) {
          const allowed = candidates.map((c) => c.route.method).join(', ');
          return json(405, { error: { code: 'method_not_allowed', message: `Use ${allowed} on ${path}` } });
        }
        throw new NotFoundError(`No route for ${req.method} ${path}. See GET /v1/openapi.json for the API`);
      }
      const { route } = hit;
      const body = route.body
        ? parseBody(req, route.body.checkedByUseCase ? PASS_THROUGH : route.body.schema, route.body.optional)
        : undefined;
      const handler = bound[route.operationId] as (input: Input<RouteContract>) => Promise<ApiResponse>;
      const res = await handler({
        req,
        params: hit.params as Params,
        query: decoders.get(route)?.(req) ?? {},
        body,
      } as Input<RouteContract>);
      log.info('request', { status: res.status });
      return res;
    } catch (e) {
      const res = errorResponse(e, log);
      log.info('request', { status: res.status });
      return res;
    }
  };
}

/** A body the use case validates itself: the router only checks it is a JSON object. */
const PASS_THROUGH = z.object({}).passthrough();
