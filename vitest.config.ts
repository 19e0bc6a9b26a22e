import { defineConfig } from 'vitest/config';
import { yamlModule } from './scripts/yaml-data.mjs';

export default defineConfig({
  // The shipped detection rules (rules/*.yaml) are imported as data, as the esbuild bundles have them.
  plugins: [
    {
      name: 'aisoc-yaml-data',
      transform(code, id) {
        return id.endsWith('.yaml') ? { code: yamlModule(code), map: null } : null;
      },
    },
  ],
  test: {
    include: ['test/unit/**/*.test.ts', 'test/integration/**/*.test.ts'],
    environment: 'node',
    // Integration tests start real servers on loopback; give them room on a shared 2-core machine.
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
