import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** A throwaway self-signed certificate (openssl) for `names`, written into `dir`; `cert` doubles as the CA. */
export function selfSignedCert(dir: string, names: readonly string[]): { key: Buffer; cert: Buffer } {
  const keyFile = join(dir, 'key.pem');
  const certFile = join(dir, 'cert.pem');
  const made = spawnSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '1',
      '-subj',
      `/CN=${names[0]}`,
      '-addext',
      `subjectAltName=${names.map((n) => `DNS:${n}`).join(',')}`,
      '-keyout',
      keyFile,
      '-out',
      certFile,
    ],
    { stdio: 'pipe' },
  );
  if (made.status !== 0)
    throw new Error(`openssl could not make a test certificate: ${made.stderr.toString()}`);
  return { key: readFileSync(keyFile), cert: readFileSync(certFile) };
}
