import { describe, expect, it } from 'vitest';
import { ACCESS_PROOF_HEADER, localAccess, presignedProofAccess } from '../../../src/api/app-access.js';
import type { ApiRequest } from '../../../src/api/http.js';
import { createRouter } from '../../../src/api/router.js';
import { fakeDeps } from '../../fakes/index.js';

const ORIGIN = 'https://abc123.execute-api.eu-west-1.amazonaws.com';
const proof = `${ORIGIN}/v1/apps/other-app/access?X-Amz-Signature=deadbeef`;

function request(headers: Record<string, string> = {}): ApiRequest {
  return { method: 'POST', path: '/v1/apps/example-app/restores', query: {}, headers, origin: ORIGIN };
}

describe('presignedProofAccess', () => {
  it('calls the presigned access URL and accepts a 200', async () => {
    const calls: string[] = [];
    const verifier = presignedProofAccess({
      fetch: async (url) => {
        calls.push(String(url));
        return new Response('{}', { status: 200 });
      },
    });
    await expect(
      verifier.verify(request({ [ACCESS_PROOF_HEADER]: proof }), 'other-app'),
    ).resolves.toBeUndefined();
    expect(calls).toEqual([proof]);
  });

  it('picks the proof for each app from several', async () => {
    const calls: string[] = [];
    const verifier = presignedProofAccess({
      fetch: async (url) => {
        calls.push(String(url));
        return new Response('{}', { status: 200 });
      },
    });
    const both = `${ORIGIN}/v1/apps/first-app/access?X-Amz-Signature=1 ${ORIGIN}/v1/apps/second-app/access?X-Amz-Signature=2`;
    await verifier.verify(request({ [ACCESS_PROOF_HEADER]: both }), 'second-app');
    await verifier.verify(request({ [ACCESS_PROOF_HEADER]: both }), 'first-app');
    expect(calls).toEqual([
      `${ORIGIN}/v1/apps/second-app/access?X-Amz-Signature=2`,
      `${ORIGIN}/v1/apps/first-app/access?X-Amz-Signature=1`,
    ]);
  });

  it('refuses when IAM says no', async () => {
    const verifier = presignedProofAccess({
      fetch: async () => new Response('{"message":"Forbidden"}', { status: 403 }),
    });
    await expect(
      verifier.verify(request({ [ACCESS_PROOF_HEADER]: proof }), 'other-app'),
    ).rejects.toMatchObject({
      code: 'forbidden',
      message: 'Access to other-app was not granted for these credentials',
    });
  });

  it.each([
    ['no proof', {}, /must prove access/],
    ['a malformed proof', { [ACCESS_PROOF_HEADER]: 'not a url' }, /Malformed access proof/],
    [
      'a proof for another host',
      { [ACCESS_PROOF_HEADER]: 'https://evil.example/v1/apps/other-app/access' },
      /No access proof for other-app/,
    ],
    [
      'a proof for another app',
      { [ACCESS_PROOF_HEADER]: `${ORIGIN}/v1/apps/example-app/access` },
      /No access proof for other-app/,
    ],
  ])('refuses %s without fetching anything', async (_what, headers, message) => {
    let fetched = false;
    const verifier = presignedProofAccess({
      fetch: async () => {
        fetched = true;
        return new Response('', { status: 200 });
      },
    });
    await expect(verifier.verify(request(headers), 'other-app')).rejects.toThrow(message);
    expect(fetched).toBe(false);
  });
});

describe('router cross-app checks', () => {
  it('answers 403 before any work when the other app is not proven', async () => {
    const deps = fakeDeps();
    const route = createRouter(deps, {
      access: presignedProofAccess({ fetch: async () => new Response('', { status: 403 }) }),
      checkRestoreUrl: async () => {},
    });
    const res = await route({
      ...request(),
      body: JSON.stringify({ backup: 'other-app::b001' }),
    });
    expect(res.status).toBe(403);
    const copy = await route({
      ...request(),
      path: '/v1/apps/example-app/copies',
      body: JSON.stringify({ from: 'other-app::DATABASE', to: 'DATABASE' }),
    });
    expect(copy.status).toBe(403);
    expect(deps.runner.started).toEqual([]);
  });

  it('does not ask for proof when only the own app is named', async () => {
    const deps = fakeDeps();
    const route = createRouter(deps, {
      access: presignedProofAccess({ fetch: async () => new Response('', { status: 403 }) }),
      checkRestoreUrl: async () => {},
    });
    const res = await route({ ...request(), body: JSON.stringify({ backup: 'example-app::b001' }) });
    // Past the access check: the backup simply does not exist.
    expect(res).toMatchObject({ status: 404 });
    expect(JSON.parse(res.body).error.message).toMatch(/Transfer b001 not found/);
  });

  it('never asks for proof locally', async () => {
    const deps = fakeDeps();
    const route = createRouter(deps, { access: localAccess, checkRestoreUrl: async () => {} });
    const res = await route({ ...request(), body: JSON.stringify({ backup: 'other-app::b001' }) });
    expect(res.status).toBe(404);
  });
});
