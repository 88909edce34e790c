/**
 * The `$context` variables API Gateway documents for HTTP API access logs ("Customize HTTP API access logs",
 * docs.aws.amazon.com/apigateway/latest/developerguide/http-api-logging-variables.html). REST APIs have more
 * (`$context.resourcePath`, `$context.resourceId`, `$context.xrayTraceId`, …); an HTTP API stage whose format uses
 * one of those is rejected ("The following context variables are not supported"). Entries ending in `.*` stand for
 * the documented `{property}` families.
 */
export const HTTP_API_CONTEXT_VARIABLES: readonly string[] = [
  'accountId',
  'apiId',
  'authorizer.claims.*',
  'authorizer.error',
  'authorizer.latency',
  'authorizer.principalId',
  'authorizer.status',
  'authorizer.*',
  'awsEndpointRequestId',
  'awsEndpointRequestId2',
  'customDomain.basePathMatched',
  'dataProcessed',
  'domainName',
  'domainPrefix',
  'error.message',
  'error.messageString',
  'error.responseType',
  'extendedRequestId',
  'httpMethod',
  'identity.accountId',
  'identity.caller',
  'identity.cognitoAuthenticationProvider',
  'identity.cognitoAuthenticationType',
  'identity.cognitoIdentityId',
  'identity.cognitoIdentityPoolId',
  'identity.principalOrgId',
  'identity.clientCert.clientCertPem',
  'identity.clientCert.subjectDN',
  'identity.clientCert.issuerDN',
  'identity.clientCert.serialNumber',
  'identity.clientCert.validity.notBefore',
  'identity.clientCert.validity.notAfter',
  'identity.sourceIp',
  'identity.user',
  'identity.userAgent',
  'identity.userArn',
  'integration.error',
  'integration.integrationStatus',
  'integration.latency',
  'integration.requestId',
  'integration.status',
  'integrationErrorMessage',
  'integrationLatency',
  'integrationStatus',
  'path',
  'protocol',
  'requestId',
  'requestTime',
  'requestTimeEpoch',
  'responseLatency',
  'responseLength',
  'routeKey',
  'stage',
  'status',
];

/** Whether `name` (without `$context.`) is a documented HTTP API variable. */
export function isHttpApiContextVariable(name: string): boolean {
  return HTTP_API_CONTEXT_VARIABLES.some((v) =>
    v.endsWith('.*') ? name.startsWith(v.slice(0, -1)) && name.length > v.length - 1 : v === name,
  );
}
