import {
  ConditionalCheckFailedException,
  CreateTableCommand,
  DescribeTableCommand,
  type DynamoDBClient,
  ResourceNotFoundException,
} from '@aws-sdk/client-dynamodb';
import {
  DeleteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  type QueryCommandInput,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import type { Check, CheckPatch, CheckStatus } from '../../core/check.js';
import { ConflictError, ValidationError } from '../../core/errors.js';
import { boundLogLines } from '../../core/log-item.js';
import { seenFrom, type TransferMirror } from '../../core/mirror.js';
import { collectPages, paginate } from '../../core/paginate.js';
import type {
  Catalog,
  DatabaseAttachment,
  ListTransfersOptions,
  Schedule,
  TransferPage,
} from '../../core/ports.js';
import type { AppSettings } from '../../core/settings.js';
import {
  ACTIVE_STATUSES,
  type LogLine,
  type Transfer,
  type TransferPatch,
  type TransferStatus,
} from '../../core/transfer.js';
import { CATALOG_TABLE } from './catalog-table-schema.js';

const appKey = (app: string) => `APP#${app}`;
/** The partition holding one item per app (sk = the app's name). */
const xferKey = (num: number) => `XFER#${String(num).padStart(10, '0')}`;
const xlogKey = (num: number) => `XLOG#${String(num).padStart(10, '0')}`;
const checkKey = (id: string) => `CHECK#${id}`;
// Storage bookkeeping, not part of the domain records.
const KEY_ATTRS = ['pk', 'sk', 'gsi1pk', 'gsi1sk', 'finishHandledAt'] as const;

function strip<T>(item: Record<string, unknown> | undefined): T | undefined {
  if (!item) return undefined;
  const copy = { ...item };
  for (const k of KEY_ATTRS) delete copy[k];
  return copy as T;
}

function encodeCursor(key: Record<string, unknown> | undefined): string | undefined {
  return key ? Buffer.from(JSON.stringify(key)).toString('base64url') : undefined;
}

function decodeCursor(cursor: string | undefined, app: string): Record<string, unknown> | undefined {
  if (cursor === undefined) return undefined;
  try {
    const key = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (key && key.pk === appKey(app) && typeof key.sk === 'string' && key.sk.startsWith('XFER#')) return key;
  } catch {
    // fall through to the error below
  }
  throw new ValidationError('Invalid cursor: pass the cursor returned by the previous page unchanged');
}

/** The app registry: the app's COUNTER item carries `gsi1pk = APP` (see catalog-table-schema.ts). */
const APP_INDEX = 'APP';

const activeIndex = (t: Pick<Transfer, 'createdAt' | 'app' | 'num'>) => ({
  gsi1pk: 'ACTIVE',
  gsi1sk: `${t.createdAt}#${t.app}#${t.num}`,
});

export interface DynamoDbCatalogOptions {
  readonly client: DynamoDBDocumentClient;
  readonly tableName: string;
}

/**
 * The catalog in one DynamoDB table (layout in catalog-table-schema.ts). Only single-item conditional writes —
 * no transactions, which dynalite lacks — and listing by Query, never Scan.
 */
export class DynamoDbCatalog implements Catalog {
  private readonly doc: DynamoDBDocumentClient;
  private readonly table: string;

  constructor(opts: DynamoDbCatalogOptions) {
    this.doc = opts.client;
    this.table = opts.tableName;
  }

  static fromClient(client: DynamoDBClient, tableName: string): DynamoDbCatalog {
    const doc = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
    return new DynamoDbCatalog({ client: doc, tableName });
  }

  async listApps(): Promise<string[]> {
    const items = await this.queryAll({
      TableName: this.table,
      IndexName: CATALOG_TABLE.gsi1.name,
      KeyConditionExpression: 'gsi1pk = :apps',
      ExpressionAttributeValues: { ':apps': APP_INDEX },
      ProjectionExpression: 'gsi1sk',
    });
    return items.map((i) => String(i.gsi1sk)).sort();
  }

  /** Registers the app in the app index (idempotent; the counter, if any, is untouched). */
  private async registerApp(app: string): Promise<void> {
    await this.doc.send(
      new UpdateCommand({
        TableName: this.table,
        Key: { pk: appKey(app), sk: 'COUNTER' },
        UpdateExpression: 'SET gsi1pk = :apps, gsi1sk = :app',
        ExpressionAttributeValues: { ':apps': APP_INDEX, ':app': app },
      }),
    );
  }

  async getSettings(app: string): Promise<AppSettings | undefined> {
    const res = await this.doc.send(
      new GetCommand({ TableName: this.table, Key: { pk: appKey(app), sk: 'SETTINGS' } }),
    );
    return strip<AppSettings>(res.Item);
  }

  async putSettings(s: AppSettings): Promise<void> {
    await this.doc.send(
      new PutCommand({ TableName: this.table, Item: { ...s, pk: appKey(s.app), sk: 'SETTINGS' } }),
    );
  }

  async putDatabase(db: DatabaseAttachment): Promise<void> {
    // Two independent items, written together: attaching costs no extra round trip.
    await Promise.all([
      this.registerApp(db.app),
      this.doc.send(
        new PutCommand({ TableName: this.table, Item: { ...db, pk: appKey(db.app), sk: `DB#${db.name}` } }),
      ),
    ]);
  }

  async getDatabase(app: string, name: string): Promise<DatabaseAttachment | undefined> {
    const res = await this.doc.send(
      new GetCommand({ TableName: this.table, Key: { pk: appKey(app), sk: `DB#${name}` } }),
    );
    return strip<DatabaseAttachment>(res.Item);
  }

  async listDatabases(app: string, opts: { includeRemoved?: boolean } = {}): Promise<DatabaseAttachment[]> {
    const items = await this.queryAll({
      TableName: this.table,
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
      ExpressionAttributeValues: { ':pk': appKey(app), ':prefix': 'DB#' },
    });
    return items
      .map((i) => strip<DatabaseAttachment>(i) as DatabaseAttachment)
      .filter((d) => opts.includeRemoved || !d.removedAt);
  }

  async deleteDatabase(app: string, name: string): Promise<void> {
    await this.doc.send(
      new DeleteCommand({ TableName: this.table, Key: { pk: appKey(app), sk: `DB#${name}` } }),
    );
  }

  async nextTransferNum(app: string): Promise<number> {
    const res = await this.doc.send(
      new UpdateCommand({
        TableName: this.table,
        Key: { pk: appKey(app), sk: 'COUNTER' },
        // The same write registers the app in the app index (listApps).
        UpdateExpression: 'ADD transferCount :one SET gsi1pk = :apps, gsi1sk = :app',
        ExpressionAttributeValues: { ':one': 1, ':apps': APP_INDEX, ':app': app },
        ReturnValues: 'UPDATED_NEW',
      }),
    );
    const num = Number(res.Attributes?.transferCount);
    return num;
  }

  async createTransfer(t: Transfer): Promise<void> {
    const { logs: _logs, ...rest } = t;
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.table,
          Item: {
            ...rest,
            pk: appKey(t.app),
            sk: xferKey(t.num),
            ...(ACTIVE_STATUSES.includes(t.status) ? activeIndex(t) : {}),
          },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
    } catch (e) {
      if (e instanceof ConditionalCheckFailedException)
        throw new ConflictError(`Transfer ${t.id} already exists`, { cause: e });
      throw e;
    }
  }

  async createMirror(m: TransferMirror): Promise<void> {
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.table,
          // No gsi1 attributes: a mirror is never in the active index (the watchdog watches the copy itself).
          Item: { ...m, pk: appKey(m.app), sk: xferKey(m.num) },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
    } catch (e) {
      if (e instanceof ConditionalCheckFailedException)
        throw new ConflictError(`Transfer ${m.id} already exists`);
      throw e;
    }
  }

  async getTransfer(app: string, num: number, opts: { logs?: boolean } = {}): Promise<Transfer | undefined> {
    const [res, logs] = await Promise.all([
      this.doc.send(new GetCommand({ TableName: this.table, Key: { pk: appKey(app), sk: xferKey(num) } })),
      opts.logs
        ? this.doc.send(new GetCommand({ TableName: this.table, Key: { pk: appKey(app), sk: xlogKey(num) } }))
        : undefined,
    ]);
    if (res.Item?.mirrorOf) return this.resolveMirror(res.Item, opts);
    const t = strip<Transfer>(res.Item);
    if (!t) return undefined;
    return opts.logs ? { ...t, logs: (logs?.Item?.logs as LogLine[] | undefined) ?? [] } : t;
  }

  /** A mirror item as its primary seen from the mirror's app; undefined once the primary is gone. */
  private async resolveMirror(
    item: Record<string, unknown>,
    opts: { logs?: boolean } = {},
  ): Promise<Transfer | undefined> {
    const mirror = strip<TransferMirror>(item) as TransferMirror;
    const primary = await this.getTransfer(mirror.mirrorOf.app, mirror.mirrorOf.num, opts);
    return primary && seenFrom(mirror, primary);
  }

  async listTransfers(app: string, opts: ListTransfersOptions = {}): Promise<TransferPage> {
    const limit = opts.limit ?? 100;
    const transfers: Transfer[] = [];
    let start = decodeCursor(opts.cursor, app);
    // A kind filter is applied after DynamoDB's Limit, so keep reading until the page is full or the app ends.
    const pages = paginate(async (from: Record<string, unknown> | undefined) => {
      const res = await this.doc.send(
        new QueryCommand({
          TableName: this.table,
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
          ExpressionAttributeValues: {
            ':pk': appKey(app),
            ':prefix': 'XFER#',
            ...(opts.kind ? { ':kind': opts.kind } : {}),
          },
          ...(opts.kind
            ? { FilterExpression: '#kind = :kind', ExpressionAttributeNames: { '#kind': 'kind' } }
            : {}),
          ScanIndexForward: false,
          Limit: limit - transfers.length,
          ExclusiveStartKey: from,
        }),
      );
      return { items: res.Items ?? [], next: res.LastEvaluatedKey };
    }, start);
    for await (const page of pages) {
      const items = await Promise.all(
        page.items.map((item) =>
          item.mirrorOf ? this.resolveMirror(item) : (strip<Transfer>(item) as Transfer),
        ),
      );
      for (const t of items) if (t) transfers.push(t);
      start = page.next ?? undefined;
      if (transfers.length >= limit) break;
    }
    return { transfers, cursor: encodeCursor(start) };
  }

  async updateTransfer(
    app: string,
    num: number,
    patch: TransferPatch,
    expectStatus?: readonly TransferStatus[],
  ): Promise<Transfer | undefined> {
    const names: Record<string, string> = {};
    const values: Record<string, unknown> = {};
    const sets: string[] = [];
    const removes: string[] = [];
    Object.entries(patch).forEach(([k, v], i) => {
      if (v === undefined) return;
      names[`#f${i}`] = k;
      values[`:v${i}`] = v;
      sets.push(`#f${i} = :v${i}`);
    });
    if (patch.status && !ACTIVE_STATUSES.includes(patch.status)) removes.push('gsi1pk', 'gsi1sk');
    // Never a mirror: a copy's state is written on the copy only (src/core/mirror.ts).
    const conditions = ['attribute_exists(pk)', 'attribute_not_exists(mirrorOf)'];
    if (expectStatus?.length) {
      names['#status'] = 'status';
      conditions.push(`#status IN (${expectStatus.map((_, i) => `:s${i}`).join(', ')})`);
      expectStatus.forEach((s, i) => {
        values[`:s${i}`] = s;
      });
    }
    if (sets.length === 0 && removes.length === 0) return this.getTransfer(app, num);
    try {
      const res = await this.doc.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { pk: appKey(app), sk: xferKey(num) },
          UpdateExpression: [
            sets.length ? `SET ${sets.join(', ')}` : '',
            removes.length ? `REMOVE ${removes.join(', ')}` : '',
          ]
            .filter(Boolean)
            .join(' '),
          ConditionExpression: conditions.join(' AND '),
          ExpressionAttributeNames: Object.keys(names).length ? names : undefined,
          ExpressionAttributeValues: Object.keys(values).length ? values : undefined,
          ReturnValues: 'ALL_NEW',
        }),
      );
      return strip<Transfer>(res.Attributes);
    } catch (e) {
      if (e instanceof ConditionalCheckFailedException) return undefined;
      throw e;
    }
  }

  async claimFinish(app: string, num: number): Promise<boolean> {
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { pk: appKey(app), sk: xferKey(num) },
          UpdateExpression: 'SET finishHandledAt = :now',
          ConditionExpression:
            'attribute_exists(pk) AND attribute_not_exists(finishHandledAt) AND attribute_not_exists(mirrorOf)',
          ExpressionAttributeValues: { ':now': new Date().toISOString() },
        }),
      );
      return true;
    } catch (e) {
      if (e instanceof ConditionalCheckFailedException) return false;
      throw e;
    }
  }

  async putTransferLogs(app: string, num: number, logs: readonly LogLine[]): Promise<void> {
    await this.doc.send(
      new PutCommand({
        TableName: this.table,
        // Bounded in bytes: a put over DynamoDB's 400 KB item limit would fail and lose the whole log.
        Item: { pk: appKey(app), sk: xlogKey(num), logs: boundLogLines(logs) },
      }),
    );
  }

  async deleteTransfer(app: string, num: number): Promise<void> {
    await this.doc.send(
      new DeleteCommand({ TableName: this.table, Key: { pk: appKey(app), sk: xlogKey(num) } }),
    );
    await this.doc.send(
      new DeleteCommand({ TableName: this.table, Key: { pk: appKey(app), sk: xferKey(num) } }),
    );
  }

  async listActiveTransfers(): Promise<Transfer[]> {
    const items = await this.queryAll({
      TableName: this.table,
      IndexName: CATALOG_TABLE.gsi1.name,
      KeyConditionExpression: 'gsi1pk = :active',
      ExpressionAttributeValues: { ':active': 'ACTIVE' },
    });
    return items.map((i) => strip<Transfer>(i) as Transfer);
  }

  async putSchedule(s: Schedule): Promise<void> {
    await this.doc.send(
      new PutCommand({
        TableName: this.table,
        Item: {
          ...s,
          pk: appKey(s.app),
          sk: `SCHED#${s.database}`,
          gsi1pk: 'SCHEDULE',
          gsi1sk: `${s.app}#${s.database}`,
        },
      }),
    );
  }

  async getSchedule(app: string, database: string): Promise<Schedule | undefined> {
    const res = await this.doc.send(
      new GetCommand({ TableName: this.table, Key: { pk: appKey(app), sk: `SCHED#${database}` } }),
    );
    return strip<Schedule>(res.Item);
  }

  async listSchedules(app: string): Promise<Schedule[]> {
    const items = await this.queryAll({
      TableName: this.table,
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
      ExpressionAttributeValues: { ':pk': appKey(app), ':prefix': 'SCHED#' },
    });
    return items.map((i) => strip<Schedule>(i) as Schedule);
  }

  async listAllSchedules(): Promise<Schedule[]> {
    const items = await this.queryAll({
      TableName: this.table,
      IndexName: CATALOG_TABLE.gsi1.name,
      KeyConditionExpression: 'gsi1pk = :s',
      ExpressionAttributeValues: { ':s': 'SCHEDULE' },
    });
    return items.map((i) => strip<Schedule>(i) as Schedule);
  }

  async deleteSchedule(app: string, database: string): Promise<void> {
    await this.doc.send(
      new DeleteCommand({ TableName: this.table, Key: { pk: appKey(app), sk: `SCHED#${database}` } }),
    );
  }

  async createCheck(c: Check): Promise<void> {
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.table,
          Item: { ...c, pk: appKey(c.app), sk: checkKey(c.id) },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
    } catch (e) {
      if (e instanceof ConditionalCheckFailedException)
        throw new ConflictError(`Check ${c.id} already exists`);
      throw e;
    }
  }

  async getCheck(app: string, id: string): Promise<Check | undefined> {
    const res = await this.doc.send(
      new GetCommand({ TableName: this.table, Key: { pk: appKey(app), sk: checkKey(id) } }),
    );
    return strip<Check>(res.Item);
  }

  async updateCheck(
    app: string,
    id: string,
    patch: CheckPatch,
    expectStatus: readonly CheckStatus[],
  ): Promise<Check | undefined> {
    const names: Record<string, string> = { '#status': 'status' };
    const values: Record<string, unknown> = {};
    const sets: string[] = [];
    Object.entries(patch).forEach(([k, v], i) => {
      if (v === undefined) return;
      names[`#f${i}`] = k;
      values[`:v${i}`] = v;
      sets.push(`#f${i} = :v${i}`);
    });
    expectStatus.forEach((s, i) => {
      values[`:s${i}`] = s;
    });
    if (sets.length === 0) return this.getCheck(app, id);
    try {
      const res = await this.doc.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { pk: appKey(app), sk: checkKey(id) },
          UpdateExpression: `SET ${sets.join(', ')}`,
          ConditionExpression: `attribute_exists(pk) AND #status IN (${expectStatus.map((_, i) => `:s${i}`).join(', ')})`,
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
          ReturnValues: 'ALL_NEW',
        }),
      );
      return strip<Check>(res.Attributes);
    } catch (e) {
      if (e instanceof ConditionalCheckFailedException) return undefined;
      throw e;
    }
  }

  private async queryAll(input: QueryCommandInput): Promise<Record<string, unknown>[]> {
    return collectPages(
      paginate(async (start: Record<string, unknown> | undefined) => {
        const res = await this.doc.send(new QueryCommand({ ...input, ExclusiveStartKey: start }));
        return { items: res.Items ?? [], next: res.LastEvaluatedKey };
      }),
    );
  }
}

/** Creates the catalog table if it does not exist (local stack and tests; CDK creates it in AWS). */
export async function ensureCatalogTable(client: DynamoDBClient, tableName: string): Promise<void> {
  try {
    await client.send(new DescribeTableCommand({ TableName: tableName }));
    return;
  } catch (e) {
    if (!(e instanceof ResourceNotFoundException)) throw e;
  }
  const { partitionKey, sortKey, gsi1 } = CATALOG_TABLE;
  await client.send(
    new CreateTableCommand({
      TableName: tableName,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [partitionKey, sortKey, gsi1.partitionKey, gsi1.sortKey].map((name) => ({
        AttributeName: name,
        AttributeType: 'S',
      })),
      KeySchema: [
        { AttributeName: partitionKey, KeyType: 'HASH' },
        { AttributeName: sortKey, KeyType: 'RANGE' },
      ],
      GlobalSecondaryIndexes: [
        {
          IndexName: gsi1.name,
          KeySchema: [
            { AttributeName: gsi1.partitionKey, KeyType: 'HASH' },
            { AttributeName: gsi1.sortKey, KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'ALL' },
        },
      ],
    }),
  );
  for (let i = 0; i < 100; i++) {
    const res = await client.send(new DescribeTableCommand({ TableName: tableName }));
    if (res.Table?.TableStatus === 'ACTIVE') return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`Table ${tableName} did not become ACTIVE`);
}
