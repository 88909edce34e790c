import type { Check, CheckPatch, CheckStatus } from '../../src/core/check.js';
import { ConflictError } from '../../src/core/errors.js';
import { boundLogLines } from '../../src/core/log-item.js';
import { seenFrom, type TransferMirror } from '../../src/core/mirror.js';
import type {
  Catalog,
  DatabaseAttachment,
  ListTransfersOptions,
  Schedule,
  TransferPage,
} from '../../src/core/ports.js';
import type { AppSettings } from '../../src/core/settings.js';
import type { LogLine, Transfer, TransferPatch, TransferStatus } from '../../src/core/transfer.js';
import { ACTIVE_STATUSES } from '../../src/core/transfer.js';

const key = (app: string, x: string | number) => `${app}\u0000${x}`;

/** In-memory Catalog with the same semantics as the DynamoDB adapter (conditional writes, newest-first pages). */
export class MemoryCatalog implements Catalog {
  readonly settings = new Map<string, AppSettings>();
  readonly databases = new Map<string, DatabaseAttachment>();
  readonly transfers = new Map<string, Transfer>();
  /** Mirrors of other apps' copies, numbered in the same per-app sequence as `transfers`. */
  readonly mirrors = new Map<string, TransferMirror>();
  readonly logs = new Map<string, readonly LogLine[]>();
  readonly schedules = new Map<string, Schedule>();
  private readonly counters = new Map<string, number>();
  private readonly apps = new Set<string>();

  async listApps() {
    return [...this.apps].sort();
  }

  async getSettings(app: string) {
    return this.settings.get(app);
  }
  async putSettings(s: AppSettings) {
    this.settings.set(s.app, s);
  }
  async putDatabase(db: DatabaseAttachment) {
    this.apps.add(db.app);
    this.databases.set(key(db.app, db.name), db);
  }
  async getDatabase(app: string, name: string) {
    return this.databases.get(key(app, name));
  }
  async listDatabases(app: string, opts: { includeRemoved?: boolean } = {}) {
    return [...this.databases.values()]
      .filter((d) => d.app === app && (opts.includeRemoved || !d.removedAt))
      .sort((a, b) => a.name.localeCompare(b.name));
  }
  async deleteDatabase(app: string, name: string) {
    this.databases.delete(key(app, name));
  }
  async nextTransferNum(app: string) {
    this.apps.add(app);
    const n = (this.counters.get(app) ?? 0) + 1;
    this.counters.set(app, n);
    return n;
  }
  async createTransfer(t: Transfer) {
    if (this.transfers.has(key(t.app, t.num)) || this.mirrors.has(key(t.app, t.num)))
      throw new ConflictError(`Transfer ${t.id} already exists`);
    const { logs: _logs, ...rest } = t;
    this.transfers.set(key(t.app, t.num), rest);
  }
  async createMirror(m: TransferMirror) {
    if (this.transfers.has(key(m.app, m.num)) || this.mirrors.has(key(m.app, m.num)))
      throw new ConflictError(`Transfer ${m.id} already exists`);
    this.mirrors.set(key(m.app, m.num), { ...m });
  }
  async getTransfer(app: string, num: number, opts: { logs?: boolean } = {}): Promise<Transfer | undefined> {
    const mirror = this.mirrors.get(key(app, num));
    if (mirror) {
      const primary = await this.getTransfer(mirror.mirrorOf.app, mirror.mirrorOf.num, opts);
      return primary && seenFrom(mirror, primary);
    }
    const t = this.transfers.get(key(app, num));
    if (!t) return undefined;
    return opts.logs ? { ...t, logs: this.logs.get(key(app, num)) ?? [] } : t;
  }
  async listTransfers(app: string, opts: ListTransfersOptions = {}): Promise<TransferPage> {
    const stored = [...this.transfers.values(), ...this.mirrors.values()]
      .filter((t) => t.app === app && (!opts.kind || t.kind === opts.kind))
      .sort((a, b) => b.num - a.num);
    const start = opts.cursor ? Number(opts.cursor) : 0;
    const limit = opts.limit ?? 100;
    const page = await Promise.all(
      stored.slice(start, start + limit).map((t) => this.getTransfer(app, t.num)),
    );
    return {
      // A mirror whose copy is gone is left out, as the DynamoDB adapter does.
      transfers: page.filter((t): t is Transfer => t !== undefined),
      cursor: start + limit < stored.length ? String(start + limit) : undefined,
    };
  }
  async updateTransfer(app: string, num: number, patch: TransferPatch, expect?: readonly TransferStatus[]) {
    // Mirrors live in their own map: a write to one finds no transfer, as the DynamoDB adapter's condition does.
    const t = this.transfers.get(key(app, num));
    if (!t || (expect && !expect.includes(t.status))) return undefined;
    const next = { ...t, ...patch };
    this.transfers.set(key(app, num), next);
    return next;
  }
  private readonly claimed = new Set<string>();
  async claimFinish(app: string, num: number) {
    const k = key(app, num);
    if (!this.transfers.has(k) || this.claimed.has(k)) return false;
    this.claimed.add(k);
    return true;
  }
  async putTransferLogs(app: string, num: number, logs: readonly LogLine[]) {
    this.logs.set(key(app, num), boundLogLines(logs));
  }
  async deleteTransfer(app: string, num: number) {
    this.transfers.delete(key(app, num));
    this.mirrors.delete(key(app, num));
    this.logs.delete(key(app, num));
  }
  async listActiveTransfers() {
    return [...this.transfers.values()].filter((t) => ACTIVE_STATUSES.includes(t.status));
  }
  async putSchedule(s: Schedule) {
    this.schedules.set(key(s.app, s.database), s);
  }
  async getSchedule(app: string, database: string) {
    return this.schedules.get(key(app, database));
  }
  async listSchedules(app: string) {
    return [...this.schedules.values()].filter((s) => s.app === app);
  }
  async listAllSchedules() {
    return [...this.schedules.values()];
  }
  async deleteSchedule(app: string, database: string) {
    this.schedules.delete(key(app, database));
  }
  readonly checks = new Map<string, Check>();
  async createCheck(c: Check) {
    if (this.checks.has(key(c.app, c.id))) throw new ConflictError(`Check ${c.id} already exists`);
    this.checks.set(key(c.app, c.id), c);
  }
  async getCheck(app: string, id: string) {
    return this.checks.get(key(app, id));
  }
  async updateCheck(app: string, id: string, patch: CheckPatch, expect: readonly CheckStatus[]) {
    const c = this.checks.get(key(app, id));
    if (!c || !expect.includes(c.status)) return undefined;
    const next = { ...c, ...patch };
    this.checks.set(key(app, id), next);
    return next;
  }
}
