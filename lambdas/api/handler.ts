import { randomUUID } from 'node:crypto';
import { IAMClient } from '@aws-sdk/client-iam';
import type { APIGatewayProxyEventV2WithIAMAuthorizer, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { awsDepsFrom } from '../../src/adapters/aws/aws-deps.js';
import { iamAppAccess } from '../../src/adapters/aws/iam-app-access.js';
import { assertPublicUrl } from '../../src/adapters/net/url-guard.js';
import { createRouter } from '../../src/api/router.js';
import { parseAwsFunctionEnv } from '../../src/config/function-env.js';

// Built once per Lambda container; every invocation reuses the clients.
const config = parseAwsFunctionEnv(process.env);
const deps = awsDepsFrom(config);
const route = createRouter(deps, {
  // IAM is a global service: its client needs no particular region.
  access: iamAppAccess({ client: new IAMClient({ region: config.AWS_REGION }), log: deps.log }),
  checkRestoreUrl: (url) => assertPublicUrl(url),
});

export async function handler(
  event: APIGatewayProxyEventV2WithIAMAuthorizer,
): Promise<APIGatewayProxyStructuredResultV2> {
  const body =
    event.body && event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
  const ctx = event.requestContext;
  const iam = ctx.authorizer?.iam;
  const partition = iam?.userArn?.split(':')[1] ?? 'aws';
  const res = await route({
    method: ctx.http.method,
    path: event.rawPath,
    query: event.queryStringParameters ?? {},
    body,
    headers: event.headers,
    origin: `https://${ctx.domainName}`,
    caller: iam?.userArn
      ? { arn: iam.userArn, accountId: iam.accountId, sourceIp: ctx.http.sourceIp }
      : undefined,
    executeApiArn: `arn:${partition}:execute-api:${config.AWS_REGION}:${ctx.accountId}:${ctx.apiId}/${ctx.stage}`,
    requestId: ctx.requestId ?? randomUUID(),
  });
  return { statusCode: res.status, headers: res.headers, body: res.body };
}
