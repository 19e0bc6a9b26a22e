// Credentials a new user's cluster writes into places the API does not reserve for them, sent
// through the real `serve` and read back as a user reads them (`events --json`, `--alerts`):
// - a literal password in a Deployment's env, as the Kubernetes documentation's own MySQL
//   tutorial writes it (kubernetes/website, content/en/examples/application/mysql/
//   mysql-deployment.yaml: `MYSQL_ROOT_PASSWORD`, value `password`, "# Use secret in real
//   usage"), applied with kubectl (so also in the last-applied-configuration annotation);
// - the same tutorial's client, `kubectl run … mysql-client -- mysql -h mysql -ppassword`: a Pod
//   whose args hold the password glued to `-p`;
// - `kubectl exec` of that client line and of the documentation's API call from a pod ("Access
//   the Kubernetes API from a Pod": `curl --header "Authorization: Bearer ${TOKEN}"`), with an
//   opaque token: one `command=` query parameter per argument, on a real Falco exec trace event;
// - a webhook's denial quoting a Git URL with an access token in its userinfo (the apiserver
//   writes `admission webhook "<name>" denied the request: <the webhook's message>`,
//   k8s.io/apiserver admission/plugin/webhook/errors/statuserror.go; GitHub documents
//   `https://x-access-token:<token>@github.com/owner/repo.git`), and a ValidatingAdmissionPolicy
//   audit annotation quoting a URL with a credential query;
// - a ConfigMap holding a password under its name, and the twelve-factor `DATABASE_URL` (the
//   database's URL, user and password in it: 12factor.net "Backing services", Heroku's
//   convention), as public deploy scripts write them for `envFrom.configMapRef`.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { falcoEvent } from '../helpers/fixtures.js';
import { runCli, SECRET, tempDataDir } from '../helpers/ingest.js';
import { type ThroughServe, throughServe } from '../helpers/through-serve.js';

// Opaque values (no JWT: the JWT rule would already take those): none may be stored.
const GIT_TOKEN = 'ghs_16C7e42F292c6912E7710c838347Ae178B4a';
const API_TOKEN = 'abcdef.0123456789abcdef';
const QUERY_KEY = 'opaque-api-key-77e1c9';
const DB_PASSWORD = 'opaque-db-password-3b9f10';

const deployment = {
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'mysql', namespace: 'default' },
  spec: {
    selector: { matchLabels: { app: 'mysql' } },
    strategy: { type: 'Recreate' },
    template: {
      metadata: { labels: { app: 'mysql' } },
      spec: {
        containers: [
          {
            image: 'mysql:5.6',
            name: 'mysql',
            env: [{ name: 'MYSQL_ROOT_PASSWORD', value: 'password' }],
            ports: [{ containerPort: 3306, name: 'mysql' }],
            volumeMounts: [{ name: 'mysql-persistent-storage', mountPath: '/var/lib/mysql' }],
          },
        ],
        volumes: [{ name: 'mysql-persistent-storage', persistentVolumeClaim: { claimName: 'mysql-pv-claim' } }],
      },
    },
  },
};
const applied = {
  ...deployment,
  metadata: {
    ...deployment.metadata,
    annotations: { 'kubectl.kubernetes.io/last-applied-configuration': `${JSON.stringify(deployment)}\n` },
  },
};

const clientPod = {
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'mysql-client', namespace: 'default', labels: { run: 'mysql-client' } },
  spec: {
    containers: [{ name: 'mysql-client', image: 'mysql:5.6', args: ['mysql', '-h', 'mysql', '-ppassword'], stdin: true, tty: true }],
    restartPolicy: 'Never',
  },
};

const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';
const configMap = {
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name: 'vibe-config', namespace: 'vibe' },
  data: {
    DATABASE_URL: `postgresql+psycopg://vibe:${DB_PASSWORD}@postgres:5432/vibe`,
    REDIS_URL: 'redis://redis:6379/0',
    POSTGRES_PASSWORD: DB_PASSWORD,
    AWS_REGION: 'us-east-1',
  },
};

const EXEC = '/api/v1/namespaces/default/pods/mysql-client/exec';
const execMysql = `${EXEC}?command=mysql&command=-h&command=mysql&command=-ppassword&container=mysql-client&stdin=true&stdout=true&tty=true`;
const execCurl =
  `${EXEC}?command=curl&command=--cacert&command=%2Fvar%2Frun%2Fsecrets%2Fkubernetes.io%2Fserviceaccount%2Fca.crt` +
  `&command=--header&command=Authorization%3A+Bearer+${API_TOKEN}&command=-X&command=GET&command=https%3A%2F%2Fkubernetes.default.svc%2Fapi` +
  '&container=mysql-client&stdin=true&stdout=true&tty=true';

function items(): unknown[] {
  const exec = falcoEvent('exec_pod.json');
  const at = (auditID: string, fields: Record<string, unknown>) => ({ ...exec, auditID, ...fields });
  const ref = (resource: string, name: string, extra: Record<string, unknown> = {}) => ({
    objectRef: { resource, namespace: 'default', name, apiVersion: resource === 'deployments' ? 'v1' : 'v1', ...extra },
  });
  return [
    at('env-0001', {
      verb: 'create',
      level: 'RequestResponse',
      stage: 'ResponseComplete',
      requestURI: '/apis/apps/v1/namespaces/default/deployments?fieldManager=kubectl-client-side-apply&fieldValidation=Strict',
      ...ref('deployments', 'mysql', { apiGroup: 'apps' }),
      requestObject: applied,
      responseObject: { ...applied, metadata: { ...applied.metadata, uid: '6f1d2a0e-8c1b-4c1e-9d55-3f6f3b0c2a11' } },
      responseStatus: { metadata: {}, code: 201 },
    }),
    at('args-0001', {
      verb: 'create',
      level: 'RequestResponse',
      stage: 'ResponseComplete',
      requestURI: '/api/v1/namespaces/default/pods?fieldManager=kubectl-run',
      ...ref('pods', 'mysql-client'),
      requestObject: clientPod,
      responseStatus: { metadata: {}, code: 201 },
    }),
    at('cm-0001', {
      verb: 'create',
      level: 'RequestResponse',
      stage: 'ResponseComplete',
      requestURI: '/api/v1/namespaces/vibe/configmaps?fieldManager=kubectl-client-side-apply&fieldValidation=Strict',
      objectRef: { resource: 'configmaps', namespace: 'vibe', name: 'vibe-config', apiVersion: 'v1' },
      requestObject: configMap,
      responseStatus: { metadata: {}, code: 201 },
    }),
    at('exec-0001', { requestURI: execMysql, ...ref('pods', 'mysql-client', { subresource: 'exec' }) }),
    at('exec-0002', { requestURI: execCurl, ...ref('pods', 'mysql-client', { subresource: 'exec' }) }),
    at('text-0001', {
      verb: 'create',
      requestURI: '/apis/argoproj.io/v1alpha1/namespaces/argocd/applications',
      objectRef: { resource: 'applications', namespace: 'argocd', name: 'web', apiGroup: 'argoproj.io', apiVersion: 'v1alpha1' },
      responseStatus: {
        metadata: {},
        status: 'Failure',
        code: 400,
        message: `admission webhook "repo.policy.example.com" denied the request: source "https://x-access-token:${GIT_TOKEN}@github.com/acme/web.git" is not an allowed repository`,
      },
      annotations: {
        'authorization.k8s.io/decision': 'allow',
        'authorization.k8s.io/reason': '',
        'repo-source.policy.example.com/source': `https://charts.example.com/index.yaml?api_key=${QUERY_KEY}`,
      },
    }),
  ];
}

/** Two of the items above as a sender could garble them (the core API's version, not the audit API's): rejected, and kept. */
function garbled(): unknown[] {
  return items()
    .filter((e) => ['env-0001', 'exec-0001'].includes((e as { auditID: string }).auditID))
    .map((e) => ({ ...(e as object), auditID: `${(e as { auditID: string }).auditID}-garbled`, apiVersion: 'v1' }));
}

let out: ThroughServe;
let all: string;
let rejected: string;
const tmp = tempDataDir('aisoc-free-text-creds-');
beforeAll(async () => {
  out = await throughServe(tmp.dir, SECRET, 'prod', [...items(), ...garbled()]);
  all = JSON.stringify([out.records, out.alerts]);
  rejected = (await runCli(['rejected', '--json', '--data-dir', tmp.dir])).stdout;
}, 60_000);
afterAll(() => tmp.remove());

type Rec = { audit_id: string; raw_event: unknown; request_uri: string; ocsf: unknown };
/** The value at a dotted path (`a.0.b`) of a stored record's JSON. */
const dig = (v: unknown, path: string): unknown =>
  path.split('.').reduce<unknown>((x, k) => (x as Record<string, unknown> | undefined)?.[k], v);
const record = (id: string): Rec => {
  const r = (out.records as unknown as Rec[]).find((x) => x.audit_id === id);
  if (r === undefined) throw new Error(`no record ${id}`);
  return r;
};

describe('credentials in free text, through serve', () => {
  it('accepts every item', () => {
    expect(out.status).toBe(200);
    expect(out.answer).toMatchObject({ accepted: 6, rejected: 2 });
  });

  it('keeps the rejected items for a person to fix, without the credentials their env and exec command carry', () => {
    const kept = rejected
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { audit_id: string; item: string });
    expect(kept.map((r) => r.audit_id).sort()).toEqual(['env-0001-garbled', 'exec-0001-garbled']);
    expect(rejected).toContain('MYSQL_ROOT_PASSWORD');
    expect(rejected).toContain('command=-p[REDACTED]');
    expect(rejected).not.toContain('-ppassword');
    expect(rejected).not.toMatch(/"value\\*":\\*"password/);
  });

  it('keeps an env name and replaces its literal credential, in the bodies and the last-applied annotation', () => {
    const raw = record('env-0001').raw_event;
    for (const body of ['requestObject', 'responseObject']) {
      const spec = dig(raw, `${body}.spec.template.spec`);
      expect(dig(spec, 'containers.0.env')).toEqual([{ name: 'MYSQL_ROOT_PASSWORD', value: '[REDACTED]' }]);
      // What the pod-spec rules read is as sent.
      expect(dig(spec, 'volumes')).toEqual(deployment.spec.template.spec.volumes);
      const last = JSON.parse(String((dig(raw, `${body}.metadata.annotations`) as Record<string, string>)[LAST_APPLIED]));
      expect(dig(last, 'spec.template.spec.containers.0.env')).toEqual([{ name: 'MYSQL_ROOT_PASSWORD', value: '[REDACTED]' }]);
    }
    expect(all).not.toMatch(/"value\\*":\\*"password/);
  });

  it("keeps a container's command line but the password glued to mysql's -p", () => {
    expect(dig(record('args-0001').raw_event, 'requestObject.spec.containers.0.args')).toEqual(['mysql', '-h', 'mysql', '-p[REDACTED]']);
    expect(all).not.toContain('-ppassword');
  });

  it("keeps an exec's command and flags, not its password or bearer token, in the record, its OCSF URL and the alert", () => {
    const mysql = `${EXEC}?command=mysql&command=-h&command=mysql&command=-p[REDACTED]&container=mysql-client&stdin=true&stdout=true&tty=true`;
    expect(record('exec-0001').request_uri).toBe(mysql);
    expect(dig(record('exec-0001').raw_event, 'requestURI')).toBe(mysql);
    const curl = record('exec-0002');
    expect(curl.request_uri).toContain('&command=--header&command=Authorization%3A+Bearer+[REDACTED]&command=-X&command=GET&');
    expect(dig(curl.raw_event, 'requestURI')).toBe(curl.request_uri);
    expect(dig(curl.ocsf, 'http_request.url.path')).toBe(curl.request_uri);
    expect(out.alerts.map((a) => a.audit_id).sort()).toEqual(expect.arrayContaining(['exec-0001', 'exec-0002']));
    const execs = JSON.stringify([record('exec-0001'), curl, out.alerts.filter((a) => a.audit_id.startsWith('exec-'))]);
    expect(execs).not.toContain(API_TOKEN);
    expect(execs).not.toContain('-ppassword');
  });

  it("keeps a ConfigMap's keys and other values, not a credential-named value or a URL's password", () => {
    expect(dig(record('cm-0001').raw_event, 'requestObject.data')).toEqual({
      DATABASE_URL: 'postgresql+psycopg://vibe:[REDACTED]@postgres:5432/vibe',
      REDIS_URL: 'redis://redis:6379/0',
      POSTGRES_PASSWORD: '[REDACTED]',
      AWS_REGION: 'us-east-1',
    });
    expect(all).not.toContain(DB_PASSWORD);
  });

  it('keeps the error text and annotations, not the URL credentials they quote', () => {
    const raw = record('text-0001').raw_event;
    expect(dig(raw, 'responseStatus.message')).toBe(
      'admission webhook "repo.policy.example.com" denied the request: source "https://x-access-token:[REDACTED]@github.com/acme/web.git" is not an allowed repository',
    );
    const annotations = dig(raw, 'annotations') as Record<string, string>;
    expect(annotations['repo-source.policy.example.com/source']).toBe('https://charts.example.com/index.yaml?api_key=[REDACTED]');
    expect(annotations['authorization.k8s.io/decision']).toBe('allow');
    expect(all).not.toContain(GIT_TOKEN);
    expect(all).not.toContain(QUERY_KEY);
  });
});
