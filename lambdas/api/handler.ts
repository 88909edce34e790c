import { randomUUID } from 'node:crypto';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { buildAwsDeps } from '../../src/adapters/aws/aws-deps.js';
import { assertPublicUrl } from '../../src/adapters/net/url-guard.js';
import { presignedProofAccess } from '../../src/api/app-access.js';
import { createRouter } from '../../src/api/router.js';

// Built once per Lambda container; every invocation reuses the clients.
const route = createRouter(buildAwsDeps(), {
  access: presignedProofAccess(),
  checkRestoreUrl: (url) => assertPublicUrl(url),
});

export async function handler(event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> {
  const body =
    event.body && event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
  const res = await route({
    method: event.requestContext.http.method,
    path: event.rawPath,
    query: event.queryStringParameters ?? {},
    body,
    headers: event.headers,
    origin: `https://${event.requestContext.domainName}`,
    requestId: event.requestContext.requestId ?? randomUUID(),
  });
  return { statusCode: res.status, headers: res.headers, body: res.body };
}
