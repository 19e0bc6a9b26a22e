import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../../helpers/cli.js';

// Every command refuses what it does not take, exit 2 and a pointer to its --help. These three
// ignored a stray word: `serve -p 9000` started on 8080 as if -p had not been typed, and `inbox
// list extra`, `inbox revoke <id> extra`, `connector health --health-file F extra` ran as without it.
describe('a stray argument', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  function dataDir(): string {
    const dir = mkdtempSync(join(tmpdir(), 'aisoc-stray-'));
    dirs.push(dir);
    return dir;
  }

  it.each([
    [['serve', '--port', '0', '--no-console', '-p', '9000'], 'serve', '"-p"'],
    [['connector', 'health', '--health-file', '/nonexistent/health.json', 'extra'], 'connector', '"extra"'],
    [['inbox', 'list', 'extra'], 'inbox', '"extra"'],
    [['inbox', 'create', '--tenant', 'acme', '--label', 'l', 'extra'], 'inbox', '"extra"'],
    [['inbox', 'revoke', '0123456789abcdef', 'extra'], 'inbox', '"extra"'],
  ])('%j is a usage error naming it, pointing at --help, with nothing done', async (argv, command, named) => {
    const dir = dataDir();

    // With a secret, so that serve would start if it took the stray word.
    const { code, stdout, stderr } = await runCli(argv, {
      AISOC_DATA_DIR: dir,
      K8S_AUDIT_SHARED_SECRET: 'stray-argument-test-secret-0123456789',
    });

    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toBe(`aisoc-k8s-audit ${command}: unexpected argument ${named}\nRun 'aisoc-k8s-audit ${command} --help' for usage.\n`);
    // Nothing started or written: no store for inbox create, no SQLite file for serve.
    expect(existsSync(join(dir, 'aisoc-k8s-audit.sqlite'))).toBe(false);
  });

  it('does not echo an inbox token typed where none is taken', async () => {
    const token = 'aik8s_thisTokenWasNeverIssuedByAnyoneAtAll000000';

    const { code, stderr } = await runCli(['inbox', 'create', '--tenant', 'acme', '--label', 'l', token], { AISOC_DATA_DIR: dataDir() });

    expect(code).toBe(2);
    expect(stderr).toContain('unexpected argument (an inbox token, not shown)');
    expect(stderr).not.toContain(token.slice(6));
  });
});
