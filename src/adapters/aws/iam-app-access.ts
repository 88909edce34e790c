import {
  type ContextEntry,
  GetRoleCommand,
  type IAMClient,
  SimulatePrincipalPolicyCommand,
} from '@aws-sdk/client-iam';
import type { AppAccessVerifier } from '../../api/app-access.js';
import type { ApiRequest } from '../../api/http.js';
import { ForbiddenError, NotFoundError } from '../../core/errors.js';
import { errorMessage, type Logger } from '../../core/logger.js';

/** The action API Gateway checks for every route of an IAM-authorized HTTP API. */
export const INVOKE_ACTION = 'execute-api:Invoke';

/** The route whose permission stands for "may act on this app": every per-app grant (`…/v1/apps/<app>/*`) covers it. */
export function accessResourceArn(executeApiArn: string, app: string): string {
  return `${executeApiArn}/GET/v1/apps/${app}/access`;
}

type Principal =
  | { readonly kind: 'root' }
  | { readonly kind: 'user'; readonly arn: string }
  | { readonly kind: 'role'; readonly name: string };

/**
 * What a caller ARN from the IAM authorizer (`requestContext.authorizer.iam.userArn`) names. An assumed-role
 * session `arn:aws:sts::<account>:assumed-role/<role>/<session>` is checked as its role; the session ARN omits the
 * role's path, so the role's own ARN is looked up (GetRole) rather than rebuilt.
 */
export function principalOf(callerArn: string): Principal | undefined {
  const m = /^arn:[a-z-]+:(iam|sts)::\d{12}:(.+)$/.exec(callerArn);
  if (!m) return undefined;
  const [, service, resource] = m as unknown as [string, string, string];
  if (service === 'iam' && resource === 'root') return { kind: 'root' };
  if (service === 'iam' && resource.startsWith('user/')) return { kind: 'user', arn: callerArn };
  const role = /^assumed-role\/([\w+=,.@-]{1,64})\/[\w+=,.@-]{2,64}$/.exec(resource);
  if (service === 'sts' && role) return { kind: 'role', name: role[1] as string };
  // federated-user sessions and anything else: no IAM entity whose policies could be simulated.
  return undefined;
}

/**
 * Cross-app access decided by IAM for the caller of this very request: the API asks IAM
 * (`iam:SimulatePrincipalPolicy`) whether the principal API Gateway authenticated may `execute-api:Invoke`
 * `GET /v1/apps/<other-app>/access` on this API. Nothing the client sends is trusted but its signature, which API
 * Gateway already checked; there is no token to pass on or replay. See docs/architecture.md (API) for what the
 * simulation cannot see.
 */
export function iamAppAccess(opts: { readonly client: IAMClient; readonly log: Logger }): AppAccessVerifier {
  const { client, log } = opts;
  return {
    async verify(req: ApiRequest, app: string): Promise<void> {
      const denied = (why: string, cause?: unknown) =>
        new ForbiddenError(
          `Access to ${app} was not granted: ${why}. Grant execute-api:Invoke on this API's /v1/apps/${app}/* to your IAM user or role`,
          cause === undefined ? undefined : { cause },
        );
      const caller = req.caller;
      if (!caller || !req.executeApiArn) throw denied('the request carries no IAM identity');
      const apiAccount = req.executeApiArn.split(':')[4];
      // HTTP APIs have no resource policies, so a caller from another account cannot be granted this API at all.
      if (caller.accountId !== apiAccount) throw denied('the caller is not in the account of this API');
      const principal = principalOf(caller.arn);
      if (!principal) throw denied('only IAM users and roles can be checked (not federated users)');
      // The account root is not bound by identity policies in its own account, and cannot be simulated.
      if (principal.kind === 'root') return;
      const resource = accessResourceArn(req.executeApiArn, app);
      try {
        const policySourceArn =
          principal.kind === 'user'
            ? principal.arn
            : (await client.send(new GetRoleCommand({ RoleName: principal.name }))).Role?.Arn;
        if (!policySourceArn)
          throw new NotFoundError(`role ${principal.kind === 'role' ? principal.name : ''} not found`);
        const context: ContextEntry[] = [
          {
            ContextKeyName: 'aws:PrincipalArn',
            ContextKeyType: 'string',
            ContextKeyValues: [policySourceArn],
          },
          {
            ContextKeyName: 'aws:PrincipalAccount',
            ContextKeyType: 'string',
            ContextKeyValues: [caller.accountId],
          },
        ];
        if (caller.sourceIp) {
          context.push({
            ContextKeyName: 'aws:SourceIp',
            ContextKeyType: 'ip',
            ContextKeyValues: [caller.sourceIp],
          });
        }
        const res = await client.send(
          new SimulatePrincipalPolicyCommand({
            PolicySourceArn: policySourceArn,
            ActionNames: [INVOKE_ACTION],
            ResourceArns: [resource],
            ContextEntries: context,
          }),
        );
        const result = res.EvaluationResults?.[0];
        const allowed =
          result?.EvalDecision === 'allowed' &&
          result.OrganizationsDecisionDetail?.AllowedByOrganizations !== false &&
          result.PermissionsBoundaryDecisionDetail?.AllowedByPermissionsBoundary !== false;
        log.info('cross-app access checked', {
          app,
          principal: policySourceArn,
          decision: result?.EvalDecision,
        });
        if (!allowed) throw denied(`IAM answers ${result?.EvalDecision ?? 'no decision'} for ${resource}`);
      } catch (e) {
        if (e instanceof ForbiddenError) throw e;
        // Refused, not failed open: a caller IAM cannot vouch for does not reach another app.
        log.error('cross-app access check failed', { app, error: errorMessage(e) });
        throw denied('IAM could not be asked (see the API logs)', e);
      }
    },
  };
}
