/**
 * The worker's side of `pgbackups doctor` (src/core/check.ts): with the same role, network, clients and secrets
 * a transfer would have, connect to the attached database and round-trip a small object through the bucket, then
 * record each step's outcome in words. Nothing here touches a transfer, and nothing is written to the database.
 */
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import {
  bucketHint,
  type Check,
  type CheckPatch,
  type CheckStatus,
  type CheckStep,
  checkObjectKey,
  databaseHint,
} from '../core/check.js';
import { errorMessage } from '../core/logger.js';
import { dumpClientFor } from '../core/pg-compat.js';
import { connectTo, type WorkerDeps } from './context.js';
import { discoverPgClients, type PgClients } from './pg-clients.js';
import { describeExit, reasonFrom, runPgCommand } from './pg-process.js';
import { redact } from './redact.js';

export interface CheckOptions {
  /** The PostgreSQL clients (pg-clients.ts). @default discovered, as for transfers */
  readonly clients?: PgClients;
  readonly pgBinDirs?: readonly string[];
}

interface DatabaseFindings {
  readonly step: CheckStep;
  readonly patch: CheckPatch;
}

/** Connects as a capture would, and asks the server's version: proves host, port, TLS, user and password. */
async function checkDatabase(
  deps: WorkerDeps,
  c: Check,
  clients: PgClients,
  secrets: string[],
): Promise<DatabaseFindings> {
  const fail = (message: string): DatabaseFindings => {
    const shown = redact(message, secrets);
    return {
      step: { name: 'database', ok: false, message: `${c.database}: ${shown}`, hint: databaseHint(shown) },
      patch: {},
    };
  };
  let conn: Awaited<ReturnType<typeof connectTo>>;
  try {
    conn = await connectTo(deps, secrets, c.app, c.database);
  } catch (e) {
    return fail(errorMessage(e));
  }
  const r = await runPgCommand({
    name: 'psql',
    program: clients.newest().path('psql'),
    args: [
      '-X',
      '-A',
      '-t',
      '-q',
      '-v',
      'ON_ERROR_STOP=1',
      '-c',
      "SELECT current_setting('server_version_num')",
    ],
    env: conn.env,
    secrets,
  });
  const num = Number(r.stdout.trim());
  if (r.exit.code !== 0 || !Number.isInteger(num) || num <= 0) {
    return fail(reasonFrom(r.stderr) ?? `psql ${describeExit(r.exit)}`);
  }
  const major = Math.floor(num / 10000);
  // `160004` → 16.4; before 10 the scheme had three parts, and such servers are refused anyway.
  const serverVersion = `${major}.${num % 100}`;
  let dumpClient: number;
  try {
    dumpClient = dumpClientFor(major, clients.majors);
  } catch (e) {
    return {
      step: {
        name: 'database',
        ok: false,
        message: `${c.database}: connected, but ${errorMessage(e)}`,
        hint: 'pgbackups supports the servers docs/compatibility.md lists; upgrade the server or use a worker image with that client.',
      },
      patch: { serverVersion },
    };
  }
  return {
    step: {
      name: 'database',
      ok: true,
      message: `${c.database}: connected to PostgreSQL ${serverVersion}; captures will run pg_dump ${dumpClient}`,
    },
    patch: { serverVersion, dumpClient },
  };
}

/** Writes a small object under `checks/`, reads it back, compares, and deletes it. */
async function checkBucket(deps: WorkerDeps, c: Check): Promise<CheckStep> {
  const key = checkObjectKey(c.app, c.id);
  const body = randomBytes(64);
  let stage = 'write';
  try {
    await deps.blobs.upload(key, Readable.from([body]), { expectedBytes: body.length });
    stage = 'read back';
    const got = await buffer(await deps.blobs.download(key));
    if (!got.equals(body)) {
      return {
        name: 'bucket',
        ok: false,
        message: `The object read back from ${key} differs from the one written`,
        hint: 'Something rewrites objects in the bucket (a replication or a lambda); pgbackups must be its only writer.',
      };
    }
    stage = 'delete';
    await deps.blobs.delete(key);
  } catch (e) {
    const message = errorMessage(e);
    const name = (e as { name?: string }).name;
    const detail = name && name !== 'Error' && !message.includes(name) ? `${name}: ${message}` : message;
    return {
      name: 'bucket',
      ok: false,
      message: `Could not ${stage} ${key}: ${detail}`,
      hint: bucketHint(detail),
    };
  }
  return { name: 'bucket', ok: true, message: `wrote, read back and deleted ${key}` };
}

/**
 * Runs check `ref` if it is pending; returns its final status. Every step runs even when an earlier one failed
 * (the bucket does not depend on the database), so one run reports everything that is wrong.
 */
export async function runCheck(
  deps: WorkerDeps,
  ref: { app: string; id: string },
  opts: CheckOptions = {},
): Promise<CheckStatus> {
  const found = await deps.catalog.getCheck(ref.app, ref.id);
  if (!found) throw new Error(`Check ${ref.id} not found for ${ref.app}`);
  const log = deps.log.child({ app: found.app, check: found.id });
  const startedAt = deps.clock.now().toISOString();
  const running = await deps.catalog.updateCheck(ref.app, ref.id, { status: 'running', startedAt }, [
    'pending',
  ]);
  if (!running) {
    log.info('check is not pending; nothing to do', { status: found.status });
    return found.status;
  }
  const steps: CheckStep[] = [];
  let patch: CheckPatch = {};
  let clients: PgClients | undefined;
  try {
    clients = opts.clients ?? (await discoverPgClients(opts.pgBinDirs));
    steps.push({
      name: 'worker',
      ok: true,
      message: `a worker task started, with PostgreSQL clients ${clients.majors.join(', ')}`,
    });
    patch = { clients: clients.majors };
  } catch (e) {
    steps.push({
      name: 'worker',
      ok: false,
      message: `The worker started but has no usable PostgreSQL client: ${errorMessage(e)}`,
      hint: 'The worker image is incomplete: rebuild it from containers/worker/Dockerfile (cdk deploy does), or set PGBACKUPS_PG_BINDIRS locally.',
    });
  }
  const secrets: string[] = [];
  if (clients) {
    const db = await checkDatabase(deps, running, clients, secrets);
    steps.push(db.step);
    patch = { ...patch, ...db.patch };
  }
  steps.push(await checkBucket(deps, running));
  const status: CheckStatus = steps.every((s) => s.ok) ? 'passed' : 'failed';
  const finishedAt = deps.clock.now().toISOString();
  const written = await deps.catalog.updateCheck(ref.app, ref.id, { ...patch, steps, status, finishedAt }, [
    'running',
  ]);
  log.info('check finished', { status, failed: steps.filter((s) => !s.ok).map((s) => s.name) });
  return written?.status ?? (await deps.catalog.getCheck(ref.app, ref.id))?.status ?? status;
}
