import { beforeEach, describe, expect, it } from 'vitest';
import { localAccess } from '../../../src/api/app-access.js';
import type { ApiRequest } from '../../../src/api/http.js';
import { openApiDocument } from '../../../src/api/openapi.js';
import { createRouter } from '../../../src/api/router.js';
import { type FakeDeps, fakeDeps } from '../../fakes/index.js';

let deps: FakeDeps;
let route: ReturnType<typeof createRouter>;

async function call(method: string, path: string, body?: unknown, query: Record<string, string> = {}) {
  const req: ApiRequest = {
    method,
    path,
    query,
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  };
  const res = await route(req);
  return { status: res.status, body: res.body ? JSON.parse(res.body) : undefined };
}

beforeEach(() => {
  deps = fakeDeps();
  route = createRouter(deps, { access: localAccess, checkRestoreUrl: async () => {} });
});

describe('API router', () => {
  it('serves health and the OpenAPI document', async () => {
    expect(await call('GET', '/v1/health')).toEqual({ status: 200, body: { status: 'ok' } });
    const doc = await call('GET', '/v1/openapi.json');
    expect(doc.body.openapi).toBe('3.1.0');
  });

  it('lists the apps that have a database or a transfer, by name only', async () => {
    expect(await call('GET', '/v1/apps')).toEqual({ status: 200, body: { apps: [] } });
    await call('PUT', '/v1/apps/zeta-app/databases/DATABASE', {
      url: 'postgres://u:pa55word@db.internal/app',
    });
    await call('POST', '/v1/apps/zeta-app/backups');
    await call('PUT', '/v1/apps/alpha-app/databases/PINK', { url: 'postgres://u:pa55word@db.internal/app' });
    expect(await call('GET', '/v1/apps')).toEqual({ status: 200, body: { apps: ['alpha-app', 'zeta-app'] } });
  });

  it('attaches, lists and detaches a database without ever returning the password', async () => {
    const put = await call('PUT', '/v1/apps/example-app/databases/DATABASE_URL', {
      url: 'postgres://u:pa55word@db.internal/app',
    });
    expect(put.status).toBe(201);
    expect(put.body).toMatchObject({
      name: 'DATABASE',
      host: 'db.internal',
      port: 5432,
      database: 'app',
      user: 'u',
    });
    const list = await call('GET', '/v1/apps/example-app/databases');
    expect(list.body.databases).toHaveLength(1);
    expect(JSON.stringify([put.body, list.body])).not.toContain('pa55word');
    expect((await call('DELETE', '/v1/apps/example-app/databases/DATABASE')).status).toBe(204);
    expect((await call('GET', '/v1/apps/example-app/databases')).body.databases).toEqual([]);
  });

  it('captures, lists, shows and cancels transfers', async () => {
    await call('PUT', '/v1/apps/example-app/databases/DATABASE', { url: 'postgres://u:p@h/d' });
    const cap = await call('POST', '/v1/apps/example-app/backups');
    expect(cap.status).toBe(202);
    expect(cap.body).toMatchObject({
      id: 'b001',
      num: 1,
      kind: 'backup',
      status: 'pending',
      database: 'DATABASE',
    });
    expect(cap.body).not.toHaveProperty('taskRef');
    const list = await call('GET', '/v1/apps/example-app/transfers', undefined, { kind: 'backup' });
    expect(list.body.transfers.map((t: { id: string }) => t.id)).toEqual(['b001']);
    const one = await call('GET', '/v1/apps/example-app/transfers/b1', undefined, { logs: 'true' });
    expect(one.body).toMatchObject({ id: 'b001', logs: [] });
    const cancel = await call('POST', '/v1/apps/example-app/transfers/b001/cancel');
    expect(cancel.body.status).toBe('cancelled');
    const again = await call('POST', '/v1/apps/example-app/transfers/b001/cancel');
    expect(again).toEqual({
      status: 409,
      body: {
        error: {
          code: 'conflict',
          message: 'Transfer b001 cannot be cancelled: it has already finished (cancelled)',
        },
      },
    });
  });

  it('sets, lists and removes a schedule, and previews retention', async () => {
    await call('PUT', '/v1/apps/example-app/databases/DATABASE', { url: 'postgres://u:p@h/d' });
    const put = await call('PUT', '/v1/apps/example-app/schedules/DATABASE_URL', { at: '2:00 pst' });
    expect(put).toEqual({
      status: 200,
      body: {
        database: 'DATABASE',
        hour: 2,
        minute: 0,
        timezone: 'America/Los_Angeles',
        createdAt: deps.clock.now().toISOString(),
        description: 'daily at 2:00 America/Los_Angeles',
      },
    });
    expect(deps.scheduler.schedules.get('example-app/DATABASE')).toMatchObject({
      hour: 2,
      timezone: 'America/Los_Angeles',
    });
    expect((await call('GET', '/v1/apps/example-app/schedules')).body.schedules).toHaveLength(1);
    const bad = await call('PUT', '/v1/apps/example-app/schedules/DATABASE', { at: '25:00' });
    expect(bad.status).toBe(400);
    expect((await call('GET', '/v1/apps/example-app/retention')).body).toEqual({
      app: 'example-app',
      dryRun: true,
      delete: [],
    });
    expect((await call('DELETE', '/v1/apps/example-app/schedules/DATABASE')).status).toBe(204);
    expect(deps.scheduler.schedules.size).toBe(0);
    expect((await call('DELETE', '/v1/apps/example-app/schedules/DATABASE')).status).toBe(404);
  });

  it('reads and changes settings', async () => {
    const s = await call('PUT', '/v1/apps/example-app/settings', { plan: 'essential' });
    expect(s.body.limits).toEqual({ manual: 5, daily: 7, weekly: 1, monthly: 0 });
    expect((await call('GET', '/v1/apps/example-app/settings')).body.plan).toBe('essential');
  });

  it.each([
    [
      'malformed JSON',
      'PUT',
      '/v1/apps/example-app/databases/DATABASE',
      '{"url": ',
      400,
      /Malformed JSON body/,
    ],
    ['a JSON array', 'POST', '/v1/apps/example-app/backups', '[]', 400, /must be a JSON object/],
    ['a missing body', 'PUT', '/v1/apps/example-app/databases/DATABASE', undefined, 400, /Missing JSON body/],
    ['an unknown field', 'POST', '/v1/apps/example-app/restores', { backupp: 'b1' }, 400, /Invalid body/],
    ['a bad app name', 'GET', '/v1/apps/Bad_App/transfers', undefined, 400, /Invalid app name/],
    ['a bad id', 'GET', '/v1/apps/example-app/transfers/zz', undefined, 400, /Invalid transfer id/],
    [
      'an unknown id',
      'GET',
      '/v1/apps/example-app/transfers/b404',
      undefined,
      404,
      /Transfer b404 not found/,
    ],
    ['an unknown route', 'GET', '/v1/nope', undefined, 404, /No route for GET \/v1\/nope/],
    ['no database', 'POST', '/v1/apps/example-app/backups', {}, 404, /has no databases/],
    // The default backup is the target's own, so the missing target is named first.
    ['a restore with no database', 'POST', '/v1/apps/example-app/restores', {}, 404, /has no databases/],
    [
      'a wrong type',
      'POST',
      '/v1/apps/example-app/backups/b1/url',
      { expiresInSeconds: 'x' },
      400,
      /expiresInSeconds/,
    ],
    ['a bad percent-escape', 'GET', '/v1/apps/%E0%A4%A/transfers', undefined, 404, /No route/],
  ])('answers %s with a clear 4xx', async (_what, method, path, body, status, message) => {
    const res = await call(method, path, body);
    expect(res.status).toBe(status);
    if (message) expect(res.body.error.message).toMatch(message);
    expect(deps.runner.started).toEqual([]);
  });

  it('refuses a bad kind or limit in the query', async () => {
    const kind = await call('GET', '/v1/apps/example-app/transfers', undefined, { kind: 'bogus' });
    expect(kind).toMatchObject({
      status: 400,
      body: { error: { message: expect.stringMatching(/use backup, restore or copy/) } },
    });
    const limit = await call('GET', '/v1/apps/example-app/transfers', undefined, { limit: '-1' });
    expect(limit.status).toBe(400);
  });

  it('answers a known path with the wrong method with 405', async () => {
    const res = await call('PATCH', '/v1/apps/example-app/settings');
    expect(res).toEqual({
      status: 405,
      body: {
        error: { code: 'method_not_allowed', message: 'Use GET, PUT on /v1/apps/example-app/settings' },
      },
    });
  });

  it('hides unexpected errors behind a generic 500', async () => {
    deps.catalog.listTransfers = async () => {
      throw new Error('socket hang up at 10.0.0.5');
    };
    const res = await call('GET', '/v1/apps/example-app/transfers');
    expect(res.status).toBe(500);
    expect(res.body.error.message).not.toContain('10.0.0.5');
  });

  it('describes exactly the routes it serves in openapi.json', async () => {
    const documented = Object.entries(openApiDocument.paths).flatMap(([path, ops]) =>
      Object.keys(ops)
        .filter((k) => k !== 'parameters')
        .map((m) => `${m.toUpperCase()} ${path}`),
    );
    for (const entry of documented) {
      const [method, path] = entry.split(' ') as [string, string];
      const concrete = path
        .replace('{app}', 'example-app')
        .replace('{id}', 'b001')
        .replace('{name}', 'DATABASE')
        .replace('{database}', 'DATABASE');
      const res = await route({
        method,
        path: concrete,
        query: {},
        body: method === 'POST' && path.endsWith('copies') ? '{}' : undefined,
      });
      expect(
        [404, 405].includes(res.status) && JSON.parse(res.body).error.message.startsWith('No route'),
        entry,
      ).toBe(false);
      expect(res.status, entry).not.toBe(405);
    }
    expect(documented.length).toBe(23);
  });
});
