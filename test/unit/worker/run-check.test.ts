/** The worker's side of a check, on the in-memory fakes: what each step records when it cannot do its job. */
import type { Readable } from 'node:stream';
import { beforeEach, describe, expect, it } from 'vitest';
import type { Check } from '../../../src/core/check.js';
import { PgClients } from '../../../src/worker/pg-clients.js';
import { runCheck } from '../../../src/worker/run-check.js';
import { type FakeDeps, fakeDeps, MemoryBlobStore } from '../../fakes/index.js';

const APP = 'example-app';
/** Clients that are never spawned here: the database step fails before any psql runs. */
const clients = PgClients.of(
  [15, 16].map((major) => ({ major, path: () => '/nonexistent/psql', version: async () => `${major}.0` })),
);

let deps: FakeDeps;
const check = (over: Partial<Check> = {}): Check => ({
  app: APP,
  id: 'chk-0123456789ab',
  database: 'DATABASE',
  status: 'pending',
  createdAt: '2026-01-15T12:00:00.000Z',
  expiresAt: 1768564800,
  steps: [],
  ...over,
});

beforeEach(() => {
  deps = fakeDeps();
});

/** A bucket the worker's role may not use: every write is refused the way S3 refuses a KMS key it may not use. */
class RefusingBlobStore extends MemoryBlobStore {
  override async upload(_key: string, body: Readable): Promise<{ bytes: number }> {
    body.resume();
    throw Object.assign(
      new Error(
        'User: arn:aws:sts::1:assumed-role/Worker/x is not authorized to perform: kms:GenerateDataKey',
      ),
      { name: 'AccessDenied' },
    );
  }
}

describe('runCheck', () => {
  it('records a worker it started, a database it could not use and a bucket it could, with what to do', async () => {
    await deps.catalog.createCheck(check({ database: 'GONE' }));
    expect(await runCheck(deps, { app: APP, id: 'chk-0123456789ab' }, { clients })).toBe('failed');
    const done = await deps.catalog.getCheck(APP, 'chk-0123456789ab');
    expect(done).toMatchObject({
      status: 'failed',
      clients: [15, 16],
      startedAt: '2026-01-15T12:00:00.000Z',
      finishedAt: '2026-01-15T12:00:00.000Z',
      steps: [
        { name: 'worker', ok: true, message: 'a worker task started, with PostgreSQL clients 15, 16' },
        {
          name: 'database',
          ok: false,
          message: 'GONE: Database GONE is not attached to example-app',
          hint: expect.any(String),
        },
        {
          name: 'bucket',
          ok: true,
          message: 'wrote, read back and deleted checks/example-app/chk-0123456789ab',
        },
      ],
    });
    // The probe object is gone.
    expect(await deps.blobs.list('checks/')).toEqual([]);
  });

  it('explains a bucket whose KMS key the role may not use', async () => {
    deps = { ...fakeDeps(), blobs: new RefusingBlobStore() };
    await deps.catalog.createCheck(check());
    await runCheck(deps, { app: APP, id: 'chk-0123456789ab' }, { clients });
    const bucket = (await deps.catalog.getCheck(APP, 'chk-0123456789ab'))?.steps.find(
      (s) => s.name === 'bucket',
    );
    expect(bucket).toEqual({
      name: 'bucket',
      ok: false,
      message:
        'Could not write checks/example-app/chk-0123456789ab: AccessDenied: User: arn:aws:sts::1:assumed-role/Worker/x is not authorized to perform: kms:GenerateDataKey',
      hint: expect.stringContaining("may not use the bucket's KMS key"),
    });
  });

  it('leaves alone a check that is no longer pending (failed by its deadline, or run twice)', async () => {
    await deps.catalog.createCheck(check({ status: 'failed' }));
    expect(await runCheck(deps, { app: APP, id: 'chk-0123456789ab' }, { clients })).toBe('failed');
    expect((await deps.catalog.getCheck(APP, 'chk-0123456789ab'))?.steps).toEqual([]);
  });
});
