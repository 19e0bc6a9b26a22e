// The rules of credentials in free text (lib/audit/redact-argv.ts, redact-pod.ts, redact-uri.ts
// scrubTextUrls), on the shapes the Kubernetes API reference gives them: a PodSpec's
// `containers[].env` (core/v1 EnvVar: `name`, `value`, `valueFrom`), `command` and `args`; the
// pod template of apps/v1 and batch/v1 workloads; lists, watch events and JSON patches (RFC 6902).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import type { AuditEvent, JsonValue } from '../../../lib/audit/index.js';
import { DEPTH_MARKER, normaliseAuditEvent, redactBody } from '../../../lib/audit/index.js';
import { scrubArgv, scrubCommandQuery } from '../../../lib/audit/redact-argv.js';
import { scrubTextUrls } from '../../../lib/audit/redact-uri.js';

/** Every document of Bishop Fox's badPods manifests (test/fixtures/badpods, SOURCES.md). */
function badPodManifests(): JsonValue[] {
  const dir = join(import.meta.dirname, '../../fixtures/badpods');
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.yaml'))
    .flatMap((f) => parseAllDocuments(readFileSync(join(dir, f), 'utf8')).map((d) => d.toJSON() as JsonValue));
}

const pods = { resource: 'pods', subresource: null };

describe('command lines', () => {
  it.each([
    // Datadog's process scrubber forms: name=value, name value, name:value.
    [
      ['app', '--db-password=hunter2', '--port=5432'],
      ['app', '--db-password=[REDACTED]', '--port=5432'],
    ],
    [
      ['app', '--api-key', 'k-123', '-v'],
      ['app', '--api-key', '[REDACTED]', '-v'],
    ],
    // psql's --password takes no value: the next flag stays.
    [
      ['psql', '--password', '-h', 'db'],
      ['psql', '--password', '-h', 'db'],
    ],
    // A negated flag takes no value: the database name after it stays (mysql --no-password, psql -w's long form).
    [
      ['mysql', '--no-password', 'inventory'],
      ['mysql', '--no-password', 'inventory'],
    ],
    // A cookie header holds a session: curl's -H and -b (its manual).
    [
      ['curl', '-H', 'Cookie: _gh_sess=abc123', 'https://x/'],
      ['curl', '-H', 'Cookie: [REDACTED]', 'https://x/'],
    ],
    // The same header from a client the rule does not name: the cookie's name is the only sign.
    [
      ['wget', '--header', 'Cookie: _gh_sess=abc123', 'example.com/x'],
      ['wget', '--header', 'Cookie: [REDACTED]', 'example.com/x'],
    ],
    // A header given to curl, as one argument or as a shell line.
    [
      ['curl', '-H', 'Authorization: Bearer abc.def'],
      ['curl', '-H', 'Authorization: Bearer [REDACTED]'],
    ],
    [
      ['sh', '-c', 'curl -H "Authorization: Basic dXNlcjpwYXNz" https://x/'],
      ['sh', '-c', 'curl -H "Authorization: Basic [REDACTED]" https://x/'],
    ],
    [
      ['curl', '-u', 'admin:s3cr3t', 'https://x/'],
      ['curl', '-u', 'admin:[REDACTED]', 'https://x/'],
    ],
    // MySQL's glued -p, after the client's name only.
    [
      ['/usr/bin/mysqldump', '-uroot', '-pS3cret', 'db'],
      ['/usr/bin/mysqldump', '-uroot', '-p[REDACTED]', 'db'],
    ],
    [
      ['ls', '-pla'],
      ['ls', '-pla'],
    ],
    // A URL's password, an environment assignment before a command.
    [
      ['psql', 'postgres://app:pw@db:5432/x'],
      ['psql', 'postgres://app:[REDACTED]@db:5432/x'],
    ],
    [
      ['env', 'PGPASSWORD=pw', 'psql'],
      ['env', 'PGPASSWORD=[REDACTED]', 'psql'],
    ],
  ])('%j → %j', (argv, expected) => expect(scrubArgv(argv)).toEqual(expected));

  it('returns the same array when nothing is a credential', () => {
    const argv = ['nginx', '-g', 'daemon off;', '--user=www'];
    expect(scrubArgv(argv)).toBe(argv);
  });

  it("reads a kubelet /run's cmd and leaves a URI without a command alone", () => {
    const run = '/api/v1/nodes/n1/proxy/run/default/web-0/app?cmd=mysql+-uroot+-pS3cret';
    expect(scrubCommandQuery(run)).toBe('/api/v1/nodes/n1/proxy/run/default/web-0/app?cmd=mysql+-uroot+-p[REDACTED]');
    const uri = '/api/v1/namespaces/default/pods/web-0/exec?command=sh&container=app&stdin=true';
    expect(scrubCommandQuery(uri)).toBe(uri);
  });
});

describe('URLs in text', () => {
  it('takes a userinfo password and a credential query value, and returns the same string otherwise', () => {
    expect(scrubTextUrls('Post "https://u:p@h/x?timeout=10s&token=t": EOF')).toBe(
      'Post "https://u:[REDACTED]@h/x?timeout=10s&token=[REDACTED]": EOF',
    );
    const text = 'failed calling webhook "v.example.com": failed to call webhook: Post "https://v.ns.svc:443/validate?timeout=10s": EOF';
    expect(scrubTextUrls(text)).toBe(text);
  });
});

const container = (env: JsonValue[]): JsonValue => ({ name: 'app', image: 'app:1', env });
const envOf = (body: JsonValue, path: string[]): JsonValue =>
  path.reduce<JsonValue>((v, k) => (v as Record<string, JsonValue>)[k] as JsonValue, body);

describe('pod specs', () => {
  const env: JsonValue[] = [
    { name: 'AWS_ACCESS_KEY_ID', value: 'AKIAIOSFODNN7EXAMPLE' },
    { name: 'AWS_SECRET_ACCESS_KEY', value: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' },
    { name: 'API_TOKEN', valueFrom: { secretKeyRef: { name: 'api', key: 'token' } } },
    { name: 'DATABASE_URL', value: 'postgres://app:pw@db:5432/app' },
  ];
  const kept: JsonValue[] = [
    env[0] as JsonValue,
    { name: 'AWS_SECRET_ACCESS_KEY', value: '[REDACTED]' },
    env[2] as JsonValue,
    { name: 'DATABASE_URL', value: 'postgres://app:[REDACTED]@db:5432/app' },
  ];
  const podSpec = { containers: [container(env)], initContainers: [container(env)] };

  it.each([
    ['Pod', 'pods', { kind: 'Pod', spec: podSpec }, ['spec']],
    ['Deployment', 'deployments', { kind: 'Deployment', spec: { template: { spec: podSpec } } }, ['spec', 'template', 'spec']],
    [
      'CronJob',
      'cronjobs',
      { kind: 'CronJob', spec: { jobTemplate: { spec: { template: { spec: podSpec } } } } },
      ['spec', 'jobTemplate', 'spec', 'template', 'spec'],
    ],
    ['PodTemplate', 'podtemplates', { kind: 'PodTemplate', template: { spec: podSpec } }, ['template', 'spec']],
  ])('%s: a credential-named env value goes, its name, references and other values stay', (_kind, resource, body, path) => {
    const out = redactBody(body as JsonValue, { resource, subresource: null });
    for (const list of ['containers', 'initContainers']) {
      expect(envOf(out as JsonValue, [...path, list, '0', 'env'])).toEqual(kept);
    }
    expect(envOf(body as JsonValue, [...path, 'containers', '0', 'env'])).toEqual(env); // never mutated
  });

  it('keeps what a credential-named variable holds when it is no credential: a switch, a file path, a URL without credentials', () => {
    // What EKS injects into a pod it gives AWS credentials: IRSA (aws/amazon-eks-pod-identity-webhook,
    // README, "Usage") and Pod Identity (EKS user guide, "EKS Pod Identity"); and Docker's _FILE
    // convention, as the official postgres image documents it.
    const injected: JsonValue[] = [
      { name: 'AWS_ROLE_ARN', value: 'arn:aws:iam::111122223333:role/s3-reader' },
      { name: 'AWS_WEB_IDENTITY_TOKEN_FILE', value: '/var/run/secrets/eks.amazonaws.com/serviceaccount/token' },
      { name: 'AWS_CONTAINER_CREDENTIALS_FULL_URI', value: 'http://169.254.170.23/v1/credentials' },
      {
        name: 'AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE',
        value: '/var/run/secrets/pods.eks.amazonaws.com/serviceaccount/eks-pod-identity-token',
      },
      { name: 'POSTGRES_PASSWORD_FILE', value: '/run/secrets/postgres-passwd' },
      { name: 'AUTH_ENABLED', value: 'false' },
      { name: 'OAUTH_TOKEN_URL', value: 'https://login.example.com/oauth2/token' },
      // Quantities under names that count or measure.
      { name: 'SESSION_TIMEOUT', value: '3600' },
      { name: 'TOKEN_TTL', value: '15m' },
      { name: 'authMaxRetries', value: '5' },
    ];
    const body = { kind: 'Pod', spec: { containers: [container(injected)] } };
    expect(redactBody(body, pods)).toBe(body);
    // The same names still lose what is a credential: a password instead of a path, credentials in the URL.
    const risky: JsonValue[] = [
      { name: 'POSTGRES_PASSWORD_FILE', value: 'hunter2' },
      { name: 'OAUTH_TOKEN_URL', value: 'https://client:s3cr3t@login.example.com/oauth2/token' },
      { name: 'AUTH_SECRET', value: 'on-the-wire' },
      // A number is a password under a name that measures nothing (`min` inside ADMIN is no word).
      { name: 'ADMIN_PASSWORD', value: '123456' },
      { name: 'SESSION_TIMEOUT', value: 'hunter2' },
    ];
    const out = redactBody({ kind: 'Pod', spec: { containers: [container(risky)] } }, pods) as JsonValue;
    expect(envOf(out, ['spec', 'containers', '0', 'env'])).toEqual([
      { name: 'POSTGRES_PASSWORD_FILE', value: '[REDACTED]' },
      { name: 'OAUTH_TOKEN_URL', value: 'https://client:[REDACTED]@login.example.com/oauth2/token' },
      { name: 'AUTH_SECRET', value: '[REDACTED]' },
      { name: 'ADMIN_PASSWORD', value: '[REDACTED]' },
      { name: 'SESSION_TIMEOUT', value: '[REDACTED]' },
    ]);
  });

  it('in a list, a watch event and a JSON patch', () => {
    const list = redactBody({ kind: 'PodList', items: [{ kind: 'Pod', spec: podSpec }] }, pods) as JsonValue;
    expect(envOf(list, ['items', '0', 'spec', 'containers', '0', 'env'])).toEqual(kept);
    const watch = redactBody({ type: 'ADDED', object: { kind: 'Pod', spec: podSpec } }, pods) as JsonValue;
    expect(envOf(watch, ['object', 'spec', 'containers', '0', 'env'])).toEqual(kept);
    const patch = redactBody(
      [
        { op: 'add', path: '/spec/template/spec/containers/0/env/-', value: env[1] as JsonValue },
        { op: 'replace', path: '/spec/template/spec/containers/0/env/3/value', value: 'new-secret' },
        { op: 'replace', path: '/spec/replicas', value: 3 },
      ],
      { resource: 'deployments', subresource: null },
    );
    expect(patch).toEqual([
      { op: 'add', path: '/spec/template/spec/containers/0/env/-', value: kept[1] },
      { op: 'replace', path: '/spec/template/spec/containers/0/env/3/value', value: '[REDACTED]' },
      { op: 'replace', path: '/spec/replicas', value: 3 },
    ]);
  });

  it('returns each public bad pod itself (no copy): nothing in them is a credential', () => {
    const manifests = badPodManifests();
    expect(manifests.length).toBeGreaterThan(5);
    for (const m of manifests) expect(redactBody(m, pods)).toBe(m);
  });

  it("a ConfigMap's value under a credential's key goes; the keys every cluster writes stay, as the same object", () => {
    const cm = { kind: 'ConfigMap', data: { DB_HOST: 'db', DB_PASSWORD: 'pw' } };
    expect(envOf(redactBody(cm, { resource: 'configmaps', subresource: null }) as JsonValue, ['data'])).toEqual({
      DB_HOST: 'db',
      DB_PASSWORD: '[REDACTED]',
    });
    // A merge patch and a list item carry no kind: where they were sent says.
    const patch = { data: { API_TOKEN: 't' } };
    expect(redactBody(patch, { resource: 'configmaps', subresource: null })).toEqual({ data: { API_TOKEN: '[REDACTED]' } });
    // A JSON patch of one key, by the same rule as the object: its name, a path, a URL's password.
    const ops = [
      { op: 'replace', path: '/data/DB_PASSWORD', value: 'pw' },
      { op: 'add', path: '/data/DB_PASSWORD_FILE', value: '/run/secrets/db' },
      { op: 'add', path: '/data/DATABASE_URL', value: 'postgres://app:pw@db:5432/app' },
    ];
    expect(redactBody(ops, { resource: 'configmaps', subresource: null })).toEqual([
      { op: 'replace', path: '/data/DB_PASSWORD', value: '[REDACTED]' },
      ops[1],
      { op: 'add', path: '/data/DATABASE_URL', value: 'postgres://app:[REDACTED]@db:5432/app' },
    ]);
    const rootCa = { kind: 'ConfigMap', metadata: { name: 'kube-root-ca.crt' }, data: { 'ca.crt': '-----BEGIN CERTIFICATE-----\nMIIC\n' } };
    expect(redactBody(rootCa, { resource: 'configmaps', subresource: null })).toBe(rootCa);
  });
});

// Write shapes the object rules above do not see (docs/record.md, the redaction table): a JSON
// patch (RFC 6902) of kubectl's last-applied-configuration annotation or of a whole ConfigMap, and
// of one word of a command line.
// Helm 3's ConfigMap release storage (helm/helm pkg/storage/driver/cfgmaps.go).
// Crossplane provider-kubernetes's Object (its docs/sanitize-secrets.md).
describe('write shapes', () => {
  const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';
  const applied = JSON.stringify({ kind: 'Pod', spec: { containers: [{ name: 'a', env: [{ name: 'API_TOKEN', value: 't0k' }] }] } });
  const redactedApplied = JSON.stringify({
    kind: 'Pod',
    spec: { containers: [{ name: 'a', env: [{ name: 'API_TOKEN', value: '[REDACTED]' }] }] },
  });

  it('a JSON patch of the last-applied annotation, the annotations or the metadata, whatever the op', () => {
    const ops: JsonValue[] = [
      { op: 'test', path: '/metadata/annotations/kubectl.kubernetes.io~1last-applied-configuration', value: applied },
      { op: 'add', path: '/metadata/annotations', value: { [LAST_APPLIED]: applied, team: 'web' } },
      { op: 'replace', path: '/metadata', value: { name: 'a', annotations: { [LAST_APPLIED]: applied } } },
      { op: 'add', path: '/metadata/labels', value: { app: 'a' } },
    ];
    expect(redactBody(ops, pods)).toEqual([
      { ...(ops[0] as object), value: redactedApplied },
      { ...(ops[1] as object), value: { [LAST_APPLIED]: redactedApplied, team: 'web' } },
      { ...(ops[2] as object), value: { name: 'a', annotations: { [LAST_APPLIED]: redactedApplied } } },
      ops[3],
    ]);
  });

  it("one word of a command line by the command-line rule: a flag's credential goes, other words stay", () => {
    const ops = [
      { op: 'add', path: '/spec/template/spec/containers/0/args/-', value: '--kubelet-insecure-tls' },
      { op: 'add', path: '/spec/template/spec/containers/0/args/2', value: '--client-secret=abc123' },
      { op: 'replace', path: '/spec/containers/0/command/0', value: '/bin/sh' },
    ];
    const out = redactBody(ops, { resource: 'deployments', subresource: null });
    expect(out).toEqual([ops[0], { ...ops[1], value: '--client-secret=[REDACTED]' }, ops[2]]);
    expect(redactBody([ops[0], ops[2]] as JsonValue, pods)).toEqual([ops[0], ops[2]]);
  });

  it('a JSON patch of a ConfigMap: the whole document and its last-applied annotation', () => {
    const cm = { kind: 'ConfigMap', data: { DB_PASSWORD: 'pw', DB_HOST: 'db' } };
    const ops = [
      { op: 'replace', path: '', value: cm },
      { op: 'replace', path: '/metadata/annotations/kubectl.kubernetes.io~1last-applied-configuration', value: JSON.stringify(cm) },
    ];
    const out = redactBody(ops, { resource: 'configmaps', subresource: null }) as { value: JsonValue }[];
    expect(out[0]?.value).toEqual({ kind: 'ConfigMap', data: { DB_PASSWORD: '[REDACTED]', DB_HOST: 'db' } });
    expect(JSON.parse(String(out[1]?.value))).toEqual({ kind: 'ConfigMap', data: { DB_PASSWORD: '[REDACTED]', DB_HOST: 'db' } });
  });

  it("a Helm release ConfigMap (Helm 3's owner: helm, Helm 2's OWNER: TILLER) loses its release, in a list too; another ConfigMap's release key stays", () => {
    const configmaps = { resource: 'configmaps', subresource: null };
    const helm3 = {
      metadata: { labels: { owner: 'helm', name: 'db', status: 'deployed', version: '2' } },
      data: { release: 'H4sIAAAAAAAC/+xYS2' },
    };
    const helm2 = { metadata: { labels: { OWNER: 'TILLER', NAME: 'db' } }, data: { release: 'H4sIAAAAAAAC/+xYS2' } };
    const list = redactBody({ kind: 'ConfigMapList', items: [helm3, helm2] }, configmaps) as { items: { data: JsonValue }[] };
    expect(list.items.map((i) => i.data)).toEqual([{ release: '[REDACTED]' }, { release: '[REDACTED]' }]);
    const other = { kind: 'ConfigMap', metadata: { labels: { app: 'notes' } }, data: { release: 'v1.2.3' } };
    expect(redactBody(other, configmaps)).toBe(other);
  });

  it("a Crossplane Object's Secret manifests, in a list and a watch event; a manifest of another kind stays", () => {
    const objects = { resource: 'objects', subresource: null };
    const secret = { apiVersion: 'v1', kind: 'Secret', data: { password: 'c2FtcGxlLXBhc3N3b3Jk' } };
    const obj = { kind: 'Object', spec: { forProvider: { manifest: secret } }, status: { atProvider: { manifest: secret } } };
    const watch = redactBody({ type: 'MODIFIED', object: obj }, objects) as JsonValue;
    const list = redactBody({ kind: 'ObjectList', items: [obj] }, objects) as JsonValue;
    for (const [v, at] of [
      [watch, ['object']],
      [list, ['items', '0']],
    ] as const) {
      expect(envOf(v, [...at, 'spec', 'forProvider', 'manifest', 'data'])).toEqual({ password: '[REDACTED]' });
      expect(envOf(v, [...at, 'status', 'atProvider', 'manifest', 'data'])).toEqual({ password: '[REDACTED]' });
    }
    const cmObject = { kind: 'Object', spec: { forProvider: { manifest: { kind: 'ConfigMap', data: { a: 'b' } } } } };
    expect(redactBody(cmObject, objects)).toBe(cmObject);
  });
});

// Argo CD's Application as its documentation gives every field (argoproj/argo-cd
// docs/operator-manual/application.yaml, test/fixtures/argocd), and Flux's HelmRelease as the
// helm-controller documentation's first example (fluxcd/helm-controller docs/spec/v2/helmreleases.md).
describe('Helm values in GitOps resources', () => {
  const applications = { resource: 'applications', subresource: null };
  const documented = parseAllDocuments(
    readFileSync(join(import.meta.dirname, '../../fixtures/argocd/application.yaml'), 'utf8'),
  )[0]?.toJSON() as {
    spec: { source: { helm: { parameters: JsonValue[]; values: string }; plugin: { env: JsonValue[] } } };
  };

  it("keeps the documented Application as it is (the same object): none of its values is a credential's", () => {
    expect(documented.spec.source.helm.parameters).toHaveLength(2);
    expect(redactBody(documented as unknown as JsonValue, applications)).toBe(documented);
  });

  it('redacts the values set under a credential name: parameters, values text, valuesObject, plugin env, and the copies in status', () => {
    const helm = documented.spec.source.helm;
    const source = {
      ...documented.spec.source,
      helm: {
        ...helm,
        parameters: [...helm.parameters, { name: 'postgresql.auth.password', value: 'pw-param' }],
        values: `${helm.values}auth:\n  postgresPassword: pw-text  \n  username: app\n  existingSecret: |\n    db\n`,
        valuesObject: { auth: { postgresPassword: 'pw-object', port: 5432, apiKey: 4711 }, image: { tag: '1.2.3' } },
      },
      plugin: {
        ...documented.spec.source.plugin,
        env: [
          { name: 'FOO', value: 'bar' },
          { name: 'VAULT_TOKEN', value: 'pw-env' },
        ],
      },
    };
    const app = {
      ...documented,
      spec: { ...documented.spec, source },
      status: { history: [{ id: 1, source }], sync: { comparedTo: { source } } },
    };
    const out = redactBody(app as unknown as JsonValue, applications) as typeof app;
    const text = JSON.stringify(out);
    for (const pw of ['pw-param', 'pw-text', 'pw-object', 'pw-env', '4711']) expect(text).not.toContain(pw);
    for (const kept of [out.spec.source, out.status.history[0]?.source, out.status.sync.comparedTo.source]) {
      expect(kept?.helm.parameters).toEqual([...helm.parameters, { name: 'postgresql.auth.password', value: '[REDACTED]' }]);
      expect(kept?.helm.values).toBe(
        `${helm.values}auth:\n  postgresPassword: [REDACTED]  \n  username: app\n  existingSecret: |\n    db\n`,
      );
      expect(kept?.helm.valuesObject).toEqual({
        auth: { postgresPassword: '[REDACTED]', port: 5432, apiKey: '[REDACTED]' },
        image: { tag: '1.2.3' },
      });
      expect(kept?.plugin.env).toEqual([
        { name: 'FOO', value: 'bar' },
        { name: 'VAULT_TOKEN', value: '[REDACTED]' },
      ]);
    }
  });

  it("a Flux HelmRelease's values: a credential's goes, in a list too; the documented example stays", () => {
    const helmreleases = { resource: 'helmreleases', subresource: null };
    const podinfo = {
      apiVersion: 'helm.toolkit.fluxcd.io/v2',
      kind: 'HelmRelease',
      metadata: { name: 'podinfo', namespace: 'default' },
      spec: {
        interval: '5m',
        chart: { spec: { chart: 'podinfo', version: '6.5.*', sourceRef: { kind: 'HelmRepository', name: 'podinfo' }, interval: '1m' } },
        values: { replicaCount: 2 },
      },
    };
    expect(redactBody(podinfo, helmreleases)).toBe(podinfo);
    const withPassword = { ...podinfo, spec: { ...podinfo.spec, values: { replicaCount: 2, redis: { auth: { password: 'pw-flux' } } } } };
    const list = redactBody({ kind: 'HelmReleaseList', items: [withPassword] }, helmreleases) as {
      items: { spec: { values: JsonValue } }[];
    };
    expect(list.items[0]?.spec.values).toEqual({ replicaCount: 2, redis: { auth: { password: '[REDACTED]' } } });
  });
});

describe('bodies nested deeper than the walks can go', () => {
  // JSON.parse reads these; a walk of them would overflow the stack. The record cuts them at the
  // depth it stores (lib/audit/depth.ts) and flags it, as the JWT walk does.
  const deep = (resource: string, requestObject: string): AuditEvent =>
    JSON.parse(
      `{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Request","auditID":"deep-${resource}","stage":"ResponseComplete",` +
        `"verb":"update","requestURI":"/x","user":{"username":"crafted"},"objectRef":{"resource":"${resource}","namespace":"n","name":"x"},` +
        `"responseStatus":{"code":200},"requestReceivedTimestamp":"2026-12-07T10:00:00.000000Z","requestObject":${requestObject}}`,
    ) as AuditEvent;
  const n = 50_000;
  it.each([
    ['applications', `{"spec":{"source":{"helm":{"valuesObject":${'['.repeat(n)}${']'.repeat(n)}}}}}`],
    ['helmreleases', `{"spec":{"values":${'{"a":'.repeat(n)}"pw"${'}'.repeat(n)}}}`],
    ['pods', `{"type":"MODIFIED",${'"object":{'.repeat(n)}${'}'.repeat(n)}}`],
  ])('%s: a body 50,000 deep is kept, cut and flagged, not thrown', (resource, body) => {
    const record = normaliseAuditEvent(deep(resource, body), { tenantId: 't', clusterName: 'c', receivedAt: 0 });
    expect(JSON.stringify(record.raw_event)).toContain(DEPTH_MARKER);
    expect(record.ocsf.metadata).toMatchObject({ is_truncated: true });
  });
});
