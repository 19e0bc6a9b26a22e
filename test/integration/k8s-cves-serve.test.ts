// Kubernetes CVEs exploited by an object created through the API server (test/fixtures/k8s-cves,
// README.md there): public test resources of Kyverno's and trivy-checks' policies for the
// ingress-nginx CVEs, and the objects each advisory describes, each created by a person's kubectl
// in the three ways kubectl creates (test/helpers/kubectl-creates.ts), POSTed to a running `serve`
// and read back with `events` as a user reads them.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { FIXTURES } from '../helpers/fixtures.js';
import { eventMaker } from '../helpers/k8s-events.js';
import { kubectlCreates } from '../helpers/kubectl-creates.js';
import { type Installed, type InstallOutcomes, type Outcome, servedScenarios } from '../helpers/through-serve.js';

type Json = Record<string, unknown>;
const SECRET = 'k8s-cves-secret-0123456789abcdef';
const DIR = join(FIXTURES, 'k8s-cves');

const event = eventMaker('c7e50000', {
  user: { username: 'dev@example.com', groups: ['system:authenticated'] },
  sourceIPs: ['203.0.113.44'],
  userAgent: 'kubectl/v1.31.4 (linux/amd64) kubernetes/a78aa47',
  requestReceivedTimestamp: '2026-12-07T11:00:00.000000Z',
  stageTimestamp: '2026-12-07T11:00:00.021000Z',
});

/**
 * trivy-checks' test resources are YAML strings under kubernetes.good and kubernetes.bad, each an
 * Ingress as `apiVersion: v1` with no rules. The API server serves Ingress only in
 * networking.k8s.io/v1 and refuses one with neither rules nor a default backend, so each is sent as
 * kubectl would have to write it: that apiVersion, and a defaultBackend; its annotations as published.
 */
function trivyObjects(file: string): Json[] {
  const doc = parse(readFileSync(join(DIR, file), 'utf8')) as { kubernetes: { good: string[]; bad: string[] } };
  return [...doc.kubernetes.good, ...doc.kubernetes.bad].map((text) => {
    const o = parse(text) as Json;
    const spec = o.spec as Json;
    return {
      ...o,
      apiVersion: 'networking.k8s.io/v1',
      spec: { ...spec, defaultBackend: { service: { name: 'web', port: { number: 80 } } } },
    };
  });
}

/** The objects of one fixture file, each as `Kind/name` (a name repeated in the file gets `#2`, ...). */
function objects(file: string): { key: string; object: Json }[] {
  const list = file.startsWith('trivy-checks__')
    ? trivyObjects(file)
    : parseAllDocuments(readFileSync(join(DIR, file), 'utf8'))
        .map((d) => d.toJS() as Json | null)
        .filter((o): o is Json => o !== null);
  const seen = new Map<string, number>();
  return list.map((object) => {
    const base = `${object.kind as string}/${(object.metadata as Json).name as string}`;
    const n = (seen.get(base) ?? 0) + 1;
    seen.set(base, n);
    return { key: n === 1 ? base : `${base}#${n}`, object };
  });
}

const QUIET: Outcome = ['info', 'steady-state'];
const POD: Outcome = ['medium', 'workload-change'];
const INGRESS: Outcome = ['high', 'rule:ingress-nginx-config-injection', ['ingress-nginx-config-injection']];
const NODE: Outcome = ['high', 'rule:node-exploit-pod-field', ['node-exploit-pod-field']];

const INSTALLS: InstallOutcomes[] = [
  {
    // IngressNightmare's annotations (CVE-2025-24514 auth-url, CVE-2025-1097 auth-tls-match-cn,
    // CVE-2025-1098 mirror-target and mirror-host): four admitted values, then eight injections.
    file: 'trivy-checks__insecure_ingress_nginx.yaml',
    expect: {
      'Ingress/test-ingress-valid-url': QUIET,
      'Ingress/test-ingress-valid-cn': QUIET,
      'Ingress/test-ingress-valid-target': QUIET,
      'Ingress/test-ingress-valid-host': QUIET,
      'Ingress/test-ingress-invalid-url': INGRESS,
      'Ingress/test-ingress-suspicious-char': INGRESS,
      'Ingress/test-ingress-invalid-cn': INGRESS,
      'Ingress/test-ingress-suspicious-char-cn': INGRESS,
      'Ingress/test-ingress-invalid-target': INGRESS,
      'Ingress/test-ingress-suspicious-char-target': INGRESS,
      'Ingress/test-ingress-invalid-host': INGRESS,
      'Ingress/test-ingress-suspicious-char-host': INGRESS,
    },
  },
  {
    // CVE-2021-25746: alias and root directives, system files, the token directory, Lua.
    file: 'kyverno__restrict-annotations__ig-bad.yaml',
    expect: {
      'Ingress/cafe-ingress-with-snippets': INGRESS,
      'Ingress/cafe-ingress-with-snippets#2': INGRESS,
      'Ingress/etc-passwd': INGRESS,
      'Ingress/var-run-secrets': INGRESS,
      'Ingress/lua': INGRESS,
    },
  },
  {
    file: 'kyverno__restrict-annotations__ig-good.yaml',
    expect: { 'Ingress/cafe-ingress-with-snippets': QUIET, 'Ingress/cafe-ingress': QUIET },
  },
  {
    // CVE-2021-25745: paths under /root, /etc and /var/run.
    file: 'kyverno__restrict-ingress-paths__ig-bad.yaml',
    expect: {
      'Ingress/bad-path-root': INGRESS,
      'Ingress/bad-path-secrets': INGRESS,
      'Ingress/bad-path-etc-kubernetes': INGRESS,
      'Ingress/bad-path-serviceaccount': INGRESS,
      'Ingress/bad-path-etc': INGRESS,
    },
  },
  { file: 'kyverno__restrict-ingress-paths__ig-good.yaml', expect: { 'Ingress/good-paths': QUIET } },
  {
    // Kyverno refuses every snippet; these are NGINX Inc's controller's (nginx.org/*, not affected
    // by the ingress-nginx CVEs: nginx/kubernetes-ingress#2116) and redirect or set a header.
    file: 'kyverno__disallow-ingress-nginx-custom-snippets__ig-bad.yaml',
    expect: { 'Ingress/cafe-ingress-with-snippets': QUIET, 'Ingress/cafe-ingress': QUIET },
  },
  {
    file: 'kyverno__disallow-ingress-nginx-custom-snippets__ig-good.yaml',
    expect: { 'Ingress/cafe-ingress-with-snippets': QUIET, 'Ingress/cafe-ingress': QUIET },
  },
  {
    file: 'advisories__ingress-nginx.yaml',
    expect: {
      'Ingress/cve-2021-25742-snippet': INGRESS,
      'Ingress/cve-2023-5043-snippet': INGRESS,
      'Ingress/cve-2023-5044-redirect': INGRESS,
      'Ingress/routine-rewrite': QUIET,
    },
  },
  {
    file: 'advisories__pods-and-services.yaml',
    expect: {
      'Pod/cve-2024-10220-gitrepo': NODE,
      'Pod/cve-2022-0811-sysctl': NODE,
      'Pod/cve-2023-3676-subpath': NODE,
      // An ordinary subPath of an emptyDir: the symlink is made at run time (README.md says why).
      'Pod/cve-2021-25741-subpath-symlink': POD,
      'Service/cve-2020-8554-external-ip': ['high', 'rule:service-external-ip', ['service-external-ip']],
      'Pod/routine-sysctl-subpath': POD,
    },
  },
];

const INSTALLED: Installed[] = INSTALLS.flatMap(({ file }) =>
  objects(file).map(({ key, object }) => ({ file, key, events: kubectlCreates(event, object, 'web') })),
);

describe('Kubernetes CVEs exploited through the API server, through serve', () => {
  const served = servedScenarios('aisoc-k8s-cves-', SECRET, 'k8s-cves', INSTALLS, INSTALLED, []);

  it('every fixture file is installed', () => {
    const files = readdirSync(DIR).filter((f) => f.endsWith('.yaml'));
    expect(INSTALLS.map((i) => i.file).sort()).toEqual(files.sort());
  });

  it('no secret of the request reaches a record', () => {
    expect(JSON.stringify(served.records)).not.toContain(SECRET);
  });
});
