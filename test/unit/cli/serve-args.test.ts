import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../../helpers/cli.js';

describe('serve --port', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it.each(['99999', '65536', 'abc', '-1'])('%s is a usage error (exit 2) naming the range, not a stack trace from listen', async (port) => {
    const dir = mkdtempSync(join(tmpdir(), 'aisoc-serve-port-'));
    dirs.push(dir);

    const { code, stderr } = await runCli(['serve', '--port', port, '--data-dir', dir, '--no-console']);

    expect(code).toBe(2);
    expect(stderr).toContain(`--port must be an integer from 0 to 65535, got "${port}"`);
    expect(stderr).not.toMatch(/\n\s+at /);
  });
});
