import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { App } from 'aws-cdk-lib';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_ROUTES } from '../../lib/constructs/api.js';
import { PgBackupsStack } from '../../lib/pgbackups-stack.js';
import { EventBridgeSchedulerAdapter } from '../../src/adapters/aws/eventbridge-scheduler.js';
import { type LocalDynamo, startDynalite } from '../helpers/dynalite.js';
import { answerViolations } from '../helpers/openapi-conformance.js';
import { type LocalS3, startS3rver } from '../helpers/s3rver.js';
import { cdkJsonContext } from './stack-fixture.js';

/**
 * The Lambda bundles exactly as `cdk synth` builds them (NodejsFunction, local esbuild, no Docker), loaded from the
 * synthesized cloud assembly and invoked with the events AWS sends, against dynalite and s3rver. ECS, Secrets
 * Manager, Scheduler, SNS and EventBridge have no emulator here: a recording stub answers them, so the test also
 * shows which calls each invocation makes.
 */

type Handler = (event: unknown) => Promise<unknown>;
const ACCOUNT = '111122223333';
const REGION = 'us-east-1';

/** An EventBridge "ECS Task State Change" event for a stopped worker task, as the task-events rule delivers it. */
function taskStopped(
  task: string,
  opts: {
    stopCode: string;
    stoppedReason: string;
    containers?: { name: string; exitCode?: number; reason?: string }[];
    environment: { name: string; value: string }[];
  },
) {
  const taskArn = `arn:aws:ecs:${REGION}:${ACCOUNT}:task/c/${task}`;
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': 'ECS Task State Change',
    source: 'aws.ecs',
    account: ACCOUNT,
    time: new Date().toISOString(),
    region: REGION,
    resources: [taskArn],
    detail: {
      clusterArn: process.env.PGBACKUPS_CLUSTER,
      taskArn,
      lastStatus: 'STOPPED',
      desiredStatus: 'STOPPED',
      stopCode: opts.stopCode,
      stoppedReason: opts.stoppedReason,
      ...(opts.containers ? { containers: opts.containers } : {}),
      overrides: { containerOverrides: [{ name: 'worker', environment: opts.environment }] },
    },
  };
}
const APP = 'bundle-app';

/** Answers the AWS JSON and REST-JSON APIs the functions call, with the least each caller reads. */
function startAwsStub(): Promise<{ server: Server; endpoint: string; calls: string[] }> {
  const calls: string[] = [];
  const reply = (req: IncomingMessage, body: string): { status: number; json?: unknown; xml?: string } => {
    const target = String(req.headers['x-amz-target'] ?? '');
    const op = target.split('.').pop() ?? '';
    if (target) calls.push(op);
    switch (op) {
      case 'RunTask':
        return {
          status: 200,
          json: {
            tasks: [{ taskArn: `arn:aws:ecs:${REGION}:${ACCOUNT}:task/c/${randomUUID()}` }],
            failures: [],
          },
        };
      case 'DescribeTasks':
        return { status: 200, json: { tasks: [], failures: [] } };
      case 'StopTask':
        return { status: 200, json: { task: {} } };
      case 'CreateSecret':
      case 'PutSecretValue':
      case 'DescribeSecret':
      case 'DeleteSecret':
      case 'RestoreSecret':
        return {
          status: 200,
          json: {
            ARN: `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:pgbackups/${APP}/DATABASE-AbCdEf`,
            Name: `pgbackups/${APP}/DATABASE`,
          },
        };
      case 'PutEvents':
        return { status: 200, json: { FailedEntryCount: 0, Entries: [{ EventId: '1' }] } };
      case 'Publish':
        return { status: 200, json: { MessageId: '1' } };
    }
    if (req.url?.startsWith('/schedules/')) {
      calls.push(`${req.method} schedule`);
      return { status: 200, json: { ScheduleArn: `arn:aws:scheduler:${REGION}:${ACCOUNT}:schedule/g/x` } };
    }
    if (body.includes('Action=Publish')) {
      calls.push('Publish');
      return {
        status: 200,
        xml: '<PublishResponse><PublishResult><MessageId>1</MessageId></PublishResult></PublishResponse>',
      };
    }
    calls.push(`unexpected ${req.method} ${req.url} ${target}`);
    return { status: 400, json: { __type: 'UnknownOperation', message: `stub has no ${target || req.url}` } };
  };
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => {
      body += d;
    });
    req.on('end', () => {
      const r = reply(req, body);
      res.writeHead(r.status, { 'content-type': r.xml ? 'text/xml' : 'application/x-amz-json-1.1' });
      res.end(r.xml ?? JSON.stringify(r.json));
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({ server, calls, endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }),
    ),
  );
}

function httpEvent(method: string, path: string, body?: unknown): APIGatewayProxyEventV2 {
  const routeKey = API_ROUTES.find(
    (r) => r.method === method && new RegExp(`^${r.path.replace(/\{[^}]+\}/g, '[^/]+')}$`).test(path),
  );
  if (!routeKey) throw new Error(`no route for ${method} ${path}`);
  const now = new Date();
  return {
    version: '2.0',
    routeKey: `${routeKey.method} ${routeKey.path}`,
    rawPath: path,
    rawQueryString: '',
    headers: { 'content-type': 'application/json', host: 'abc123.execute-api.us-east-1.amazonaws.com' },
    requestContext: {
      accountId: ACCOUNT,
      apiId: 'abc123',
      domainName: 'abc123.execute-api.us-east-1.amazonaws.com',
      domainPrefix: 'abc123',
      http: { method, path, protocol: 'HTTP/1.1', sourceIp: '203.0.113.7', userAgent: 'pgbackups-cli' },
      requestId: randomUUID(),
      routeKey: `${routeKey.method} ${routeKey.path}`,
      stage: '$default',
      time: now.toUTCString(),
      timeEpoch: now.getTime(),
    },
    body: body === undefined ? undefined : Buffer.from(JSON.stringify(body)).toString('base64'),
    isBase64Encoded: body !== undefined,
  };
}

function scheduledEvent(ruleName: string) {
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': 'Scheduled Event',
    source: 'aws.events',
    account: ACCOUNT,
    time: new Date().toISOString(),
    region: REGION,
    resources: [`arn:aws:events:${REGION}:${ACCOUNT}:rule/${ruleName}`],
    detail: {},
  };
}

describe('the Lambda bundles that ship, invoked with real events', () => {
  let out: string;
  let dynamo: LocalDynamo;
  let s3: LocalS3;
  let stub: Awaited<ReturnType<typeof startAwsStub>>;
  const handlers: Record<string, Handler> = {};
  /** The check started through the API route, failed later by its task's stop event. */
  let checkId: string | undefined;
  const sizes: Record<string, number> = {};
  const savedEnv = { ...process.env };

  beforeAll(async () => {
    out = await mkdtemp(join(tmpdir(), 'cdk-bundles-'));
    // Bundling on (no 'aws:cdk:bundling-stacks' override): what `cdk synth` builds. A registry image keeps the
    // worker's Docker context out of it.
    const app = new App({
      outdir: out,
      context: { ...cdkJsonContext(), 'aws:cdk:enable-asset-metadata': true },
    });
    const stack = new PgBackupsStack(app, 'PgBackups', {
      workerImage: ecs.ContainerImage.fromRegistry('public.ecr.aws/docker/library/node:22-bookworm-slim'),
      alertEmail: 'ops@example.com',
    });
    const assembly = app.synth();
    const template = assembly.getStackByName(stack.stackName).template as {
      Resources: Record<
        string,
        { Type: string; Properties: Record<string, unknown>; Metadata?: Record<string, string> }
      >;
    };

    [dynamo, s3, stub] = await Promise.all([startDynalite(), startS3rver(), startAwsStub()]);
    const table = `bundles-${randomUUID()}`;
    await dynamo.catalog(table);
    Object.assign(process.env, {
      AWS_REGION: REGION,
      // s3rver's fixed credentials; dynalite takes any.
      AWS_ACCESS_KEY_ID: 'S3RVER',
      AWS_SECRET_ACCESS_KEY: 'S3RVER',
      AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
      AWS_ENDPOINT_URL_S3: s3.endpoint,
      AWS_ENDPOINT_URL_ECS: stub.endpoint,
      AWS_ENDPOINT_URL_SECRETS_MANAGER: stub.endpoint,
      AWS_ENDPOINT_URL_SCHEDULER: stub.endpoint,
      AWS_ENDPOINT_URL_SNS: stub.endpoint,
      AWS_ENDPOINT_URL_EVENTBRIDGE: stub.endpoint,
      PGBACKUPS_TABLE: table,
      PGBACKUPS_BUCKET: s3.bucket,
      PGBACKUPS_CLUSTER: `arn:aws:ecs:${REGION}:${ACCOUNT}:cluster/c`,
      PGBACKUPS_TASK_DEFINITION: `arn:aws:ecs:${REGION}:${ACCOUNT}:task-definition/worker:1`,
      PGBACKUPS_SUBNETS: 'subnet-0aaaaaaaaaaaaaaaa',
      PGBACKUPS_SECURITY_GROUPS: 'sg-0a1b2c3d4e5f60718',
      PGBACKUPS_ASSIGN_PUBLIC_IP: 'true',
      PGBACKUPS_SECRETS_PREFIX: 'pgbackups',
      PGBACKUPS_SCHEDULE_GROUP: 'PgBackups-Schedules',
      PGBACKUPS_SCHEDULER_ROLE_ARN: `arn:aws:iam::${ACCOUNT}:role/scheduler`,
      PGBACKUPS_DEAD_LETTER_QUEUE_ARN: `arn:aws:sqs:${REGION}:${ACCOUNT}:dead-letters`,
      PGBACKUPS_SCHEDULED_CAPTURE_ARN: `arn:aws:lambda:${REGION}:${ACCOUNT}:function:PgBackups-scheduled-capture`,
      PGBACKUPS_ALERTS_TOPIC_ARN: `arn:aws:sns:${REGION}:${ACCOUNT}:alerts`,
      PGBACKUPS_EVENT_BUS: 'default',
      PGBACKUPS_DB_HOST_ALLOWLIST: '10.0.0.0/16',
    });

    for (const [id, r] of Object.entries(template.Resources)) {
      if (r.Type !== 'AWS::Lambda::Function' || !String(r.Properties.Description).startsWith('pgbackups'))
        continue;
      const assetPath = r.Metadata?.['aws:asset:path'];
      expect(assetPath, id).toBeDefined();
      expect(r.Properties.Handler, id).toBe('index.handler');
      const file = join(out, assetPath!, 'index.mjs');
      sizes[id.replace(/[0-9A-F]{8}$/, '')] = (await stat(file)).size;
      const mod = (await import(pathToFileURL(file).href)) as { handler: Handler };
      handlers[id.replace(/[0-9A-F]{8}$/, '')] = mod.handler;
    }
  }, 600_000);

  afterAll(async () => {
    process.env = savedEnv;
    await Promise.all([dynamo?.stop(), s3?.stop(), new Promise((r) => stub?.server.close(r))]);
    if (out) await rm(out, { recursive: true, force: true });
  });

  it('builds five self-contained ESM bundles, AWS SDK included', async () => {
    expect(Object.keys(handlers).sort()).toEqual([
      'ApiHandler',
      'RetentionHandler',
      'SchedulesCaptureFunction',
      'TaskEventsHandler',
      'WatchdogHandler',
    ]);
    // Nothing is resolved at run time from the runtime's own node_modules (the SDK is bundled).
    for (const [name, size] of Object.entries(sizes)) {
      expect(size, name).toBeGreaterThan(100_000);
      expect(size, name).toBeLessThan(10_000_000);
    }
    console.info('bundle sizes (bytes):', JSON.stringify(sizes));
  });

  it('answers every API route through the bundle, against dynalite and s3rver', async () => {
    const api = handlers.ApiHandler!;
    const call = async (method: string, path: string, body?: unknown) => {
      const res = (await api(httpEvent(method, path, body))) as APIGatewayProxyStructuredResultV2;
      const json = res.body ? JSON.parse(res.body) : undefined;
      return { status: res.statusCode!, json };
    };
    const seen = new Set<string>();
    const got: string[] = [];
    const want: string[] = [];
    // What the real adapters answer, checked against the served document.
    const undocumented: string[] = [];
    const expectStatus = async (method: string, path: string, status: number, body?: unknown) => {
      const r = await call(method, path, body);
      got.push(`${method} ${path} -> ${r.status}${r.status >= 400 ? ` ${JSON.stringify(r.json)}` : ''}`);
      want.push(`${method} ${path} -> ${status}${r.status >= 400 ? ` ${JSON.stringify(r.json)}` : ''}`);
      seen.add(httpEvent(method, path, body).routeKey);
      undocumented.push(
        ...answerViolations(method, path, r.status, r.json === undefined ? '' : JSON.stringify(r.json)),
      );
      return r.json;
    };
    const base = `/v1/apps/${APP}`;
    await expectStatus('GET', '/v1/health', 200);
    await expectStatus('GET', '/v1/openapi.json', 200);
    await expectStatus('PUT', `${base}/databases/DATABASE`, 201, {
      url: 'postgres://backup_user:not-a-real-password@10.0.0.10:5432/app?sslmode=require',
    });
    await expectStatus('GET', `${base}/databases`, 200);
    // The app index (catalog COUNTER items) now lists the app attached above.
    expect(await expectStatus('GET', '/v1/apps', 200)).toEqual({ apps: [APP] });
    await expectStatus('GET', `${base}/settings`, 200);
    await expectStatus('PUT', `${base}/settings`, 200, { plan: 'premium' });
    const backup = (await expectStatus('POST', `${base}/backups`, 202, { database: 'DATABASE' })) as {
      id?: string;
    };
    await expectStatus('GET', `${base}/transfers`, 200);
    await expectStatus('GET', `${base}/transfers/${backup?.id}`, 200);
    // pgbackups doctor: a check worker is started with RunTask like a transfer's, and read back.
    const check = (await expectStatus('POST', `${base}/checks`, 202, { database: 'DATABASE' })) as {
      id: string;
      status: string;
    };
    expect(check).toMatchObject({ id: expect.stringMatching(/^chk-[0-9a-f]{12}$/), status: 'pending' });
    checkId = check.id;
    await expectStatus('GET', `${base}/checks/${check.id}`, 200);
    // Not completed yet: a clear refusal, not a crash.
    await expectStatus('POST', `${base}/backups/${backup?.id}/url`, 422);
    await expectStatus('PUT', `${base}/schedules/DATABASE`, 200, { at: '02:00 Europe/Paris' });
    await expectStatus('GET', `${base}/schedules`, 200);
    await expectStatus('DELETE', `${base}/schedules/DATABASE`, 204);
    await expectStatus('GET', `${base}/retention`, 200);
    await expectStatus('GET', `${base}/access`, 200);
    await expectStatus('POST', `${base}/copies`, 422, { from: 'DATABASE', to: 'DATABASE' });
    await expectStatus('POST', `${base}/restores`, 422, { database: 'DATABASE' });
    await expectStatus('POST', `${base}/transfers/${backup?.id}/cancel`, 200);
    await expectStatus('DELETE', `${base}/backups/b099`, 404);
    await expectStatus('DELETE', `${base}/databases/DATABASE`, 204);
    // One table, so a failure shows every route's answer at once.
    expect(got).toEqual(want);
    expect(backup?.id).toBe('b001');
    expect(undocumented).toEqual([]);
    expect([...seen].sort()).toEqual(API_ROUTES.map((r) => `${r.method} ${r.path}`).sort());
    expect(stub.calls.filter((c) => c.startsWith('unexpected'))).toEqual([]);
    // What the API asked of the services without an emulator, in order.
    expect(stub.calls).toEqual([
      'CreateSecret',
      'RunTask',
      'RunTask',
      'POST schedule',
      'DELETE schedule',
      'StopTask',
      'DeleteSecret',
    ]);
  });

  it('runs the scheduled capture with the input the Scheduler adapter writes', async () => {
    const sent: { Target?: { Input?: string } }[] = [];
    const adapter = new EventBridgeSchedulerAdapter({
      client: { send: async (c: { input: (typeof sent)[number] }) => sent.push(c.input) } as never,
      groupName: 'g',
      targetArn: 'arn',
      roleArn: 'role',
      deadLetterArn: 'dlq',
    });
    await adapter.upsert({
      app: APP,
      database: 'DATABASE',
      hour: 2,
      minute: 0,
      timezone: 'UTC',
      createdAt: '',
    });
    const input = JSON.parse(sent[0]!.Target!.Input!);
    await handlers.ApiHandler!(
      httpEvent('PUT', `/v1/apps/${APP}/databases/DATABASE`, {
        url: 'postgres://backup_user:not-a-real-password@10.0.0.10:5432/app',
      }),
    );
    const result = (await handlers.SchedulesCaptureFunction!(input)) as {
      id: string | null;
      skipped: boolean;
    };
    expect(result).toEqual({ id: expect.stringMatching(/^a\d{3}$/), skipped: false });
  });

  it('marks the transfer of a worker task that stopped abnormally failed, from an ECS Task State Change event', async () => {
    const list = (await handlers.ApiHandler!(httpEvent('GET', `/v1/apps/${APP}/transfers`))) as {
      body: string;
    };
    type Row = { id: string; num: number; status: string };
    const parsed = JSON.parse(list.body) as Row[] | { transfers: Row[] };
    const active = (Array.isArray(parsed) ? parsed : parsed.transfers).find(
      (t) => t.status === 'pending' || t.status === 'running',
    )!;
    expect(active).toBeDefined();
    const event = taskStopped('abc', {
      stopCode: 'EssentialContainerExited',
      stoppedReason: 'Essential container in task exited',
      containers: [
        { name: 'worker', exitCode: 137, reason: 'OutOfMemoryError: Container killed due to memory usage' },
      ],
      environment: [
        { name: 'PGBACKUPS_APP', value: APP },
        { name: 'PGBACKUPS_TRANSFER_NUM', value: String(active.num) },
      ],
    });
    await handlers.TaskEventsHandler!(event);
    const after = (await handlers.ApiHandler!(
      httpEvent('GET', `/v1/apps/${APP}/transfers/${active.id}`),
    )) as {
      body: string;
    };
    expect(JSON.parse(after.body)).toMatchObject({
      status: 'failed',
      error: expect.stringContaining('OutOfMemoryError'),
    });
  });

  it("fails a check whose worker task could not start, from the task's ECS Task State Change event", async () => {
    expect(checkId).toBeDefined();
    const event = taskStopped('def', {
      stopCode: 'TaskFailedToStart',
      stoppedReason: 'CannotPullContainerError: pull image manifest has been retried 5 time(s)',
      environment: [
        { name: 'PGBACKUPS_APP', value: APP },
        { name: 'PGBACKUPS_CHECK_ID', value: checkId! },
      ],
    });
    await handlers.TaskEventsHandler!(event);
    const after = (await handlers.ApiHandler!(httpEvent('GET', `/v1/apps/${APP}/checks/${checkId}`))) as {
      body: string;
    };
    expect(JSON.parse(after.body)).toMatchObject({
      status: 'failed',
      steps: [
        {
          name: 'worker',
          ok: false,
          message: expect.stringContaining('CannotPullContainerError'),
          hint: expect.stringContaining('route to ECR'),
        },
      ],
    });
  });

  it("prunes and runs the watchdog from the periodic rules' events", async () => {
    const pruned = await handlers.RetentionHandler!(scheduledEvent('PgBackups-RetentionSchedule'));
    expect(pruned).toMatchObject({ apps: 1, failedApps: [] });
    const watched = await handlers.WatchdogHandler!(scheduledEvent('PgBackups-WatchdogSchedule'));
    expect(watched).toMatchObject({ stuck: expect.any(Array), catchUps: expect.any(Array) });
  });
});
