import { RemovalPolicy } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import * as apigw from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpIamAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { openApiDocument } from '../../src/api/openapi.js';
import { acknowledgeGuard, acknowledgeLogGroup } from '../nag.js';
import type { FunctionFactory } from './app-function.js';

/** The routes of the HTTPS API v1 (docs/architecture.md, "API"). */
export const API_ROUTES: ReadonlyArray<{ readonly method: apigw.HttpMethod; readonly path: string }> =
  Object.entries(openApiDocument.paths).flatMap(([path, ops]) =>
    Object.keys(ops)
      .filter((k) => k !== 'parameters')
      .map((method) => ({ method: method.toUpperCase() as apigw.HttpMethod, path })),
  );

/**
 * The access-log line of the HTTP API: JSON, built only from the `$context` variables API Gateway documents for
 * HTTP APIs (test/infra/http-api-context-variables.ts holds that list; a REST-only variable such as
 * `$context.resourcePath` makes stage creation fail and the first deploy roll back). Caller identity is the IAM
 * principal, never a secret: SigV4 signatures are not logged.
 */
export const ACCESS_LOG_FIELDS: Readonly<Record<string, string>> = {
  requestId: '$context.requestId',
  requestTime: '$context.requestTime',
  ip: '$context.identity.sourceIp',
  caller: '$context.identity.caller',
  userArn: '$context.identity.userArn',
  httpMethod: '$context.httpMethod',
  routeKey: '$context.routeKey',
  path: '$context.path',
  protocol: '$context.protocol',
  status: '$context.status',
  responseLength: '$context.responseLength',
  responseLatency: '$context.responseLatency',
  integrationStatus: '$context.integrationStatus',
  integrationLatency: '$context.integrationLatency',
  integrationError: '$context.integrationErrorMessage',
  error: '$context.error.message',
};

/** Props of {@link Api}. */
export interface ApiProps {
  /** Builds the API function (bundled in the app, inline in tests). */
  readonly functions: FunctionFactory;
  /** Environment of the API function: resource names only. */
  readonly environment: Readonly<Record<string, string>>;
  /**
   * Steady-state requests per second across the API.
   * @default 50
   */
  readonly throttleRateLimit?: number;
  /**
   * Burst of requests across the API.
   * @default 100
   */
  readonly throttleBurstLimit?: number;
}

/**
 * The HTTPS API: an API Gateway HTTP API whose every route requires IAM (SigV4) authorization, routed to one Lambda
 * (`lambdas/api/handler.ts`). Per-app access is granted with `execute-api:Invoke` on `…/v1/apps/<app>/*`.
 */
export class Api extends Construct {
  public readonly httpApi: apigw.HttpApi;
  public readonly stage: apigw.HttpStage;
  public readonly handler: lambda.Function;
  /** Base URL of the API (ends with `/`). */
  public readonly url: string;

  constructor(scope: Construct, id: string, props: ApiProps) {
    super(scope, id);
    this.handler = props.functions(this, 'Handler', {
      entry: 'lambdas/api/handler.ts',
      description: 'pgbackups HTTPS API',
      environment: props.environment,
    });
    this.httpApi = new apigw.HttpApi(this, 'HttpApi', {
      description: 'pgbackups API v1 (IAM authorization)',
      defaultAuthorizer: new HttpIamAuthorizer(),
      // Created below, with access logs and throttling, which the default stage cannot have.
      createDefaultStage: false,
    });
    // One permission for the whole API instead of one per route (the Lambda policy has a size limit).
    const integration = new HttpLambdaIntegration('Handler', this.handler, { scopePermissionToRoute: false });
    for (const route of API_ROUTES) {
      this.httpApi.addRoutes({ path: route.path, methods: [route.method], integration });
    }
    acknowledgeGuard(this.httpApi, {
      lambda_function_public_access_prohibited_check:
        'The one invoke permission names apigateway.amazonaws.com and this API as SourceArn (test/infra checks it); the rule cannot evaluate the joined ARN',
    });
    const accessLogs = new logs.LogGroup(this, 'AccessLogs', {
      retention: logs.RetentionDays.THREE_MONTHS,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    acknowledgeLogGroup(accessLogs);
    this.stage = new apigw.HttpStage(this, 'DefaultStage', {
      httpApi: this.httpApi,
      stageName: '$default',
      autoDeploy: true,
      throttle: { rateLimit: props.throttleRateLimit ?? 50, burstLimit: props.throttleBurstLimit ?? 100 },
      accessLogSettings: {
        destination: new apigw.LogGroupLogDestination(accessLogs),
        format: AccessLogFormat.custom(JSON.stringify(ACCESS_LOG_FIELDS)),
      },
    });
    this.url = this.stage.url;
  }
}
