import { Readable } from 'node:stream';
import { SecretNotFoundError } from '../../src/core/errors.js';
import type {
  Alert,
  BlobStore,
  CheckTaskRequest,
  Clock,
  Notifier,
  Schedule,
  Scheduler,
  Secrets,
  TaskRequest,
  TaskRunner,
} from '../../src/core/ports.js';

export class MemorySecrets implements Secrets {
  readonly values = new Map<string, string>();
  async put(app: string, database: string, url: string) {
    const ref = `memory:${app}/${database}`;
    this.values.set(ref, url);
    return ref;
  }
  async get(ref: string) {
    const v = this.values.get(ref);
    if (v === undefined) throw new SecretNotFoundError(ref);
    return v;
  }
  async delete(ref: string) {
    this.values.delete(ref);
  }
}

export class MemoryBlobStore implements BlobStore {
  readonly objects = new Map<string, Buffer>();
  async upload(key: string, body: Readable) {
    const chunks: Buffer[] = [];
    for await (const c of body) chunks.push(Buffer.from(c));
    const buf = Buffer.concat(chunks);
    this.objects.set(key, buf);
    return { bytes: buf.length };
  }
  async download(key: string) {
    const b = this.objects.get(key);
    if (!b) throw new Error(`No object ${key}`);
    return Readable.from([b]);
  }
  async head(key: string) {
    const b = this.objects.get(key);
    return b ? { bytes: b.length } : undefined;
  }
  async presignGet(key: string, expiresInSeconds: number) {
    return `https://blobs.example/${key}?expires=${expiresInSeconds}`;
  }
  async delete(key: string) {
    this.objects.delete(key);
  }
  async list(prefix: string) {
    return [...this.objects.keys()].filter((k) => k.startsWith(prefix)).sort();
  }
}

/** Records starts and stops; a test decides what the "worker" does. */
export class FakeTaskRunner implements TaskRunner {
  readonly started: TaskRequest[] = [];
  readonly stopped: { taskRef: string; reason: string }[] = [];
  readonly alive = new Set<string>();
  failNextStart?: Error;
  async start(req: TaskRequest) {
    if (this.failNextStart) {
      const e = this.failNextStart;
      this.failNextStart = undefined;
      throw e;
    }
    this.started.push(req);
    const taskRef = `task-${req.app}-${req.num}`;
    this.alive.add(taskRef);
    return { taskRef };
  }
  readonly startedChecks: CheckTaskRequest[] = [];
  async startCheck(req: CheckTaskRequest) {
    if (this.failNextStart) {
      const e = this.failNextStart;
      this.failNextStart = undefined;
      throw e;
    }
    this.startedChecks.push(req);
    const taskRef = `task-${req.app}-${req.checkId}`;
    this.alive.add(taskRef);
    return { taskRef };
  }
  async stop(taskRef: string, reason: string) {
    this.stopped.push({ taskRef, reason });
  }
  async isAlive(taskRef: string) {
    return this.alive.has(taskRef);
  }
}

export class FakeScheduler implements Scheduler {
  readonly schedules = new Map<string, Schedule>();
  async upsert(s: Schedule) {
    this.schedules.set(`${s.app}/${s.database}`, s);
  }
  async remove(app: string, database: string) {
    this.schedules.delete(`${app}/${database}`);
  }
}

export class RecordingNotifier implements Notifier {
  readonly alerts: Alert[] = [];
  async notify(alert: Alert) {
    this.alerts.push(alert);
  }
}

/** A clock tests move by hand. */
export class FakeClock implements Clock {
  constructor(private current = new Date('2026-01-15T12:00:00.000Z')) {}
  now() {
    return new Date(this.current);
  }
  set(iso: string | Date) {
    this.current = new Date(iso);
  }
  advance(ms: number) {
    this.current = new Date(this.current.getTime() + ms);
  }
}
