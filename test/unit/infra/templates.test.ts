import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadForwarderConfig } from '../../../lib/config/forwarder.js';
import { loadIngestConfig } from '../../../lib/ingest/config.js';
import { loadCfnYaml } from '../../helpers/infra-cfn.js';

const ROOT = join(import.meta.dirname, '../../..');
type Obj = Record<string, unknown>;

const sls = loadCfnYaml(join(ROOT, 'serverless.yml')) as Obj & {
  provider: Obj;
  params: { default: Record<string, unknown> };
  functions: Record<string, Obj>;
  resources: { Resources: Record<string, Obj>; Conditions?: Obj };
};
const sam = loadCfnYaml(join(ROOT, 'infra/template.yaml')) as Obj & {
  Parameters: Record<string, { Default?: string }>;
  Resources: Record<string, { Type: string; Properties: Obj }>;
};

// serverless.yml's stage params and the SAM template's parameters carry the same choices.
const PARAM_NAMES: Record<string, string> = {
  eksLogGroup: 'EksLogGroupName',
  tenantId: 'TenantId',
  clusterName: 'ClusterName',
  alarmEmail: 'AlarmEmail',
};

/** The logical ids a value refers to (Ref, GetAtt, ${X} in Sub), pseudo parameters and template parameters left out. */
function referencedResources(value: unknown, resources: Record<string, unknown>): string[] {
  const found = new Set<string>();
  const walk = (v: unknown): void => {
    if (typeof v === 'string') {
      for (const m of v.matchAll(/\$\{([A-Za-z0-9]+)(?:\.[A-Za-z]+)?\}/g)) if (m[1] && m[1] in resources) found.add(m[1]);
    } else if (Array.isArray(v)) v.forEach(walk);
    else if (v !== null && typeof v === 'object') {
      const o = v as Obj;
      if (typeof o.Ref === 'string' && o.Ref in resources) found.add(o.Ref);
      const att = o['Fn::GetAtt'];
      if (Array.isArray(att) && typeof att[0] === 'string' && att[0] in resources) found.add(att[0]);
      Object.values(o).forEach(walk);
    }
  };
  walk(value);
  return [...found].sort();
}

/** What both tools must agree on for one function. */
interface FunctionModel {
  runtime: unknown;
  architecture: unknown;
  bundle: string;
  handler: string;
  timeout: unknown;
  memory: unknown;
  reservedConcurrency: unknown;
  role: string[];
  env: Record<string, string | string[]>;
  routes: string[];
  subscriptions: { logGroupParam: string; filter: unknown }[];
  retries: unknown;
  maxEventAge: unknown;
  onFailure: { type: string; target: string[] } | null;
}

/** Literal variables compare by value; computed ones by the resources they are computed from. */
function envModel(vars: Obj, resources: Record<string, unknown>): Record<string, string | string[]> {
  return Object.fromEntries(
    Object.entries(vars).map(([k, v]) => {
      if (typeof v === 'string' && !v.includes('${')) return [k, v];
      const refs = referencedResources(v, resources);
      return [k, refs.length > 0 ? refs : ['<parameter>']];
    }),
  );
}

function slsModel(name: string): FunctionModel {
  const f = sls.functions[name] as Obj & {
    events?: Obj[];
    environment?: Obj;
    destinations?: { onFailure?: { type: string; arn: unknown } };
  };
  const resources = { ...sls.resources.Resources, HttpApi: {}, ForwarderLogGroup: {}, IngestLogGroup: {} };
  const env = Object.fromEntries(
    Object.entries(f.environment ?? {}).map(([k, v]) => {
      // A stage param with a plain default is SAM's template parameter; one whose default is
      // computed (the stack's own ingest URL) compares by what it is computed from.
      const param = typeof v === 'string' ? /^\$\{param:(\w+)\}$/.exec(v)?.[1] : undefined;
      const fallback = param === undefined ? undefined : sls.params.default[param];
      return [k, param === undefined ? v : typeof fallback === 'string' ? { Ref: param } : fallback];
    }),
  );
  const handler = String(f.handler);
  return {
    runtime: f.runtime ?? sls.provider.runtime,
    architecture: f.architecture ?? sls.provider.architecture,
    bundle: handler.slice(0, handler.lastIndexOf('/')),
    handler: `index.${handler.slice(handler.lastIndexOf('.') + 1)}`,
    timeout: f.timeout,
    memory: f.memorySize,
    reservedConcurrency: f.reservedConcurrency,
    role: [String(f.role)],
    env: envModel(env, resources),
    routes: (f.events ?? []).flatMap((e) => (e.httpApi ? [`${(e.httpApi as Obj).method} ${(e.httpApi as Obj).path}`] : [])).sort(),
    subscriptions: (f.events ?? []).flatMap((e) => {
      const c = e.cloudwatchLog as Obj | undefined;
      if (c === undefined) return [];
      const param = /^\$\{param:(\w+)\}$/.exec(String(c.logGroup))?.[1] ?? '';
      return [{ logGroupParam: PARAM_NAMES[param] ?? `literal ${String(c.logGroup)}`, filter: c.filter }];
    }),
    retries: f.maximumRetryAttempts,
    maxEventAge: f.maximumEventAge,
    onFailure: f.destinations?.onFailure
      ? { type: f.destinations.onFailure.type.toUpperCase(), target: referencedResources(f.destinations.onFailure.arn, resources) }
      : null,
  };
}

function samModel(logicalId: string): FunctionModel {
  const p = sam.Resources[logicalId]?.Properties as Obj & {
    Events?: Record<string, { Type: string; Properties: Obj }>;
    Environment?: { Variables: Obj };
    EventInvokeConfig?: {
      MaximumRetryAttempts?: number;
      MaximumEventAgeInSeconds?: number;
      DestinationConfig?: { OnFailure?: { Type: string; Destination: unknown } };
    };
  };
  const events = Object.values(p.Events ?? {});
  const failure = p.EventInvokeConfig?.DestinationConfig?.OnFailure;
  return {
    runtime: p.Runtime,
    architecture: (p.Architectures as string[])[0],
    bundle: join('infra', String(p.CodeUri)).replace(/\/$/, ''),
    handler: String(p.Handler),
    timeout: p.Timeout,
    memory: p.MemorySize,
    reservedConcurrency: p.ReservedConcurrentExecutions,
    role: referencedResources(p.Role, sam.Resources),
    env: envModel(p.Environment?.Variables ?? {}, sam.Resources),
    routes: events
      .filter((e) => e.Type === 'HttpApi')
      .map((e) => `${e.Properties.Method} ${e.Properties.Path}`)
      .sort(),
    subscriptions: events
      .filter((e) => e.Type === 'CloudWatchLogs')
      .map((e) => ({ logGroupParam: String((e.Properties.LogGroupName as Obj).Ref), filter: e.Properties.FilterPattern })),
    retries: p.EventInvokeConfig?.MaximumRetryAttempts,
    maxEventAge: p.EventInvokeConfig?.MaximumEventAgeInSeconds,
    onFailure: failure ? { type: failure.Type, target: referencedResources(failure.Destination, sam.Resources) } : null,
  };
}

/** A value CloudFormation would give the intrinsic, good enough for the config loaders to judge. */
function fakeResolve(value: unknown, params: Record<string, string>): string {
  const fake: Record<string, string> = {
    HttpApi: 'abc123defg',
    'AWS::Region': 'us-east-1',
    'AWS::URLSuffix': 'amazonaws.com',
    'AWS::StackName': 'aisoc-k8s-audit',
    SharedSecret: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:aisoc-k8s-audit-AbCdEf',
    AuditEventsStream: 'aisoc-k8s-audit-AuditEventsStream-1A2B3C',
    AuditAlertsQueue: 'https://sqs.us-east-1.amazonaws.com/123456789012/aisoc-k8s-audit-AuditAlertsQueue-1A2B3C',
    AuditRejectsQueue: 'https://sqs.us-east-1.amazonaws.com/123456789012/aisoc-k8s-audit-AuditRejectsQueue-1A2B3C',
    InboxTokensTable: 'aisoc-k8s-audit-InboxTokensTable-1A2B3C',
    ...params,
  };
  const r = (v: unknown): string => {
    if (typeof v === 'string') {
      const subbed = v.replace(/\$\{([A-Za-z0-9:]+)\}/g, (_, n: string) => fake[n] ?? `<${n}>`);
      return subbed.replace(/^\{\{resolve:secretsmanager:[^}]+\}\}$/, 'resolved-secret-value');
    }
    const o = v as Obj;
    if (typeof o.Ref === 'string') return fake[o.Ref] ?? `<${o.Ref}>`;
    if (o['Fn::Sub'] !== undefined) return r(o['Fn::Sub']);
    if (Array.isArray(o['Fn::Join'])) {
      const [sep, parts] = o['Fn::Join'] as [string, unknown[]];
      return parts.map(r).join(sep);
    }
    if (Array.isArray(o['Fn::If'])) return r((o['Fn::If'] as unknown[])[1]);
    throw new Error(`cannot resolve ${JSON.stringify(v)}`);
  };
  return r(value);
}

describe('serverless.yml and infra/template.yaml', () => {
  it('declare the same two functions', () => {
    expect(Object.keys(sls.functions).sort()).toEqual(['forwarder', 'ingest']);
    const samFunctions = Object.entries(sam.Resources).filter(([, r]) => r.Type === 'AWS::Serverless::Function');
    expect(samFunctions.map(([id]) => id).sort()).toEqual(['Forwarder', 'Ingest']);
  });

  it('give the forwarder the same bundle, runtime, variables, subscription and failure destination', () => {
    const model = slsModel('forwarder');
    expect(model).toEqual({ ...samModel('Forwarder'), role: ['ForwarderRole'] });
    expect(model).toMatchObject({
      runtime: 'nodejs22.x',
      architecture: 'arm64',
      bundle: 'dist/forwarder',
      routes: [],
      subscriptions: [{ logGroupParam: 'EksLogGroupName', filter: '"auditID"' }],
      onFailure: { type: 'SQS', target: ['ForwarderFailureQueue'] },
      retries: 2,
    });
  });

  it('give the ingest the same bundle, runtime, variables and routes', () => {
    const model = slsModel('ingest');
    expect(model).toEqual({ ...samModel('Ingest'), role: ['IngestRole'] });
    // The ingest's own bound on requests in flight (docs/deploy.md); the forwarder's is the log group's shards.
    expect(model.reservedConcurrency).toBe(100);
    expect(model).toMatchObject({
      runtime: 'nodejs22.x',
      architecture: 'arm64',
      bundle: 'dist/ingest',
      routes: ['POST /v1/inbox/{token}', 'POST /v1/ingest/gke-audit/{tenant_id}', 'POST /v1/ingest/k8s-audit/{tenant_id}'],
      onFailure: null,
    });
  });

  it('declare the same supporting resources, property for property', () => {
    const samOwn = Object.fromEntries(
      Object.entries(sam.Resources).filter(([, r]) => !r.Type.startsWith('AWS::Serverless::') && r.Type !== 'AWS::Logs::LogGroup'),
    );
    // The functions' logical ids differ (osls names them <Name>LambdaFunction), and the alarm email
    // is a stage param in one and a template parameter in the other; everything else is equal.
    const alarmEmailParam = ['${param:', 'alarmEmail}'].join('');
    const rulesObjectParam = ['${param:', 'rulesObject}'].join('');
    const slsAsSam = JSON.parse(
      JSON.stringify(sls.resources.Resources)
        .replaceAll('"ForwarderLambdaFunction"', '"Forwarder"')
        .replaceAll('"IngestLambdaFunction"', '"Ingest"')
        .replaceAll(`"${alarmEmailParam}"`, '{"Ref":"AlarmEmail"}')
        .replaceAll(`"${rulesObjectParam}"`, '{"Ref":"RulesObject"}'),
    );
    expect(slsAsSam).toEqual(samOwn);
    expect(sls.resources.Conditions).toEqual({
      HasAlarmEmail: { 'Fn::Not': [{ 'Fn::Equals': [alarmEmailParam, ''] }] },
      HasRulesObject: { 'Fn::Not': [{ 'Fn::Equals': [rulesObjectParam, ''] }] },
    });
    expect((sam as Obj).Conditions).toMatchObject({ HasAlarmEmail: { 'Fn::Not': [{ 'Fn::Equals': [{ Ref: 'AlarmEmail' }, ''] }] } });
  });

  it('default the shared parameters to the same values', () => {
    for (const [slsName, samName] of Object.entries(PARAM_NAMES)) {
      expect(sls.params.default[slsName]).toBe(sam.Parameters[samName]?.Default);
    }
  });

  it('grant each role only named actions on the stack’s own resources', () => {
    for (const role of ['ForwarderRole', 'IngestRole']) {
      const policies = (sam.Resources[role]?.Properties.Policies ?? []) as {
        PolicyDocument: { Statement: { Action: unknown; Resource: unknown }[] };
      }[];
      const all = policies.flatMap((p) => p.PolicyDocument.Statement as unknown[]);
      // One conditional statement: the ingest may read the operators' rule object, that object only.
      const conditional = all.filter((s) => (s as Obj)['Fn::If'] !== undefined) as { 'Fn::If': [string, Obj, unknown] }[];
      for (const c of conditional) {
        expect(role).toBe('IngestRole');
        expect(c['Fn::If'][0]).toBe('HasRulesObject');
        expect(c['Fn::If'][1]).toMatchObject({ Effect: 'Allow', Action: 's3:GetObject' });
        expect(JSON.stringify(c['Fn::If'][1].Resource)).toContain('{"Ref":"RulesObject"}');
        expect(JSON.stringify(c['Fn::If'][1].Resource)).not.toContain('*');
        expect(c['Fn::If'][2]).toEqual({ Ref: 'AWS::NoValue' });
      }
      expect(conditional).toHaveLength(role === 'IngestRole' ? 1 : 0);
      const statements = all.filter((s) => (s as Obj)['Fn::If'] === undefined) as { Action: unknown; Resource: unknown }[];
      for (const s of statements) {
        expect([s.Action].flat().every((a) => typeof a === 'string' && !a.includes('*'))).toBe(true);
        expect(JSON.stringify(s.Resource)).not.toContain('*');
        expect(referencedResources(s.Resource, sam.Resources)).toHaveLength(1);
      }
    }
  });

  it('set variables the config loaders accept as a Lambda', () => {
    for (const [template, vars] of [
      ['serverless', slsEnv('ingest')],
      ['sam', samEnv('Ingest')],
    ] as const) {
      const config = loadIngestConfig({ ...vars, AWS_LAMBDA_FUNCTION_NAME: 'aisoc-k8s-audit-ingest' });
      expect({
        template,
        events: config.eventsSink.kind,
        alerts: config.alertsSink.kind,
        inbox: config.inbox.kind,
        secret: config.sharedSecret,
        arn: config.sharedSecretArn,
      }).toEqual({
        template,
        events: 'kinesis',
        alerts: 'sqs',
        inbox: 'dynamodb',
        // The value is read from Secrets Manager at init, never set in the template.
        secret: null,
        arn: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:aisoc-k8s-audit-AbCdEf',
      });
    }
    for (const [template, vars] of [
      ['serverless', slsEnv('forwarder')],
      ['sam', samEnv('Forwarder')],
    ] as const) {
      const config = loadForwarderConfig(vars);
      expect({ template, url: config.ingestUrl, arn: config.tokenSecretArn, maxBodyBytes: config.maxBodyBytes }).toEqual({
        template,
        url: 'https://abc123defg.execute-api.us-east-1.amazonaws.com/v1/ingest/k8s-audit/default',
        arn: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:aisoc-k8s-audit-AbCdEf',
        maxBodyBytes: 3 * 1024 * 1024,
      });
    }
  });
});

function slsEnv(name: string): Record<string, string> {
  const defaults = Object.fromEntries(Object.entries(sls.params.default).filter(([, v]) => typeof v === 'string')) as Record<
    string,
    string
  >;
  const vars = (sls.functions[name]?.environment ?? {}) as Obj;
  return Object.fromEntries(
    Object.entries(vars).map(([k, v]) => {
      const param = typeof v === 'string' ? /^\$\{param:(\w+)\}$/.exec(v)?.[1] : undefined;
      // osls substitutes ${param:...} (also inside a param's computed default) before CloudFormation sees it.
      const value = JSON.stringify(param === undefined ? v : sls.params.default[param]).replace(
        /\$\{param:(\w+)\}/g,
        (_, p: string) => defaults[p] ?? '',
      );
      return [k, fakeResolve(JSON.parse(value), {})];
    }),
  );
}

function samEnv(logicalId: string): Record<string, string> {
  const params = Object.fromEntries(Object.entries(sam.Parameters).map(([k, v]) => [k, v.Default ?? '']));
  const vars = ((sam.Resources[logicalId]?.Properties.Environment as { Variables: Obj }) ?? { Variables: {} }).Variables;
  return Object.fromEntries(Object.entries(vars).map(([k, v]) => [k, fakeResolve(v, params)]));
}
