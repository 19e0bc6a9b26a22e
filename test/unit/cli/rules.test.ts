import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../../lib/config/env.js';
import { loadIngestConfig, withRules } from '../../../lib/ingest/config.js';
import { createIngestService } from '../../../lib/ingest/create.js';
import { runCli } from '../../helpers/cli.js';
import { FALCO_DIR, FIXTURES } from '../../helpers/fixtures.js';

const OPERATOR_RULES = join(FIXTURES, 'operator-rules');
const scratch = mkdtempSync(join(tmpdir(), 'aisoc-rules-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function dirWith(name: string, files: Record<string, string>): string {
  const dir = join(scratch, name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir);
  for (const [file, text] of Object.entries(files)) writeFileSync(join(dir, file), text);
  return dir;
}

const BROKEN = `rules:
  - id: broken
    title: t
    severity: high
    description: d
    mitre: [T1098]
    source: s
    match: { verbs: [get], resources: [pods] }
    condition: "objectRef.resourse == 'pods' &&"
    examples: { match: [{ verb: get }], no_match: [{ verb: list }] }
`;

describe('aisoc-k8s-audit rules', () => {
  it('list prints every shipped rule with its severity, techniques and source', async () => {
    const r = await runCli(['rules', 'list']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^eks-aws-auth-configmap-change +high +T1098,T1098\.006 +EKS aws-auth ConfigMap/m);
    expect(r.stdout).toContain('rules/eks.yaml; after Elastic detection-rules');
    expect(r.stdout).toMatch(/^50 rules, \d+ built-in routine identities\n$/m);
    const json = (await runCli(['rules', 'list', '--json'])).stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
      .filter((l) => 'id' in l);
    expect(json).toHaveLength(50);
    expect(json[0]).toMatchObject({ id: 'anonymous-request-allowed', severity: 'high', file: 'rules/access.yaml' });
    expect(Object.keys(json[0])).toContain('condition');
  });

  it('every public rule a shipped rule names as its source exists: Elastic files and Falco titles', async () => {
    // The listings are Elastic's and Falco's own (test/fixtures/SOURCES.md); a source naming a
    // deleted or never-merged rule (as three did) sends a reader to nothing.
    const listing = (name: string) =>
      readFileSync(join(FIXTURES, 'public-rules', name), 'utf8')
        .split('\n')
        .filter((l) => l !== '' && !l.startsWith('#'));
    const elastic = new Set(listing('elastic-kubernetes-rules.txt').map((f) => f.split('/').at(-1)));
    const falco = new Set(listing('falco-k8saudit-rule-titles.txt'));
    const rules = (await runCli(['rules', 'list', '--json'])).stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { id: string; source: string })
      .filter((l) => 'id' in l);
    const missing: string[] = [];
    for (const { id, source } of rules) {
      for (const m of source.matchAll(/([a-z0-9_]+\.toml)/g)) if (!elastic.has(m[1] as string)) missing.push(`${id}: Elastic ${m[1]}`);
      for (const part of source.split(';').filter((p) => p.includes('k8s_audit_rules.yaml'))) {
        // Titles are the quoted strings that follow the file name, before any parenthesis.
        for (const m of part.replace(/\([^)]*\)/g, '').matchAll(/"([^"]+)"/g))
          if (!falco.has(m[1] as string)) missing.push(`${id}: Falco "${m[1]}"`);
      }
    }
    expect(missing).toEqual([]);
    expect(rules.find((r) => r.id === 'human-secret-read')?.source).toContain('which flags every successful get');
  });

  it('docs/detection-rules.md answers every Splunk, Datadog and Microsoft Sentinel Kubernetes detection by its title', () => {
    // Each title of the three catalogues' listings (test/fixtures/SOURCES.md) has its row there (the
    // event, and what it comes out as) or is named where the page says why no rule answers it.
    const doc = readFileSync(join(FIXTURES, '..', '..', 'docs', 'detection-rules.md'), 'utf8').replace(/\s+/g, ' ');
    const titles = (name: string) =>
      readFileSync(join(FIXTURES, 'public-rules', name), 'utf8')
        .split('\n')
        .filter((l) => l !== '' && !l.startsWith('#'));
    const splunk = titles('splunk-kubernetes-detections.txt').map((l) => l.split('\t')[1] as string);
    const datadog = titles('datadog-kubernetes-audit-rule-titles.txt').map((l) => l.split('\t')[0] as string);
    expect(splunk).toHaveLength(36);
    const sentinel = titles('azure-sentinel-aks-queries.txt').map((l) => l.split('\t')[1] as string);
    expect(datadog).toHaveLength(5);
    expect(sentinel).toHaveLength(10);
    expect([...splunk, ...datadog, ...sentinel].filter((t) => !doc.includes(t))).toEqual([]);
  });

  it('the README and docs/detection-rules.md list every shipped rule with its severity', async () => {
    // Both tables are where a reader looks for what the pack detects; a rule missing from them is invisible.
    const root = join(FIXTURES, '..', '..');
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const doc = readFileSync(join(root, 'docs', 'detection-rules.md'), 'utf8');
    const rules = (await runCli(['rules', 'list', '--json'])).stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { id: string; severity: string })
      .filter((l) => 'id' in l);
    const missing = rules.flatMap(({ id, severity }) =>
      [
        readme.includes(`| \`${id}\` | ${severity} |`) ? [] : [`README.md: ${id}`],
        doc.includes(`| \`${id}\` | ${severity} |`) ? [] : [`docs/detection-rules.md: ${id}`],
      ].flat(),
    );
    expect(missing).toEqual([]);
  });

  it('test runs every example of the shipped pack', async () => {
    const r = await runCli(['rules', 'test']);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toMatch(/^50 rules, \d+ examples, 0 failed\n$/);
  });

  it("applies an operators' directory: an override, a disable and a new rule (the three worked examples)", async () => {
    const list = await runCli(['rules', 'list', OPERATOR_RULES]);
    expect(list.code).toBe(0);
    expect(list.stdout).not.toContain('service-proxy-access');
    expect(list.stdout).toMatch(/^cryptominer-image +high +T1496/m);
    expect(list.stdout).toContain(`${join(OPERATOR_RULES, '10-nat-egress.yaml')}; after shipped rule service-account-from-public-address`);
    expect(list.stdout).toMatch(/^50 rules, \d+ built-in routine identities \(shipped pack with /m);
    const test = await runCli(['rules', 'test'], { K8S_AUDIT_RULES: OPERATOR_RULES });
    expect(test.stdout).toMatch(/^50 rules, \d+ examples, 0 failed\n$/);
    expect(test.code).toBe(0);
  });

  it("prints what the worked examples' page shows for them, word for word", async () => {
    // docs/detection-rules.md shows the command and its output; a new user following it compares the two.
    const doc = readFileSync(join(FIXTURES, '..', '..', 'docs', 'detection-rules.md'), 'utf8');
    const shown = /\$ aisoc-k8s-audit rules test test\/fixtures\/operator-rules\n(.*)\n/.exec(doc);
    expect(shown).not.toBeNull();
    const r = await runCli(['rules', 'test', OPERATOR_RULES]);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toBe(`${shown?.[1]}\n`);
  });

  it('reads a pack mounted from a ConfigMap, whose files are links into ..data', async () => {
    // The kubelet's atomic writer (a ConfigMap or Secret volume) lays a key out as
    // `<key> -> ..data/<key>`, `..data -> ..<timestamp>/`, the file itself under the timestamped directory.
    const mount = join(scratch, 'configmap');
    rmSync(mount, { recursive: true, force: true });
    const stamp = join(mount, '..2026_12_07_03_00_00.123456789');
    mkdirSync(stamp, { recursive: true });
    symlinkSync('..2026_12_07_03_00_00.123456789', join(mount, '..data'));
    for (const name of readdirSync(OPERATOR_RULES)) {
      copyFileSync(join(OPERATOR_RULES, name), join(stamp, name));
      symlinkSync(join('..data', name), join(mount, name));
    }
    const list = await runCli(['rules', 'list', mount]);
    expect(list.code).toBe(0);
    expect(list.stdout).not.toContain('service-proxy-access');
    expect(list.stdout).toMatch(/^cryptominer-image +high +T1496/m);
    const test = await runCli(['rules', 'test'], { K8S_AUDIT_RULES: mount });
    expect(test).toMatchObject({ code: 0, stderr: '' });
    // A link that leads nowhere (a key removed under a stale link) is named, not skipped.
    symlinkSync(join('..data', 'gone.yaml'), join(mount, '40-gone.yaml'));
    const gone = await runCli(['rules', 'test', mount]);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toContain(`${join(mount, '40-gone.yaml')}: cannot read (ENOENT)`);
  });

  it('a rules directory holding no rule file stops the start and says what it holds', async () => {
    const empty = dirWith('empty', {});
    const r = await runCli(['rules', 'test', empty]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${empty}: no rule files (*.yaml, *.yml, *.json) in the rules directory; it is empty`);
    const misnamed = dirWith('misnamed', { 'README.md': '# our rules\n', 'rules.yaml.txt': 'rules: []\n' });
    const file = join(FALCO_DIR, 'create_nginx_pod_privileged.json');
    const n = await runCli(['normalise', file], { K8S_AUDIT_RULES: misnamed });
    expect(n).toMatchObject({ code: 2, stdout: '' });
    expect(n.stderr).toContain(
      `${misnamed}: no rule files (*.yaml, *.yml, *.json) in the rules directory; it holds README.md, rules.yaml.txt`,
    );
    await expect(withRules(loadIngestConfig({ K8S_AUDIT_RULES: empty }))).rejects.toThrow(/no rule files .* it is empty/);
  });

  it('a missing or unreadable rules directory is a configuration error, exit 2 and one wording, in every command', async () => {
    const missing = join(scratch, 'nope');
    const notDir = join(FALCO_DIR, 'exec_pod.json');
    const problem = (dir: string, code: string) => `invalid configuration: ${dir}: cannot read the rules directory (${code})`;
    for (const [dir, code] of [
      [missing, 'ENOENT'],
      [notDir, 'ENOTDIR'],
    ] as const) {
      for (const sub of ['test', 'list']) {
        const named = await runCli(['rules', sub, dir]);
        expect(named, `rules ${sub} ${dir}`).toMatchObject({ code: 2, stdout: '' });
        expect(named.stderr).toBe(`aisoc-k8s-audit rules: ${problem(dir, code)}\n`);
        const fromEnv = await runCli(['rules', sub], { K8S_AUDIT_RULES: dir });
        expect(fromEnv, `K8S_AUDIT_RULES=${dir} rules ${sub}`).toMatchObject({ code: 2, stdout: '' });
        expect(fromEnv.stderr).toBe(
          `aisoc-k8s-audit rules: invalid configuration: K8S_AUDIT_RULES: ${dir}: cannot read the rules directory (${code})\n`,
        );
      }
      const n = await runCli(['normalise', join(FALCO_DIR, 'exec_pod.json')], { K8S_AUDIT_RULES: dir });
      expect(n).toMatchObject({ code: 2, stdout: '' });
      expect(n.stderr).toBe(
        `aisoc-k8s-audit normalise: invalid configuration: K8S_AUDIT_RULES: ${dir}: cannot read the rules directory (${code})\n`,
      );
      const data = join(scratch, 'serve-data');
      const serve = await runCli(['serve', '--port', '0', '--data-dir', data, '--no-console'], {
        K8S_AUDIT_RULES: dir,
        K8S_AUDIT_SHARED_SECRET: 'rules-dir-secret-long-enough-0123456789',
      });
      expect(serve.code).toBe(2);
      expect(serve.stderr).toContain(
        `aisoc-k8s-audit serve: invalid configuration: K8S_AUDIT_RULES: ${dir}: cannot read the rules directory (${code})`,
      );
    }
  });

  it('a rule that does not compile fails with its file, id and CEL error; a failing example names itself', async () => {
    const broken = dirWith('broken', { 'x.yaml': BROKEN });
    const r = await runCli(['rules', 'test', broken]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${join(broken, 'x.yaml')}: broken: condition does not compile:`);
    const wrong = dirWith('wrong', { 'y.yml': BROKEN.replace(`"objectRef.resourse == 'pods' &&"`, `"objectRef.resource == 'pods'"`) });
    const t = await runCli(['rules', 'test', wrong]);
    expect(t.code).toBe(1);
    expect(t.stderr).toContain(`FAIL ${join(wrong, 'y.yml')}: broken: examples.match[0]: the rule did not fire`);
    expect(t.stdout).toMatch(/51 rules, \d+ examples, 1 failed/);
    expect((await runCli(['rules', 'frobnicate'])).code).toBe(2);
    expect((await runCli(['rules', 'list', join(scratch, 'missing')])).stderr).toContain('cannot read the rules directory (ENOENT)');
  });

  it('rules test names a condition that fails on an example instead of passing it as no match', async () => {
    // `spec.replicas` read without has(): a Deployment create carries it (apps/v1 DeploymentSpec),
    // a pod list (no requestObject) does not, and at ingest that error silently counts as no match.
    const rule = BROKEN.replace(`"objectRef.resourse == 'pods' &&"`, `"requestObject.spec.replicas > 50"`)
      .replace('verbs: [get], resources: [pods]', "verbs: ['*'], resources: ['*']")
      .replace(
        'examples: { match: [{ verb: get }], no_match: [{ verb: list }] }',
        `examples:
      match:
        - { verb: create, objectRef: { resource: deployments, namespace: web, apiGroup: apps, apiVersion: v1 }, requestObject: { kind: Deployment, spec: { replicas: 100 } }, responseStatus: { code: 201 } }
        - { verb: create, objectRef: { resource: deployments, namespace: web, apiGroup: apps, apiVersion: v1 }, requestObject: { kind: Deployment, metadata: { name: d } }, responseStatus: { code: 201 } }
      no_match:
        - { verb: create, objectRef: { resource: deployments, namespace: web, apiGroup: apps, apiVersion: v1 }, requestObject: { kind: Deployment, spec: { replicas: 2 } }, responseStatus: { code: 201 } }
        - { verb: list, objectRef: { resource: pods, namespace: web, apiVersion: v1 }, responseStatus: { code: 200 } }`,
      );
    const dir = dirWith('throws', { 'r.yaml': rule });
    const r = await runCli(['rules', 'test', dir]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^51 rules, \d+ examples, 2 failed\n$/);
    const file = join(dir, 'r.yaml');
    expect(r.stderr.trim().split('\n')).toEqual([
      `FAIL ${file}: broken: examples.match[1]: the rule did not fire: its condition failed (No such key: spec); read fields an event may lack with has() or .?`,
      `FAIL ${file}: broken: examples.no_match[1]: the rule did not fire only because its condition failed (No such key: spec); read fields an event may lack with has() or .?`,
    ]);
    // Written with .?, the same examples pass.
    const fixed = dirWith('throws-fixed', {
      'r.yaml': rule
        .replace('requestObject.spec.replicas > 50', 'requestObject.?spec.?replicas.orValue(0) > 50')
        .replace(/^ {8}- .*metadata: \{ name: d \}.*\n/m, ''),
    });
    expect(await runCli(['rules', 'test', fixed])).toMatchObject({ code: 0, stderr: '' });
  });

  it('rules test reports a condition that raises an error other than an absent key as a rule error, not as a match or no match', async () => {
    // `spec.replicas` compared with a number: the API reference's DeploymentSpec says integer, an
    // example sends it as a string, which CEL does not compare with an int (no_such_overload); at
    // ingest that is a rule error, counted and logged.
    const rule = BROKEN.replace(`"objectRef.resourse == 'pods' &&"`, `"requestObject.?spec.?replicas.orValue(0) > 50"`)
      .replace('verbs: [get], resources: [pods]', 'verbs: [create], resources: [deployments]')
      .replace(
        'examples: { match: [{ verb: get }], no_match: [{ verb: list }] }',
        `examples:
      match:
        - { verb: create, objectRef: { resource: deployments, namespace: web, apiGroup: apps, apiVersion: v1 }, requestObject: { kind: Deployment, spec: { replicas: "100" } }, responseStatus: { code: 201 } }
      no_match:
        - { verb: create, objectRef: { resource: deployments, namespace: web, apiGroup: apps, apiVersion: v1 }, requestObject: { kind: Deployment, spec: { replicas: "2" } }, responseStatus: { code: 201 } }`,
      );
    const dir = dirWith('raises', { 'r.yaml': rule });
    const r = await runCli(['rules', 'test', dir]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^51 rules, \d+ examples, 2 failed \(2 with a rule error\)\n$/);
    const file = join(dir, 'r.yaml');
    expect(r.stderr.trim().split('\n')).toEqual([
      `ERROR ${file}: broken: examples.match[0]: its condition raised cel:no_such_overload (no such overload: dyn<string> > int): a rule error, not a match or a no match`,
      `ERROR ${file}: broken: examples.no_match[0]: its condition raised cel:no_such_overload (no such overload: dyn<string> > int): a rule error, not a match or a no match`,
    ]);
  });

  it('a condition nesting one list of the request inside another (a cross product) is refused at load', async () => {
    // Pairs of a list response's items: a PodList of 2,000 items (84 KB) makes 4 million
    // evaluations, about a second of one event's ingest; a third level makes it hours.
    const cross = BROKEN.replace(
      `"objectRef.resourse == 'pods' &&"`,
      `"responseObject.?items.orValue([]).exists(a, responseObject.items.exists(b, a.metadata.name == b.metadata.name && a.metadata.uid != b.metadata.uid))"`,
    );
    const dir = dirWith('cross', { 'c.yaml': cross });
    const r = await runCli(['rules', 'test', dir]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `${join(dir, 'c.yaml')}: broken: condition does not compile: exists() over responseObject.items inside the a comprehension runs once per pair of elements of two lists the request sizes (a cross product, unbounded cost); range it over part of a (a.field) or a literal list`,
    );
    await expect(withRules(loadIngestConfig({ K8S_AUDIT_RULES: dir }))).rejects.toThrow(
      /c\.yaml: broken: condition does not compile: exists\(\) over/,
    );
    // Two lists of one element paired (a Role rule's verbs with its resources) are a cross product too.
    const pairs = dirWith('pairs', {
      'p.yaml': BROKEN.replace(
        `"objectRef.resourse == 'pods' &&"`,
        `"requestObject.?rules.orValue([]).exists(r, r.verbs.exists(v, r.resources.exists(x, x == v)))"`,
      ),
    });
    expect((await runCli(['rules', 'test', pairs])).stderr).toContain('exists() over r.resources inside the v comprehension');
    // Negated, the pairs cost the same.
    const negated = dirWith('cross-negated', {
      'c.yaml': BROKEN.replace(
        `"objectRef.resourse == 'pods' &&"`,
        () => `"!requestObject.?rules.orValue([]).exists(r, requestObject.rules.exists(s, r == s))"`,
      ),
    });
    expect((await runCli(['rules', 'test', negated])).stderr).toContain('exists() over requestObject.rules inside the r comprehension');
    // Nesting over the outer element's own lists (each part of the body visited once) and over a
    // literal list loads, as the shipped pod-spec rules do.
    const linear = BROKEN.replace(
      `"objectRef.resourse == 'pods' &&"`,
      `"containers.exists(c, c.?ports.orValue([]).exists(p, ['22', '2375'].exists(n, string(p.?containerPort.orValue(0)) == n)))"`,
    )
      .replace('verbs: [get], resources: [pods]', 'verbs: [create], resources: [pods]')
      .replace(
        'examples: { match: [{ verb: get }], no_match: [{ verb: list }] }',
        `examples:
      match:
        - { verb: create, objectRef: { resource: pods, namespace: web, apiVersion: v1 }, requestObject: { kind: Pod, spec: { containers: [{ name: c, image: a, ports: [{ containerPort: 2375 }] }] } }, responseStatus: { code: 201 } }
      no_match:
        - { verb: create, objectRef: { resource: pods, namespace: web, apiVersion: v1 }, requestObject: { kind: Pod, spec: { containers: [{ name: c, image: a, ports: [{ containerPort: 80 }] }] } }, responseStatus: { code: 201 } }`,
      );
    expect(await runCli(['rules', 'test', dirWith('linear', { 'l.yaml': linear })])).toMatchObject({ code: 0, stderr: '' });
  });

  it('a matches() pattern that backtracks exponentially, is not a literal or is beyond RE2 is refused at load, naming it', async () => {
    // cel-js runs matches() with JavaScript's backtracking RegExp; ^(a+)+$ on a user agent of
    // 'a' x 26 + '!' took 685 ms of one request's ingest, and every requester writes userAgent.
    const refused: [string, string][] = [
      [`userAgent.matches('^(a+)+$')`, `matches('^(a+)+$') repeats the group (a+)+, which holds a quantifier`],
      [`objectRef.name.matches('(a*)*b')`, `matches('(a*)*b') repeats the group (a*)*, which holds a quantifier`],
      [`userAgent.matches('^(a|aa)+$')`, `matches('^(a|aa)+$') repeats the group (a|aa)+, whose alternatives`],
      [`requestURI.matches('^(\\\\w+\\\\s?)*$')`, `matches('^(\\\\w+\\\\s?)*$') repeats the group (\\w+\\s?)*, which holds a quantifier`],
      [`objectRef.name.matches('(a)\\\\1')`, `matches('(a)\\\\1') uses the backreference \\1, which RE2`],
      [`objectRef.name.matches('admin(?!-ro)')`, `matches('admin(?!-ro)') uses the lookahead (?!, which RE2`],
      [`objectRef.name.matches('(?<=kube-)proxy')`, `matches('(?<=kube-)proxy') uses the lookbehind (?<=, which RE2`],
      [
        `objectRef.name.matches(userAgent)`,
        `matches(userAgent): the pattern is not a string literal, so the event would choose the regular expression`,
      ],
      [`objectRef.name.matches('^' + objectRef.namespace)`, `matches('^' + objectRef.namespace): the pattern is not a string literal`],
      // Under a negation too (the operand of `!` is not in a list of the AST, and was not looked at).
      [`!objectRef.name.matches(userAgent)`, `matches(userAgent): the pattern is not a string literal`],
      [`!userAgent.matches('^(a+)+$')`, `matches('^(a+)+$') repeats the group (a+)+, which holds a quantifier`],
      // The name the engine gives matches() internally is not a function of the rules' CEL.
      [`userAgent.linearMatches('a')`, 'linearMatches() is not a function rules can call; write matches()'],
      // RE2 caps a count at 1000 (JavaScript reads it): Kubernetes' CEL would refuse the rule.
      [
        `objectRef.name.matches('a{1001}')`,
        "matches('a{1001}') is not a regular expression RE2 reads (error parsing regexp: invalid repeat count: `{1001}`)",
      ],
    ];
    for (const [i, [condition, message]] of refused.entries()) {
      const dir = dirWith(`regex-${i}`, { 'r.yaml': BROKEN.replace(`"objectRef.resourse == 'pods' &&"`, () => JSON.stringify(condition)) });
      const r = await runCli(['rules', 'test', dir]);
      expect(r.code, condition).toBe(1);
      expect(r.stderr, condition).toContain(`${join(dir, 'r.yaml')}: broken: condition does not compile: ${message}`);
    }
    // The ReDoS never reaches an ingest: `serve` and the Lambda's init refuse to start on it.
    const redos = dirWith('regex-serve', {
      'r.yaml': BROKEN.replace(`"objectRef.resourse == 'pods' &&"`, () => `"userAgent.matches('^(a+)+$')"`),
    });
    const served = await runCli(['serve', '--port', '0', '--data-dir', join(scratch, 'regex-serve-data')], {
      K8S_AUDIT_RULES: redos,
      K8S_AUDIT_SHARED_SECRET: 'regex-secret',
    });
    expect(served.code).toBe(2);
    expect(served.stderr).toContain(
      `invalid configuration: K8S_AUDIT_RULES: ${join(redos, 'r.yaml')}: broken: condition does not compile: matches('^(a+)+$') repeats the group (a+)+`,
    );
    expect(served.stdout).not.toContain('listening on');
    await expect(withRules(loadIngestConfig({ K8S_AUDIT_RULES: redos }))).rejects.toThrow(
      /r\.yaml: broken: condition does not compile: matches\('\^\(a\+\)\+\$'\)/,
    );
    // Repeated groups that read each input one way load: plain-text alternatives none of which
    // begins another, a group quantified at most once, as the shipped rules' patterns are. RE2's
    // own syntax loads and means what it means in Kubernetes: `(?i)` (JavaScript has no inline flag).
    const linear = BROKEN.replace(
      `"objectRef.resourse == 'pods' &&"`,
      () =>
        `"objectRef.name.matches('^(ab|cd)+(-[a-z0-9]+)?$') && !objectRef.name.matches('(x|y){3}') && objectRef.name.matches('(?i)^ABCD')"`,
    ).replace(
      'examples: { match: [{ verb: get }], no_match: [{ verb: list }] }',
      `examples:
      match: [{ verb: get, objectRef: { resource: pods, namespace: web, name: abcd-1, apiVersion: v1 } }]
      no_match: [{ verb: get, objectRef: { resource: pods, namespace: web, name: abxyx, apiVersion: v1 } }]`,
    );
    expect(await runCli(['rules', 'test', dirWith('regex-linear', { 'l.yaml': linear })])).toMatchObject({ code: 0, stderr: '' });
  });

  it('the ingest refuses to start on a broken pack, an unreadable directory or an unknown K8S_AUDIT_SEVERITY', async () => {
    const broken = dirWith('broken-ingest', { 'x.yaml': BROKEN });
    expect(() => loadIngestConfig({ K8S_AUDIT_RULES: broken, K8S_AUDIT_SEVERITY: 'loud' })).toThrow(
      /K8S_AUDIT_SEVERITY must be default or spec, got "loud"/,
    );
    expect(loadIngestConfig({ K8S_AUDIT_SEVERITY: 'spec' }).detection).toEqual({ severity: 'spec', rules: null });
    // The directory is read at init (withRules), where the ingest entry points await it before serving.
    const pending = loadIngestConfig({ K8S_AUDIT_RULES: broken, EVENTS_SINK: 'stdout', ALERTS_SINK: 'stdout', REJECTS_SINK: 'stdout' });
    expect(pending.pendingRules).toEqual({ kind: 'dir', dir: broken });
    await expect(createIngestService(pending)).rejects.toThrow(`K8S_AUDIT_RULES: ${broken} was not read at init`);
    const failure = await withRules(pending).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(ConfigError);
    expect((failure as ConfigError).message).toMatch(/K8S_AUDIT_RULES: .*x\.yaml: broken: condition does not compile/);
    await expect(withRules(loadIngestConfig({ K8S_AUDIT_RULES: join(scratch, 'missing') }))).rejects.toThrow(
      /missing: cannot read the rules directory \(ENOENT\)/,
    );
    const ready = await withRules(loadIngestConfig({ K8S_AUDIT_RULES: OPERATOR_RULES }));
    expect(ready.pendingRules).toBeNull();
    expect(ready.detection?.rules?.describe?.('cryptominer-image')).toBeDefined();
  });

  it("normalise scores with K8S_AUDIT_SEVERITY=spec and with an operators' rule", async () => {
    const file = join(FALCO_DIR, 'create_nginx_pod_privileged.json');
    const last = (out: string) => JSON.parse(out.trim().split('\n').at(-1) as string);
    expect(last((await runCli(['normalise', file])).stdout)).toMatchObject({
      severity: 'high',
      severity_reason: 'rule:privileged-container',
    });
    expect(last((await runCli(['normalise', file], { K8S_AUDIT_SEVERITY: 'spec' })).stdout)).toMatchObject({
      severity: 'medium',
      severity_reason: 'workload-change',
      rule_ids: [],
    });
    const miner = dirWith('miner', {
      'm.yaml': BROKEN.replace(`"objectRef.resourse == 'pods' &&"`, `"containers.exists(c, c.image == 'nginx')"`).replace(
        'verbs: [get]',
        'verbs: [create]',
      ),
    });
    const custom = last((await runCli(['normalise', file], { K8S_AUDIT_RULES: miner })).stdout);
    expect(custom.rule_ids).toEqual(['privileged-container', 'broken']);
  });
});
