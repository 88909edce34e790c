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
import { type ApiRequest, type ApiResponse, json } from './http.js';
import { errorResponse } from './http-errors.js';
import { openApiDocument } from './openapi.js';
import { checkView, transferView } from './views.js';

type Params = Record<string, string>;
type Handler = (req: ApiRequest, params: Params) => Promise<ApiResponse>;

interface Route {
  readonly method: string;
  readonly pattern: string;
  readonly handler: Handler;
}

/** Parses a JSON body that must be an object (or absent, when `optional`). */
function parseBody<T extends z.ZodType>(req: ApiRequest, schema: T, optional = false): z.infer<T> {
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

const optionalString = z.string().min(1).max(2048).optional();

const bodies = {
  database: z.object({ url: z.string().min(1).max(2048) }).strict(),
  backup: z.object({ database: optionalString }).strict(),
  url: z.object({ expiresInSeconds: z.number().int().optional() }).strict(),
  restore: z
    .object({
      backup: optionalString,
      database: optionalString,
      extensions: z.union([z.array(z.string().max(200)).max(50), z.string().max(2000)]).optional(),
      keepExtensions: z.union([z.array(z.string().max(200)).max(50), z.string().max(2000)]).optional(),
      parallel: z.number().int().optional(),
      safetyBackup: z.boolean().optional(),
      finish: z.string().min(1).max(40).optional(),
    })
    .strict(),
  schedule: z.object({ at: z.string().min(1).max(100) }).strict(),
  copy: z
    .object({
      from: z.string().min(1).max(200),
      to: z.string().min(1).max(200),
      safetyBackup: z.boolean().optional(),
      keepExtensions: z.union([z.array(z.string().max(200)).max(50), z.string().max(2000)]).optional(),
    })
    .strict(),
  empty: z.object({}).strict(),
  check: z.object({ database: optionalString }).strict(),
};

/** The other app a reference like `other-app::b101` names, if it is not the path's app. */
function otherApp(ref: string | undefined, app: string): string | undefined {
  if (ref === undefined || ref.startsWith('https://') || ref.startsWith('http://')) return undefined;
  const other = splitAppQualified(ref, app).app;
  return other === app ? undefined : other;
}

function queryInt(req: ApiRequest, name: string): number | undefined {
  const raw = req.query[name];
  if (raw === undefined) return undefined;
  if (!/^\d{1,6}$/.test(raw)) throw new ValidationError(`Invalid ${name}: use a whole number`);
  return Number(raw);
}

function queryBool(req: ApiRequest, name: string): boolean {
  const raw = req.query[name];
  if (raw === undefined || raw === 'false' || raw === '0') return false;
  if (raw === 'true' || raw === '1' || raw === '') return true;
  throw new ValidationError(`Invalid ${name}: use true or false`);
}

/** Options of the router: checks that need the network, injected so unit tests stay offline. */
export interface RouterOptions {
  /** Proves access to apps other than the path's. */
  readonly access: AppAccessVerifier;
  /** Refuses restore URLs that are not https or resolve to a non-public address (SSRF guard). */
  readonly checkRestoreUrl: (url: string) => Promise<unknown>;
}

function routes(deps: CoreDeps, { access, checkRestoreUrl }: RouterOptions): Route[] {
  const app = (p: Params) => parseAppName(p.app);
  /** Checks access to every app a request names besides its own. */
  const verifyOthers = async (req: ApiRequest, own: string, refs: (string | undefined)[]) => {
    const others = new Set(refs.map((r) => otherApp(r, own)).filter((a): a is string => a !== undefined));
    for (const other of others) await access.verify(req, other);
  };
  return [
    { method: 'GET', pattern: '/v1/health', handler: async () => json(200, { status: 'ok' }) },
    { method: 'GET', pattern: '/v1/openapi.json', handler: async () => json(200, openApiDocument) },
    // Names only. In AWS it is a route of its own, so IAM can grant it apart from any app's paths.
    { method: 'GET', pattern: '/v1/apps', handler: async () => json(200, { apps: await listApps(deps) }) },
    {
      method: 'PUT',
      pattern: '/v1/apps/:app/databases/:name',
      handler: async (req, p) => {
        const body = parseBody(req, bodies.database);
        return json(201, await attachDatabase(deps, { app: app(p), name: p.name as string, url: body.url }));
      },
    },
    {
      method: 'GET',
      pattern: '/v1/apps/:app/databases',
      handler: async (_req, p) => json(200, { databases: await listDatabases(deps, app(p)) }),
    },
    {
      method: 'DELETE',
      pattern: '/v1/apps/:app/databases/:name',
      handler: async (_req, p) => {
        await removeDatabase(deps, { app: app(p), name: p.name as string });
        return json(204, undefined);
      },
    },
    {
      method: 'GET',
      pattern: '/v1/apps/:app/settings',
      handler: async (_req, p) => json(200, await getSettings(deps, app(p))),
    },
    {
      method: 'PUT',
      pattern: '/v1/apps/:app/settings',
      handler: async (req, p) =>
        json(200, await updateSettings(deps, app(p), parseBody(req, z.object({}).passthrough()))),
    },
    {
      method: 'POST',
      pattern: '/v1/apps/:app/backups',
      handler: async (req, p) => {
        const body = parseBody(req, bodies.backup, true);
        const t = await captureBackup(deps, { app: app(p), database: body.database, type: 'manual' });
        return json(202, transferView(t));
      },
    },
    {
      method: 'GET',
      pattern: '/v1/apps/:app/transfers',
      handler: async (req, p) => {
        const page = await listTransfers(deps, {
          app: app(p),
          kind: req.query.kind,
          limit: queryInt(req, 'limit'),
          cursor: req.query.cursor,
        });
        return json(200, { transfers: page.transfers.map(transferView), cursor: page.cursor ?? null });
      },
    },
    {
      method: 'GET',
      pattern: '/v1/apps/:app/transfers/:id',
      handler: async (req, p) =>
        json(
          200,
          transferView(
            await getTransfer(deps, { app: app(p), id: p.id as string, logs: queryBool(req, 'logs') }),
          ),
        ),
    },
    {
      method: 'POST',
      pattern: '/v1/apps/:app/transfers/:id/cancel',
      handler: async (req, p) => {
        parseBody(req, bodies.empty, true);
        return json(200, transferView(await cancelTransfer(deps, { app: app(p), id: p.id as string })));
      },
    },
    {
      method: 'POST',
      pattern: '/v1/apps/:app/backups/:id/url',
      handler: async (req, p) => {
        const body = parseBody(req, bodies.url, true);
        return json(
          200,
          await backupUrl(deps, { app: app(p), id: p.id as string, expiresInSeconds: body.expiresInSeconds }),
        );
      },
    },
    {
      method: 'DELETE',
      pattern: '/v1/apps/:app/backups/:id',
      handler: async (_req, p) => {
        await deleteBackup(deps, { app: app(p), id: p.id as string });
        return json(204, undefined);
      },
    },
    {
      method: 'POST',
      pattern: '/v1/apps/:app/restores',
      handler: async (req, p) => {
        const body = parseBody(req, bodies.restore, true);
        await verifyOthers(req, app(p), [body.backup]);
        if (body.backup && /^[a-z][a-z0-9+.-]*:\/\//i.test(body.backup)) await checkRestoreUrl(body.backup);
        return json(202, transferView(await restoreBackup(deps, { app: app(p), ...body })));
      },
    },
    {
      method: 'POST',
      pattern: '/v1/apps/:app/copies',
      handler: async (req, p) => {
        const body = parseBody(req, bodies.copy);
        await verifyOthers(req, app(p), [body.from, body.to]);
        return json(202, transferView(await copyDatabase(deps, { app: app(p), ...body })));
      },
    },
    {
      method: 'PUT',
      pattern: '/v1/apps/:app/schedules/:database',
      handler: async (req, p) => {
        const body = parseBody(req, bodies.schedule);
        return json(
          200,
          await setSchedule(deps, { app: app(p), database: p.database as string, at: body.at }),
        );
      },
    },
    {
      method: 'GET',
      pattern: '/v1/apps/:app/schedules',
      handler: async (_req, p) => json(200, { schedules: await listSchedules(deps, app(p)) }),
    },
    {
      method: 'DELETE',
      pattern: '/v1/apps/:app/schedules/:database',
      handler: async (_req, p) => {
        await removeSchedule(deps, { app: app(p), database: p.database as string });
        return json(204, undefined);
      },
    },
    {
      method: 'GET',
      pattern: '/v1/apps/:app/retention',
      handler: async (_req, p) => {
        const plan = await pruneApp(deps, app(p), { dryRun: true });
        return json(200, { app: plan.app, dryRun: true, delete: plan.deleted });
      },
    },
    {
      method: 'POST',
      pattern: '/v1/apps/:app/checks',
      handler: async (req, p) => {
        const body = parseBody(req, bodies.check, true);
        return json(202, checkView(await startCheck(deps, { app: app(p), database: body.database })));
      },
    },
    {
      method: 'GET',
      pattern: '/v1/apps/:app/checks/:id',
      handler: async (_req, p) =>
        json(200, checkView(await getCheck(deps, { app: app(p), id: p.id as string }))),
    },
    {
      // Behind IAM like every route: reaching it proves the caller may act on this app (see app-access.ts).
      method: 'GET',
      pattern: '/v1/apps/:app/access',
      handler: async (_req, p) => json(200, { app: app(p), access: true }),
    },
  ];
}

function match(pattern: string, path: string): Params | undefined {
  const want = pattern.split('/');
  const got = path.split('/');
  if (want.length !== got.length) return undefined;
  const params: Params = {};
  for (let i = 0; i < want.length; i++) {
    const w = want[i] as string;
    const g = got[i] as string;
    if (w.startsWith(':')) {
      if (g === '') return undefined;
      try {
        params[w.slice(1)] = decodeURIComponent(g);
      } catch {
        return undefined;
      }
    } else if (w !== g) {
      return undefined;
    }
  }
  return params;
}

/** One router for every transport: the Lambda handler and the local server both call it. */
export function createRouter(deps: CoreDeps, opts: RouterOptions): (req: ApiRequest) => Promise<ApiResponse> {
  const table = routes(deps, opts);
  return async (req) => {
    const log = deps.log.child({ requestId: req.requestId, method: req.method, path: req.path });
    try {
      const path = req.path.length > 1 ? req.path.replace(/\/+$/, '') : req.path;
      const candidates = table
        .map((r) => ({ route: r, params: match(r.pattern, path) }))
        .filter((c) => c.params !== undefined);
      const hit = candidates.find((c) => c.route.method === req.method);
      if (!hit) {
        if (candidates.length > 0) {
          const allowed = candidates.map((c) => c.route.method).join(', ');
          return json(405, { error: { code: 'method_not_allowed', message: `Use ${allowed} on ${path}` } });
        }
        throw new NotFoundError(`No route for ${req.method} ${path}. See GET /v1/openapi.json for the API`);
      }
      const res = await hit.route.handler(req, hit.params as Params);
      log.info('request', { status: res.status });
      return res;
    } catch (e) {
      const res = errorResponse(e, log);
      log.info('request', { status: res.status });
      return res;
    }
  };
}
