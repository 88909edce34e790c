/** `pgbackups doctor` against a fake API: the exact report, and the exit code. */
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { CheckJson } from '../../../src/cli/commands/doctor.js';
import { APP, FakeApi, run } from './harness.js';

const DB = {
  name: 'DATABASE',
  host: 'db.example.com',
  port: 5432,
  database: 'app',
  user: 'app',
  createdAt: '2016-10-05T00:42:54.000Z',
};

const pending: CheckJson = { id: 'chk-0123456789ab', database: 'DATABASE', status: 'pending', steps: [] };
const passed: CheckJson = {
  ...pending,
  status: 'passed',
  steps: [
    {
      name: 'worker',
      ok: true,
      message: 'a worker task started, with PostgreSQL clients 13, 14, 15, 16, 17, 18',
      hint: null,
    },
    {
      name: 'database',
      ok: true,
      message: 'DATABASE: connected to PostgreSQL 16.4; captures will run pg_dump 16',
      hint: null,
    },
    {
      name: 'bucket',
      ok: true,
      message: `wrote, read back and deleted checks/${APP}/chk-0123456789ab`,
      hint: null,
    },
  ],
};

function healthyApi(): FakeApi {
  return new FakeApi()
    .on('GET', '/v1/health', { status: 200, body: { status: 'ok' } })
    .on('GET', '/v1/apps/:app/access', { status: 200, body: { app: APP, access: true } })
    .on('GET', '/v1/apps/:app/databases', { status: 200, body: { databases: [DB] } })
    .on('POST', '/v1/apps/:app/checks', { status: 202, body: pending });
}

/** The AWS SDK's default chain reads the real environment: static test keys, and no profile files. */
function awsKeys() {
  vi.stubEnv('AWS_ACCESS_KEY_ID', 'AKIAEXAMPLE');
  vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'not-a-real-secret');
  vi.stubEnv('AWS_PROFILE', undefined);
}

afterEach(() => {
  vi.unstubAllEnvs();
});

describe('pgbackups doctor', () => {
  it('reports every check ok against a healthy deployment and exits 0', async () => {
    let polls = 0;
    const api = healthyApi().on('GET', '/v1/apps/:app/checks/:id', () => ({
      status: 200,
      body: ++polls < 3 ? { ...pending, status: 'running' } : passed,
    }));
    const r = await run(api, ['doctor']);
    expect(r.stdout).toBe(
      [
        `=== pgbackups doctor: ${APP}`,
        '',
        'ok    API          http://127.0.0.1:8787 answers',
        'ok    Credentials  none needed: the local stack has no authentication',
        `ok    App          ${APP} has 1 database: DATABASE`,
        'ok    Worker       a worker task started, with PostgreSQL clients 13, 14, 15, 16, 17, 18',
        'ok    Database     DATABASE: connected to PostgreSQL 16.4; captures will run pg_dump 16',
        `ok    Bucket       wrote, read back and deleted checks/${APP}/chk-0123456789ab`,
        '',
        'Every check passed.',
        '',
      ].join('\n'),
    );
    expect(r.stderr).toBe('Waiting for worker task chk-0123456789ab (up to 300 s)... done\n');
    expect(r.code).toBe(0);
    expect(api.writes).toEqual([
      expect.objectContaining({ path: `/v1/apps/${APP}/checks`, body: { database: 'DATABASE' } }),
    ]);
  });

  it('explains a database the worker cannot log in to, and exits 1', async () => {
    const failed: CheckJson = {
      ...pending,
      status: 'failed',
      steps: [
        passed.steps[0]!,
        {
          name: 'database',
          ok: false,
          message:
            'DATABASE: psql: error: connection to server at "db.example.com", port 5432 failed: FATAL:  password authentication failed for user "app"',
          hint: 'The database refused the user or password in the attached URL: attach it again with the right credentials (pgbackups databases:add NAME --url -).',
        },
        passed.steps[2]!,
      ],
    };
    const api = healthyApi().on('GET', '/v1/apps/:app/checks/:id', { status: 200, body: failed });
    const r = await run(api, ['doctor']);
    expect(r.code).toBe(1);
    expect(r.stdout.split('\n').slice(6)).toEqual([
      'FAIL  Database     DATABASE: psql: error: connection to server at "db.example.com", port 5432 failed: FATAL:  password authentication failed for user "app"',
      '                   → The database refused the user or password in the attached URL: attach it again with the right credentials (pgbackups databases:add NAME --url -).',
      `ok    Bucket       wrote, read back and deleted checks/${APP}/chk-0123456789ab`,
      '',
      '1 check failed. Fix the first one first: the ones after it may depend on it.',
      '',
    ]);
  });

  it('says the API cannot be reached and where its URL comes from, and checks nothing else', async () => {
    const api = new FakeApi();
    api.fetch = async () => {
      throw Object.assign(new TypeError('fetch failed'), { cause: { code: 'ENOTFOUND' } });
    };
    awsKeys();
    const r = await run(api, ['doctor'], {
      env: {
        PGBACKUPS_API_URL: 'https://abc123.execute-api.eu-west-1.amazonaws.com',
        AWS_ACCESS_KEY_ID: 'AKIAEXAMPLE',
        AWS_SECRET_ACCESS_KEY: 'not-a-real-secret',
      },
    });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe(
      [
        `=== pgbackups doctor: ${APP}`,
        '',
        'FAIL  API          Could not reach the pgbackups API at https://abc123.execute-api.eu-west-1.amazonaws.com/ (ENOTFOUND).',
        '                   → Check PGBACKUPS_API_URL: it is the ApiUrl output of the deployed stack (aws cloudformation describe-stacks --stack-name PgBackups --query "Stacks[0].Outputs"), with no path, in the stack\'s region.',
        'skip  Credentials  not checked: the API cannot be reached',
        'skip  App          not checked: the API cannot be reached',
        'skip  Worker       not checked: the API cannot be reached',
        'skip  Database     not checked: the API cannot be reached',
        'skip  Bucket       not checked: the API cannot be reached',
        '',
        '1 check failed. Fix the first one first: the ones after it may depend on it.',
        '',
      ].join('\n'),
    );
    expect(r.stdout + r.stderr).not.toContain('not-a-real-secret');
    expect(r.stdout + r.stderr).not.toContain('AKIAEXAMPLE');
  });

  it('names the identity IAM refused and the grant it lacks, without echoing a secret', async () => {
    const aws = 'https://abc123.execute-api.eu-west-1.amazonaws.com';
    const api = new FakeApi()
      .on('GET', `${aws}/v1/health`, { status: 403, body: { message: 'Forbidden' } })
      .on('GET', `${aws}/v1/apps/:app/access`, {
        status: 403,
        body: {
          message: `User: arn:aws:sts::123456789012:assumed-role/Developer/alice is not authorized to perform: execute-api:Invoke on resource: arn:aws:execute-api:eu-west-1:123456789012:abc123/$default/GET/v1/apps/${APP}/access`,
        },
      });
    awsKeys();
    const r = await run(api, ['doctor'], {
      env: {
        PGBACKUPS_API_URL: 'https://abc123.execute-api.eu-west-1.amazonaws.com',
        AWS_PROFILE: 'dev',
        AWS_ACCESS_KEY_ID: 'AKIAEXAMPLE',
        AWS_SECRET_ACCESS_KEY: 'not-a-real-secret',
      },
    });
    expect(r.code).toBe(1);
    expect(r.stdout.split('\n').slice(2, 6)).toEqual([
      'ok    API          https://abc123.execute-api.eu-west-1.amazonaws.com answers',
      'FAIL  Credentials  refused: HTTP 403',
      `                   → arn:aws:sts::123456789012:assumed-role/Developer/alice (AWS profile dev) may not call this app's paths: grant it execute-api:Invoke on the API's …/*/*/v1/apps/${APP}/* (docs/deploy.md), or use a profile that has it.`,
      'skip  App          not checked: the API refuses these credentials',
    ]);
    expect(r.stdout + r.stderr).not.toContain('not-a-real-secret');
    // Requests were signed (SigV4), with the key id only in the Authorization header, never printed.
    expect(api.requests[0]?.headers.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE\//);
  });

  it('says when no AWS credentials can be found, without blaming the API', async () => {
    vi.stubEnv('AWS_ACCESS_KEY_ID', undefined);
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', undefined);
    vi.stubEnv('AWS_PROFILE', undefined);
    vi.stubEnv('AWS_CONFIG_FILE', '/nonexistent/config');
    vi.stubEnv('AWS_SHARED_CREDENTIALS_FILE', '/nonexistent/credentials');
    vi.stubEnv('AWS_EC2_METADATA_DISABLED', 'true');
    const api = new FakeApi();
    const r = await run(api, ['doctor'], {
      env: { PGBACKUPS_API_URL: 'https://abc123.execute-api.eu-west-1.amazonaws.com' },
    });
    expect(r.code).toBe(1);
    expect(r.stdout.split('\n').slice(2, 6)).toEqual([
      'skip  API          not checked: requests could not be signed',
      expect.stringMatching(/^FAIL {2}Credentials {2}no usable AWS credentials: /),
      '                   → Configure credentials (aws configure, aws sso login, or AWS_PROFILE) for the account the stack is deployed in.',
      'skip  App          not checked: the API refuses these credentials',
    ]);
    expect(api.requests).toEqual([]);
  });

  it('lists the known apps when the app has no databases', async () => {
    const api = new FakeApi()
      .on('GET', '/v1/health', { status: 200, body: { status: 'ok' } })
      .on('GET', '/v1/apps/:app/access', { status: 200, body: { access: true } })
      .on('GET', '/v1/apps/:app/databases', { status: 200, body: { databases: [] } })
      .on('GET', '/v1/apps', { status: 200, body: { apps: ['billing', 'example-ap'] } });
    const r = await run(api, ['doctor']);
    expect(r.code).toBe(1);
    expect(r.stdout.split('\n').slice(4, 7)).toEqual([
      `FAIL  App          ${APP} has no databases (the API does not know this app). Known apps: billing, example-ap.`,
      '                   → Attach one with pgbackups databases:add DATABASE --url -, or give the right app with -a.',
      'skip  Worker       not checked: no database to reach',
    ]);
    expect(api.writes).toEqual([]);
  });

  it('names the valid databases when --database is not attached', async () => {
    const r = await run(healthyApi(), ['doctor', '--database', 'PINK']);
    expect(r.code).toBe(1);
    expect(r.stdout.split('\n')[4]).toBe(
      'FAIL  App          Unknown database: PINK. Valid options are: DATABASE',
    );
  });

  it('reports a worker task that could not start as the worker check, the rest skipped', async () => {
    const failed: CheckJson = {
      ...pending,
      status: 'failed',
      steps: [
        {
          name: 'worker',
          ok: false,
          message: 'Could not start a worker task: ECS could not start the worker: RESOURCE:FARGATE',
          hint: 'The account is at a Fargate limit.',
        },
      ],
    };
    const api = healthyApi().on('POST', '/v1/apps/:app/checks', { status: 202, body: failed });
    const r = await run(api, ['doctor']);
    expect(r.code).toBe(1);
    expect(r.stdout.split('\n').slice(5, 9)).toEqual([
      'FAIL  Worker       Could not start a worker task: ECS could not start the worker: RESOURCE:FARGATE',
      '                   → The account is at a Fargate limit.',
      'skip  Database     not checked: the worker task did not run',
      'skip  Bucket       not checked: the worker task did not run',
    ]);
    // A check that has ended is not polled.
    expect(api.requests.filter((q) => q.path.includes('/checks/'))).toEqual([]);
  });

  it('stops waiting after --timeout, counted in polls, and says what a task that never starts means', async () => {
    const api = healthyApi().on('GET', '/v1/apps/:app/checks/:id', { status: 200, body: pending });
    const r = await run(api, ['doctor', '--timeout', '30']);
    expect(r.code).toBe(1);
    expect(api.requests.filter((q) => q.path.includes('/checks/'))).toHaveLength(10);
    expect(r.stderr).toBe('Waiting for worker task chk-0123456789ab (up to 30 s)... no answer\n');
    expect(r.stdout.split('\n').slice(5, 9)).toEqual([
      'FAIL  Worker       check chk-0123456789ab is still pending after 30 s: the worker task has not started yet',
      "                   → A first task can take minutes while Fargate pulls the image: run pgbackups doctor --timeout 60. If it never starts, the ECS console shows the task's stopped reason; the API fails the check after 10 minutes.",
      'skip  Database     not checked: the worker task did not run',
      'skip  Bucket       not checked: the worker task did not run',
    ]);
  });

  it('says it lost the API while waiting, ends the waiting line, and skips what it could not see', async () => {
    const api = healthyApi().on('GET', '/v1/apps/:app/checks/:id', {
      status: 502,
      body: { message: 'Bad Gateway' },
    });
    const r = await run(api, ['doctor']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('Waiting for worker task chk-0123456789ab (up to 300 s)... !\n');
    expect(r.stdout.split('\n').slice(5, 9)).toEqual([
      'FAIL  Worker       lost the API while waiting for check chk-0123456789ab: The API answered HTTP 502: Bad Gateway',
      '                   → Run pgbackups doctor again.',
      'skip  Database     not checked: the check could not be read',
      'skip  Bucket       not checked: the check could not be read',
    ]);
  });

  it('prints the same checks as JSON with --json', async () => {
    const api = healthyApi().on('GET', '/v1/apps/:app/checks/:id', { status: 200, body: passed });
    const r = await run(api, ['doctor', '--json']);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    const json = JSON.parse(r.stdout);
    expect(json).toMatchObject({ app: APP, database: 'DATABASE', ok: true });
    expect(json.checks.map((c: { check: string; result: string }) => `${c.check}:${c.result}`)).toEqual([
      'API:ok',
      'Credentials:ok',
      'App:ok',
      'Worker:ok',
      'Database:ok',
      'Bucket:ok',
    ]);
  });
});
