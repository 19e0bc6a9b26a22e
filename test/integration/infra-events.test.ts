import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/source.js';

// The generator runs as its own process, as a contributor runs it; what the events hold is checked
// in test/unit/infra/events.test.ts.
describe('infra/events', () => {
  it('are what scripts/make-events.mjs writes (gzip payloads compared decompressed)', () => {
    expect(() => execFileSync(process.execPath, [join(REPO_ROOT, 'scripts/make-events.mjs'), '--check'], { stdio: 'pipe' })).not.toThrow();
  });
});
