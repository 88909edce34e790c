import type { DatabaseAttachment } from '../../src/core/ports.js';

/** An attachment record for unit tests (no real database behind it). */
export function attachment(app: string, name: string, removedAt?: string): DatabaseAttachment {
  return {
    app,
    name,
    secretRef: `memory:${app}/${name}`,
    host: 'db.example',
    port: 5432,
    database: 'app',
    user: 'app',
    createdAt: '2020-01-01T00:00:00.000Z',
    removedAt,
  };
}
