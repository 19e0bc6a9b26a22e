// The operators' `routine` section (docs/detection-rules.md, "The cluster's own routine
// identities"), through the built CLI as an operator runs it: `rules list` on a directory holding
// one, and `normalise` with K8S_AUDIT_RULES naming it.
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { normaliseAuditEvent } from '../../lib/audit/index.js';
import { ConfigError } from '../../lib/config/env.js';
import { compileRulesSource } from '../../lib/rules/load.js';
import { ADDON_SECRET_WATCHER_USERS, evictionEvent, secretsReflectorEvent } from '../helpers/k8s-events.js';
import { INJECTORS, webhookWrite, withCaBundle } from '../helpers/webhook-ca-writes.js';

const run = promisify(execFile);
const CLI = join(import.meta.dirname, '..', '..', 'dist', 'cli.mjs');
const scratch = mkdtempSync(join(tmpdir(), 'aisoc-routine-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

async function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, ...args], {
      env: { PATH: process.env.PATH ?? '', ...env },
      timeout: 30_000,
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

function dirWith(name: string, files: Record<string, string>): string {
  const dir = join(scratch, name);
  mkdirSync(dir);
  for (const [file, text] of Object.entries(files)) writeFileSync(join(dir, file), text);
  return dir;
}

const sa = (ns: string, name: string) => `system:serviceaccount:${ns}:${name}`;
// kube-prometheus-stack installed as its README does (`helm install kube-prometheus-stack
// prometheus-community/kube-prometheus-stack -n monitoring`): its kube-state-metrics subchart names
// the account `<release>-kube-state-metrics` (prometheus-community/helm-charts
// charts/kube-state-metrics/templates/_helpers.tpl, kube-state-metrics.fullname) and its
// ClusterRole lists and watches secrets (templates/_permissions.tpl, collectors.secrets).
const KPS_KSM = sa('monitoring', 'kube-prometheus-stack-kube-state-metrics');
// cluster-autoscaler's Helm chart names its account `<release>-aws-cluster-autoscaler`
// (kubernetes/autoscaler charts/cluster-autoscaler, cluster-autoscaler.fullname).
const CA_CHART = sa('kube-system', 'cluster-autoscaler-aws-cluster-autoscaler');

const ROUTINE = `# Our cluster's add-ons as we install them
routine:
  secret_watchers:
    - ${KPS_KSM}
`;
const DRAINERS = `routine:
  node_drainers: ["${CA_CHART}"]
  secret_watchers: ["${KPS_KSM}"]
`;

// The integration's variants of the shared shapes: kube-prometheus-stack's kube-state-metrics in
// `monitoring`, and cluster-autoscaler draining from inside the VPC.
const secretsReflector = (username: string, verb: 'list' | 'watch'): object =>
  secretsReflectorEvent(username, verb, {
    user: { username, groups: ['system:serviceaccounts', 'system:serviceaccounts:monitoring', 'system:authenticated'] },
    userAgent: 'v2.13.0 (linux/amd64) kubernetes/0000000',
  });
const eviction = (username: string): object =>
  evictionEvent(username, 201, {
    user: { username, groups: ['system:serviceaccounts', 'system:serviceaccounts:kube-system', 'system:authenticated'] },
    sourceIPs: ['10.0.3.21'],
    userAgent: 'cluster-autoscaler/v1.32.1 (linux/amd64) kubernetes/$Format',
    responseStatus: { metadata: {}, status: 'Success', code: 201 },
  });

describe("the operators' routine identities", () => {
  // The kube-prometheus-stack's kube-state-metrics, a look-alike (its name in another namespace),
  // the chart-installed cluster-autoscaler draining a node, and an undeclared evictor.
  const events = [
    secretsReflector(KPS_KSM, 'list'),
    secretsReflector(KPS_KSM, 'watch'),
    secretsReflector(sa('web', 'kube-prometheus-stack-kube-state-metrics'), 'list'),
    eviction(CA_CHART),
    eviction(sa('web', 'cluster-autoscaler-aws-cluster-autoscaler')),
  ];
  const input = join(scratch, 'events.ndjson');
  writeFileSync(input, `${events.map((e) => JSON.stringify(e)).join('\n')}\n`);
  const scored = async (env: Record<string, string>) => {
    const r = await cli(['normalise', input], env);
    expect(r.stderr).not.toMatch(/error|invalid/i);
    expect(r.code).toBe(0);
    return r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { severity: string; severity_reason: string })
      .map((r) => `${r.severity} ${r.severity_reason}`);
  };

  it('normalise scores a declared secret watcher low and a declared drainer info; look-alikes, no section, and spec keep the table', async () => {
    const rules = dirWith('ours', { '00-routine.yaml': ROUTINE, '10-drainers.yml': DRAINERS });
    expect(await scored({ K8S_AUDIT_RULES: rules })).toEqual([
      'low routine-addon-secrets-watch',
      'low routine-addon-secrets-watch',
      'high cluster-wide-secrets-read',
      'info routine-node-drain-eviction',
      'medium workload-change',
    ]);
    // Without the section (the shipped defaults), what the operator saw before declaring them.
    const without = ['high cluster-wide-secrets-read', 'high cluster-wide-secrets-read', 'high cluster-wide-secrets-read'];
    expect(await scored({})).toEqual([...without, 'medium workload-change', 'medium workload-change']);
    // K8S_AUDIT_SEVERITY=spec: the spec's table, whatever the files declare.
    expect(await scored({ K8S_AUDIT_RULES: rules, K8S_AUDIT_SEVERITY: 'spec' })).toEqual([
      ...without,
      'medium workload-change',
      'medium workload-change',
    ]);
  });

  it('rules list shows the built-in identities, then each declared identity with its file', async () => {
    const rules = dirWith('listed', { 'routine.yaml': DRAINERS });
    const r = await cli(['rules', 'list', rules]);
    expect(r.code).toBe(0);
    // The built-in ones first, as refineSeverity counts them (the drain of an EKS managed node group).
    expect(r.stdout).toContain(`routine node_drainers    eks:node-manager\n${''.padEnd(25)} built in\n`);
    expect(r.stdout.indexOf('eks:node-manager')).toBeLessThan(r.stdout.indexOf(CA_CHART));
    const shipped = await cli(['rules', 'list']);
    expect(shipped.stdout).toContain('routine secret_watchers  system:serviceaccount:cert-manager:cert-manager\n');
    expect(shipped.stdout).toMatch(/^\d+ rules, \d+ built-in routine identities\n$/m);
    expect(r.stdout).toContain(`routine node_drainers    ${CA_CHART}\n${''.padEnd(25)} ${join(rules, 'routine.yaml')}\n`);
    expect(r.stdout).toContain(`routine secret_watchers  ${KPS_KSM}\n`);
    expect(r.stdout).toMatch(/^\d+ rules, \d+ built-in routine identities, 2 declared \(shipped pack with .*listed\)\n$/m);
  });

  it('rules list --json gives every routine identity after the rules: the built-in ones, then the declared ones with their file', async () => {
    // Before, --json printed the rules alone: a script could not see what the text listing shows.
    const lines = async (args: string[]) => {
      const r = await cli(['rules', 'list', ...args, '--json']);
      expect(r).toMatchObject({ code: 0, stderr: '' });
      return r.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, unknown>);
    };
    // The built-in ones as docs/detection-rules.md's Refinements table names them.
    const builtIn = [
      ...ADDON_SECRET_WATCHER_USERS.map((user) => ({ routine: 'secret_watchers', user, built_in: true })),
      ...[
        'eks:node-manager',
        sa('kube-system', 'cluster-autoscaler'),
        sa('kube-system', 'karpenter'),
        sa('karpenter', 'karpenter'),
        sa('kube-system', 'aws-node-termination-handler'),
      ].map((user) => ({ routine: 'node_drainers', user, built_in: true })),
      ...Object.values(INJECTORS).map((user) => ({ routine: 'webhook_ca_injectors', user, built_in: true })),
    ];
    const shipped = await lines([]);
    // The rules first (one line each), then the routine identities.
    const ruleCount = 50;
    expect(shipped.filter((l) => 'id' in l)).toHaveLength(ruleCount);
    expect(shipped.slice(ruleCount)).toEqual(builtIn);

    const rules = dirWith('listed-json', { 'routine.yaml': DRAINERS });
    const file = join(rules, 'routine.yaml');
    const withDir = await lines([rules]);
    expect(withDir.slice(0, ruleCount).every((l) => typeof l.id === 'string')).toBe(true);
    expect(withDir.slice(ruleCount)).toEqual([
      ...builtIn,
      { routine: 'secret_watchers', user: KPS_KSM, built_in: false, file },
      { routine: 'node_drainers', user: CA_CHART, built_in: false, file },
    ]);
  });

  it('refuses a misspelt section name, which would otherwise be dropped without a word', async () => {
    // `routines:` for `routine:`: before, the file loaded, rules list said 0 routine identities,
    // and the add-on's watches stayed high with nothing telling the operator why.
    const rules = dirWith('typo', { 'routine.yaml': ROUTINE.replace(/^routine:/m, 'routines:') });
    const file = join(rules, 'routine.yaml');
    const listed = await cli(['rules', 'list', rules]);
    expect(listed.code).toBe(1);
    expect(listed.stderr).toContain(
      `${file}: unknown top-level key "routines": did you mean routine? (a rule file holds "rules", "routine", or both)`,
    );
    const normalised = await cli(['normalise', input], { K8S_AUDIT_RULES: rules });
    expect(normalised.code).not.toBe(0);
    expect(normalised.stderr).toContain('unknown top-level key "routines": did you mean routine?');
  });

  it('refuses a wildcard, an empty name, a node, the anonymous user, a group and an unknown list, naming file and entry; the start fails', async () => {
    const rules = dirWith('bad', {
      'ok.yaml': ROUTINE,
      'wrong.yaml': `routine:
  secret_watchers:
    - "system:serviceaccount:*:kube-state-metrics"
    - ""
    - system:node:ip-10-0-3-21.eu-west-1.compute.internal
  node_drainers: [system:anonymous, "system:serviceaccounts:kube-system", "system:serviceaccount:karpenter"]
  drainers: [karpenter]
`,
    });
    const file = join(rules, 'wrong.yaml');
    const listed = await cli(['rules', 'list', rules]);
    expect(listed.code).toBe(1);
    expect(listed.stderr.split('\n')).toEqual([
      `${file}: routine: unknown key "drainers" (secret_watchers, node_drainers, webhook_ca_injectors)`,
      `${file}: routine.secret_watchers[0] "system:serviceaccount:*:kube-state-metrics": a wildcard; only exact names are accepted: the same name in another namespace (or any name a pattern takes in) is anyone's identity`,
      `${file}: routine.secret_watchers[1] "": an empty name; list exact user names`,
      `${file}: routine.secret_watchers[2] "system:node:ip-10-0-3-21.eu-west-1.compute.internal": a node's identity; a pod that escapes to its host holds the node's credentials, and the kubelets' routine traffic is already recognised`,
      `${file}: routine.node_drainers[0] "system:anonymous": the unauthenticated user; anyone who reaches the API server is it`,
      `${file}: routine.node_drainers[1] "system:serviceaccounts:kube-system": a group name, not a user name; list the exact user names`,
      `${file}: routine.node_drainers[2] "system:serviceaccount:karpenter": not a service account name; write system:serviceaccount:<namespace>:<name>`,
      'the pack does not load: 7 problem(s)',
      '',
    ]);
    // The ingest's other entry point refuses to start on it too, naming the same entries.
    const normalised = await cli(['normalise', input], { K8S_AUDIT_RULES: rules });
    expect(normalised.code).not.toBe(0);
    expect(normalised.stdout).toBe('');
    expect(normalised.stderr).toContain(`K8S_AUDIT_RULES: ${file}: routine: unknown key "drainers"`);
    expect(normalised.stderr).toContain(`${file}: routine.node_drainers[0] "system:anonymous"`);
  });

  it("normalise scores a declared add-on's own webhook CA bundle update low; undeclared, a look-alike and one aimed elsewhere stay high", async () => {
    // external-secrets' cert-controller (its chart's account `external-secrets-cert-controller`)
    // sets caBundle (and its own Service) on its webhooks and sends an update of the whole
    // configuration on every requeue (external-secrets/external-secrets 199c9103,
    // pkg/controllers/webhookconfig/webhookconfig.go updateConfig, inject).
    const certController = sa('external-secrets', 'external-secrets-cert-controller');
    const config = withCaBundle({
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingWebhookConfiguration',
      metadata: { name: 'secretstore-validate' },
      webhooks: [
        {
          name: 'validate.secretstore.external-secrets.io',
          admissionReviewVersions: ['v1', 'v1beta1'],
          clientConfig: {
            service: {
              name: 'external-secrets-webhook',
              namespace: 'external-secrets',
              path: '/validate-external-secrets-io-v1-secretstore',
            },
          },
          failurePolicy: 'Fail',
          rules: [
            {
              apiGroups: ['external-secrets.io'],
              apiVersions: ['v1'],
              operations: ['CREATE', 'UPDATE', 'DELETE'],
              resources: ['secretstores'],
              scope: 'Namespaced',
            },
          ],
          sideEffects: 'None',
        },
      ],
    });
    const aimed = {
      ...config,
      webhooks: (config.webhooks as Record<string, unknown>[]).map((w) => ({ ...w, clientConfig: { url: 'https://203.0.113.9/v' } })),
    };
    const writes = [
      webhookWrite(certController, 'update', 'ValidatingWebhookConfiguration', 'secretstore-validate', config),
      webhookWrite(
        sa('web', 'external-secrets-cert-controller'),
        'update',
        'ValidatingWebhookConfiguration',
        'secretstore-validate',
        config,
      ),
      webhookWrite(certController, 'update', 'ValidatingWebhookConfiguration', 'secretstore-validate', aimed),
    ];
    const file = join(scratch, 'webhooks.ndjson');
    writeFileSync(file, `${writes.map((e) => JSON.stringify(e)).join('\n')}\n`);
    const score = async (env: Record<string, string>) => {
      const r = await cli(['normalise', file], env);
      expect(r.code).toBe(0);
      return r.stdout
        .trim()
        .split('\n')
        .map((l) => {
          const rec = JSON.parse(l) as { severity: string; severity_reason: string };
          return `${rec.severity} ${rec.severity_reason}`;
        });
    };
    const rules = dirWith('injectors', { 'routine.yaml': `routine:\n  webhook_ca_injectors: ["${certController}"]\n` });
    const high = 'high rule:admission-webhook-change';
    expect(await score({ K8S_AUDIT_RULES: rules })).toEqual(['low routine-webhook-ca-injection', high, high]);
    expect(await score({})).toEqual([high, high, high]);
    expect(await score({ K8S_AUDIT_RULES: rules, K8S_AUDIT_SEVERITY: 'spec' })).toEqual(Array(3).fill('info steady-state'));
  });

  it('an S3 rules object may carry the section too, read as the ingest reads it at init', async () => {
    const object = { bucket: 'acme-secops', key: 'k8s/rules.yaml' };
    const rules = await compileRulesSource({ kind: 's3', object }, async () => DRAINERS);
    const ctx = { tenantId: 't', clusterName: 'c', receivedAt: 0, detection: { severity: 'default' as const, rules } };
    const scored = (e: object) => normaliseAuditEvent(e as never, ctx);
    expect(scored(secretsReflector(KPS_KSM, 'watch'))).toMatchObject({ severity: 'low', severity_reason: 'routine-addon-secrets-watch' });
    expect(scored(eviction(CA_CHART))).toMatchObject({ severity: 'info', severity_reason: 'routine-node-drain-eviction' });
    const bad = compileRulesSource(
      { kind: 's3', object },
      async () => 'routine:\n  node_drainers: ["system:serviceaccount:*:karpenter"]\n',
    );
    await expect(bad).rejects.toThrow(ConfigError);
    await expect(bad).rejects.toThrow(
      /K8S_AUDIT_RULES: s3:\/\/acme-secops\/k8s\/rules\.yaml: routine\.node_drainers\[0\] "system:serviceaccount:\*:karpenter": a wildcard/,
    );
  });
});
