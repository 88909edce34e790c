/**
 * Cross-app access in AWS (src/adapters/aws/iam-app-access.ts): IAM is asked, for the caller of this very request,
 * whether it may invoke the other app's access route — the exact IAM calls, with aws-sdk-client-mock.
 */
import {
  GetRoleCommand,
  IAMClient,
  NoSuchEntityException,
  SimulatePrincipalPolicyCommand,
} from '@aws-sdk/client-iam';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { iamAppAccess, principalOf } from '../../../src/adapters/aws/iam-app-access.js';
import { localAccess } from '../../../src/api/app-access.js';
import type { ApiRequest } from '../../../src/api/http.js';
import { createRouter } from '../../../src/api/router.js';
import { silentLogger } from '../../../src/core/logger.js';
import { attachDatabase } from '../../../src/core/use-cases/databases.js';
import { fakeDeps } from '../../fakes/index.js';

const iam = mockClient(IAMClient);
const ACCOUNT = '111122223333';
const EXECUTE_API = `arn:aws:execute-api:eu-west-1:${ACCOUNT}:abc123/$default`;
const OTHER_ACCESS = `${EXECUTE_API}/GET/v1/apps/other-app/access`;
const ROLE_ARN = `arn:aws:iam::${ACCOUNT}:role/teams/example-deployer`;
const SESSION_ARN = `arn:aws:sts::${ACCOUNT}:assumed-role/example-deployer/ci-1234`;
const USER_ARN = `arn:aws:iam::${ACCOUNT}:user/alice`;

const verifier = iamAppAccess({ client: new IAMClient({ region: 'eu-west-1' }), log: silentLogger });

function request(callerArn?: string, accountId = ACCOUNT): ApiRequest {
  return {
    method: 'POST',
    path: '/v1/apps/example-app/restores',
    query: {},
    executeApiArn: EXECUTE_API,
    caller: callerArn ? { arn: callerArn, accountId, sourceIp: '198.51.100.7' } : undefined,
  };
}

const decide = (EvalDecision: 'allowed' | 'implicitDeny' | 'explicitDeny', extra = {}) => ({
  EvaluationResults: [
    { EvalActionName: 'execute-api:Invoke', EvalResourceName: OTHER_ACCESS, EvalDecision, ...extra },
  ],
});

beforeEach(() => iam.reset());

describe('iamAppAccess', () => {
  it('checks an assumed-role caller as its role (path included, via GetRole) for the other app only', async () => {
    iam.on(GetRoleCommand).resolves({
      Role: {
        RoleName: 'example-deployer',
        Arn: ROLE_ARN,
        Path: '/teams/',
        RoleId: 'AROAEXAMPLE',
        CreateDate: new Date(0),
      },
    });
    iam.on(SimulatePrincipalPolicyCommand).resolves(decide('allowed'));
    await expect(verifier.verify(request(SESSION_ARN), 'other-app')).resolves.toBeUndefined();
    expect(iam.commandCalls(GetRoleCommand).map((c) => c.args[0].input)).toEqual([
      { RoleName: 'example-deployer' },
    ]);
    expect(iam.commandCalls(SimulatePrincipalPolicyCommand).map((c) => c.args[0].input)).toEqual([
      {
        PolicySourceArn: ROLE_ARN,
        ActionNames: ['execute-api:Invoke'],
        ResourceArns: [OTHER_ACCESS],
        ContextEntries: [
          { ContextKeyName: 'aws:PrincipalArn', ContextKeyType: 'string', ContextKeyValues: [ROLE_ARN] },
          { ContextKeyName: 'aws:PrincipalAccount', ContextKeyType: 'string', ContextKeyValues: [ACCOUNT] },
          { ContextKeyName: 'aws:SourceIp', ContextKeyType: 'ip', ContextKeyValues: ['198.51.100.7'] },
        ],
      },
    ]);
  });

  it('checks an IAM user as itself, without GetRole', async () => {
    iam.on(SimulatePrincipalPolicyCommand).resolves(decide('allowed'));
    await verifier.verify(request(USER_ARN), 'other-app');
    expect(iam.commandCalls(GetRoleCommand)).toHaveLength(0);
    expect(iam.commandCalls(SimulatePrincipalPolicyCommand)[0]?.args[0].input.PolicySourceArn).toBe(USER_ARN);
  });

  it.each([
    ['an implicit deny', decide('implicitDeny'), /IAM answers implicitDeny/],
    ['an explicit deny', decide('explicitDeny'), /IAM answers explicitDeny/],
    [
      'an SCP that denies',
      decide('allowed', { OrganizationsDecisionDetail: { AllowedByOrganizations: false } }),
      /not granted/,
    ],
    [
      'a permissions boundary that denies',
      decide('allowed', { PermissionsBoundaryDecisionDetail: { AllowedByPermissionsBoundary: false } }),
      /not granted/,
    ],
    ['no result', { EvaluationResults: [] }, /no decision/],
  ])('refuses on %s (403)', async (_what, answer, message) => {
    iam.on(SimulatePrincipalPolicyCommand).resolves(answer);
    await expect(verifier.verify(request(USER_ARN), 'other-app')).rejects.toMatchObject({
      code: 'forbidden',
      message: expect.stringMatching(message),
    });
  });

  it('refuses, not fails open, when IAM cannot be asked', async () => {
    iam.on(GetRoleCommand).rejects(new NoSuchEntityException({ message: 'no such role', $metadata: {} }));
    await expect(verifier.verify(request(SESSION_ARN), 'other-app')).rejects.toThrow(
      /IAM could not be asked/,
    );
    iam.reset();
    iam.on(SimulatePrincipalPolicyCommand).rejects(new Error('AccessDenied'));
    await expect(verifier.verify(request(USER_ARN), 'other-app')).rejects.toThrow(/IAM could not be asked/);
  });

  it.each([
    ['no IAM identity', request(), /no IAM identity/],
    [
      'a caller from another account',
      request(`arn:aws:iam::444455556666:user/mallory`, '444455556666'),
      /another|not in the account/,
    ],
    ['a federated user', request(`arn:aws:sts::${ACCOUNT}:federated-user/bob`), /only IAM users and roles/],
  ])('refuses %s without asking IAM', async (_what, req, message) => {
    await expect(verifier.verify(req, 'other-app')).rejects.toThrow(message);
    expect(iam.calls()).toHaveLength(0);
  });

  it("lets the API account's root through without a simulation (identity policies do not bind it)", async () => {
    await expect(
      verifier.verify(request(`arn:aws:iam::${ACCOUNT}:root`), 'other-app'),
    ).resolves.toBeUndefined();
    expect(iam.calls()).toHaveLength(0);
  });
});

describe('principalOf', () => {
  it.each([
    [USER_ARN, { kind: 'user', arn: USER_ARN }],
    [
      `arn:aws:iam::${ACCOUNT}:user/division/bob`,
      { kind: 'user', arn: `arn:aws:iam::${ACCOUNT}:user/division/bob` },
    ],
    [SESSION_ARN, { kind: 'role', name: 'example-deployer' }],
    [`arn:aws-cn:sts::${ACCOUNT}:assumed-role/r/s1`, { kind: 'role', name: 'r' }],
    [`arn:aws:iam::${ACCOUNT}:root`, { kind: 'root' }],
    [`arn:aws:sts::${ACCOUNT}:federated-user/bob`, undefined],
    [`arn:aws:iam::${ACCOUNT}:role/x`, undefined],
    ['not an arn', undefined],
  ])('%s', (arn, principal) => {
    expect(principalOf(arn)).toEqual(principal);
  });
});

describe('router cross-app checks', () => {
  const body = (b: unknown) => JSON.stringify(b);

  it('answers 403 before any work when IAM refuses the other app', async () => {
    iam.on(SimulatePrincipalPolicyCommand).resolves(decide('implicitDeny'));
    const deps = fakeDeps();
    const route = createRouter(deps, { access: verifier, checkRestoreUrl: async () => {} });
    const res = await route({ ...request(USER_ARN), body: body({ backup: 'other-app::b001' }) });
    expect(res.status).toBe(403);
    const copy = await route({
      ...request(USER_ARN),
      path: '/v1/apps/example-app/copies',
      body: body({ from: 'other-app::DATABASE', to: 'DATABASE' }),
    });
    expect(copy.status).toBe(403);
    expect(deps.runner.started).toEqual([]);
    // Nothing is recorded on the app that was refused: no copy there, and no mirror of one.
    expect(deps.catalog.mirrors.size).toBe(0);
    // The old presigned-proof header proves nothing now.
    const proof = await route({
      ...request(USER_ARN),
      headers: {
        'x-pgbackups-access-proof': `https://abc123.execute-api.eu-west-1.amazonaws.com/v1/apps/other-app/access?X-Amz-Signature=1`,
      },
      body: body({ backup: 'other-app::b001' }),
    });
    expect(proof.status).toBe(403);
  });

  it('lists a copy into another app there once IAM allowed it, without asking IAM again to read it there', async () => {
    iam.on(SimulatePrincipalPolicyCommand).resolves(decide('allowed'));
    const deps = fakeDeps();
    await attachDatabase(deps, { app: 'example-app', name: 'DATABASE', url: 'postgres://u:p@main/db' });
    await attachDatabase(deps, { app: 'other-app', name: 'DATABASE', url: 'postgres://u:p@other/db' });
    const route = createRouter(deps, { access: verifier, checkRestoreUrl: async () => {} });
    const copy = await route({
      ...request(USER_ARN),
      path: '/v1/apps/example-app/copies',
      body: body({ from: 'DATABASE', to: 'other-app::DATABASE' }),
    });
    expect(copy.status).toBe(202);
    expect(iam.commandCalls(SimulatePrincipalPolicyCommand)).toHaveLength(1);
    // API Gateway's IAM authorizer vouches for other-app's own path; the API asks nothing more.
    const list = await route({ ...request(USER_ARN), method: 'GET', path: '/v1/apps/other-app/transfers' });
    expect(JSON.parse(list.body).transfers[1]).toMatchObject({
      id: 'c001',
      kind: 'copy',
      mirrorOf: { app: 'example-app', id: 'c001' },
    });
    expect(iam.commandCalls(SimulatePrincipalPolicyCommand)).toHaveLength(1);
  });

  it('does not ask IAM when only the own app is named', async () => {
    const deps = fakeDeps();
    const route = createRouter(deps, { access: verifier, checkRestoreUrl: async () => {} });
    const res = await route({ ...request(USER_ARN), body: body({ backup: 'example-app::b001' }) });
    // Past the access check: the backup simply does not exist.
    expect(res).toMatchObject({ status: 404 });
    expect(JSON.parse(res.body).error.message).toMatch(/Transfer b001 not found/);
    expect(iam.calls()).toHaveLength(0);
  });

  it('never asks locally', async () => {
    const deps = fakeDeps();
    const route = createRouter(deps, { access: localAccess, checkRestoreUrl: async () => {} });
    const res = await route({ ...request(), body: body({ backup: 'other-app::b001' }) });
    expect(res.status).toBe(404);
  });
});
