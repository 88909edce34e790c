import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startS3rver as startLocalS3rver } from '../../src/local/s3-store.js';

export interface LocalS3 {
  readonly endpoint: string;
  readonly bucket: string;
  /** s3rver's data directory (read-only: for tests that inspect what the store leaves on disk). */
  readonly directory?: string;
  stop(): Promise<void>;
}

/** Starts s3rver on a free loopback port with one bucket, storing objects in a temp dir. */
export async function startS3rver(bucket = 'pgbackups-test'): Promise<LocalS3> {
  const directory = await mkdtemp(join(tmpdir(), 's3rver-'));
  const { server, port } = await startLocalS3rver({
    address: '127.0.0.1',
    port: 0,
    directory,
    buckets: [bucket],
  });
  return {
    endpoint: `http://127.0.0.1:${port}`,
    bucket,
    directory,
    stop: async () => {
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}
