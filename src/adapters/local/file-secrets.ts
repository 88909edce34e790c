import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SecretNotFoundError } from '../../core/errors.js';
import type { Secrets } from '../../core/ports.js';

const REF = /^file:([a-z][a-z0-9-]*)\/([A-Z][A-Z0-9_]*)$/;

/**
 * Connection URLs as files under the local data dir, readable by the owner only (0600 in a 0700 dir). The
 * reference (`file:app/NAME`) is what the catalog stores; the path is rebuilt from it, so a reference can never
 * point outside the directory.
 */
export class FileSecrets implements Secrets {
  constructor(private readonly dir: string) {}

  private path(ref: string): string {
    const m = REF.exec(ref);
    if (!m) throw new Error('Invalid local secret reference');
    return join(this.dir, m[1] as string, `${m[2]}.url`);
  }

  async put(app: string, database: string, url: string): Promise<string> {
    const ref = `file:${app}/${database}`;
    const file = this.path(ref);
    await mkdir(join(this.dir, app), { recursive: true, mode: 0o700 });
    await chmod(this.dir, 0o700);
    const tmp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
    await writeFile(tmp, url, { mode: 0o600 });
    await rename(tmp, file);
    return ref;
  }

  async get(ref: string): Promise<string> {
    try {
      return await readFile(this.path(ref), 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new SecretNotFoundError(ref, { cause: e });
      throw e;
    }
  }

  async delete(ref: string): Promise<void> {
    await rm(this.path(ref), { force: true });
  }
}
