import {
  ACTIVE_CHECK_STATUSES,
  CHECK_DEADLINE_MS,
  CHECK_TTL_SECONDS,
  type Check,
  type CheckStep,
  newCheckId,
  parseCheckId,
  workerStartHint,
  workerStoppedHint,
} from '../check.js';
import type { CoreDeps } from '../deps.js';
import { NotFoundError } from '../errors.js';
import { errorMessage } from '../logger.js';
import { parseAppName } from '../names.js';
import { requireDatabase } from './databases.js';

/** Ends an active check as failed at the worker step; the write is conditional, so a finished check stands. */
async function failCheck(deps: CoreDeps, c: Check, step: CheckStep): Promise<Check> {
  const failed = await deps.catalog.updateCheck(
    c.app,
    c.id,
    { status: 'failed', finishedAt: deps.clock.now().toISOString(), steps: [...c.steps, step] },
    ACTIVE_CHECK_STATUSES,
  );
  return failed ?? (await deps.catalog.getCheck(c.app, c.id)) ?? c;
}

/**
 * Starts a deployment check of `database` (default DATABASE): a worker task, started through the same runner and
 * network as transfers, connects to the database and round-trips a small object through the bucket. A task that
 * cannot start fails the check at once, with the reason and what to do.
 */
export async function startCheck(deps: CoreDeps, input: { app: string; database?: string }): Promise<Check> {
  const app = parseAppName(input.app);
  const db = await requireDatabase(deps, app, input.database ?? 'DATABASE');
  const now = deps.clock.now();
  const check: Check = {
    app,
    id: newCheckId(),
    database: db.name,
    status: 'pending',
    createdAt: now.toISOString(),
    expiresAt: Math.floor(now.getTime() / 1000) + CHECK_TTL_SECONDS,
    steps: [],
  };
  await deps.catalog.createCheck(check);
  const log = deps.log.child({ app, check: check.id });
  log.info('check created', { database: db.name });
  try {
    const { taskRef } = await deps.runner.startCheck({ app, checkId: check.id });
    const updated = await deps.catalog.updateCheck(app, check.id, { taskRef }, ACTIVE_CHECK_STATUSES);
    return updated ?? (await deps.catalog.getCheck(app, check.id)) ?? check;
  } catch (e) {
    const reason = errorMessage(e);
    log.error('check worker failed to start', { error: reason });
    return failCheck(deps, check, {
      name: 'worker',
      ok: false,
      message: `Could not start a worker task: ${reason}`,
      hint: workerStartHint(reason),
    });
  }
}

/**
 * A check by id. One still active past {@link CHECK_DEADLINE_MS} lost its worker without a stop event reaching
 * us; reading it fails it, so a caller never waits on a check nothing will finish.
 */
export async function getCheck(deps: CoreDeps, input: { app: string; id: string }): Promise<Check> {
  const app = parseAppName(input.app);
  const id = parseCheckId(input.id);
  const c = await deps.catalog.getCheck(app, id);
  if (!c) {
    throw new NotFoundError(
      `Check ${id} not found for ${app}: checks are kept about a day. Start one with POST /v1/apps/${app}/checks (pgbackups doctor -a ${app})`,
    );
  }
  const age = deps.clock.now().getTime() - Date.parse(c.createdAt);
  if (ACTIVE_CHECK_STATUSES.includes(c.status) && age > CHECK_DEADLINE_MS) {
    const reason = `the worker task did not report within ${CHECK_DEADLINE_MS / 60_000} minutes`;
    return failCheck(deps, c, {
      name: 'worker',
      ok: false,
      message: `The check's worker ${c.status === 'pending' ? 'never started' : 'stopped answering'}: ${reason}`,
      hint: workerStoppedHint(reason),
    });
  }
  return c;
}

/**
 * Records the end of a check's worker task (ECS task-state event, or a local child's exit): a check the worker
 * did not finish failed, with the task's stop reason — an image that could not be pulled, a network that could
 * not be set up — and what to do about it.
 */
export async function reconcileStoppedCheck(
  deps: CoreDeps,
  input: { app: string; checkId: string; exitCode?: number; reason: string },
): Promise<Check | undefined> {
  const c = await deps.catalog.getCheck(input.app, input.checkId);
  if (!c || !ACTIVE_CHECK_STATUSES.includes(c.status)) return c;
  const exit = input.exitCode === undefined ? '' : ` (exit code ${input.exitCode})`;
  const reason = `${input.reason}${exit}`;
  deps.log.warn('check reconciled after its worker stopped', { app: c.app, check: c.id, reason });
  return failCheck(deps, c, {
    name: 'worker',
    ok: false,
    message: `The worker task stopped before finishing the check: ${reason}`,
    hint: workerStoppedHint(reason),
  });
}
