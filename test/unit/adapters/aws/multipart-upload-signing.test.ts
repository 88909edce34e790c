import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { S3Client } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { uploadStream } from '../../../../src/adapters/aws/multipart-upload.js';

const MiB = 1024 * 1024;

interface SeenRequest {
  method: string;
  path: string;
  query: Record<string, string | string[] | null>;
  headers: Record<string, string>;
}

/**
 * A real S3Client (so its whole middleware stack runs: checksums, SigV4) over a request handler that records what
 * would go on the wire and answers like S3. aws-sdk-client-mock stops before the middleware, so it cannot see this.
 */
function recordingClient(requestChecksumCalculation: 'WHEN_SUPPORTED' | 'WHEN_REQUIRED') {
  const seen: SeenRequest[] = [];
  const client = new S3Client({
    region: 'eu-west-1',
    credentials: { accessKeyId: 'AKID', secretAccessKey: 'SECRET' },
    requestChecksumCalculation,
    requestHandler: {
      handle: async (request: SeenRequest & { body?: unknown }) => {
        seen.push({
          method: request.method,
          path: request.path,
          query: request.query,
          headers: { ...request.headers },
        });
        const xml =
          request.method === 'POST' && 'uploads' in request.query
            ? '<InitiateMultipartUploadResult><UploadId>u1</UploadId></InitiateMultipartUploadResult>'
            : request.method === 'POST'
              ? '<CompleteMultipartUploadResult><ETag>"all"</ETag></CompleteMultipartUploadResult>'
              : '';
        return {
          response: {
            statusCode: 200,
            headers: { etag: '"part"', 'content-type': 'application/xml' },
            body: Readable.from([Buffer.from(xml)]),
          },
        };
      },
    } as never,
  });
  return { client, seen };
}

const body = (bytes: number) => Readable.from([randomBytes(bytes)]);

describe('uploadStream on the wire', () => {
  it.each(['WHEN_SUPPORTED', 'WHEN_REQUIRED'] as const)(
    'signs parts with UNSIGNED-PAYLOAD instead of hashing them again (checksums %s)',
    async (mode) => {
      const { client, seen } = recordingClient(mode);
      const r = await uploadStream({
        client,
        bucket: 'b',
        key: 'k.dump',
        body: body(11 * MiB),
        partSize: () => 5 * MiB,
      });
      expect(r).toEqual({ bytes: 11 * MiB, parts: 3 });
      const parts = seen.filter((s) => s.method === 'PUT');
      expect(parts).toHaveLength(3);
      for (const p of parts) {
        expect(p.headers['x-amz-content-sha256']).toBe('UNSIGNED-PAYLOAD');
        // The header is part of the signature, as SigV4 requires.
        expect(p.headers.authorization).toMatch(/SignedHeaders=[^,]*x-amz-content-sha256/);
        // With the SDK's default checksums each part still carries its CRC32 for S3 to verify.
        if (mode === 'WHEN_SUPPORTED')
          expect(p.headers['x-amz-checksum-crc32']).toMatch(/^[A-Za-z0-9+/]+=*$/);
        else expect(p.headers['x-amz-checksum-crc32']).toBeUndefined();
      }
      // Requests without a body keep the SDK's own signing.
      for (const other of seen.filter((s) => s.method !== 'PUT')) {
        expect(other.headers['x-amz-content-sha256']).not.toBe('UNSIGNED-PAYLOAD');
      }
    },
  );

  it('sends a small body as one PutObject, also with UNSIGNED-PAYLOAD', async () => {
    const { client, seen } = recordingClient('WHEN_SUPPORTED');
    await uploadStream({ client, bucket: 'b', key: 'k.dump', body: body(1000), partSize: () => 5 * MiB });
    expect(seen).toHaveLength(1);
    expect(seen[0]!.method).toBe('PUT');
    expect(seen[0]!.headers['x-amz-content-sha256']).toBe('UNSIGNED-PAYLOAD');
  });
});
