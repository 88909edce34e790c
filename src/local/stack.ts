import { mkdir, readFile, unlink, writeFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import dynalite from 'dynalite';
import { DynamoDbCatalog, ensureCatalogTable } from '../adapters/aws/dynamodb-catalog.js';
import { localS3Client, S3BlobStore } from '../adapters/aws/s3-blob-store.js';
import { FileSecrets } from '../adapters/local/file-secrets.js';
import { logNotifier } from '../adapters/local/log-notifier.js';
import { LocalProcessRunner } from '../adapters/local/process-runner.js';
import { assertPublicUrl, type DatabaseHostPolicy, databaseHostGuard } from '../adapters/net/url-guard.js';
import { localAccess } from '../api/app-access.js';
import { json } from '../api/http.js';
import { createRouter } from '../api/router.js';
import { ENV } from '../config/env-names.js';
import type { CoreDeps } from '../core/deps.js';
import { jsonLogger, type Logger } from '../core/logger.js';
import type { Clock, Notifier } from '../core/ports.js';
import { systemClock } from '../core/ports.js';
import { scheduledCapture } from '../core/use-cases/capture-backup.js';
import { reconcileStoppedCheck } from '../core/use-cases/checks.js';
import { attachDatabase } from '../core/use-cases/databases.js';
import { pruneAll } from '../core/use-cases/prune.js';
import { reconcileStoppedTask } from '../core/use-cases/transfers.js';
import { runWatchdog } from '../core/use-cases/watchdog.js';
import { type ApiServerAccess, startApiServer } from './api-server.js';
import { startS3rver } from './s3-store.js';
import { TimerScheduler } from './timer-scheduler.js';

export const LOCAL_TABLE = 'pgbackups';
export const LOCAL_BUCKET = 'pgbackups-local';

export interface LocalStackOptions {
  /** Where dynalite, s3rver and secrets keep their data; survives restarts. */
  readonly dataDir: string;
  /** API port; 0 picks a free one. */
  readonly port: number;
  readonly host?: string;
  /** Attach this URL as DATABASE of `app` at start. */
  readonly databaseUrl?: string;
  readonly app?: string;
  readonly log?: Logger;
  /** How often workers report progress. @default 3000 */
  readonly progressIntervalMs?: number;
  /** Where alerts go. @default a structured log line */
  readonly notifier?: Notifier;
  /** Time source of the API and the scheduler. @default the system clock */
  readonly clock?: Clock;
  /** How often the watchdog and the pruner run. @default hourly and daily, as in AWS */
  readonly watchdogIntervalMs?: number;
  readonly pruneIntervalMs?: number;
  /** Show workers' log lines on this process's output, or hand each line to a function. @default 'inherit' */
  readonly workerOutput?: 'inherit' | 'ignore' | ((line: string) => void);
  /**
   * Which database hosts tenants may reach. @default loopback and unix sockets allowed (the local clusters), no
   * private range allowed
   */
  readonly databaseHosts?: Partial<DatabaseHostPolicy>;
  /** What the API server accepts besides its own address (see api-server.ts). @default nothing else */
  readonly apiAccess?: ApiServerAccess;
  /** Extra environment for every worker, over the stack's own (tests: e.g. an S3 endpoint behind a fault proxy). */
  readonly workerEnv?: Readonly<Record<string, string>>;
}

export interface LocalStack {
  readonly apiUrl: string;
  readonly deps: CoreDeps;
  readonly runner: LocalProcessRunner;
  readonly dynamoEndpoint: string;
  readonly s3Endpoint: string;
  readonly bucket: string;
  readonly table: string;
  stop(): Promise<void>;
}

const closeServer = (s: Server) => new Promise<void>((r) => s.close(() => r()));

/** Why the local stack could not start, in words that name the fix (`npm run local` prints only this). */
export class LocalStartupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LocalStartupError';
  }
}

const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/**
 * One stack per data directory: dynalite's store cannot be shared, and a second instance otherwise dies with
 * "Database is closed". A lock file holds the owner's pid; one left by a process that is gone is taken over.
 */
async function lockDataDir(dataDir: string): Promise<() => Promise<void>> {
  const path = join(dataDir, 'stack.lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await writeFile(path, `${process.pid}\n`, { flag: 'wx', mode: 0o600 });
      // Silent on release: a lock file already gone holds nothing any more.
      return () => unlink(path).catch(() => {});
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const pid = Number((await readFile(path, 'utf8').catch(() => '')).trim());
      if (Number.isInteger(pid) && pid > 0 && isAlive(pid)) {
        throw new LocalStartupError(
          `Another pgbackups local stack (pid ${pid}) is using the data directory ${dataDir}. Stop it (Ctrl-C in its terminal), or give this one its own directory: PGBACKUPS_DATA_DIR=.pgbackups-2 npm run local`,
        );
      }
      // Silent: if the stale lock cannot be removed, the next attempt to take it says so.
      await unlink(path).catch(() => {});
    }
  }
  throw new LocalStartupError(`Could not lock the data directory ${dataDir}: remove ${path} and retry`);
}

/** The API's port is bound first, so a port in use is reported before anything else starts. */
async function bindApi(
  route: Parameters<typeof startApiServer>[0],
  host: string,
  port: number,
  access: ApiServerAccess | undefined,
): Promise<Awaited<ReturnType<typeof startApiServer>>> {
  try {
    return await startApiServer(route, { host, port, access });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') {
      throw new LocalStartupError(
        `Port ${port} on ${host} is already in use (another pgbackups local stack, or another program). Stop it, or pick a free port: PGBACKUPS_PORT=${port + 1} npm run local`,
      );
    }
    if (code === 'EACCES') {
      throw new LocalStartupError(
        `Not allowed to listen on port ${port}: use a port above 1023, e.g. PGBACKUPS_PORT=8787 npm run local`,
      );
    }
    throw e;
  }
}

/**
 * The whole service on 127.0.0.1: dynalite and s3rver (the production DynamoDB and S3 adapters talk to them),
 * file secrets, the API, and workers as child processes running the container's entrypoint.
 */
export async function startLocalStack(opts: LocalStackOptions): Promise<LocalStack> {
  const host = opts.host ?? '127.0.0.1';
  const dataDir = resolve(opts.dataDir);
  const log = opts.log ?? jsonLogger({ service: 'pgbackups-local' });
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const unlock = await lockDataDir(dataDir);
  // Until the core is ready, the bound API answers 503; it is ready before startLocalStack returns.
  let route: Parameters<typeof startApiServer>[0] = async () =>
    json(503, { error: { code: 'starting', message: 'The local stack is starting; retry in a moment' } });
  let api: Awaited<ReturnType<typeof startApiServer>>;
  try {
    api = await bindApi((req) => route(req), host, opts.port, opts.apiAccess);
  } catch (e) {
    await unlock();
    throw e;
  }

  const dynamo = dynalite({ path: join(dataDir, 'dynamodb'), createTableMs: 0 });
  await new Promise<void>((r) => dynamo.listen(0, host, r));
  const dynamoEndpoint = `http://${host}:${(dynamo.address() as AddressInfo).port}`;

  const { server: s3, port: s3Port } = await startS3rver({
    address: host,
    port: 0,
    directory: join(dataDir, 's3'),
    buckets: [LOCAL_BUCKET],
  });
  const s3Endpoint = `http://${host}:${s3Port}`;

  const dynamoClient = new DynamoDBClient({
    endpoint: dynamoEndpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  await ensureCatalogTable(dynamoClient, LOCAL_TABLE);

  const hostPolicy: DatabaseHostPolicy = {
    allowLoopback: opts.databaseHosts?.allowLoopback ?? true,
    allowlist: opts.databaseHosts?.allowlist ?? [],
  };
  const secretsDir = join(dataDir, 'secrets');
  let deps: CoreDeps | undefined;
  const runner = new LocalProcessRunner({
    log,
    workerOutput: opts.workerOutput,
    env: {
      [ENV.TABLE]: LOCAL_TABLE,
      [ENV.BUCKET]: LOCAL_BUCKET,
      [ENV.DYNAMODB_ENDPOINT]: dynamoEndpoint,
      [ENV.S3_ENDPOINT]: s3Endpoint,
      [ENV.SECRETS_DIR]: secretsDir,
      [ENV.PROGRESS_INTERVAL_MS]: String(opts.progressIntervalMs ?? 3000),
      [ENV.DB_ALLOW_LOOPBACK]: String(hostPolicy.allowLoopback),
      [ENV.DB_HOST_ALLOWLIST]: hostPolicy.allowlist.join(','),
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'local',
      AWS_SECRET_ACCESS_KEY: 'local',
      // Locally Node 20 is supported; the SDK's "needs Node 22 from 2027" banner is for the AWS side, which runs 22.
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      ...opts.workerEnv,
    },
    onExit: async (exit) => {
      if (!deps) return;
      await reconcileStoppedTask(deps, {
        app: exit.app,
        num: exit.num,
        exitCode: exit.exitCode,
        reason: exit.signal ? `worker killed by ${exit.signal}` : 'worker exited',
      });
    },
    onCheckExit: async (exit) => {
      if (!deps) return;
      await reconcileStoppedCheck(deps, {
        app: exit.app,
        checkId: exit.checkId,
        exitCode: exit.exitCode,
        reason: exit.signal ? `worker killed by ${exit.signal}` : 'worker exited',
      });
    },
  });

  const catalog = DynamoDbCatalog.fromClient(dynamoClient, LOCAL_TABLE);
  // The same cron and DST rules as EventBridge Scheduler; a due schedule runs the same use case as its Lambda.
  const scheduler = new TimerScheduler({
    catalog,
    log,
    clock: opts.clock,
    onDue: (app, database) => (deps ? scheduledCapture(deps, { app, database }) : undefined),
  });
  deps = {
    catalog,
    blobs: new S3BlobStore({ client: localS3Client(s3Endpoint), bucket: LOCAL_BUCKET }),
    secrets: new FileSecrets(secretsDir),
    runner,
    scheduler,
    notifier: opts.notifier ?? logNotifier(log),
    clock: opts.clock ?? systemClock,
    log,
    databaseHosts: databaseHostGuard(hostPolicy),
  };
  const coreDeps = deps;

  // Workers of a previous run died with it: whatever they left pending or running is failed now, not left stuck.
  for (const t of await coreDeps.catalog.listActiveTransfers()) {
    await reconcileStoppedTask(coreDeps, {
      app: t.app,
      num: t.num,
      reason: 'the local stack restarted while it ran',
    });
  }

  if (opts.databaseUrl) {
    await attachDatabase(coreDeps, { app: opts.app ?? 'local', name: 'DATABASE', url: opts.databaseUrl });
  }

  await scheduler.start();
  // The watchdog (hourly) and the pruner (daily) on timers, like their EventBridge rules in AWS.
  const periodic = (name: string, ms: number, job: () => Promise<unknown>) => {
    const timer = setInterval(() => {
      job().catch((e) => log.error(`${name} failed`, { error: String(e) }));
    }, ms);
    timer.unref();
    return timer;
  };
  const timers = [
    periodic('watchdog', opts.watchdogIntervalMs ?? 3_600_000, () => runWatchdog(coreDeps)),
    periodic('prune', opts.pruneIntervalMs ?? 86_400_000, () => pruneAll(coreDeps)),
  ];

  route = createRouter(coreDeps, { access: localAccess, checkRestoreUrl: (url) => assertPublicUrl(url) });

  return {
    apiUrl: api.url,
    deps: coreDeps,
    runner,
    dynamoEndpoint,
    s3Endpoint,
    bucket: LOCAL_BUCKET,
    table: LOCAL_TABLE,
    stop: async () => {
      for (const t of timers) clearInterval(t);
      scheduler.stop();
      await closeServer(api.server);
      await runner.stopAll();
      dynamoClient.destroy();
      await s3.close();
      await closeServer(dynamo);
      await unlock();
    },
  };
}
