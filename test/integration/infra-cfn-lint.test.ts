import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hasCommand } from '../helpers/host.js';
import { REPO_ROOT } from '../helpers/source.js';

// cfn-lint runs as its own process (a Python tool), so this check lives with the integration tests;
// the templates' structure is compared in test/unit/infra/templates.test.ts.
describe('serverless.yml and infra/template.yaml', () => {
  if (!hasCommand('cfn-lint')) console.warn('cfn-lint not installed: skipping the template lint (pip install cfn-lint)');
  it.skipIf(!hasCommand('cfn-lint'))('infra/template.yaml passes cfn-lint', { timeout: 120_000 }, () => {
    expect(() => execFileSync('cfn-lint', [join(REPO_ROOT, 'infra/template.yaml')], { encoding: 'utf8' })).not.toThrow();
  });
});
