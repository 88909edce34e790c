/** The transport-neutral request and response the router speaks; Lambda and node:http adapt to these. */
export interface ApiRequest {
  readonly method: string;
  /** Path without the query string, e.g. `/v1/apps/example-app/transfers`. */
  readonly path: string;
  readonly query: Readonly<Record<string, string | undefined>>;
  readonly body?: string;
  /** Header names in lower case. */
  readonly headers?: Readonly<Record<string, string | undefined>>;
  /** The API's own origin as the caller reached it (`https://…execute-api…`), set by the transport. */
  readonly origin?: string;
  /** Correlates the request's log lines. */
  readonly requestId?: string;
}

export interface ApiResponse {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

export function json(status: number, value: unknown): ApiResponse {
  return {
    status,
    headers: { 'content-type': 'application/json; charset=utf-8' },
    body: value === undefined ? '' : JSON.stringify(value),
  };
}
