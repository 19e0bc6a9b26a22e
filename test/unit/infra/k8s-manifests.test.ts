import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { NGINX_PLACEHOLDERS, renderNginxForwarder } from '../../helpers/infra-nginx.js';

const K8S = join(import.meta.dirname, '../../../infra/k8s');
const read = (name: string) => readFileSync(join(K8S, name), 'utf8');
const load = (name: string) => parse(read(name)) as Record<string, unknown>;

interface PolicyRule {
  level: string;
  resources?: { group: string; resources?: string[] }[];
}

/** The level the apiserver gives a request: the first rule that matches decides (audit.k8s.io/v1 Policy semantics). */
function levelFor(rules: PolicyRule[], group: string, resource: string, subresource?: string): string | undefined {
  const name = subresource === undefined ? resource : `${resource}/${subresource}`;
  for (const rule of rules) {
    if (rule.resources === undefined) return rule.level;
    const hit = rule.resources.some((r) => r.group === group && (r.resources === undefined || r.resources.includes(name)));
    if (hit) return rule.level;
  }
  return undefined;
}

interface Container {
  name: string;
  command: string[];
  volumeMounts: { name: string; mountPath: string; readOnly?: boolean }[];
}
interface PodSnippet {
  kind: string;
  spec: { containers: Container[]; volumes: { name: string; hostPath: { path: string; type: string } }[] };
}

function apiserver(name: string): { pod: PodSnippet; flags: Map<string, string> } {
  const pod = load(name) as unknown as PodSnippet;
  const container = pod.spec.containers.find((c) => c.name === 'kube-apiserver');
  if (container === undefined) throw new Error(`${name}: no kube-apiserver container`);
  const flags = new Map(
    container.command
      .filter((a) => a.startsWith('--'))
      .map((a) => {
        const eq = a.indexOf('=');
        return [a.slice(2, eq), a.slice(eq + 1)] as [string, string];
      }),
  );
  return { pod, flags };
}

/** Every file the flags name must be inside a mount backed by a hostPath volume, or the static pod cannot start. */
function unmountedPaths(pod: PodSnippet, paths: string[]): string[] {
  const container = pod.spec.containers[0]!;
  return paths.filter((p) => {
    const mount = container.volumeMounts.find((m) => p === m.mountPath || p.startsWith(`${m.mountPath}/`));
    return mount === undefined || !pod.spec.volumes.some((v) => v.name === mount.name && v.hostPath !== undefined);
  });
}

const NGINX_CAP_BYTES = (() => {
  const m = /client_max_body_size\s+(\d+)m;/.exec(read('nginx-forwarder.conf'));
  return m === null ? Number.NaN : Number(m[1]) * 1024 * 1024;
})();

describe('infra/k8s/audit-policy.yaml', () => {
  const policy = load('audit-policy.yaml') as { apiVersion: string; kind: string; omitStages?: string[]; rules: PolicyRule[] };

  it('is an audit.k8s.io/v1 Policy with the connector documentation rules in the connector documentation order', () => {
    expect(policy.apiVersion).toBe('audit.k8s.io/v1');
    expect(policy.kind).toBe('Policy');
    expect(policy.omitStages).toEqual(['RequestReceived']);
    expect(policy.rules).toEqual([
      {
        level: 'RequestResponse',
        resources: [{ group: 'rbac.authorization.k8s.io', resources: ['clusterroles', 'clusterrolebindings', 'roles', 'rolebindings'] }],
      },
      { level: 'Request', resources: [{ group: '', resources: ['pods/exec', 'pods/attach', 'pods/portforward', 'pods/proxy'] }] },
      { level: 'Metadata', resources: [{ group: '', resources: ['secrets', 'serviceaccounts'] }] },
      { level: 'Metadata', resources: [{ group: '', resources: ['serviceaccounts/token'] }] },
      { level: 'Metadata' },
    ]);
  });

  it('gives every request the level the detections need, and never logs secret bodies', () => {
    expect(levelFor(policy.rules, 'rbac.authorization.k8s.io', 'clusterrolebindings')).toBe('RequestResponse');
    expect(levelFor(policy.rules, '', 'pods', 'exec')).toBe('Request');
    expect(levelFor(policy.rules, '', 'pods', 'portforward')).toBe('Request');
    expect(levelFor(policy.rules, '', 'secrets')).toBe('Metadata');
    expect(levelFor(policy.rules, '', 'serviceaccounts', 'token')).toBe('Metadata');
    expect(levelFor(policy.rules, 'apps', 'deployments')).toBe('Metadata');
    expect(levelFor(policy.rules, '', 'configmaps')).toBe('Metadata');
  });
});

describe('infra/k8s/audit-webhook-kubeconfig.yaml', () => {
  it('points the current context at the forwarder on loopback', () => {
    const kc = load('audit-webhook-kubeconfig.yaml') as {
      kind: string;
      'current-context': string;
      contexts: { name: string; context: { cluster: string } }[];
      clusters: { name: string; cluster: { server: string } }[];
    };
    const context = kc.contexts.find((c) => c.name === kc['current-context']);
    const cluster = kc.clusters.find((c) => c.name === context?.context.cluster);
    expect(kc.kind).toBe('Config');
    expect(cluster?.cluster.server).toBe('http://127.0.0.1:8080/forward');
  });
});

describe('infra/k8s/nginx-forwarder.conf', () => {
  const conf = read('nginx-forwarder.conf');

  it('listens where the kubeconfig points and injects the token on exactly that path', () => {
    const server = new URL('http://127.0.0.1:8080/forward');
    expect(conf).toMatch(new RegExp(`^\\s*listen ${server.hostname}:${server.port};`, 'm'));
    const location = /location = \/forward \{([\s\S]*?)\n {4}\}/.exec(conf)?.[1] ?? '';
    const placeholder = (name: string) => `\${${name}}`;
    expect(location).toContain(`proxy_set_header X-AiSOC-K8s-Token "${placeholder('AISOC_K8S_TOKEN')}";`);
    expect(location).toContain('proxy_set_header Content-Type application/json;');
    expect(location).toContain(`proxy_pass ${placeholder('AISOC_INGEST_ORIGIN')}/v1/ingest/k8s-audit/${placeholder('AISOC_TENANT_ID')};`);
    expect(location).toContain('proxy_ssl_server_name on;');
    // TLS to the ingest, verified against the rendered CA file, 1.2 or newer.
    expect(location).toContain('proxy_ssl_verify on;');
    expect(location).toContain(`proxy_ssl_trusted_certificate ${placeholder('AISOC_CA_FILE')};`);
    expect(location).toContain('proxy_ssl_protocols TLSv1.2 TLSv1.3;');
  });

  it('documents an envsubst line that names every placeholder the file uses', () => {
    const used = [...new Set([...conf.replace(/^#.*$/gm, '').matchAll(/\$\{([A-Z0-9_]+)\}/g)].map((m) => m[1]))].sort();
    const envsubst = /envsubst "\$\(printf '\$\{%s\} ' ([A-Z0-9_ ]+)\)"/.exec(conf)?.[1] ?? '';
    expect(used).toEqual([...NGINX_PLACEHOLDERS].sort());
    expect(envsubst.split(' ').sort()).toEqual(used);
  });

  it('renders with no placeholder left', () => {
    const out = renderNginxForwarder(conf, { token: 's3cr3t/+=', origin: 'https://aisoc.example.com', tenant: 'acme', cluster: 'prod' });
    expect(out).not.toMatch(/\$\{AISOC_/);
    expect(out).toContain('proxy_pass https://aisoc.example.com/v1/ingest/k8s-audit/acme;');
    expect(out).toContain('proxy_set_header X-AiSOC-K8s-Token "s3cr3t/+=";');
    expect(out.split('\n').filter((l) => l.trimStart().startsWith('#') && l.includes('s3cr3t'))).toEqual([]);
  });

  it('refuses a value that would break out of the nginx string', () => {
    expect(() => renderNginxForwarder(conf, { token: 'a"b', origin: 'https://h', tenant: 't', cluster: 'c' })).toThrow(/AISOC_K8S_TOKEN/);
    expect(() => renderNginxForwarder(conf, { token: 'a$b', origin: 'https://h', tenant: 't', cluster: 'c' })).toThrow(/AISOC_K8S_TOKEN/);
  });
});

describe('infra/k8s/kube-apiserver-webhook.yaml', () => {
  const { pod, flags } = apiserver('kube-apiserver-webhook.yaml');

  it('turns on the webhook backend with the connector documentation batching and the shipped policy and kubeconfig', () => {
    expect(flags.get('audit-policy-file')).toBe('/etc/kubernetes/audit-policy.yaml');
    expect(flags.get('audit-webhook-config-file')).toBe('/etc/kubernetes/audit-webhook.yaml');
    expect(flags.get('audit-webhook-batch-max-size')).toBe('400');
    expect(flags.get('audit-webhook-batch-max-wait')).toBe('30s');
    expect(flags.has('audit-log-path')).toBe(false);
  });

  it('mounts every file it names from the host', () => {
    expect(unmountedPaths(pod, [flags.get('audit-policy-file')!, flags.get('audit-webhook-config-file')!])).toEqual([]);
  });

  it('splits batches below the forwarder body cap', () => {
    expect(flags.get('audit-webhook-truncate-enabled')).toBe('true');
    expect(Number(flags.get('audit-webhook-truncate-max-batch-size'))).toBeLessThan(NGINX_CAP_BYTES);
  });
});

describe('infra/k8s/kube-apiserver-file.yaml', () => {
  const { pod, flags } = apiserver('kube-apiserver-file.yaml');

  it('writes the audit log where the tailer reads it, with the connector documentation rotation', () => {
    expect(flags.get('audit-policy-file')).toBe('/etc/kubernetes/audit-policy.yaml');
    expect(flags.get('audit-log-path')).toBe('/var/log/kubernetes/audit/audit.log');
    expect([flags.get('audit-log-maxage'), flags.get('audit-log-maxbackup'), flags.get('audit-log-maxsize')]).toEqual(['30', '10', '100']);
    expect(flags.has('audit-webhook-config-file')).toBe(false);
  });

  it('mounts the policy and a writable host directory for the log', () => {
    expect(unmountedPaths(pod, [flags.get('audit-policy-file')!, flags.get('audit-log-path')!])).toEqual([]);
    const logMount = pod.spec.containers[0]!.volumeMounts.find((m) => m.mountPath === '/var/log/kubernetes/audit');
    expect(logMount?.readOnly).not.toBe(true);
    expect(pod.spec.volumes.find((v) => v.name === logMount?.name)?.hostPath.type).toBe('DirectoryOrCreate');
  });
});

describe('infra/k8s/aisoc-audit-forwarder.yaml', () => {
  it('runs nginx on the node network with the rendered config replacing the default server', () => {
    const pod = load('aisoc-audit-forwarder.yaml') as unknown as PodSnippet & { spec: { hostNetwork: boolean } };
    const nginx = pod.spec.containers[0]!;
    expect(pod.spec.hostNetwork).toBe(true);
    expect(nginx.volumeMounts).toEqual([
      { name: 'aisoc-forwarder-conf', mountPath: '/etc/nginx/conf.d/default.conf', readOnly: true },
      { name: 'aisoc-forwarder-tls', mountPath: '/etc/nginx/aisoc', readOnly: true },
    ]);
    expect(pod.spec.volumes[0]?.hostPath).toEqual({ path: '/etc/kubernetes/aisoc/aisoc-forwarder.conf', type: 'File' });
    // The private CA the rendered config may name (AISOC_CA_FILE=/etc/nginx/aisoc/ca.crt) lives next to it on the node.
    expect(pod.spec.volumes[1]?.hostPath).toEqual({ path: '/etc/kubernetes/aisoc', type: 'Directory' });
  });
});
