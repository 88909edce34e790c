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
  /** The IAM principal API Gateway authenticated (`requestContext.authorizer.iam`); absent locally. */
  readonly caller?: {
    /** `arn:aws:iam::<account>:user/…`, `arn:aws:sts::<account>:assumed-role/<role>/<session>`, or `…:root`. */
    readonly arn: string;
    readonly accountId: string;
    readonly sourceIp?: string;
  };
  /** This API and stage as an execute-api resource: `arn:aws:execute-api:<region>:<account>:<api-id>/<stage>`. */
  readonly executeApiArn?: string;
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
