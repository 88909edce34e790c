/**
 * The API contract (src/api/contract.ts) and the document generated from it: every field the API returns is
 * described, the bounds the use cases enforce are shown, every reference resolves, and the route table is the
 * only list of routes. router.test.ts checks every answer it gets against the same document.
 */
import { describe, expect, it } from 'vitest';
import { API_CONTRACT, PATH_PARAMS, pathParams, ROUTE_LIST } from '../../../src/api/contract.js';
import { openApiDocument } from '../../../src/api/openapi.js';
import { transferView } from '../../../src/api/views.js';
import { settings } from '../../../src/cli/commands/settings.js';
import {
  COMPRESSION_LEVEL_MAX,
  describePlans,
  PLAN_LIMITS,
  PLANS,
  RETENTION_LIMIT_MAX,
} from '../../../src/core/settings.js';
import type { Transfer } from '../../../src/core/transfer.js';
import { MAX_RESTORE_JOBS } from '../../../src/core/use-cases/restore-backup.js';
import {
  MAX_URL_EXPIRY_SECONDS,
  MIN_URL_EXPIRY_SECONDS,
  TRANSFER_PAGE_MAX,
} from '../../../src/core/use-cases/transfers.js';
import { violations } from '../../helpers/openapi-conformance.js';

type Schema = Record<string, unknown> & { properties?: Record<string, Schema> };
const schemas = openApiDocument().components.schemas as Record<string, Schema>;
const props = (id: string) => schemas[id]?.properties ?? {};
/** The non-null branch of a nullable property. */
const nonNull = (s: Schema | undefined) =>
  ((s?.anyOf as Schema[] | undefined)?.find((b) => b.type !== 'null') ?? s) as Schema;

/** Every field of a transfer set (Required<>: a field added to Transfer must be added here). */
const FULL: Required<Transfer> = {
  app: 'example-app',
  num: 3,
  id: 'r003',
  kind: 'restore',
  type: 'manual',
  status: 'running',
  database: 'DATABASE',
  source: { type: 'url', url: 'https://example.com/b.dump?X-Amz-Signature=abc' },
  target: { type: 'database', app: 'example-app', database: 'DATABASE' },
  createdAt: '2026-01-01T00:00:00.000Z',
  startedAt: '2026-01-01T00:00:01.000Z',
  finishedAt: '2026-01-01T00:00:02.000Z',
  sourceBytes: 10,
  processedBytes: 5,
  backupBytes: 4,
  sha256: 'a'.repeat(64),
  compression: 'zstd:1',
  pgDumpVersion: '17.2',
  serverVersion: '16.4',
  archiveFormat: '1.16',
  oldestPgRestore: 17,
  extensions: ['postgis'],
  keepExtensions: ['pg_cron'],
  parallel: 4,
  finishOf: { id: 'r002', num: 2 },
  safetyBackup: { app: 'example-app', num: 4, id: 'b004' },
  mirrors: [{ app: 'other-app', num: 12, id: 'c012' }],
  mirrorOf: { app: 'other-app', num: 5, id: 'c005' },
  warnings: 1,
  error: 'boom',
  taskRef: 'arn:aws:ecs:…',
  cancelRequested: true,
  heartbeatAt: '2026-01-01T00:00:01.500Z',
  logs: [{ at: '2026-01-01T00:00:01.000Z', level: 'info', message: 'started' }],
};

describe('API contract', () => {
  it('describes every field a transfer is shown with', () => {
    const view = transferView(FULL);
    expect(violations(view, schemas.Transfer as Schema)).toEqual([]);
    for (const field of [
      'pgDumpVersion',
      'serverVersion',
      'extensions',
      'keepExtensions',
      'parallel',
      'cancelRequested',
      'archiveFormat',
      'oldestPgRestore',
      'safetyBackup',
      'mirrorOf',
      'mirrors',
      'logs',
    ]) {
      expect(props('Transfer'), field).toHaveProperty(field);
    }
    expect(Object.keys(props('Transfer')).sort()).toEqual(Object.keys(view).sort());
    // Bookkeeping stays inside, and the document does not promise it.
    for (const inside of ['taskRef', 'heartbeatAt', 'finishOf'])
      expect(props('Transfer')).not.toHaveProperty(inside);
  });

  it('shows the settings bounds and plans the use case enforces', () => {
    const body = props('UpdateSettingsRequest');
    for (const [field, max] of [
      ['manualLimit', RETENTION_LIMIT_MAX.manual],
      ['daily', RETENTION_LIMIT_MAX.daily],
      ['weekly', RETENTION_LIMIT_MAX.weekly],
      ['monthly', RETENTION_LIMIT_MAX.monthly],
      ['compressionLevel', COMPRESSION_LEVEL_MAX],
    ] as const) {
      expect(nonNull(body[field]), field).toMatchObject({ type: 'integer', minimum: 0, maximum: max });
    }
    expect(body.plan?.enum).toEqual([...PLANS]);
    expect(props('Settings').plan?.enum).toEqual([...PLANS]);
    expect(schemas.UpdateSettingsRequest?.additionalProperties).toBe(false);
  });

  it('shows the bounds the other use cases enforce, from their constants', () => {
    expect(props('RestoreBackupRequest').parallel).toMatchObject({ minimum: 1, maximum: MAX_RESTORE_JOBS });
    expect(props('BackupUrlRequest').expiresInSeconds).toMatchObject({
      minimum: MIN_URL_EXPIRY_SECONDS,
      maximum: MAX_URL_EXPIRY_SECONDS,
    });
    const paths = openApiDocument().paths as Record<string, Record<string, { parameters?: Schema[] }>>;
    const limit = paths['/v1/apps/{app}/transfers']?.get?.parameters?.find((p) => p.name === 'limit');
    expect(limit?.schema).toMatchObject({ type: 'integer', minimum: 1, maximum: TRANSFER_PAGE_MAX });
  });

  it('documents each route of the table once, with its path parameters, and every $ref resolves', () => {
    const paths = openApiDocument().paths as Record<
      string,
      Record<string, { operationId: string; parameters?: Schema[] }>
    >;
    const operations = Object.entries(paths).flatMap(([path, ops]) =>
      Object.entries(ops).map(([method, op]) => ({ path, method: method.toUpperCase(), op })),
    );
    expect(operations.map((o) => o.op.operationId).sort()).toEqual(Object.keys(API_CONTRACT).sort());
    for (const { path, method, op } of operations) {
      const route = ROUTE_LIST.find((r) => r.operationId === op.operationId);
      expect(route, op.operationId).toMatchObject({ path, method });
      const inPath = (op.parameters ?? []).filter((p) => p.in === 'path').map((p) => p.name);
      expect(inPath, op.operationId).toEqual(pathParams(path));
      for (const p of pathParams(path)) expect(Object.keys(PATH_PARAMS), path).toContain(p);
    }
    const refs = [
      ...JSON.stringify(openApiDocument()).matchAll(/"\$ref":"#\/components\/schemas\/([^"]+)"/g),
    ];
    expect(refs.length).toBeGreaterThan(ROUTE_LIST.length);
    for (const [, id] of refs) expect(Object.keys(schemas), id).toContain(id);
  });

  it('gives the CLI help the plan numbers of the plan table', () => {
    const help = settings.description ?? '';
    expect(help).toBe(`Plans: ${describePlans()}.`);
    for (const plan of PLANS) {
      const l = PLAN_LIMITS[plan];
      expect(help).toContain(plan);
      expect(describePlans()).toMatch(
        new RegExp(`${plan}[^(]*\\(${l.manual}\\D+${l.daily}\\D+${l.weekly}\\D+${l.monthly}\\D*\\)`),
      );
    }
  });
});
