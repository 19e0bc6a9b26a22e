import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { parseArgs } from '../../../lib/cli/args.js';

const K8S = join(import.meta.dirname, '../../../infra/k8s');

interface Mount {
  name: string;
  mountPath: string;
  readOnly?: boolean;
}
interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { name: string; key: string } };
}
interface Deployment {
  kind: string;
  spec: {
    replicas: number;
    strategy: { type: string };
    template: {
      spec: {
        containers: {
          name: string;
          args: string[];
          env: EnvVar[];
          volumeMounts: Mount[];
          securityContext: Record<string, unknown>;
          livenessProbe?: { exec?: { command: string[] } };
          startupProbe?: { exec?: { command: string[] } };
        }[];
        volumes: {
          name: string;
          hostPath?: { path: string; type: string };
          persistentVolumeClaim?: { claimName: string };
          secret?: { secretName: string; items?: { key: string; path: string }[] };
        }[];
      };
    };
  };
}

const deployment = parse(readFileSync(join(K8S, 'tailer-deployment.yaml'), 'utf8')) as Deployment;
const pvc = parse(readFileSync(join(K8S, 'tailer-pvc.yaml'), 'utf8')) as {
  kind: string;
  metadata: { name: string };
  spec: { accessModes: string[] };
};
const pod = deployment.spec.template.spec;
const container = pod.containers[0]!;
const args = parseArgs(container.args.slice(1), ['config', 'path', 'cursor', 'cluster', 'interval', 'health-file'], ['once']);

function mountFor(path: string): { mount: Mount; volume: (typeof pod.volumes)[number] } {
  const mount = container.volumeMounts.find((m) => path.startsWith(`${m.mountPath}/`));
  if (mount === undefined) throw new Error(`${path} is on no volume`);
  const volume = pod.volumes.find((v) => v.name === mount.name);
  if (volume === undefined) throw new Error(`mount ${mount.name} has no volume`);
  return { mount, volume };
}

describe('infra/k8s/tailer-deployment.yaml', () => {
  it('runs the tail command on the connector documentation paths', () => {
    expect(container.args[0]).toBe('tail');
    expect(args.flags.get('path')).toBe('/var/log/kubernetes/audit/audit.log');
    expect(args.flags.get('cursor')).toBe('/var/lib/aisoc/k8s-audit/audit.cursor');
  });

  it('mounts the audit log read-only from the host', () => {
    const { mount, volume } = mountFor(args.flags.get('path') as string);

    expect(mount.readOnly).toBe(true);
    expect(volume.hostPath).toEqual({ path: '/var/log/kubernetes/audit', type: 'Directory' });
  });

  it('keeps the cursor on the PVC of tailer-pvc.yaml', () => {
    const { mount, volume } = mountFor(args.flags.get('cursor') as string);

    expect(mount.readOnly).not.toBe(true);
    expect(pvc.kind).toBe('PersistentVolumeClaim');
    expect(volume.persistentVolumeClaim?.claimName).toBe(pvc.metadata.name);
  });

  it('runs one reader at a time, stopping the old pod before the new one starts', () => {
    expect(deployment.spec.replicas).toBe(1);
    expect(deployment.spec.strategy.type).toBe('Recreate');
    expect(pvc.spec.accessModes).toEqual(['ReadWriteOnce']);
  });

  it('takes the shared secret from a Secret, never inline, and points at the dedicated route', () => {
    const env = new Map(container.env.map((e) => [e.name, e]));

    expect(env.get('K8S_AUDIT_SHARED_SECRET')?.value).toBeUndefined();
    expect(env.get('K8S_AUDIT_SHARED_SECRET')?.valueFrom?.secretKeyRef).toEqual({ name: 'aisoc-k8s-audit', key: 'shared-secret' });
    expect(env.get('AISOC_INGEST_URL')?.value).toMatch(/^https:\/\/[^/]+\/v1\/ingest\/k8s-audit\/[A-Za-z0-9][A-Za-z0-9._:-]*$/);
    expect(env.get('CLUSTER_NAME')?.value).toBeTruthy();
  });

  it('probes the last successful poll through the health file tail keeps on its writable volume', () => {
    const args = container.args as string[];
    const healthFile = args[args.indexOf('--health-file') + 1] as string;
    const mount = container.volumeMounts.find((m) => healthFile.startsWith(`${m.mountPath}/`));
    expect(mount?.readOnly).not.toBe(true);
    for (const probe of [container.livenessProbe, container.startupProbe]) {
      expect(probe?.exec?.command).toEqual(['node', '/app/dist/cli.mjs', 'connector', 'health', '--health-file', healthFile]);
    }
  });

  it('sends over https, trusting the CA mounted from a Secret (the CA certificate only)', () => {
    const env = new Map(container.env.map((e) => [e.name, e]));
    expect(new URL(env.get('AISOC_INGEST_URL')?.value ?? '').protocol).toBe('https:');
    expect(env.has('AISOC_ALLOW_INSECURE_HTTP')).toBe(false);
    const caFile = env.get('AISOC_CA_FILE')?.value as string;
    const { mount, volume } = mountFor(caFile);
    expect(mount.readOnly).toBe(true);
    expect(volume.secret).toEqual({ secretName: 'aisoc-k8s-audit-ca', items: [{ key: 'ca.crt', path: 'ca.crt' }] });
    expect(caFile).toBe(`${mount.mountPath}/ca.crt`);
  });

  it('drops every capability and keeps the root filesystem read-only', () => {
    expect(container.securityContext).toMatchObject({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
    });
  });
});
