import { defineConfig } from 'vitest/config';

// `npm run test:pg-matrix`: every source × target × operation across PostgreSQL 13–18 (docs/compatibility.md).
// Separate from `npm test`, which runs the production-critical cells (test/integration/pg-versions.test.ts).
export default defineConfig({
  test: {
    setupFiles: ['test/setup.ts'],
    include: ['test/matrix/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 600_000,
    hookTimeout: 900_000,
  },
});
