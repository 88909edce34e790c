/**
 * The HTTP client of the pgbackups API. One place builds every request, so headers (SigV4 signatures) are added
 * in `request` and nowhere else. A request that names a second app needs nothing more: the API checks the caller's
 * right to that app itself, through IAM (src/adapters/aws/iam-app-access.ts).
 */
import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';
import { ApiError, CliError, UsageError } from './errors.js';

export type FetchFn = (url: string, init: RequestInit) => Promise<Response>;

/** Computes extra headers for a request about to be sent (signing happens after, so they are signed too). */
export type HeaderHook = (req: {
  method: string;
  url: URL;
  body: string | undefined;
}) => Record<string, string> | Promise<Record<string, string>>;

/** Signs a request: returns the headers to send. */
export type Signer = (req: {
  method: string;
  url: URL;
  headers: Record<string, string>;
  body: string | undefined;
}) => Promise<Record<string, string>>;

export interface ApiClientOptions {
  readonly baseUrl: string;
  readonly fetch: FetchFn;
  readonly signer?: Signer;
  readonly headers?: HeaderHook;
  readonly userAgent?: string;
}

export interface RequestOptions {
  readonly query?: Readonly<Record<string, string | number | boolean | undefined>>;
  readonly body?: unknown;
}

export class ApiClient {
  private readonly base: string;

  constructor(private readonly opts: ApiClientOptions) {
    this.base = opts.baseUrl.replace(/\/+$/, '');
  }

  get baseUrl(): string {
    return this.base;
  }

  async get<T>(path: string, query?: RequestOptions['query']): Promise<T> {
    return this.request<T>('GET', path, { query });
  }

  async post<T>(path: string, body?: unknown): Promise<T> {
    return this.request<T>('POST', path, { body: body ?? {} });
  }

  async put<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>('PUT', path, { body });
  }

  async delete(path: string): Promise<void> {
    await this.request<unknown>('DELETE', path);
  }

  /** Sends one request and returns the parsed JSON (undefined for an empty body); throws ApiError on 4xx/5xx. */
  async request<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    const url = new URL(this.base + path);
    for (const [k, v] of Object.entries(opts.query ?? {})) {
      if (v !== undefined) url.searchParams.set(k, String(v));
    }
    const body = opts.body === undefined ? undefined : JSON.stringify(opts.body);
    let headers: Record<string, string> = {
      accept: 'application/json',
      'user-agent': this.opts.userAgent ?? 'pgbackups-cli',
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...(this.opts.headers ? await this.opts.headers({ method, url, body }) : {}),
    };
    if (this.opts.signer) headers = await this.opts.signer({ method, url, headers, body });

    let res: Response;
    try {
      res = await this.opts.fetch(url.toString(), { method, headers, body });
    } catch (e) {
      const cause = (e as { cause?: { code?: string; message?: string } }).cause;
      const why = cause?.code ?? cause?.message ?? (e as Error).message;
      throw new CliError(
        `Could not reach the pgbackups API at ${this.base} (${why}). Check PGBACKUPS_API_URL and that the API is running.`,
      );
    }
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    if (res.ok) return parsed as T;
    throw toApiError(res.status, parsed, text);
  }
}

function toApiError(status: number, parsed: unknown, text: string): ApiError {
  const body = (parsed ?? {}) as { error?: { code?: string; message?: string }; message?: string };
  if (body.error?.message) return new ApiError(status, body.error.code ?? 'error', body.error.message);
  // API Gateway answers IAM failures itself, as {"message": "..."}.
  if (status === 403 || status === 401) {
    return new ApiError(
      status,
      'forbidden',
      `The API refused the request (HTTP ${status}${body.message ? `: ${body.message}` : ''}). Check your AWS credentials (AWS_PROFILE, AWS_REGION) and that your IAM identity may call this app's API paths.`,
    );
  }
  const detail = body.message ?? text.slice(0, 200).trim();
  return new ApiError(status, 'http', `The API answered HTTP ${status}${detail ? `: ${detail}` : ''}`);
}

/** Loopback hosts are the local stack: never signed. */
export function isLoopback(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127(\.\d{1,3}){3}$/.test(h);
}

/** Only an https URL to a non-loopback host is an AWS API whose requests need SigV4. */
export function needsSigning(url: URL): boolean {
  return url.protocol === 'https:' && !isLoopback(url.hostname);
}

/** `abc123.execute-api.eu-west-1.amazonaws.com` → `eu-west-1`; else AWS_REGION / AWS_DEFAULT_REGION. */
export function regionFor(url: URL, env: Readonly<Record<string, string | undefined>>): string {
  const m = /\.execute-api\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?$/.exec(url.hostname);
  const region = m?.[1] ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
  if (!region) {
    throw new UsageError(
      `Cannot tell the AWS region of ${url.host}: set AWS_REGION (the region the pgbackups stack is deployed in)`,
    );
  }
  return region;
}

type SourceData = string | ArrayBuffer | ArrayBufferView;

const toBuffer = (d: SourceData): Buffer =>
  typeof d === 'string'
    ? Buffer.from(d, 'utf8')
    : ArrayBuffer.isView(d)
      ? Buffer.from(d.buffer, d.byteOffset, d.byteLength)
      : Buffer.from(d);

/** SHA-256 (or HMAC-SHA-256 with a secret) on node:crypto, in the shape @smithy/signature-v4 expects. */
export class Sha256 {
  private hash: Hash | Hmac;

  constructor(private readonly secret?: SourceData) {
    this.hash = this.fresh();
  }

  update(data: SourceData): void {
    this.hash.update(toBuffer(data));
  }

  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }

  reset(): void {
    this.hash = this.fresh();
  }

  private fresh(): Hash | Hmac {
    return this.secret === undefined ? createHash('sha256') : createHmac('sha256', toBuffer(this.secret));
  }
}

/**
 * SigV4 for API Gateway (`execute-api`) with credentials from the default AWS chain. The AWS modules are loaded
 * only here, so commands against the local stack start fast.
 */
export async function awsSigning(
  region: string,
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string },
): Promise<{ signer: Signer }> {
  const [{ SignatureV4 }, { defaultProvider }] = await Promise.all([
    import('@smithy/signature-v4'),
    import('@aws-sdk/credential-provider-node'),
  ]);
  const sigv4 = new SignatureV4({
    service: 'execute-api',
    region,
    credentials: credentials ?? defaultProvider(),
    sha256: Sha256,
  });
  const toRequest = (method: string, url: URL, headers: Record<string, string>, body?: string) => {
    const query: Record<string, string> = {};
    for (const [k, v] of url.searchParams) query[k] = v;
    return {
      method,
      protocol: url.protocol,
      hostname: url.hostname,
      port: url.port ? Number(url.port) : undefined,
      path: url.pathname,
      query,
      headers: { ...headers, host: url.host },
      body,
    };
  };
  const failed = (e: unknown) =>
    new CliError(
      `Could not sign the request with AWS credentials: ${(e as Error).message}. Configure credentials (aws configure, AWS_PROFILE or AWS_ACCESS_KEY_ID).`,
    );
  const signer: Signer = async ({ method, url, headers, body }) => {
    let signed: { headers: Record<string, string> };
    try {
      signed = await sigv4.sign(toRequest(method, url, headers, body));
    } catch (e) {
      throw failed(e);
    }
    // fetch sets Host itself and refuses to be told.
    const { host: _host, ...rest } = signed.headers;
    return rest;
  };
  return { signer };
}

/** Path of an app resource with every segment escaped. */
export function appPath(app: string, ...segments: string[]): string {
  return ['/v1/apps', app, ...segments].map((s, i) => (i === 0 ? s : encodeURIComponent(s))).join('/');
}
