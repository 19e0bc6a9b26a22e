import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { decideEventSeverity, highestSeverity, normaliseAuditEvent, refineSeverity, type SeverityInput } from '../../../lib/audit/index.js';
import type { JsonObject } from '../../../lib/json.js';
import {
  cleanPath,
  compileRules,
  compileRulesAll,
  isEksAddonImage,
  isPrivateIp,
  jsonPatchView,
  mergeRules,
  pathUnder,
  ruleActivation,
  selectsLabel,
  uriPath,
} from '../../../lib/rules/engine.js';
import { exampleEvent } from '../../../lib/rules/examples.js';
import { compilePack } from '../../../lib/rules/load.js';
import { parseRuleFile, RulePackError, readRuleDocument } from '../../../lib/rules/pack.js';
import { linearRegex } from '../../../lib/rules/pattern.js';
import { shippedRuleSpecs } from '../../../lib/rules/shipped.js';
import type { RuleSpec } from '../../../lib/rules/types.js';
import { allFalcoEvents, FIXTURES, falcoEvent } from '../../helpers/fixtures.js';
import { ADDON_SECRET_WATCHER_USERS, evictionEvent, PDB_REFUSAL, secretsReflectorEvent } from '../../helpers/k8s-events.js';

const EX = `
    examples:
      match: [{ verb: get }]
      no_match: [{ verb: list }]`;

function rule(id: string, condition: string, extra = ''): string {
  return `
  - id: ${id}
    title: t
    severity: high
    description: d
    mitre: [T1098]
    source: s
    match: { verbs: ['*'], resources: ['*'] }
    condition: ${JSON.stringify(condition)}${extra}${EX}`;
}

// Parsed here, synchronously, as the build parses the shipped files; parseRuleFile's own YAML step is tested below.
function pack(...rules: string[]): RuleSpec[] {
  return readRuleDocument(parseYaml(`rules:${rules.join('')}`), 'ops/extra.yaml') as RuleSpec[];
}

function problems(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof RulePackError) return err.problems;
    throw err;
  }
  return [];
}

/** The problems a promise rejects with (a RulePackError's), or [] when it resolves. */
async function rejected(p: Promise<unknown>): Promise<string[]> {
  try {
    await p;
  } catch (err) {
    if (err instanceof RulePackError) return err.problems;
    throw err;
  }
  return [];
}

describe('rule packs', () => {
  it('a condition that does not compile fails init with its file, id and the CEL error', () => {
    expect(problems(() => compileRules(pack(rule('typo', "verbb == 'get'"))))).toEqual([
      expect.stringMatching(/^ops\/extra\.yaml: typo: condition does not compile: Unknown variable: verbb/),
    ]);
    expect(problems(() => compileRules(pack(rule('syntax', "verb == 'get' &&"))))).toEqual([
      expect.stringMatching(/^ops\/extra\.yaml: syntax: condition does not compile: .*EOF/),
    ]);
    expect(problems(() => compileRules(pack(rule('not-bool', 'verb'))))).toEqual([
      'ops/extra.yaml: not-bool: condition does not compile: the condition yields string, not bool',
    ]);
  });

  it('a malformed rule names every problem', async () => {
    const text = 'rules:\n  - id: Bad_Id\n    severity: critical\n    mitre: [ATTACK-1]\n';
    const found = await rejected(parseRuleFile(text, 'x.yaml'));
    expect(found).toEqual(
      expect.arrayContaining([
        expect.stringContaining('x.yaml: Bad_Id: id must be'),
        expect.stringContaining('severity must be one of info, low, medium, high'),
        expect.stringContaining('mitre must list ATT&CK technique ids'),
        expect.stringContaining('title must be a non-empty string'),
        expect.stringContaining('match must be a mapping'),
        expect.stringContaining('examples must be a mapping'),
      ]),
    );
    expect((await rejected(parseRuleFile('rules: [a: b', 'y.yaml')))[0]).toMatch(/^y\.yaml: not valid YAML/);
    expect(await rejected(parseRuleFile('- just a list', 'z.yaml'))).toEqual([
      'z.yaml: expected a mapping with a "rules" list, a "routine" section, or both',
    ]);
    expect(problems(() => compileRules([...pack(rule('dup', 'true')), ...pack(rule('dup', 'true'))]))).toEqual([
      'ops/extra.yaml: dup: the id is used twice',
    ]);
  });

  it('operators override a rule by id, disable one, and add their own', async () => {
    const base = pack(rule('a', "verb == 'get'"), rule('b', "verb == 'get'"));
    const extra = [
      ...pack(rule('a', "verb == 'list'")),
      ...((await parseRuleFile('rules:\n  - id: b\n    disabled: true\n', 'ops/off.yaml')) as never[]),
      ...pack(rule('c', 'true')),
    ];
    const merged = mergeRules(base, extra);
    expect(merged.map((r) => [r.id, r.condition])).toEqual([
      ['a', "verb == 'list'"],
      ['c', 'true'],
    ]);
    const off = (await parseRuleFile('rules:\n  - id: nope\n    disabled: true\n', 'ops/off.yaml')) as never[];
    expect(problems(() => mergeRules(base, off))).toEqual(['ops/off.yaml: nope: disables a rule that does not exist']);
  });

  it("an id the operators' rules name twice (one file or two, override, disable or new) is a problem naming both files", async () => {
    const base = pack(rule('a', "verb == 'get'"));
    const twice = [...pack(rule('mine', 'true')), ...readRuleDocument(parseYaml(`rules:${rule('mine', 'false')}`), 'ops/later.yaml')];
    expect(problems(() => mergeRules(base, twice))).toEqual([
      "ops/later.yaml: mine: the id is also in ops/extra.yaml; name each id once in the operators' rules",
    ]);
    const overridesTwice = [
      ...pack(rule('a', "verb == 'list'")),
      ...((await parseRuleFile('rules:\n  - id: a\n    disabled: true\n', 'ops/off.yaml')) as never[]),
    ];
    expect(problems(() => mergeRules(base, overridesTwice))).toEqual([
      "ops/off.yaml: a: the id is also in ops/extra.yaml; name each id once in the operators' rules",
    ]);
    expect(problems(() => mergeRules(base, pack(rule('x', 'true'), rule('x', 'true'))))).toHaveLength(1);
  });

  it("a directory's problems are named together: bad YAML in one file, a duplicate id, a disable of no rule, a condition that does not compile", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'aisoc-rules-all-'));
    try {
      writeFileSync(join(dir, '1-cel.yaml'), `rules:${rule('bad-cel', "verbb == 'get'")}`);
      writeFileSync(join(dir, '2-dup.yaml'), `rules:${rule('twice', 'true')}`);
      writeFileSync(join(dir, '3-dup.yaml'), `rules:${rule('twice', 'true')}`);
      writeFileSync(join(dir, '4-off.yaml'), 'rules:\n  - id: no-such-rule\n    disabled: true\n');
      writeFileSync(join(dir, '5-yaml.yaml'), 'rules: [a: b');
      const found = await rejected(compilePack(dir));
      expect(found).toEqual([
        expect.stringMatching(/5-yaml\.yaml: not valid YAML/),
        expect.stringMatching(/3-dup\.yaml: twice: the id is also in .*2-dup\.yaml/),
        expect.stringMatching(/4-off\.yaml: no-such-rule: disables a rule that does not exist/),
        expect.stringMatching(/1-cel\.yaml: bad-cel: condition does not compile: Unknown variable: verbb/),
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('evaluates a rule only on the verbs and resources it names', () => {
    const specs = pack(rule('exec', 'true'), rule('any', 'true'));
    (specs[0] as RuleSpec).match = { verbs: ['create'], resources: ['pods/exec'] };
    (specs[1] as RuleSpec).match = { verbs: ['get'], resources: ['pods/*', 'secrets'] };
    const engine = compileRules(specs);
    const ids = (verb: string, resource: string, subresource = '') => engine.candidates(verb, resource, subresource).map((r) => r.id);
    expect(ids('create', 'pods', 'exec')).toEqual(['exec']);
    expect(ids('get', 'pods', 'exec')).toEqual(['any']);
    expect(ids('get', 'pods')).toEqual([]);
    expect(ids('get', 'secrets')).toEqual(['any']);
    expect(ids('get', 'secrets', 'x')).toEqual([]);
    expect(ids('watch', 'pods', 'log')).toEqual([]);
  });

  it('a rule cannot see secret values: it runs on the redacted event', () => {
    const engine = compileRules(pack(rule('peek', "requestObject.?data.?password.orValue('') == 'aHVudGVyMg=='")));
    const event = exampleEvent({
      verb: 'get',
      objectRef: { resource: 'secrets', namespace: 'a', name: 'db' },
      requestObject: { kind: 'Secret', data: { password: 'aHVudGVyMg==' } },
    });
    const record = normaliseAuditEvent(event as never, {
      tenantId: null,
      clusterName: null,
      receivedAt: 0,
      detection: { severity: 'default', rules: engine },
    });
    expect(record.rule_ids).toEqual([]);
    // The same shape on a ConfigMap (not redacted) fires: the rule itself works.
    const cm = exampleEvent({ verb: 'get', objectRef: { resource: 'configmaps' }, requestObject: { data: { password: 'aHVudGVyMg==' } } });
    expect(engine.match(cm as never).map((r) => r.id)).toEqual(['peek']);
  });

  it('a rule cannot see a JWT signature anywhere in the event, in the record or in decideEventSeverity', () => {
    const signature = 'c2lnbmF0dXJlLW9mLXRoZS10b2tlbi1vbmx5';
    const jwt = `eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6bTpnIn0.${signature}`;
    const engine = compileRules(pack(rule('peek', `requestURI.contains('${signature}')`)));
    const event = exampleEvent({
      verb: 'get',
      objectRef: { resource: 'services', subresource: 'proxy' },
      requestURI: `/p?auth_token=${jwt}`,
    });
    const detection = { severity: 'default' as const, rules: engine };
    const record = normaliseAuditEvent(event as never, { tenantId: null, clusterName: null, receivedAt: 0, detection });

    expect(record.rule_ids).toEqual([]);
    expect(decideEventSeverity(event as never, detection).ruleIds).toEqual([]);
    // The engine on the event as sent fires: the rule itself works.
    expect(engine.match(event as never).map((r) => r.id)).toEqual(['peek']);
  });

  it('an evaluation error (a field the event lacks) is no match, and missing top-level fields have empty values', () => {
    const engine = compileRules(pack(rule('deep', 'requestObject.spec.hostPID == true'), rule('ns', "objectRef.namespace == ''")));
    const fired = engine.match({ auditID: 'x', verb: 'get' } as never).map((r) => r.id);
    expect(fired).toEqual(['ns']);
    const act = ruleActivation({ auditID: 'x' } as never);
    expect(act).toMatchObject({
      verb: '',
      user: { username: '', groups: [] },
      sourceIPs: [],
      responseStatus: { code: 0 },
      podSpec: {},
      podMetadata: {},
      containers: [],
    });
  });

  it('reads the pod template of every workload kind like a pod, its metadata as podMetadata', () => {
    const c = { name: 'x', image: 'i' };
    const spec = { containers: [c], initContainers: [c] };
    const metadata = { annotations: { 'container.apparmor.security.beta.kubernetes.io/x': 'unconfined' } };
    const cases: [string, unknown][] = [
      ['pods', { metadata, spec }],
      ['deployments', { metadata: { name: 'd' }, spec: { template: { metadata, spec } } }],
      ['daemonsets', { spec: { template: { metadata, spec } } }],
      ['statefulsets', { spec: { template: { metadata, spec } } }],
      ['replicasets', { spec: { template: { metadata, spec } } }],
      ['jobs', { spec: { template: { metadata, spec } } }],
      ['cronjobs', { metadata: { name: 'c' }, spec: { jobTemplate: { metadata: { name: 'j' }, spec: { template: { metadata, spec } } } } }],
    ];
    for (const [resource, body] of cases) {
      const act = ruleActivation({ auditID: 'x', verb: 'create', objectRef: { resource }, requestObject: body } as never);
      expect(act.containers, resource).toHaveLength(2);
      // The pod's own metadata, not the workload's or the job template's.
      expect(act.podMetadata, resource).toEqual(metadata);
    }
    const service = ruleActivation({ auditID: 'x', objectRef: { resource: 'services' }, requestObject: { metadata, spec } } as never);
    expect(service.containers).toEqual([]);
    expect(service.podMetadata).toEqual({});
    // A CEL condition reads it as any variable (the AppArmor annotation of container-isolation-disabled).
    const engine = compileRules(pack(rule('aa', "has(podMetadata.annotations) && podMetadata.annotations.exists(k, k.endsWith('/x'))")));
    const fired = (resource: string, body: unknown) =>
      engine.match({ auditID: 'x', verb: 'create', objectRef: { resource }, requestObject: body } as never).map((r) => r.id);
    expect(fired('deployments', { spec: { template: { metadata, spec } } })).toEqual(['aa']);
    expect(fired('deployments', { metadata, spec: { template: { spec } } })).toEqual([]);
  });

  it('says whether a request is a create: a create whatever its answer, or a patch answered 201 (server-side apply)', () => {
    const created = (verb: string, code: number) =>
      ruleActivation({ auditID: 'x', verb, objectRef: { resource: 'secrets' }, responseStatus: { code } } as never).created;
    expect(created('create', 201)).toBe(true);
    expect(created('create', 403)).toBe(true);
    expect(created('patch', 201)).toBe(true);
    expect(created('patch', 200)).toBe(false);
    expect(created('update', 201)).toBe(false);
    expect(created('get', 200)).toBe(false);
  });

  // Found by test/unit/audit/hostile-mutants.test.ts (the rules' views property, FUZZ_SEED=1):
  // a code sent as `{"toString": false}`. JSON.parse makes `toString` an own key, so Number() of
  // it threw inside the responseStatus view, and every rule reading the code or `created` counted
  // as no match: Falco's privileged pod create came out info, not high.
  it('reads a responseStatus.code whose own keys shadow toString or valueOf as 0, so the rules still run', () => {
    const real = falcoEvent('create_nginx_pod_privileged.json');
    const bent = (verb: string, code: string) =>
      JSON.parse(JSON.stringify({ ...real, verb, responseStatus: { metadata: {}, code: 0 } }).replace('"code":0', `"code":${code}`));
    const record = normaliseAuditEvent(bent('create', '{"toString":false}'), { tenantId: 't', clusterName: 'c', receivedAt: 0 });
    expect([record.severity, record.severity_reason, record.rule_ids]).toEqual([
      'high',
      'rule:privileged-container',
      ['privileged-container'],
    ]);
    expect(record.k8s_response_code).toBeNull();
    expect((ruleActivation(bent('create', '{"toString":false}')).responseStatus as JsonObject).code).toBe(0);
    // A server-side apply's code as such an object is no 201: no create, and nothing thrown.
    expect(ruleActivation(bent('patch', '{"valueOf":null,"toString":null}')).created).toBe(false);
    // A numeric string is read as the record reads it.
    expect((ruleActivation(bent('patch', '"201"')).responseStatus as JsonObject).code).toBe(201);
  });

  it("says whether a request writes an EKS add-on's own workload: kube-system, add-on images only, kube-system's or EKS's identity", () => {
    const addon = '602401143452.dkr.ecr.us-west-2.amazonaws.com/eks/kube-proxy:v1.30.0-eksbuild.3';
    const act = (namespace: string, username: string, images: string[]) =>
      ruleActivation({
        auditID: 'x',
        verb: 'create',
        user: { username, groups: [] },
        objectRef: { resource: 'pods', namespace },
        requestObject: { spec: { containers: images.map((image, i) => ({ name: `c${i}`, image })) } },
      } as never).eksAddonWorkload;
    expect(act('kube-system', 'system:serviceaccount:kube-system:daemon-set-controller', [addon])).toBe(true);
    expect(act('kube-system', 'eks:addon-manager', [addon, addon])).toBe(true);
    // Another namespace, another identity, one image from elsewhere, a look-alike host, no container.
    expect(act('web', 'system:serviceaccount:kube-system:daemon-set-controller', [addon])).toBe(false);
    expect(act('kube-system', 'alice', [addon])).toBe(false);
    expect(act('kube-system', 'system:serviceaccount:web:deployer', [addon])).toBe(false);
    expect(act('kube-system', 'eks:addon-manager', [addon, 'docker.io/library/alpine'])).toBe(false);
    expect(act('kube-system', 'eks:addon-manager', ['602401143452.dkr.ecr.us-west-2.amazonaws.com.attacker.example/eks/kube-proxy'])).toBe(
      false,
    );
    expect(act('kube-system', 'eks:addon-manager', [])).toBe(false);
  });

  it("says whether a pod or template runs as one of kube-controller-manager's accounts, by either field", () => {
    const act = (resource: string, body: unknown) =>
      ruleActivation({ auditID: 'x', verb: 'create', objectRef: { resource, namespace: 'kube-system' }, requestObject: body } as never)
        .controllerAccountPod;
    // CDK's k8s-get-sa-token pod (pkg/exploit/privilege_escalation/k8s_get_sa_token.go), and the
    // first and last accounts of controller_policy.go's list in either field.
    expect(act('pods', { spec: { serviceAccountName: 'clusterrole-aggregation-controller' } })).toBe(true);
    expect(act('pods', { spec: { serviceAccount: 'attachdetach-controller' } })).toBe(true);
    expect(act('pods', { spec: { serviceAccountName: 'coredns', serviceAccount: 'volumeattributesclass-protection-controller' } })).toBe(
      true,
    );
    // A CronJob's template two levels down.
    expect(
      act('cronjobs', { spec: { jobTemplate: { spec: { template: { spec: { serviceAccountName: 'generic-garbage-collector' } } } } } }),
    ).toBe(true);
    // kube-system's add-on accounts, a look-alike, another type, none.
    expect(act('pods', { spec: { serviceAccountName: 'aws-node' } })).toBe(false);
    expect(act('pods', { spec: { serviceAccountName: 'clusterrole-aggregation-controller-x' } })).toBe(false);
    expect(act('pods', { spec: { serviceAccountName: ['job-controller'] } })).toBe(false);
    expect(act('pods', { spec: {} })).toBe(false);
    expect(act('configmaps', { spec: { serviceAccountName: 'job-controller' } })).toBe(false);
  });

  it('says whether the requester is a controller that reads Secrets across namespaces, named whole in its namespace', () => {
    const act = (username: unknown) =>
      ruleActivation({ auditID: 'x', verb: 'list', user: { username, groups: [] }, objectRef: { resource: 'secrets' } } as never)
        .secretsController;
    expect(act('system:serviceaccount:cert-manager:cert-manager')).toBe(true);
    expect(act('system:serviceaccount:flux-system:notification-controller')).toBe(true);
    // The same name in another namespace, a person, none.
    expect(act('system:serviceaccount:web:cert-manager')).toBe(false);
    expect(act('system:serviceaccount:argocd:argocd-repo-server')).toBe(false);
    expect(act('alice')).toBe(false);
    expect(act(undefined)).toBe(false);
  });

  it("gives each container's effective security context as the kubelet computes it: its own, else the pod's", () => {
    const act = (spec: unknown) =>
      ruleActivation({ auditID: 'x', verb: 'create', objectRef: { resource: 'pods' }, requestObject: { spec } } as never).securityContexts;
    const pod = {
      seccompProfile: { type: 'Unconfined' },
      seLinuxOptions: { type: 'spc_t' },
      runAsUser: 0,
      windowsOptions: { hostProcess: true, runAsUserName: 'NT AUTHORITY\\SYSTEM' },
    };
    const got = act({
      securityContext: pod,
      containers: [
        { name: 'plain' },
        // Its own seccompProfile and seLinuxOptions replace the pod's whole (a level without a type
        // is not the pod's spc_t); windowsOptions merge field by field.
        {
          name: 'own',
          securityContext: {
            privileged: true,
            seccompProfile: { type: 'RuntimeDefault' },
            seLinuxOptions: { level: 's0:c1' },
            windowsOptions: { hostProcess: false },
          },
        },
      ],
      initContainers: [{ name: 'init', securityContext: { runAsUser: 1000 } }],
    });
    expect(got).toEqual([
      pod,
      {
        privileged: true,
        seccompProfile: { type: 'RuntimeDefault' },
        seLinuxOptions: { level: 's0:c1' },
        runAsUser: 0,
        windowsOptions: { hostProcess: false, runAsUserName: 'NT AUTHORITY\\SYSTEM' },
      },
      { ...pod, runAsUser: 1000 },
    ]);
    // A patch of the pod's securityContext alone: the pod's, for the containers it leaves as they are.
    expect(act({ securityContext: { seccompProfile: { type: 'Unconfined' } } })).toEqual([{ seccompProfile: { type: 'Unconfined' } }]);
    expect(act({ containers: [{ name: 'a' }] })).toEqual([{}]);
    expect(act({})).toEqual([]);
  });

  it('reads a JSON patch (kubectl patch --type=json) as the fields it sets, so the shipped rules see what a merge patch would show them', () => {
    // The shapes RFC 6902 allows: a replace of a leaf, an add of a whole element at /-, an index path.
    const patch = (resource: string, requestObject: unknown[], extra: Record<string, unknown> = {}) =>
      ({
        kind: 'Event',
        apiVersion: 'audit.k8s.io/v1',
        auditID: `p-${resource}`,
        stage: 'ResponseComplete',
        verb: 'patch',
        user: { username: 'mallory' },
        objectRef: { resource, namespace: 'default', name: 'web', apiVersion: 'v1', ...extra },
        responseStatus: { code: 200 },
        requestObject,
      }) as never;
    const nodePort = decideEventSeverity(patch('services', [{ op: 'replace', path: '/spec/type', value: 'NodePort' }]));
    expect(nodePort.ruleIds).toContain('nodeport-service');
    const leaf = decideEventSeverity(
      patch('deployments', [{ op: 'add', path: '/spec/template/spec/containers/0/securityContext/privileged', value: true }], {
        apiGroup: 'apps',
      }),
    );
    expect(leaf).toMatchObject({ severity: 'high', reason: 'rule:privileged-container' });
    const element = decideEventSeverity(
      patch(
        'daemonsets',
        [
          { op: 'test', path: '/spec/template/spec/hostPID', value: false },
          { op: 'add', path: '/spec/template/spec/hostPID', value: true },
          {
            op: 'add',
            path: '/spec/template/spec/containers/-',
            value: { name: 'x', image: 'alpine', securityContext: { privileged: true } },
          },
        ],
        { apiGroup: 'apps' },
      ),
    );
    expect(element.ruleIds).toEqual(expect.arrayContaining(['privileged-container', 'host-pid-or-ipc']));
    // What a patch removes or only tests sets nothing.
    const removal = decideEventSeverity(
      patch('deployments', [
        { op: 'test', path: '/spec/template/spec/containers/0/securityContext/privileged', value: true },
        { op: 'remove', path: '/spec/template/spec/containers/0/securityContext/privileged' },
      ]),
    );
    expect(removal.ruleIds).toEqual([]);
  });

  it('reads what a JSON patch copy or move set from the object the patch left, and only at the path it set', () => {
    // A Deployment after the patch (responseObject at RequestResponse): enableServiceLinks is the
    // apiserver's default (true), hostPID the copy of it; the sidecar was privileged before.
    const after: JsonObject = {
      kind: 'Deployment',
      spec: {
        template: {
          spec: {
            enableServiceLinks: true,
            hostPID: true,
            containers: [
              { name: 'app', image: 'ubuntu' },
              { name: 'agent', image: 'falco', securityContext: { privileged: true } },
            ],
            volumes: [
              { name: 'logs', hostPath: { path: '/var/log' } },
              { name: 'root', hostPath: { path: '/' } },
            ],
          },
        },
      },
    };
    const event = (requestObject: unknown[], responseObject?: unknown) =>
      ({
        kind: 'Event',
        apiVersion: 'audit.k8s.io/v1',
        auditID: 'copy',
        stage: 'ResponseComplete',
        verb: 'patch',
        user: { username: 'mallory' },
        objectRef: { resource: 'deployments', namespace: 'default', name: 'web', apiGroup: 'apps', apiVersion: 'v1' },
        responseStatus: { code: 200 },
        requestObject,
        ...(responseObject === undefined ? {} : { responseObject }),
      }) as never;
    const copy = [{ op: 'copy', from: '/spec/template/spec/enableServiceLinks', path: '/spec/template/spec/hostPID' }];
    expect(decideEventSeverity(event(copy, after))).toMatchObject({ severity: 'high', reason: 'rule:host-pid-or-ipc' });
    expect(decideEventSeverity(event(copy, after)).ruleIds).toEqual(['host-pid-or-ipc']);
    // At the Request level there is no responseObject: nothing is known to be set.
    expect(decideEventSeverity(event(copy)).ruleIds).toEqual([]);
    // A move appending to a list sets the list's last element.
    expect(jsonPatchView([{ op: 'move', from: '/spec/template/spec/volumes/0', path: '/spec/template/spec/volumes/-' }], after)).toEqual({
      spec: { template: { spec: { volumes: [{ name: 'root', hostPath: { path: '/' } }] } } },
    });
    // A copy to a path the object does not hold (the patch failed, or the body was cut) sets nothing.
    expect(jsonPatchView([{ op: 'copy', from: '/a', path: '/spec/template/spec/hostNetwork' }], after)).toEqual({});
  });

  it('keeps the JSON patch a record holds as it was sent while reading what it sets', () => {
    // An empty securityContext added, then privileged set inside it: the second op once wrote
    // `privileged` into the first op's value, in the caller's event and the record's raw_event.
    const sent = {
      kind: 'Event',
      apiVersion: 'audit.k8s.io/v1',
      auditID: 'pure',
      stage: 'ResponseComplete',
      verb: 'patch',
      user: { username: 'mallory' },
      objectRef: { resource: 'jobs', namespace: 'default', name: 'nightly', apiGroup: 'batch', apiVersion: 'v1' },
      responseStatus: { code: 200 },
      requestObject: [
        { op: 'add', path: '/spec/template/spec/containers/0/securityContext', value: {} },
        { op: 'add', path: '/spec/template/spec/containers/0/securityContext/privileged', value: true },
      ],
    };
    const input = JSON.parse(JSON.stringify(sent));
    const record = normaliseAuditEvent(input, { tenantId: 'acme', clusterName: null, receivedAt: 0 } as never);
    expect(record).toMatchObject({ severity: 'high', severity_reason: 'rule:privileged-container' });
    expect(record.raw_event.requestObject).toEqual(sent.requestObject);
    expect(input).toEqual(sent);
  });

  it('builds the JSON patch view without touching prototypes or allocating for hostile indexes', () => {
    const view = jsonPatchView([
      { op: 'add', path: '/__proto__/polluted', value: 'yes' },
      { op: 'add', path: '/spec/containers/99999999/image', value: 'huge' },
      { op: 'replace', path: '/metadata/labels/app~1name', value: 'web' },
      { op: 'add', path: '/spec/containers/1/name', value: 'second' },
      { op: 'copy', from: '/a', path: '/b' },
      'not an op',
      null,
    ]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.getOwnPropertyNames(view)).toEqual(['__proto__', 'spec', 'metadata']);
    expect((view.metadata as { labels: Record<string, string> }).labels['app/name']).toBe('web');
    const containers = (view.spec as { containers: unknown[] }).containers;
    expect(containers.length).toBe(2);
    expect(containers[1]).toEqual({ name: 'second' });
    expect(jsonPatchView([{ op: 'replace', path: '', value: { spec: { type: 'NodePort' } } }])).toEqual({ spec: { type: 'NodePort' } });
  });

  it('reads a JSON patch remove, and the from of a move, as a merge patch removal (null) at an object key only', () => {
    // kubectl patch --type=json with RFC 6901's escaping of the label's `/`.
    expect(jsonPatchView([{ op: 'remove', path: '/metadata/labels/pod-security.kubernetes.io~1enforce' }])).toEqual({
      metadata: { labels: { 'pod-security.kubernetes.io/enforce': null } },
    });
    expect(
      jsonPatchView([{ op: 'move', from: '/metadata/labels/a~0b', path: '/metadata/labels/c' }], { metadata: { labels: { c: 'x' } } }),
    ).toEqual({
      metadata: { labels: { 'a~b': null, c: 'x' } },
    });
    // Removed then set again: the later op holds, as the apiserver applies them in order.
    expect(
      jsonPatchView([
        { op: 'remove', path: '/metadata/labels/team' },
        { op: 'add', path: '/metadata/labels/team', value: 'web' },
      ]),
    ).toEqual({ metadata: { labels: { team: 'web' } } });
    // Through a list element, or the whole document: nothing (no container of the view's making).
    expect(jsonPatchView([{ op: 'remove', path: '/spec/containers/0/securityContext' }])).toEqual({});
    expect(jsonPatchView([{ op: 'move', from: '/spec/volumes/0', path: '/spec/volumes/-' }])).toEqual({});
    expect(jsonPatchView([{ op: 'remove', path: '' }, { op: 'remove' }])).toEqual({});
  });

  it('cleanPath resolves a path as the node does, so a list of sensitive paths is not dodged by its spelling', () => {
    expect(['//etc', '/etc/', '/./etc/.', '/var//run/docker.sock', '/tmp/../etc', '/', '//', '/..', 'etc/', ''].map(cleanPath)).toEqual([
      '/etc',
      '/etc',
      '/etc',
      '/var/run/docker.sock',
      '/etc',
      '/',
      '/',
      '/',
      'etc',
      '.',
    ]);
  });

  it('isPrivateIP knows the private, loopback, CGNAT, link-local and IPv6 local ranges', () => {
    for (const ip of [
      '10.1.2.3',
      '172.16.0.1',
      '172.31.255.255',
      '192.168.1.1',
      '127.0.0.1',
      '100.64.0.1',
      '169.254.169.254',
      '::1',
      'fd00::1',
      'fe80::1',
      '::ffff:10.0.0.1',
      'fe80::1%eth0',
      'FE80::1%25en0',
    ])
      expect(isPrivateIp(ip), ip).toBe(true);
    for (const ip of [
      '8.8.8.8',
      '172.32.0.1',
      '100.128.0.1',
      '203.0.113.5',
      '2001:db8::1',
      '::ffff:8.8.8.8',
      'not-an-ip',
      '10.0.0.300',
      '',
      '2001:db8::1%eth0',
      '%eth0',
    ])
      expect(isPrivateIp(ip), ip).toBe(false);
  });

  it("isEksAddonImage takes AWS's add-on registry accounts, with the host matched whole", () => {
    for (const image of [
      '602401143452.dkr.ecr.us-east-1.amazonaws.com/amazon-k8s-cni:v1.18.3',
      '918309763551.dkr.ecr.cn-north-1.amazonaws.com.cn/amazon-k8s-cni:v1.18.3',
      '877085696533.dkr.ecr.af-south-1.amazonaws.com/eks/kube-proxy:v1.31.0',
      '013241004608.dkr.ecr.us-gov-west-1.amazonaws.com/eks/coredns:v1.11.1',
      '877088126301.dkr.ecr.eusc-de-east-1.amazonaws.eu/eks/coredns:v1.11.1',
    ])
      expect(isEksAddonImage(image), image).toBe(true);
    for (const image of [
      '602401143452.dkr.ecr.attacker.example/miner:1',
      '602401143452.dkr.ecr.us-east-1.amazonaws.com.attacker.example/cni:v1',
      '123456789012.dkr.ecr.us-east-1.amazonaws.com/amazon-k8s-cni:v1',
      'x602401143452.dkr.ecr.us-east-1.amazonaws.com/cni:v1',
      '602401143452.dkr.ecr.us-east-1.amazonaws.com',
      'nginx',
      '',
    ])
      expect(isEksAddonImage(image), image).toBe(false);
  });

  it('uriPath is the path a server resolves: no query, percent-decoded, cleaned', () => {
    expect(
      [
        '/api/v1/nodes/n/proxy/metrics?x=1',
        '/api/v1/nodes/n/proxy/run/a/b/c?x=/proxy/metrics',
        '/api/v1/nodes/n/proxy/metrics/../pods',
        '/api/v1/nodes/n/proxy/%6Detrics',
        '/bad%zz',
      ].map(uriPath),
    ).toEqual([
      '/api/v1/nodes/n/proxy/metrics',
      '/api/v1/nodes/n/proxy/run/a/b/c',
      '/api/v1/nodes/n/proxy/pods',
      '/api/v1/nodes/n/proxy/metrics',
      '/bad%zz',
    ]);
  });

  it('selectsLabel reads the labelSelector parameter requirement by requirement', () => {
    const has = (uri: string) => selectsLabel(uri, 'owner', 'helm');
    expect(has('/api/v1/secrets?labelSelector=owner%3Dhelm')).toBe(true);
    expect(has('/api/v1/secrets?labelSelector=name%3Dapi%2Cowner%3D%3Dhelm')).toBe(true);
    expect(has('/api/v1/secrets?limit=5&labelSelector=name%3Dx,%20owner%20%3D%20helm')).toBe(true);
    expect(has('/api/v1/secrets?x=labelSelector=owner%3Dhelm')).toBe(false);
    expect(has('/api/v1/secrets?labelSelector=owner%21%3Dhelm')).toBe(false);
    expect(has('/api/v1/secrets?labelSelector=owner%3Dhelmfile')).toBe(false);
    expect(has('/api/v1/secrets?fieldSelector=owner%3Dhelm')).toBe(false);
    expect(has('/api/v1/secrets')).toBe(false);
  });

  it('pathUnder takes a directory and everything below it, however the path is spelled', () => {
    const dirs = ['/proc', '/etc/kubernetes'];
    expect(['/proc', '/proc/1/root', '//proc/./1', '/etc/kubernetes/pki/', '/tmp/../proc/x'].map((p) => pathUnder(p, dirs))).toEqual([
      true,
      true,
      true,
      true,
      true,
    ]);
    expect(['/procfs', '/etc/kubernetes-old', '/etc', '/', ''].map((p) => pathUnder(p, dirs))).toEqual([false, false, false, false, false]);
    expect(pathUnder('/anything', ['/'])).toBe(true);
  });
});

describe('severity: refinements and the highest of table and rules', () => {
  const input = (over: Partial<SeverityInput>): SeverityInput => ({
    verb: 'create',
    resource: 'serviceaccounts',
    subresource: 'token',
    namespace: 'web',
    responseCode: 201,
    impersonated: false,
    ...over,
  });
  const high = { severity: 'high' as const, reason: 'sensitive-resource-change' as const };
  const medium = { severity: 'medium' as const, reason: 'workload-change' as const };

  it('a node requesting a token (allowed) is routine; anyone else, or a denied request, keeps the row', () => {
    expect(refineSeverity(input({}), 'system:node:ip-10-0-1-7.ec2.internal', high)).toEqual({
      severity: 'info',
      reason: 'routine-node-pod-token',
    });
    expect(refineSeverity(input({}), 'alice', high)).toBe(high);
    expect(refineSeverity(input({ responseCode: 403 }), 'system:node:n1', high)).toBe(high);
    expect(refineSeverity(input({ responseCode: null }), 'system:node:n1', high)).toBe(high);
    expect(refineSeverity(input({ namespace: 'kube-system' }), 'system:kube-controller-manager', high).reason).toBe(
      'routine-controller-token',
    );
    expect(refineSeverity(input({ namespace: 'web' }), 'system:kube-controller-manager', high)).toBe(high);
    expect(refineSeverity(input({ subresource: null }), 'system:node:n1', high)).toBe(high);
  });

  it('a RequestReceived stage is info whatever it asks, as its answer is scored; the spec table alone still scores it', () => {
    // The receipt as staging/src/k8s.io/apiserver/pkg/endpoints/filters/audit.go writes it (no
    // responseStatus) when the audit policy does not omit the stage, for two routine requests that
    // were high at receipt (a kubelet's projected-token refresh, the controller manager's Secret
    // watch) and an attack's binding to cluster-admin, which is high at its answer instead.
    const receipt = (verb: string, user: string, objectRef: Record<string, unknown>, requestObject?: unknown) => ({
      kind: 'Event',
      apiVersion: 'audit.k8s.io/v1',
      level: 'RequestResponse',
      auditID: `rr-${verb}-${user}`,
      stage: 'RequestReceived',
      verb,
      user: { username: user, groups: ['system:authenticated'] },
      sourceIPs: ['10.0.1.7'],
      objectRef: { apiVersion: 'v1', ...objectRef },
      requestReceivedTimestamp: '2026-12-07T10:00:00.000000Z',
      stageTimestamp: '2026-12-07T10:00:00.000000Z',
      ...(requestObject === undefined ? {} : { requestObject }),
    });
    const binding = {
      kind: 'ClusterRoleBinding',
      apiVersion: 'rbac.authorization.k8s.io/v1',
      metadata: { name: 'pwn' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' },
      subjects: [{ kind: 'ServiceAccount', name: 'default', namespace: 'default' }],
    };
    const received = [
      receipt('create', 'system:node:ip-10-0-1-7.ec2.internal', {
        resource: 'serviceaccounts',
        namespace: 'web',
        name: 'default',
        subresource: 'token',
      }),
      receipt('watch', 'system:kube-controller-manager', { resource: 'secrets' }),
      receipt('create', 'mallory', { resource: 'clusterrolebindings', apiGroup: 'rbac.authorization.k8s.io', apiVersion: 'v1' }, binding),
    ];
    for (const e of received) {
      expect(decideEventSeverity(e as never), e.auditID).toEqual({ severity: 'info', reason: 'request-received-stage', ruleIds: [] });
      const answered = { ...e, stage: 'ResponseComplete', responseStatus: { metadata: {}, code: e.verb === 'watch' ? 200 : 201 } };
      expect(decideEventSeverity(answered as never).reason, e.auditID).not.toBe('request-received-stage');
    }
    const attack = { ...received[2], stage: 'ResponseComplete', responseStatus: { metadata: {}, code: 201 } };
    expect(decideEventSeverity(attack as never)).toMatchObject({
      severity: 'high',
      ruleIds: expect.arrayContaining(['cluster-admin-binding']),
    });
    expect(decideEventSeverity(received[0] as never, { severity: 'spec', rules: null })).toEqual({
      severity: 'high',
      reason: 'sensitive-resource-change',
      ruleIds: [],
    });
  });

  it('a kubelet asking for its own certificates, and the CSR, serviceaccount and token-cleaner controllers at work, are routine; any other such write keeps the row', () => {
    // Shapes of the Kubernetes API reference (certificates.k8s.io/v1 CertificateSigningRequest and
    // its approval and status subresources), as a node joining an EKS cluster writes them.
    let n = 0;
    const write = (user: string, resource: string, over: Record<string, unknown> = {}) =>
      decideEventSeverity({
        kind: 'Event',
        apiVersion: 'audit.k8s.io/v1',
        level: 'RequestResponse',
        auditID: `csr-${++n}`,
        stage: 'ResponseComplete',
        verb: 'create',
        user: { username: user, groups: ['system:authenticated'] },
        objectRef: { resource, name: 'csr-7xk2p', apiGroup: 'certificates.k8s.io', apiVersion: 'v1' },
        responseStatus: { code: 201 },
        ...over,
      } as never);
    const csr = (signerName: string) => ({
      requestObject: {
        kind: 'CertificateSigningRequest',
        apiVersion: 'certificates.k8s.io/v1',
        metadata: { generateName: 'csr-' },
        spec: { request: 'LS0tLS1CRUdJTiBDRVJUSUZJQ0FURSBSRVFVRVNULS0tLS0K', signerName, usages: ['digital signature', 'server auth'] },
      },
    });
    const node = 'system:node:ip-10-0-1-7.ec2.internal';
    const routine = (r: { severity: string; reason: string }) => [r.severity, r.reason];

    expect(routine(write(node, 'certificatesigningrequests', csr('kubernetes.io/kubelet-serving')))).toEqual(['info', 'routine-node-csr']);
    expect(
      routine(write('system:bootstrap:abcdef', 'certificatesigningrequests', csr('kubernetes.io/kube-apiserver-client-kubelet'))),
    ).toEqual(['info', 'routine-node-csr']);
    // A GKE node joining with its node pool's bootstrap certificate (Panther's "node bootstrap CSR").
    expect(
      routine(write('kubelet-nodepool-bootstrap', 'certificatesigningrequests', csr('kubernetes.io/kube-apiserver-client-kubelet'))),
    ).toEqual(['info', 'routine-node-csr']);
    expect(write('kubelet-nodepool-bootstrap', 'certificatesigningrequests', csr('kubernetes.io/kube-apiserver-client')).severity).toBe(
      'high',
    );
    expect(
      write('kubelet-nodepool-bootstrap-x', 'certificatesigningrequests', csr('kubernetes.io/kube-apiserver-client-kubelet')).severity,
    ).toBe('high');
    // Logged at Metadata level: no body to say otherwise.
    expect(routine(write(node, 'certificatesigningrequests'))).toEqual(['info', 'routine-node-csr']);
    // A node asking for a client certificate of any name, a person asking for a kubelet's, a refused request.
    expect(write(node, 'certificatesigningrequests', csr('kubernetes.io/kube-apiserver-client')).severity).toBe('high');
    expect(write(node, 'certificatesigningrequests', { requestObject: { kind: 'CertificateSigningRequest', spec: {} } }).severity).toBe(
      'high',
    );
    expect(write('alice', 'certificatesigningrequests', csr('kubernetes.io/kubelet-serving')).severity).toBe('high');
    expect(
      write(node, 'certificatesigningrequests', { ...csr('kubernetes.io/kubelet-serving'), responseStatus: { code: 403 } }).severity,
    ).toBe('high');

    const csrSub = (subresource: string, verb = 'update') => ({
      verb,
      objectRef: {
        resource: 'certificatesigningrequests',
        subresource,
        name: 'csr-7xk2p',
        apiGroup: 'certificates.k8s.io',
        apiVersion: 'v1',
      },
      responseStatus: { code: 200 },
    });
    for (const controller of ['eks:certificate-controller', 'system:serviceaccount:kube-system:certificate-controller']) {
      expect(routine(write(controller, 'certificatesigningrequests', csrSub('approval')))).toEqual([
        'info',
        'routine-controller-reconcile',
      ]);
      expect(routine(write(controller, 'certificatesigningrequests', csrSub('status')))).toEqual(['info', 'routine-controller-reconcile']);
    }
    expect(
      routine(write('system:serviceaccount:kube-system:certificate-controller', 'certificatesigningrequests', { verb: 'delete' })),
    ).toEqual(['info', 'routine-controller-reconcile']);
    // A person approving a CSR is exactly what the row is for.
    expect(write('alice', 'certificatesigningrequests', csrSub('approval')).severity).toBe('high');

    const sa = { objectRef: { resource: 'serviceaccounts', namespace: 'team-a', apiVersion: 'v1' } };
    expect(routine(write('system:serviceaccount:kube-system:service-account-controller', 'serviceaccounts', sa))).toEqual([
      'info',
      'routine-controller-reconcile',
    ]);
    expect(write('alice', 'serviceaccounts', sa).severity).toBe('high');
    expect(
      write('system:serviceaccount:kube-system:service-account-controller', 'serviceaccounts', { ...sa, verb: 'delete' }).severity,
    ).toBe('high');

    const token = (namespace: string) => ({
      verb: 'delete',
      objectRef: { resource: 'secrets', namespace, name: 'bootstrap-token-abcdef', apiVersion: 'v1' },
    });
    expect(routine(write('system:serviceaccount:kube-system:token-cleaner', 'secrets', token('kube-system')))).toEqual([
      'info',
      'routine-controller-reconcile',
    ]);
    expect(write('system:serviceaccount:kube-system:token-cleaner', 'secrets', token('default')).severity).toBe('high');
    expect(write('alice', 'secrets', token('kube-system')).severity).toBe('high');
  });

  it('controllers writing what they own are routine; the same writes by others, or of other kinds, keep the row', () => {
    const pods = input({ resource: 'pods', subresource: null });
    expect(refineSeverity(pods, 'system:serviceaccount:kube-system:replicaset-controller', medium).reason).toBe(
      'routine-controller-reconcile',
    );
    expect(refineSeverity({ ...pods, responseCode: 409 }, 'system:serviceaccount:kube-system:job-controller', medium).reason).toBe(
      'routine-controller-reconcile',
    );
    expect(refineSeverity({ ...pods, responseCode: 403 }, 'system:serviceaccount:kube-system:job-controller', medium)).toBe(medium);
    expect(refineSeverity(pods, 'system:serviceaccount:kube-system:deployment-controller', medium)).toBe(medium);
    expect(refineSeverity(pods, 'system:serviceaccount:web:replicaset-controller', medium)).toBe(medium);
    expect(refineSeverity(pods, 'alice', medium)).toBe(medium);
    expect(refineSeverity(pods, 'system:kube-controller-manager', medium).reason).toBe('routine-controller-reconcile');
    expect(refineSeverity({ ...pods, verb: 'delete' }, 'system:node:n1', medium).reason).toBe('routine-node-pod-delete');
    expect(refineSeverity({ ...pods, verb: 'create' }, 'system:node:n1', medium)).toBe(medium);
    const scale = input({ resource: 'deployments', subresource: 'scale', verb: 'patch' });
    expect(refineSeverity(scale, 'system:serviceaccount:kube-system:horizontal-pod-autoscaler', medium).reason).toBe(
      'routine-controller-reconcile',
    );
    expect(refineSeverity(scale, 'alice', medium)).toBe(medium);
  });

  it("EKS's add-on manager writing an add-on's objects is low; the same writes by others, a denied one, or another row keep theirs", () => {
    const ds = input({ verb: 'patch', resource: 'daemonsets', subresource: null, namespace: 'kube-system', responseCode: 200 });
    const addon = { severity: 'low', reason: 'routine-eks-addon-manager' };
    expect(refineSeverity(ds, 'eks:addon-manager', medium)).toEqual(addon);
    const sa = input({ verb: 'create', resource: 'serviceaccounts', subresource: null, namespace: 'kube-system' });
    expect(refineSeverity(sa, 'eks:addon-manager', high)).toEqual(addon);
    const binding = { severity: 'high' as const, reason: 'rbac-binding-change' as const };
    expect(
      refineSeverity(input({ resource: 'clusterrolebindings', subresource: null, namespace: null }), 'eks:addon-manager', binding),
    ).toEqual(addon);
    expect(refineSeverity({ ...ds, responseCode: 403 }, 'eks:addon-manager', medium)).toBe(medium);
    expect(refineSeverity(ds, 'eks:addon-managers', medium)).toBe(medium);
    expect(refineSeverity(ds, 'system:serviceaccount:kube-system:eks-addon-manager', medium)).toBe(medium);
    const exec = { severity: 'high' as const, reason: 'pod-interactive-access' as const };
    expect(refineSeverity(input({ resource: 'pods', subresource: 'exec' }), 'eks:addon-manager', exec)).toBe(exec);
  });

  it("the control plane's 404s and 409s are routine; its denials and server errors, and anyone else's failures, keep the row", () => {
    const failed = { severity: 'medium' as const, reason: 'request-denied-or-failed' as const };
    const at = (over: Partial<SeverityInput>, user: string) => refineSeverity(input(over), user, failed);
    const statusPatch = { verb: 'patch', resource: 'pods', subresource: 'status', responseCode: 404 };
    expect(at(statusPatch, 'system:node:ip-10-0-1-17.ec2.internal').reason).toBe('routine-not-found-or-conflict');
    expect(
      at(
        { verb: 'get', resource: 'replicasets', subresource: null, responseCode: 404 },
        'system:serviceaccount:kube-system:generic-garbage-collector',
      ).reason,
    ).toBe('routine-not-found-or-conflict');
    expect(at({ verb: 'create', resource: 'pods', subresource: 'binding', responseCode: 409 }, 'system:kube-scheduler').reason).toBe(
      'routine-not-found-or-conflict',
    );
    expect(at({ verb: 'update', resource: 'endpointslices', subresource: null, responseCode: 409 }, 'eks:endpoint-controller').reason).toBe(
      'routine-not-found-or-conflict',
    );
    expect(at({ ...statusPatch, responseCode: 403 }, 'system:node:n1')).toBe(failed);
    expect(at({ ...statusPatch, responseCode: 401 }, 'system:kube-scheduler')).toBe(failed);
    expect(
      at(
        { verb: 'list', resource: 'pods', subresource: null, responseCode: 503 },
        'system:serviceaccount:kube-system:horizontal-pod-autoscaler',
      ),
    ).toBe(failed);
    expect(at({ verb: 'get', resource: 'secrets', subresource: null, responseCode: 404 }, 'alice')).toBe(failed);
    // A workload's get of a pod not there is a deployer's first look (its own test below); its
    // list answered 404 is not.
    expect(at({ verb: 'get', resource: 'pods', subresource: null, responseCode: 404 }, 'system:serviceaccount:web:app').reason).toBe(
      'routine-get-not-found',
    );
    expect(at({ verb: 'list', resource: 'pods', subresource: null, responseCode: 404 }, 'system:serviceaccount:web:app')).toBe(failed);
    // A kubelet's delete of a pod already gone, and a controller's, in the workload row.
    const medium = { severity: 'medium' as const, reason: 'workload-change' as const };
    const del = input({ verb: 'delete', resource: 'pods', subresource: null, responseCode: 404 });
    expect(refineSeverity(del, 'system:node:n1', medium).reason).toBe('routine-node-pod-delete');
    expect(refineSeverity(del, 'system:serviceaccount:kube-system:replicaset-controller', medium).reason).toBe(
      'routine-controller-reconcile',
    );
    expect(refineSeverity({ ...del, responseCode: 403 }, 'system:node:n1', medium)).toBe(medium);
  });

  it("a service account's get of an object not there yet (kubectl apply, Helm, Argo CD, Flux) scores as the read would; a person's, a list, a denial or another kind of failure keeps the row", () => {
    // The apiserver's 404 to a get, as the audit log keeps it (test/fixtures/kubernetes: the
    // Status kind of the API reference, NotFound with details), by a deployer's service account.
    const cases = JSON.parse(readFileSync(join(FIXTURES, 'kubernetes', 'apiserver-audit-events.json'), 'utf8')).cases as {
      name: string;
      event: Record<string, unknown>;
    }[];
    const notFound = cases.find((c) => c.name === 'pods get 404 NotFound')?.event as Record<string, unknown>;
    expect((notFound.responseStatus as { reason: string }).reason).toBe('NotFound');
    const ctx = { tenantId: 't', clusterName: 'c', receivedAt: 0 };
    const scored = (user: string, over: Record<string, unknown> = {}, spec = false) => {
      const event = { ...notFound, user: { username: user, groups: ['system:serviceaccounts', 'system:authenticated'] }, ...over } as never;
      const r = normaliseAuditEvent(event, spec ? { ...ctx, detection: { severity: 'spec' as const, rules: null } } : ctx);
      return [r.severity, r.severity_reason, ...r.rule_ids];
    };
    const ref = (resource: string, namespace: string, name: string, apiGroup?: string) => ({
      objectRef: { resource, namespace, name, apiVersion: 'v1', ...(apiGroup === undefined ? {} : { apiGroup }) },
      requestURI: `/api${apiGroup === undefined ? '' : `s/${apiGroup}`}/v1/namespaces/${namespace}/${resource}/${name}`,
    });
    const sa = (ns: string, name: string) => `system:serviceaccount:${ns}:${name}`;
    const deployers = [
      sa('argocd', 'argocd-application-controller'),
      sa('flux-system', 'kustomize-controller'),
      sa('gitlab-runner', 'gitlab-runner'),
      sa('ci', 'deployer'),
    ];
    for (const user of deployers) {
      // A Deployment, a ConfigMap, a Service, a pod: as an allowed get of them, info.
      expect(scored(user, ref('deployments', 'checkout', 'checkout', 'apps')), user).toEqual(['info', 'routine-get-not-found']);
      expect(scored(user, ref('configmaps', 'checkout', 'feature-flags')), user).toEqual(['info', 'routine-get-not-found']);
      expect(scored(user, ref('services', 'checkout', 'checkout-grpc')), user).toEqual(['info', 'routine-get-not-found']);
      expect(scored(user), user).toEqual(['info', 'routine-get-not-found']);
      // A kind row 8 counts (a ServiceAccount, a Role): low, as the allowed get would be.
      expect(scored(user, ref('serviceaccounts', 'checkout', 'checkout')), user).toEqual(['low', 'routine-get-not-found']);
      expect(scored(user, ref('roles', 'checkout', 'checkout', 'rbac.authorization.k8s.io')), user).toEqual([
        'low',
        'routine-get-not-found',
      ]);
      // K8S_AUDIT_SEVERITY=spec: the table as written.
      expect(scored(user, ref('configmaps', 'checkout', 'feature-flags'), true), user).toEqual(['medium', 'request-denied-or-failed']);
      // Only a get answered 404: a denial, a list, a subresource, a write keep the row.
      const status = (code: number) => ({ responseStatus: { metadata: {}, code } });
      expect(scored(user, { ...ref('configmaps', 'checkout', 'x'), ...status(403) }), user).toEqual(['medium', 'request-denied-or-failed']);
      expect(scored(user, { ...ref('configmaps', 'checkout', 'x'), ...status(500) }), user).toEqual(['medium', 'request-denied-or-failed']);
      expect(scored(user, { ...ref('configmaps', 'checkout', 'x'), verb: 'list' }), user).toEqual(['medium', 'request-denied-or-failed']);
      expect(
        scored(user, { objectRef: { resource: 'pods', namespace: 'checkout', name: 'x', apiVersion: 'v1', subresource: 'log' } }),
        user,
      ).toEqual(['medium', 'request-denied-or-failed']);
      expect(scored(user, { ...ref('configmaps', 'checkout', 'x'), verb: 'patch' }), user).toEqual(['medium', 'request-denied-or-failed']);
    }
    // Another namespace's Secret by name: the rule pack's finding still lifts it.
    expect(scored(sa('ci', 'deployer'), ref('secrets', 'payments', 'db-password'))).toEqual([
      'medium',
      'rule:workload-cross-namespace-secret-read',
      'workload-cross-namespace-secret-read',
    ]);
    // People: the fixture's own user (kubecfg), an IAM role, a node is the control plane's case.
    expect(scored('kubecfg')).toEqual(['medium', 'request-denied-or-failed']);
    expect(scored('arn:aws:iam::123456789012:role/sre-alice', ref('configmaps', 'checkout', 'x'))).toEqual([
      'medium',
      'request-denied-or-failed',
    ]);
    expect(scored('system:serviceaccount', ref('configmaps', 'checkout', 'x'))).toEqual(['medium', 'request-denied-or-failed']);
  });

  it("a node drain's evictions by the node lifecycle identities, allowed or refused by a budget, are routine; anyone else's stay medium; spec keeps the table", () => {
    // The shape of a real eviction on EKS: a managed node group scaling in drains its node as
    // eks:node-manager (github.com/focaaby/ironman-eks-example,
    // docs/example/ch11/managed-ng-pods-update.json: user, groups, user agent, URI, body, 201).
    const eviction = evictionEvent;
    const ctx = { tenantId: 't', clusterName: 'c', receivedAt: 0 };
    const scored = (event: never, spec = false) => {
      const r = normaliseAuditEvent(event, spec ? { ...ctx, detection: { severity: 'spec' as const, rules: null } } : ctx);
      return [r.severity, r.severity_reason];
    };
    const sa = (ns: string, name: string) => `system:serviceaccount:${ns}:${name}`;
    // EKS's node manager calls from AWS's own address, as in the trace; the add-ons run in the
    // cluster (a service account's token used from a public address is a rule of its own).
    const drainers: [string, Record<string, unknown>][] = [
      ['eks:node-manager', {}],
      [
        sa('kube-system', 'cluster-autoscaler'),
        { sourceIPs: ['10.0.3.21'], userAgent: 'cluster-autoscaler/v1.32.1 (linux/amd64) kubernetes/$Format' },
      ],
      [sa('kube-system', 'karpenter'), { sourceIPs: ['10.0.7.118'], userAgent: 'karpenter/1.6.0' }],
      // Karpenter as its documentation installed it before v0.32 (namespace `karpenter`).
      [sa('karpenter', 'karpenter'), { sourceIPs: ['10.0.7.119'], userAgent: 'karpenter/0.31.4' }],
      [sa('kube-system', 'aws-node-termination-handler'), { sourceIPs: ['10.0.12.40'] }],
    ];
    for (const [user, from] of drainers) {
      expect(scored(eviction(user, 201, from)), user).toEqual(['info', 'routine-node-drain-eviction']);
      // Racing the pod's own deletion (Karpenter's eviction queue takes a 404 or 409 as done).
      expect(scored(eviction(user, 404, from)), user).toEqual(['info', 'routine-node-drain-eviction']);
      expect(scored(eviction(user, 409, from)), user).toEqual(['info', 'routine-node-drain-eviction']);
      // K8S_AUDIT_SEVERITY=spec: the table as written.
      expect(scored(eviction(user, 201, from), true), user).toEqual(['medium', 'workload-change']);
      // Refused by a PodDisruptionBudget, as the apiserver answers (429 TooManyRequests): nothing
      // was evicted, and the drainer retries it until the budget allows it, every 5 to 10 s.
      expect(scored(eviction(user, 429, { ...from, ...PDB_REFUSAL })), user).toEqual(['info', 'routine-node-drain-eviction']);
      expect(scored(eviction(user, 429, { ...from, ...PDB_REFUSAL }), true), user).toEqual(['medium', 'workload-change']);
      // Refused by RBAC, or no answer logged.
      expect(scored(eviction(user, 403, from)), user).toEqual(['medium', 'workload-change']);
      expect(scored(eviction(user, null, from)), user).toEqual(['medium', 'workload-change']);
      // Only evictions: the same identity deleting a pod outright is the row's case.
      const del = { verb: 'delete', objectRef: { resource: 'pods', namespace: 'demo', name: 'web-1', apiVersion: 'v1' } };
      expect(scored(eviction(user, 200, { ...from, ...del })), user).toEqual(['medium', 'workload-change']);
    }
    // The same names elsewhere are anyone's service accounts; a person's kubectl drain; a
    // workload; an unknown EKS identity.
    for (const user of [
      sa('karpenter', 'karpenter-extra'),
      sa('default', 'karpenter'),
      sa('web', 'cluster-autoscaler'),
      sa('default', 'aws-node-termination-handler'),
      sa('kube-system', 'karpenter-extra'),
      'arn:aws:iam::123456789012:role/sre-alice',
      sa('web', 'app'),
      'eks:node-manager-x',
      'node-manager',
    ]) {
      const kubectl = { sourceIPs: ['10.0.3.21'], userAgent: 'kubectl/v1.30.2 (linux/amd64) kubernetes/3968350' };
      expect(scored(eviction(user, 201, kubectl)), user).toEqual(['medium', 'workload-change']);
      expect(scored(eviction(user, 403, kubectl)), user).toEqual(['medium', 'workload-change']);
      // Their evictions a budget refuses evicted nothing: kubectl drain retries each every 5 s with
      // no end by default (k8s.io/kubectl pkg/drain), twelve a minute. Kept as a trace, low; the
      // spec's table keeps each medium.
      expect(scored(eviction(user, 429, { ...kubectl, ...PDB_REFUSAL })), user).toEqual(['low', 'eviction-refused']);
      expect(scored(eviction(user, 429, { ...kubectl, ...PDB_REFUSAL }), true), user).toEqual(['medium', 'workload-change']);
    }
    // An operator's declared drainer (routine: node_drainers): its refused retries are info too.
    const chart = sa('kube-system', 'cluster-autoscaler-aws-cluster-autoscaler');
    const declared = { secretWatchers: new Set<string>(), nodeDrainers: new Set([chart]), webhookCaInjectors: new Set<string>() };
    const refusedInput = {
      verb: 'create',
      resource: 'pods',
      subresource: 'eviction',
      namespace: 'demo',
      responseCode: 429,
      impersonated: false,
    };
    expect(refineSeverity(refusedInput, chart, medium, declared)).toEqual({ severity: 'info', reason: 'routine-node-drain-eviction' });
    expect(refineSeverity(refusedInput, chart, medium)).toEqual({ severity: 'low', reason: 'eviction-refused' });
    // Any other 429 on a pod write is not a refused eviction: a delete keeps the row.
    const del = { verb: 'delete', objectRef: { resource: 'pods', namespace: 'demo', name: 'web-1', apiVersion: 'v1' } };
    expect(scored(eviction('alice', 429, { ...del, ...PDB_REFUSAL }))).toEqual(['medium', 'workload-change']);
  });

  it('ReplicationController writes are the workload row, as ReplicaSets are; their controllers reconciling them are routine; spec keeps the table', () => {
    const ctx = { tenantId: 't', clusterName: 'c', receivedAt: 0 };
    const rc = (verb: string, user: string, code: number, subresource?: string) =>
      ({
        kind: 'Event',
        apiVersion: 'audit.k8s.io/v1',
        level: 'Metadata',
        auditID: `rc-${verb}-${subresource ?? ''}-${code}`,
        stage: 'ResponseComplete',
        requestURI: `/api/v1/namespaces/web/replicationcontrollers/legacy${subresource === undefined ? '' : `/${subresource}`}`,
        verb,
        user: { username: user, groups: ['system:authenticated'] },
        sourceIPs: ['10.0.3.21'],
        objectRef: {
          resource: 'replicationcontrollers',
          namespace: 'web',
          name: 'legacy',
          apiVersion: 'v1',
          ...(subresource === undefined ? {} : { subresource }),
        },
        responseStatus: { metadata: {}, code },
        requestReceivedTimestamp: '2026-12-07T10:00:00.000000Z',
        stageTimestamp: '2026-12-07T10:00:00.010000Z',
      }) as never;
    const scored = (event: never, spec = false) => {
      const r = normaliseAuditEvent(event, spec ? { ...ctx, detection: { severity: 'spec' as const, rules: null } } : ctx);
      return [r.severity, r.severity_reason];
    };
    const alice = 'arn:aws:iam::123456789012:role/sre-alice';
    for (const verb of ['create', 'update', 'patch', 'delete', 'deletecollection']) {
      expect(scored(rc(verb, alice, verb === 'create' ? 201 : 200)), verb).toEqual(['medium', 'workload-change']);
      // The spec's table names the kinds it scores; ReplicationControllers are not among them.
      expect(scored(rc(verb, alice, 200), true), verb).toEqual(['info', 'steady-state']);
    }
    // `kubectl scale rc legacy --replicas=50`: the scale subresource, as for the other kinds.
    expect(scored(rc('patch', alice, 200, 'scale'))).toEqual(['medium', 'workload-change']);
    // The replication controller writing its status is the controller's own bookkeeping, not a change of what runs.
    expect(scored(rc('update', 'system:serviceaccount:kube-system:replication-controller', 200, 'status'))).toEqual([
      'info',
      'steady-state',
    ]);
    // Reads stay reads; a denied write is the failed-request row.
    expect(scored(rc('get', alice, 200))).toEqual(['info', 'steady-state']);
    expect(scored(rc('create', alice, 403))).toEqual(['medium', 'request-denied-or-failed']);
    // The garbage collector deleting an orphan, the autoscaler scaling one: their own objects.
    expect(scored(rc('delete', 'system:serviceaccount:kube-system:generic-garbage-collector', 200))).toEqual([
      'info',
      'routine-controller-reconcile',
    ]);
    expect(scored(rc('update', 'system:serviceaccount:kube-system:horizontal-pod-autoscaler', 200, 'scale'))).toEqual([
      'info',
      'routine-controller-reconcile',
    ]);
  });

  it("the common add-ons' cluster-wide Secret informers are a read (low); the same list or watch by anyone else, elsewhere, denied, or under the spec's table keeps row 5", () => {
    // The requests client-go's reflector makes (k8s.io/client-go/tools/cache/reflector.go: a list
    // from resourceVersion 0, then a watch with bookmarks and a 5-10 min timeoutSeconds), by each
    // add-on's service account as its chart or manifests install it (sources in severity.ts).
    const reflector = secretsReflectorEvent;
    const ctx = { tenantId: 't', clusterName: 'c', receivedAt: 0 };
    const scored = (event: never, spec = false) => {
      const r = normaliseAuditEvent(event, spec ? { ...ctx, detection: { severity: 'spec' as const, rules: null } } : ctx);
      return [r.severity, r.severity_reason, ...r.rule_ids];
    };
    const sa = (ns: string, name: string) => `system:serviceaccount:${ns}:${name}`;
    const addons = ADDON_SECRET_WATCHER_USERS;
    for (const user of addons) {
      for (const verb of ['list', 'watch'] as const) {
        expect(scored(reflector(user, verb)), `${user} ${verb}`).toEqual(['low', 'routine-addon-secrets-watch']);
        // K8S_AUDIT_SEVERITY=spec: the table as written.
        expect(scored(reflector(user, verb), true), `${user} ${verb}`).toEqual(['high', 'cluster-wide-secrets-read']);
        // Denied (the add-on's binding removed, or a look-alike without it): the attempt keeps row 5.
        expect(scored(reflector(user, verb, { responseStatus: { metadata: {}, code: 403 } })), `${user} ${verb}`).toEqual([
          'high',
          'cluster-wide-secrets-read',
        ]);
      }
    }
    // The same names in other namespaces (kube-prometheus-stack's kube-state-metrics lives in the
    // release's namespace under another name), a name that merely begins like one, a workload, a
    // person running `kubectl get secrets -A`, the controller manager's own case kept apart.
    for (const user of [
      sa('default', 'cert-manager'),
      sa('web', 'cert-manager-cainjector'),
      sa('kube-system', 'ingress-nginx'),
      sa('monitoring', 'kube-state-metrics'),
      sa('monitoring', 'kube-prometheus-stack-kube-state-metrics'),
      sa('web', 'argocd-application-controller'),
      sa('argocd', 'argocd-server'),
      sa('istio-system', 'istiod-canary'),
      // external-secrets' cert-controller and webhook read no Secret cluster-wide (the first gets
      // its own webhook's, uncached); kube-prometheus-stack's operator is named after its release;
      // Velero's node agent reads no Secrets; the names in another namespace are anyone's.
      sa('external-secrets', 'external-secrets-cert-controller'),
      sa('external-secrets', 'external-secrets-webhook'),
      sa('default', 'external-secrets'),
      sa('monitoring', 'kube-prometheus-stack-operator'),
      sa('default', 'prometheus-operator'),
      sa('velero', 'node-agent'),
      sa('backup', 'velero'),
      // Gatekeeper's account installed elsewhere, or its namespace's other accounts.
      sa('default', 'gatekeeper-admin'),
      sa('gatekeeper-system', 'default'),
      sa('payments', 'api'),
      'system:kube-scheduler',
    ]) {
      expect(scored(reflector(user, 'list')), user).toEqual(['high', 'cluster-wide-secrets-read']);
      expect(scored(reflector(user, 'watch')), user).toEqual(['high', 'cluster-wide-secrets-read']);
    }
    // A person with the same verbs: row 5, and the rule pack names the human read.
    for (const verb of ['list', 'watch'] as const) {
      expect(
        scored(
          reflector('arn:aws:iam::123456789012:role/sre-alice', verb, { userAgent: 'kubectl/v1.30.2 (linux/amd64) kubernetes/3968350' }),
        ),
      ).toEqual(['high', 'cluster-wide-secrets-read', 'human-secret-read']);
    }
    expect(scored(reflector('system:kube-controller-manager', 'watch'))).toEqual(['low', 'routine-controller-secrets-watch']);
    // A `get` is never row 5: with no namespace it is row 8's read (a person's, a rule's finding too).
    const get = {
      verb: 'get',
      requestURI: '/api/v1/secrets/db-credentials',
      objectRef: { resource: 'secrets', name: 'db-credentials', apiVersion: 'v1' },
    };
    expect(scored(reflector(sa('ingress-nginx', 'ingress-nginx'), 'list', get))).toEqual(['low', 'sensitive-read']);
    expect(scored(reflector('arn:aws:iam::123456789012:role/sre-alice', 'list', get))).toEqual([
      'medium',
      'rule:human-secret-read',
      'human-secret-read',
    ]);
    // The trade-off's other side: ingress-nginx's token listing one other namespace's Secrets is
    // still a finding of the rule pack.
    const oneNamespace = {
      requestURI: '/api/v1/namespaces/payments/secrets?limit=500',
      objectRef: { resource: 'secrets', namespace: 'payments', apiVersion: 'v1' },
    };
    expect(scored(reflector(sa('ingress-nginx', 'ingress-nginx'), 'list', oneNamespace))).toEqual([
      'medium',
      'rule:workload-cross-namespace-secret-read',
      'workload-cross-namespace-secret-read',
    ]);
  });

  it('highest wins; a tie keeps the earlier reason', () => {
    const info = { severity: 'info' as const, reason: 'steady-state' as const };
    expect(highestSeverity(info, [])).toBe(info);
    expect(
      highestSeverity(info, [
        { severity: 'medium', reason: 'rule:a' },
        { severity: 'high', reason: 'rule:b' },
      ]),
    ).toEqual({
      severity: 'high',
      reason: 'rule:b',
    });
    expect(highestSeverity(high, [{ severity: 'high', reason: 'rule:a' }])).toBe(high);
  });
});

describe('the shipped pack at load', () => {
  it("passes every check of the load unmarked: what lets the ingest's init skip them for the marked specs", () => {
    // shippedRuleSpecs marks its specs vetted, and the load then skips RE2's compile, the patterns'
    // shapes and the cross-product walk; copies are unmarked, so here every check runs, as it does
    // for an operator's rule (test/unit/cli/rules.test.ts gives those refusals).
    const copies = shippedRuleSpecs().map((s) => ({ ...s }));
    expect(compileRulesAll(copies).problems).toEqual([]);
    expect(compileRules(copies).rules).toHaveLength(50);
  });
});

describe('matches() runs RE2', () => {
  it("means what JavaScript's RegExp meant for the shipped patterns, on every string of the examples and Falco's traces", () => {
    // The shipped pack's patterns were written and tested against JavaScript's RegExp (cel-js's own
    // matches()); RE2 (linearRegex) must find the same on the strings the rules see: every string
    // in the pack's examples and in the public Falco traces (test/fixtures/falco), plus the
    // examples' request URIs as uriPath reads them. Compiling each of them here is also what lets
    // the ingest's load skip RE2 for the shipped pack (shippedRuleSpecs marks them vetted).
    const specs = shippedRuleSpecs();
    const patterns = [
      ...new Set(specs.flatMap((s) => [...s.condition.matchAll(/\.matches\('((?:[^'\\]|\\.)*)'\)/g)].map((m) => m[1] as string))),
    ]
      // A YAML folded string keeps CEL's escapes: `\\.` in the condition is `\.` in the pattern.
      .map((p) => p.replace(/\\\\/g, '\\'));
    expect(patterns.length).toBeGreaterThanOrEqual(4);
    const strings = new Set<string>();
    const collect = (v: unknown): void => {
      if (typeof v === 'string') {
        strings.add(v);
        if (v.startsWith('/')) strings.add(uriPath(v)).add(cleanPath(v));
      } else if (Array.isArray(v)) for (const x of v) collect(x);
      else if (typeof v === 'object' && v !== null) for (const x of Object.values(v)) collect(x);
    };
    for (const s of specs) collect(s.examples);
    for (const e of allFalcoEvents()) collect(e);
    expect(strings.size).toBeGreaterThan(500);
    for (const p of patterns) {
      const js = new RegExp(p);
      for (const s of strings) expect(linearRegex(p).test(s), `${p} on ${s}`).toBe(js.test(s));
    }
  });
});
