/**
 * Property-based fuzzing of every route the API serves (docs/reliability.md): hostile and random path segments,
 * query strings, headers and bodies, on an app that has a database and a completed backup (so requests can get
 * deep). Whatever comes in, the answer is JSON with a status below 500; every 4xx carries an error code and a
 * message; and a refused request never starts a worker.
 */
import { Readable } from 'node:stream';
import { IAMClient } from '@aws-sdk/client-iam';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { iamAppAccess } from '../../../src/adapters/aws/iam-app-access.js';
import { assertPublicUrl } from '../../../src/adapters/net/url-guard.js';
import { ROUTE_LIST } from '../../../src/api/contract.js';
import type { ApiRequest } from '../../../src/api/http.js';
import { openApiDocument } from '../../../src/api/openapi.js';
import { createRouter } from '../../../src/api/router.js';
import type { Logger } from '../../../src/core/logger.js';
import { attachDatabase } from '../../../src/core/use-cases/databases.js';
import { type FakeDeps, fakeDeps } from '../../fakes/index.js';
import { answerViolations } from '../../helpers/openapi-conformance.js';

const APP = 'example-app';

/** Every (method, path template) of the route table the router serves (src/api/contract.ts). */
const ROUTES: { method: string; template: string }[] = ROUTE_LIST.map((r) => ({
  method: r.method,
  template: r.path,
}));

/** Values that are valid somewhere, plus the usual suspects. */
const INTERESTING = [
  APP,
  'other-app',
  'DATABASE',
  'DATABASE_URL',
  'HEROKU_POSTGRESQL_PINK_URL',
  'b001',
  '1',
  'a002',
  'r003',
  'c004',
  'b1000',
  '0',
  '-1',
  '1e3',
  'b99999999999999999999',
  '9007199254740993',
  'NaN',
  'constructor',
  '__proto__',
  'toString',
  '..',
  '.',
  '%',
  '%00',
  '\u0000',
  '🙂',
  ' ',
  'a'.repeat(300),
  'other-app::b001',
  'other-app::DATABASE',
  '::b001',
  'example-app::',
  'https://127.0.0.1/x.dump',
  'https://[::ffff:169.254.169.254]/',
  'https://8.8.8.8/b001.dump',
  'https://user:pw@8.8.8.8/x',
  'https://metadata.internal/latest',
  'http://8.8.8.8/x',
  'file:///etc/passwd',
  'postgres://u:secret@db.example/app',
  'postgres://u:secret@db.example:notaport/app',
  'postgresql:///app?host=/var/run&password=x',
  'postgres://u@h/d?sslmode=require&unknown=1',
  '02:00 America/Los_Angeles',
  '25:61 UTC',
  '02:00 Mars/Olympus',
  'public.hstore',
  'DROP SCHEMA public',
  "'; DROP TABLE x; --",
];

const text = fc.oneof(
  fc.constantFrom(...INTERESTING),
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc.stringMatching(/^[a-z][a-z0-9-]{1,20}$/),
  fc.stringMatching(/^[A-Z][A-Z0-9_]{0,20}$/),
  fc.stringMatching(/^[abrc]\d{1,6}$/),
);

/** Connection URLs built from hostile parts, malformed %-escapes included. */
const urlPart = fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom('%', '%E0', '%zz', '%E0%A4%A'));
const connectionUrl = fc
  .tuple(
    fc.constantFrom('postgres', 'postgresql', 'POSTGRES', 'mysql', 'https', ''),
    urlPart,
    urlPart,
    fc.oneof(urlPart, fc.constantFrom('127.0.0.1', '[::1]', 'db.example', '')),
    fc.oneof(fc.constant(''), fc.integer({ min: -1, max: 70_000 }).map(String), urlPart),
    urlPart,
    fc.oneof(
      fc.constant(''),
      fc.tuple(urlPart, urlPart).map(([k, v]) => `?${k}=${v}`),
    ),
  )
  .map(
    ([scheme, user, pw, host, port, db, q]) =>
      `${scheme}://${user}:${pw}@${host}${port ? `:${port}` : ''}/${db}${q}`,
  );

const value: fc.Arbitrary<unknown> = fc.oneof(
  text,
  connectionUrl,
  fc.integer(),
  fc.double(),
  fc.constantFrom(0, -1, 1, 59, 60, 3600, 43_200, 43_201, 2 ** 31, 2 ** 53, 17, 1.5, true, false, null),
  fc.array(text, { maxLength: 4 }),
  fc.jsonValue({ maxDepth: 2 }),
);

const FIELDS = [
  'url',
  'database',
  'expiresInSeconds',
  'backup',
  'extensions',
  'parallel',
  'safetyBackup',
  'at',
  'from',
  'to',
  'plan',
  'manualLimit',
  'daily',
  'weekly',
  'monthly',
  'compressionLevel',
  'notifyOnSuccess',
  'secretArn',
];

const body: fc.Arbitrary<string | undefined> = fc.oneof(
  fc.constant(undefined),
  fc.constantFrom('', ' ', '{', '[]', 'null', '"x"', '1', '{"a":', '{}', '{"__proto__":{"x":1}}', '\u0000'),
  fc.string({ maxLength: 60 }),
  fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
  fc
    .dictionary(fc.oneof(fc.constantFrom(...FIELDS), fc.string({ maxLength: 10 })), value, { maxKeys: 4 })
    .map((o) => JSON.stringify(o)),
  fc
    .subarray(FIELDS, { maxLength: 3 })
    .chain((keys) =>
      fc
        .tuple(...keys.map(() => value))
        .map((vals) => JSON.stringify(Object.fromEntries(keys.map((k, i) => [k, vals[i]])))),
    ),
);

const query = fc.dictionary(fc.constantFrom('logs', 'kind', 'limit', 'cursor', 'x'), text, { maxKeys: 3 });

const headers = fc.oneof(
  fc.constant({} as Record<string, string>),
  // The old access-proof header, which older CLIs still send: it must mean nothing.
  text.map((proof) => ({ 'x-pgbackups-access-proof': proof }) as Record<string, string>),
);

/** A path segment as a client would send it: usually escaped, sometimes raw (which may change the route). */
const segment = fc.oneof(
  { weight: 4, arbitrary: text.map((s) => encodeURIComponent(s)) },
  { weight: 1, arbitrary: text },
  { weight: 1, arbitrary: fc.constantFrom('%E0%A4%A', '%ZZ', '%2F', 'a%2Fb', '', '//') },
);

function fillTemplate(template: string, values: string[]): string {
  let i = 0;
  return template.replace(/\{[^}]+\}/g, () => values[i++] ?? 'x');
}

/** Values a path parameter takes when it is meant to be valid, by its name in the template. */
const VALID_PARAM: Record<string, string[]> = {
  app: [APP, 'other-app'],
  name: ['DATABASE', 'DATABASE_URL', 'HEROKU_POSTGRESQL_PINK_URL', 'NEW_DB', 'pink'],
  database: ['DATABASE', 'NEW_DB'],
  id: ['b001', '1', 'b002', 'r002'],
};

function paramsFor(template: string): fc.Arbitrary<string[]> {
  const names = [...template.matchAll(/\{([^}]+)\}/g)].map((m) => m[1] as string);
  return fc.tuple(
    ...names.map((n) =>
      fc.oneof(
        { weight: 3, arbitrary: fc.constantFrom(...(VALID_PARAM[n] ?? ['x'])) },
        { weight: 2, arbitrary: segment },
      ),
    ),
  );
}

/** Bodies shaped like the route's own (its fields from openapi.json, any values), or anything at all. */
function bodyFor(method: string, template: string): fc.Arbitrary<string | undefined> {
  const op = (openApiDocument().paths as Record<string, Record<string, unknown>>)[template]?.[
    method.toLowerCase()
  ];
  const schema = (op as { requestBody?: { content?: Record<string, { schema?: { properties?: object } }> } })
    ?.requestBody?.content?.['application/json']?.schema;
  const keys = Object.keys(schema?.properties ?? {});
  if (keys.length === 0) return body;
  const shaped = fc
    .record(Object.fromEntries(keys.map((k) => [k, value])), { requiredKeys: [] })
    .map((o) => JSON.stringify(o));
  return fc.oneof({ weight: 3, arbitrary: shaped }, { weight: 1, arbitrary: body });
}

const errorsLogged: string[] = [];
const recordingLog: Logger = {
  info: () => {},
  warn: () => {},
  error: (m, f) => errorsLogged.push(`${m} ${JSON.stringify(f)}`),
  child: () => recordingLog,
};

/** A fresh app with a database and a completed backup b001, behind the production access and URL checks. */
async function world(): Promise<{ deps: FakeDeps; route: ReturnType<typeof createRouter> }> {
  const deps: FakeDeps = { ...fakeDeps(), log: recordingLog };
  await attachDatabase(deps, { app: APP, name: 'DATABASE', url: 'postgres://u:secret@db.example/app' });
  const num = await deps.catalog.nextTransferNum(APP);
  const key = `manual/${APP}/DATABASE/b001.dump`;
  await deps.blobs.upload(key, Readable.from([Buffer.from('PGDMP')]));
  await deps.catalog.createTransfer({
    app: APP,
    num,
    id: 'b001',
    kind: 'backup',
    type: 'manual',
    status: 'completed',
    database: 'DATABASE',
    source: { type: 'database', app: APP, database: 'DATABASE' },
    target: { type: 'blob', key },
    sha256: 'a'.repeat(64),
    backupBytes: 5,
    createdAt: new Date(0).toISOString(),
    finishedAt: new Date(0).toISOString(),
  });
  const route = createRouter(deps, {
    // No request carries an IAM identity, so every other app is refused (IAM is never reached: no region, no
    // credentials); DNS resolves every name to a private address.
    access: iamAppAccess({ client: new IAMClient({ region: 'eu-west-1' }), log: deps.log }),
    checkRestoreUrl: (url) => assertPublicUrl(url, async () => [{ address: '10.0.0.1', family: 4 }]),
  });
  return { deps, route };
}

async function expectWellAnswered(deps: FakeDeps, route: ReturnType<typeof createRouter>, req: ApiRequest) {
  const startedBefore = deps.runner.started.length;
  const res = await route(req);
  const what = `${req.method} ${req.path} ${JSON.stringify(req.query)} ${req.body}`;
  expect(answerViolations(req.method, req.path, res.status, res.body), what).toEqual([]);
  expect(res.status, what).toBeLessThan(500);
  expect(res.status, what).toBeGreaterThanOrEqual(200);
  if (res.status >= 400) {
    const parsed = JSON.parse(res.body);
    expect(parsed.error.code, what).toMatch(/^[a-z_]+$/);
    expect(parsed.error.message, what).toMatch(/\S{3}/);
    expect(deps.runner.started.length, `${what}: a refused request started a worker`).toBe(startedBefore);
  } else if (res.body !== '') {
    JSON.parse(res.body);
  }
  return res;
}

describe('API fuzzing: never a 5xx, always a message, never a worker for a refused request', () => {
  it.each(ROUTES)('$method $template', async ({ method, template }) => {
    errorsLogged.length = 0;
    await fc.assert(
      fc.asyncProperty(
        paramsFor(template),
        query,
        bodyFor(method, template),
        headers,
        fc.boolean(),
        async (values, q, b, h, trailingSlash) => {
          const { deps, route } = await world();
          const path = fillTemplate(template, values) + (trailingSlash ? '/' : '');
          await expectWellAnswered(deps, route, { method, path, query: q, body: b, headers: h });
        },
      ),
      { numRuns: 150 },
    );
    expect(errorsLogged).toEqual([]);
  });

  it('answers any method on any path without a 5xx', async () => {
    errorsLogged.length = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('GET', 'PUT', 'POST', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS', 'TRACE', 'get', ''),
        fc.array(segment, { maxLength: 6 }).map((parts) => `/${parts.join('/')}`),
        fc.constantFrom('', '/v1', '/v1/apps', `/v1/apps/${APP}`),
        body,
        async (method, tail, prefix, b) => {
          const { deps, route } = await world();
          await expectWellAnswered(deps, route, { method, path: prefix + tail, query: {}, body: b });
        },
      ),
      { numRuns: 300 },
    );
    expect(errorsLogged).toEqual([]);
  });
});
