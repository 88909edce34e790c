import { createHash } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';
import { describe, expect, it } from 'vitest';
import {
  ApiClient,
  awsSigning,
  isLoopback,
  needsSigning,
  regionFor,
  Sha256,
} from '../../../src/cli/client.js';
import { ApiError, CliError, UsageError } from '../../../src/cli/errors.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('Sha256', () => {
  it('hashes and HMACs like the reference vectors (RFC 4231 case 2)', async () => {
    const h = new Sha256();
    h.update('abc');
    expect(hex(await h.digest())).toBe(createHash('sha256').update('abc').digest('hex'));
    const mac = new Sha256('Jefe');
    mac.update(new TextEncoder().encode('what do ya want for nothing?'));
    expect(hex(await mac.digest())).toBe('5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843');
  });

  it('produces the AWS SigV4 test-suite signature (get-vanilla) when used by @smithy/signature-v4', async () => {
    const signer = new SignatureV4({
      service: 'service',
      region: 'us-east-1',
      credentials: {
        accessKeyId: 'AKIDEXAMPLE',
        secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
      },
      sha256: Sha256,
      applyChecksum: false,
    });
    const signed = await signer.sign(
      {
        method: 'GET',
        protocol: 'https:',
        hostname: 'example.amazonaws.com',
        path: '/',
        query: {},
        headers: { host: 'example.amazonaws.com' },
      },
      { signingDate: new Date('2015-08-30T12:36:00Z') },
    );
    expect(signed.headers.authorization).toBe(
      'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31',
    );
  });
});

describe('when to sign', () => {
  it('signs https requests to AWS hosts, never the loopback local stack', () => {
    expect(needsSigning(new URL('https://abc.execute-api.eu-west-1.amazonaws.com/'))).toBe(true);
    expect(needsSigning(new URL('http://127.0.0.1:8787'))).toBe(false);
    expect(needsSigning(new URL('https://localhost:8443'))).toBe(false);
    expect(isLoopback('[::1]')).toBe(true);
    expect(isLoopback('10.0.0.1')).toBe(false);
  });

  it('reads the region from the API host name, else from AWS_REGION', () => {
    expect(regionFor(new URL('https://abc.execute-api.eu-west-1.amazonaws.com/prod'), {})).toBe('eu-west-1');
    expect(regionFor(new URL('https://backups.example.com'), { AWS_REGION: 'us-east-2' })).toBe('us-east-2');
    expect(() => regionFor(new URL('https://backups.example.com'), {})).toThrow(UsageError);
  });
});

describe('ApiClient', () => {
  const seen: { url: string; init: RequestInit }[] = [];
  const reply = (status: number, body: unknown) => async (url: string, init: RequestInit) => {
    seen.push({ url, init });
    return new Response(body === undefined ? null : JSON.stringify(body), { status });
  };

  it('signs every request, headers from the hook included, with execute-api credentials', async () => {
    const { signer } = await awsSigning('eu-west-1', {
      accessKeyId: 'AKID',
      secretAccessKey: 'secret',
    });
    const client = new ApiClient({
      baseUrl: 'https://abc.execute-api.eu-west-1.amazonaws.com/prod/',
      fetch: reply(200, { ok: true }),
      signer,
      headers: () => ({ 'x-trace': 't1' }),
    });
    expect(await client.post('/v1/apps/a-app/backups', { database: 'DATABASE' })).toEqual({ ok: true });
    const last = seen.at(-1);
    expect(last?.url).toBe('https://abc.execute-api.eu-west-1.amazonaws.com/prod/v1/apps/a-app/backups');
    const headers = last?.init.headers as Record<string, string>;
    expect(headers.authorization).toMatch(
      /^AWS4-HMAC-SHA256 Credential=AKID\/\d{8}\/eu-west-1\/execute-api\/aws4_request, SignedHeaders=[^,]*x-trace/,
    );
    expect(headers['x-amz-date']).toMatch(/^\d{8}T\d{6}Z$/);
    expect(headers.host).toBeUndefined();
  });

  it('sends a request naming another app like any other: signed, with no access-proof header (IAM decides)', async () => {
    const { signer } = await awsSigning('eu-west-1', {
      accessKeyId: 'AKID',
      secretAccessKey: 'secret',
    });
    const client = new ApiClient({
      baseUrl: 'https://abc.execute-api.eu-west-1.amazonaws.com/prod',
      fetch: reply(202, { id: 'r002' }),
      signer,
    });
    await client.post('/v1/apps/a-app/restores', { backup: 'other-app::b101' });
    const headers = seen.at(-1)?.init.headers as Record<string, string>;
    expect(headers.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=AKID\//);
    expect(Object.keys(headers).filter((h) => /access-proof/i.test(h))).toEqual([]);
  });

  it("turns the API's error body into an ApiError with its message", async () => {
    const client = new ApiClient({
      baseUrl: 'http://127.0.0.1:1',
      fetch: reply(404, { error: { code: 'not_found', message: 'Backup b101 not found for example-app' } }),
    });
    const e = await client.get('/v1/apps/example-app/transfers/b101').catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ApiError);
    expect(e).toMatchObject({
      status: 404,
      code: 'not_found',
      message: 'Backup b101 not found for example-app',
    });
  });

  it("explains API Gateway's own 403 answer", async () => {
    const client = new ApiClient({
      baseUrl: 'http://127.0.0.1:1',
      fetch: reply(403, { message: 'Forbidden' }),
    });
    await expect(client.get('/v1/health')).rejects.toThrow(
      /HTTP 403: Forbidden\)\. Check your AWS credentials/,
    );
  });

  it('says which API it could not reach', async () => {
    const client = new ApiClient({
      baseUrl: 'http://127.0.0.1:1',
      fetch: async () => {
        throw new TypeError('fetch failed', { cause: { code: 'ECONNREFUSED' } });
      },
    });
    const e = await client.get('/v1/health').catch((x: unknown) => x);
    expect(e).toBeInstanceOf(CliError);
    expect((e as Error).message).toContain(
      'Could not reach the pgbackups API at http://127.0.0.1:1 (ECONNREFUSED)',
    );
  });
});
