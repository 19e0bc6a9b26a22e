import { defineConfig } from 'vitest/config';

// Two projects: `unit` (test/unit, pure code and in-memory fakes) and `integration`
// (test/integration: real servers on loopback, spawned processes, the built bundles).
// `npm test` runs both; `npm run test:unit` / `npm run test:integration` run one.
export default defineConfig({
  test: {
    environment: 'node',
    // Integration tests start real servers on loopback; give them room on a shared 2-core machine.
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    projects: [
      { extends: true, test: { name: 'unit', include: ['test/unit/**/*.test.ts'] } },
      { extends: true, test: { name: 'integration', include: ['test/integration/**/*.test.ts'] } },
    ],
  },
});
