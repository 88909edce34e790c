import { defineConfig } from 'vitest/config';

// Three layers, one command: unit (fakes only, fast), integration (real PostgreSQL, dynalite, s3rver and worker
// processes), infra (CDK assertions and cdk-nag). Integration files each start their own throwaway cluster, so
// they run in forks with limited parallelism to stay within a 2-core machine. Projects with different worker
// limits must run as separate groups (vitest's rule): unit first, then infra, then integration.
export default defineConfig({
  test: {
    setupFiles: ['test/setup.ts'],
    projects: [
      {
        extends: true,
        test: { name: 'unit', include: ['test/unit/**/*.test.ts'], sequence: { groupOrder: 0 } },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts', 'test/cli/**/*.test.ts'],
          pool: 'forks',
          maxWorkers: 2,
          testTimeout: 120_000,
          hookTimeout: 120_000,
          sequence: { groupOrder: 2 },
        },
      },
      {
        extends: true,
        test: {
          name: 'infra',
          include: ['test/infra/**/*.test.ts'],
          testTimeout: 180_000,
          // Synthesizing the stack once per file (beforeAll) takes seconds, more on a busy machine.
          hookTimeout: 180_000,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
