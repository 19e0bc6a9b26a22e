import { copyFileSync, cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../../helpers/cli.js';
import { FIXTURES } from '../../helpers/fixtures.js';

// Every command refuses what it does not take, exit 2 and a pointer to its --help. These ignored a
// stray word: `inbox list extra`, `inbox revoke <id> extra`, `connector health --health-file F
// extra` ran as without it.
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

// A word starting with - is an option, in every command: one it does not take is `unknown option`.
// Before, the commands that take a file or a name read it as one: `normalise -z` said `cannot read
// -z: no such file`, `rules test -z` tried a rules directory "-z", `invoke -z` a function "-z",
// with no pointer to --help; `serve -p 9000` said `unexpected argument "-p"` (and, before that,
// started on 8080).
describe('a word starting with -', () => {
  const dirs: string[] = [];
  const cwd = process.cwd();
  afterEach(() => {
    process.chdir(cwd);
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  function scratch(): string {
    const dir = mkdtempSync(join(tmpdir(), 'aisoc-dash-'));
    dirs.push(dir);
    return dir;
  }

  it.each([
    [['normalise', '-z'], 'normalise', '-z'],
    [['normalise', '--tenant', 'acme', '-z', '-'], 'normalise', '-z'],
    [['rules', 'test', '-z'], 'rules', '-z'],
    [['rules', 'list', '-z'], 'rules', '-z'],
    [['invoke', '-z'], 'invoke', '-z'],
    [['invoke', 'Ingest', '-x'], 'invoke', '-x'],
    [['inbox', 'revoke', '-z'], 'inbox', '-z'],
    [['serve', '--port', '0', '--no-console', '-p', '9000'], 'serve', '-p'],
  ])('%j is an unknown option, pointing at --help, with nothing read or started', async (argv, command, option) => {
    const dir = scratch();
    // Run where a file of that name exists: it is still not read.
    process.chdir(dir);
    copyFileSync(join(FIXTURES, 'openshift/clo__apiaudit-audit.log'), join(dir, option));

    const { code, stdout, stderr } = await runCli(argv, {
      AISOC_DATA_DIR: dir,
      K8S_AUDIT_SHARED_SECRET: 'stray-argument-test-secret-0123456789',
    });

    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toBe(`aisoc-k8s-audit ${command}: unknown option ${option}\nRun 'aisoc-k8s-audit ${command} --help' for usage.\n`);
    expect(existsSync(join(dir, 'aisoc-k8s-audit.sqlite'))).toBe(false);
  });

  it('is a file after --: normalise -- -z.log reads it, and -- -h is a file too, not the help', async () => {
    const dir = scratch();
    process.chdir(dir);
    // Five real OpenShift apiserver audit lines (test/fixtures/SOURCES.md).
    copyFileSync(join(FIXTURES, 'openshift/clo__apiaudit-audit.log'), join(dir, '-z.log'));
    copyFileSync(join(FIXTURES, 'openshift/clo__apiaudit-audit.log'), join(dir, '-h'));

    const r = await runCli(['normalise', '--cluster', 'ocp', '--', '-z.log', '-h']);

    expect(r.code).toBe(0);
    expect(r.stderr).toBe('normalise: -z.log: JSON lines (5 items)\nnormalise: -h: JSON lines (5 items)\nnormalised 10, rejected 0\n');
    expect(r.stdout.trim().split('\n')).toHaveLength(10);
    expect(JSON.parse(r.stdout.split('\n', 1)[0] ?? '')).toMatchObject({ cluster_name: 'ocp' });
  });

  it('is a rules directory after --: rules test -- -operator-rules runs its examples', async () => {
    const dir = scratch();
    process.chdir(dir);
    cpSync(join(FIXTURES, 'operator-rules'), join(dir, '-operator-rules'), { recursive: true });

    const byName = await runCli(['rules', 'test', '--', '-operator-rules']);
    const byPath = await runCli(['rules', 'test', join(FIXTURES, 'operator-rules')]);

    expect(byName).toMatchObject({ code: 0, stderr: '' });
    expect(byName.stdout).toBe(byPath.stdout);
    expect(byName.stdout).toMatch(/^\d+ rules, \d+ examples, 0 failed\n$/);
  });
});
