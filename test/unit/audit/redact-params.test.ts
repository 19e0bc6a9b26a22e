// Workflow and pipeline parameters and Kyverno's generated Secrets (lib/audit/redact-params.ts),
// in the shapes their projects document: Argo Workflows' outputs parameters (argoproj/argo-workflows
// docs/walk-through/output-parameters.md, commit f016ad89eb269d282aec06dc491c29f396a38df4,
// Apache-2.0), Tekton's object params (tektoncd/pipeline
// examples/v1/pipelineruns/pipeline-object-param-and-result.yaml, commit
// 3ee1745ae5b2d9175b11917d7c1935eaad44910c, Apache-2.0), Kyverno's `generate.foreach` (kyverno.io
// docs, "Generate Rules", foreach); and that a body of any other resource comes back as it was.
import { describe, expect, it } from 'vitest';
import type { JsonValue } from '../../../lib/audit/index.js';
import { redactBody } from '../../../lib/audit/index.js';
import { dig } from '../../helpers/credential-events.js';

const to = (resource: string) => ({ resource, subresource: null });
const R = '[REDACTED]';

describe('workflow and pipeline parameters', () => {
  it('an Argo node output parameter and a number go by the name; a switch and a file path stay', () => {
    const body: JsonValue = {
      status: {
        nodes: {
          n1: {
            outputs: {
              parameters: [
                { name: 'api-token', value: 'opaque-out-tok', valueFrom: { path: '/tmp/token.txt' } },
                { name: 'DB_PASSWORD', value: 123456 },
                { name: 'AUTH_ENABLED', value: 'false' },
                { name: 'TOKEN_FILE', value: '/var/run/secrets/token' },
              ],
            },
          },
        },
      },
    };
    expect(dig(redactBody(body, to('workflows')), 'status.nodes.n1.outputs.parameters')).toEqual([
      { name: 'api-token', value: R, valueFrom: { path: '/tmp/token.txt' } },
      { name: 'DB_PASSWORD', value: R },
      { name: 'AUTH_ENABLED', value: 'false' },
      { name: 'TOKEN_FILE', value: '/var/run/secrets/token' },
    ]);
  });

  it("a Tekton object param: every property under a credential's name, or each by its own", () => {
    const body: JsonValue = {
      spec: {
        params: [
          { name: 'arg', value: { url: 'https://deploy:opaque-url-pw@abc.com/x', commit: 'sha123', password: 'opaque-obj-pw' } },
          { name: 'git-auth', value: { username: 'bot', host: 'github.com' } },
        ],
      },
    };
    expect(dig(redactBody(body, to('taskruns')), 'spec.params')).toEqual([
      { name: 'arg', value: { url: `https://deploy:${R}@abc.com/x`, commit: 'sha123', password: R } },
      { name: 'git-auth', value: { username: R, host: R } },
    ]);
  });

  it('a body with no credential parameter, and any other resource, come back as they were (no copy)', () => {
    const plain: JsonValue = { spec: { arguments: { parameters: [{ name: 'message', value: 'hello world' }] } } };
    expect(redactBody(plain, to('workflows'))).toBe(plain);
    const other: JsonValue = { spec: { params: [{ name: 'db-password', value: 'stays-elsewhere' }] } };
    expect(redactBody(other, to('jobs'))).toBe(other);
  });
});

describe('JSON patches of parameters and policies', () => {
  it('a Tekton params list, a rule added to a policy: each read where its path puts it; a reference stays', () => {
    const ops: JsonValue = [
      {
        op: 'add',
        path: '/spec/params',
        value: [
          { name: 'API_TOKEN', value: 'opaque-list-tok' },
          { name: 'x', value: '1' },
        ],
      },
      { op: 'replace', path: '/spec/params/1/value', value: '$(params.other)' },
      {
        op: 'add',
        path: '/spec/rules/-',
        value: { name: 'r', generate: { kind: 'Secret', data: { stringData: { token: 'opaque-rule-tok' } } } },
      },
    ];
    expect(dig(redactBody(ops, to('pipelineruns')), '0.value')).toEqual([
      { name: 'API_TOKEN', value: R },
      { name: 'x', value: '1' },
    ]);
    expect(dig(redactBody(ops, to('pipelineruns')), '1.value')).toBe('$(params.other)');
    expect(dig(redactBody(ops, to('clusterpolicies')), '2.value.generate.data')).toEqual({ stringData: { token: R } });
  });
});

describe("Kyverno's generated Secrets", () => {
  it('each foreach entry generating a Secret loses its values; a generated ConfigMap stays', () => {
    const configMap = { kind: 'ConfigMap', data: { color: 'blue' } };
    const body: JsonValue = {
      apiVersion: 'kyverno.io/v1',
      kind: 'Policy',
      spec: {
        rules: [
          {
            name: 'per-namespace',
            generate: {
              foreach: [
                {
                  list: 'request.object.spec.namespaces',
                  kind: 'Secret',
                  name: 'regcred',
                  data: { data: { '.dockerconfigjson': 'b3BhcXVl' } },
                },
                { list: 'request.object.spec.namespaces', kind: 'ConfigMap', name: 'colors', data: configMap },
              ],
            },
          },
        ],
      },
    };
    const out = redactBody(body, to('policies'));
    expect(dig(out, 'spec.rules.0.generate.foreach.0.data')).toEqual({ data: { '.dockerconfigjson': R } });
    expect(dig(out, 'spec.rules.0.generate.foreach.1.data')).toBe(configMap);
  });
});
