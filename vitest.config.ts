import { defineConfig } from 'vitest/config';
import { versionDefine } from './scripts/version-define.mjs';
import { yamlModule } from './scripts/yaml-data.mjs';

// Two projects: `unit` (test/unit, pure code and in-memory fakes) and `integration`
// (test/integration: real servers on loopback, spawned processes, the built bundles).
// `npm test` runs both; `npm run test:unit` / `npm run test:integration` run one.
export default defineConfig({
  // The connector's version, as scripts/build.mjs defines it for the bundles (a copy: Vite edits it).
  define: { ...versionDefine },
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
    environment: 'node',
    // Integration tests start real servers on loopback; give them room on a shared 2-core machine.
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    projects: [
      // The unit project opens no socket and starts no process (test/helpers/unit-guard.ts).
      { extends: true, test: { name: 'unit', include: ['test/unit/**/*.test.ts'], setupFiles: ['test/helpers/unit-guard.ts'] } },
      { extends: true, test: { name: 'integration', include: ['test/integration/**/*.test.ts'] } },
    ],
  },
});
