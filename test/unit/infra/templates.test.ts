import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadForwarderConfig } from '../../../lib/config/forwarder.js';
import { loadIngestConfig } from '../../../lib/ingest/config.js';
import { loadCfnYaml, PARAM_NAMES } from '../../helpers/infra-cfn.js';

const ROOT = join(import.meta.dirname, '../../..');
type Obj = Record<string, unknown>;

const sls = loadCfnYaml(join(ROOT, 'serverless.yml')) as Obj & {
  provider: Obj;
  params: { default: Record<string, unknown> };
  functions: Record<string, Obj>;
  resources: { Resources: Record<string, Obj>; Conditions?: Obj };
};
const sam = loadCfnYaml(join(ROOT, 'infra/template.yaml')) as Obj & {
  Parameters: Record<string, { Default?: string; AllowedValues?: string[]; AllowedPattern?: string }>;
  Conditions: Obj;
  Resources: Record<string, { Type: string; Properties: Obj }>;
};

/** A serverless.yml fragment as the SAM template writes it: `${param:x}` as `!Ref X`, the functions by their SAM logical ids. */
function slsAsSam<T>(value: T): T {
  let text = JSON.stringify(value).replaceAll('"ForwarderLambdaFunction"', '"Forwarder"').replaceAll('"IngestLambdaFunction"', '"Ingest"');
  for (const [slsName, samName] of Object.entries(PARAM_NAMES)) {
    text = text.replaceAll(`"\${param:${slsName}}"`, JSON.stringify({ Ref: samName }));
  }
  return JSON.parse(text) as T;
}

/** A SAM template parameter's AllowedPattern as CloudFormation applies it: to the whole value. */
function allowedBy(param: string): (value: string) => boolean {
  const pattern = sam.Parameters[param]?.AllowedPattern;
  if (pattern === undefined) throw new Error(`${param} has no AllowedPattern`);
  return (value) => new RegExp(`^(?:${pattern})$`).test(value);
}

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

/** The SAM template parameters a value names with `Ref` (inside `Fn::If` too), as `<Name>`. */
function referencedParameters(value: unknown): string[] {
  const found = new Set<string>();
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v !== null && typeof v === 'object') {
      const o = v as Obj;
      if (typeof o.Ref === 'string' && o.Ref in sam.Parameters) found.add(`<${o.Ref}>`);
      Object.values(o).forEach(walk);
    }
  };
  walk(value);
  return [...found].sort();
}

/**
 * Literal variables compare by value; computed ones by the resources they are computed from, and
 * the template parameters they take (so a variable set from the wrong parameter differs).
 */
function envModel(vars: Obj, resources: Record<string, unknown>): Record<string, string | string[]> {
  return Object.fromEntries(
    Object.entries(vars).map(([k, v]) => {
      if (typeof v === 'string' && !v.includes('${')) return [k, v];
      const refs = [...referencedResources(v, resources), ...referencedParameters(v)];
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
      // A stage param with a SAM twin is that template parameter; one whose default is computed
      // (the stack's own ingest URL) compares by what it is computed from.
      const param = typeof v === 'string' ? /^\$\{param:(\w+)\}$/.exec(v)?.[1] : undefined;
      const twin = param === undefined ? undefined : PARAM_NAMES[param];
      if (twin !== undefined) return [k, { Ref: twin }];
      return [k, param === undefined ? slsAsSam(v) : sls.params.default[param]];
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

/** Whether a template condition holds for these parameter values (`Fn::Not`, `Fn::Equals`, literals and `Ref`s). */
function holds(conditions: Obj, name: string, params: Record<string, string>): boolean {
  const value = (v: unknown): unknown => {
    const ref = (v as Obj | null)?.Ref;
    return typeof ref === 'string' && ref in params ? params[ref] : v;
  };
  const truth = (c: unknown): boolean => {
    const o = (c ?? {}) as Obj;
    if (o['Fn::Not'] !== undefined) return !truth((o['Fn::Not'] as unknown[])[0]);
    if (o['Fn::Equals'] !== undefined) {
      const [a, b] = o['Fn::Equals'] as unknown[];
      return value(a) === value(b);
    }
    throw new Error(`cannot decide ${name}: ${JSON.stringify(c)}`);
  };
  return truth(conditions[name]);
}

/**
 * A value CloudFormation would give the intrinsic, good enough for the config loaders to judge;
 * each `Fn::If` goes the way its condition does for these parameter values.
 */
function fakeResolve(value: unknown, params: Record<string, string>, conditions: Obj): string {
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
    if (Array.isArray(o['Fn::If'])) {
      const [condition, yes, no] = o['Fn::If'] as [string, unknown, unknown];
      return r(holds(conditions, condition, params) ? yes : no);
    }
    throw new Error(`cannot resolve ${JSON.stringify(v)}`);
  };
  return r(value);
}

type Statement = Obj & { 'Fn::If'?: [string, Obj, unknown] };

/** A role's inline policy statements as written (a conditional one as its `Fn::If`). */
function roleStatements(resources: Record<string, { Properties: Obj }>, role: string): Statement[] {
  const policies = (resources[role]?.Properties.Policies ?? []) as { PolicyDocument: { Statement: Statement[] } }[];
  return policies.flatMap((p) => p.PolicyDocument.Statement);
}

/**
 * The statements of a role CloudFormation creates for these parameter values: each `Fn::If` is
 * decided by its condition (`Fn::Not`, `Fn::Equals`, `Ref`), `AWS::NoValue` is dropped, and a
 * `Ref` to a parameter in a Resource becomes the parameter's value.
 */
function grantedWith(
  resources: Record<string, { Properties: Obj }>,
  conditions: Obj,
  role: string,
  values: Record<string, string>,
): { Action: unknown; Resource: unknown }[] {
  const params = { ...Object.fromEntries(Object.entries(sam.Parameters).map(([k, v]) => [k, v.Default ?? ''])), ...values };
  const value = (v: unknown): unknown => {
    const o = v as Obj | null;
    if (typeof o?.Ref === 'string' && o.Ref in params) return params[o.Ref];
    // A Sub of variables alone (`!Sub ["${Arn}", {Arn: !Ref P}]`); any other stays as written.
    const [text, vars] = Array.isArray(o?.['Fn::Sub']) ? (o['Fn::Sub'] as [string, Obj]) : [];
    if (text === undefined || vars === undefined) return v;
    const out = text.replace(/\$\{(\w+)\}/g, (whole, name: string) => {
      const x = value(vars[name]);
      return typeof x === 'string' ? x : whole;
    });
    return out.includes('${') ? v : out;
  };
  return roleStatements(resources, role).flatMap((s) => {
    const chosen = s['Fn::If'] === undefined ? s : holds(conditions, s['Fn::If'][0], params) ? s['Fn::If'][1] : s['Fn::If'][2];
    if ((chosen as Obj).Ref === 'AWS::NoValue') return [];
    const { Action, Resource } = chosen as Obj;
    return [{ Action, Resource: value(Resource) }];
  });
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
    // The functions' logical ids differ (osls names them <Name>LambdaFunction), and a choice is a
    // stage param in one and a template parameter in the other; everything else is equal.
    expect(slsAsSam(sls.resources.Resources)).toEqual(samOwn);
    // ForwardToThisStack tests the one pair of parameters that differ in shape (osls takes the
    // whole route, SAM the origin): empty, both mean this stack's own ingest.
    const { ForwardToThisStack, ...samConditions } = sam.Conditions;
    const { ForwardToThisStack: slsForward, ...slsConditions } = slsAsSam(sls.resources.Conditions ?? {});
    expect(ForwardToThisStack).toEqual({ 'Fn::Equals': [{ Ref: 'IngestOrigin' }, ''] });
    expect(slsForward).toEqual({ 'Fn::Equals': [`\${param:ingestUrl}`, ''] });
    expect(slsConditions).toEqual(samConditions);
  });

  it('declare the same parameters, with the same defaults', () => {
    expect(
      Object.keys(sls.params.default)
        .filter((p) => p !== 'ingestUrl')
        .sort(),
    ).toEqual(Object.keys(PARAM_NAMES).sort());
    expect(
      Object.keys(sam.Parameters)
        .filter((p) => p !== 'IngestOrigin')
        .sort(),
    ).toEqual(Object.values(PARAM_NAMES).sort());
    for (const [slsName, samName] of Object.entries(PARAM_NAMES)) {
      expect(sls.params.default[slsName], slsName).toBe(sam.Parameters[samName]?.Default);
    }
  });

  it('grant each role only named actions on the stack’s own resources, or on what a parameter names when it is set', () => {
    // The conditional grants: the ingest may read the operators' rule object and the per-tenant
    // secrets, each only when its parameter is set and only what it names.
    // condition: [the one action, the one parameter whose value the resource is built from]
    const CONDITIONAL: Record<string, [string, string]> = {
      HasRulesObject: ['s3:GetObject', 'RulesObject'],
      HasTenantSecrets: ['secretsmanager:GetSecretValue', 'TenantSecretsArn'],
    };
    for (const [template, resources] of [
      ['sam', sam.Resources],
      ['serverless', slsAsSam(sls.resources.Resources) as typeof sam.Resources],
    ] as const) {
      for (const role of ['ForwarderRole', 'IngestRole']) {
        const all = roleStatements(resources, role);
        const conditional = all.filter((s) => s['Fn::If'] !== undefined) as { 'Fn::If': [string, Obj, unknown] }[];
        expect(
          conditional.map((c) => c['Fn::If'][0]),
          `${template} ${role}`,
        ).toEqual(role === 'IngestRole' ? Object.keys(CONDITIONAL) : []);
        for (const c of conditional) {
          const [condition, statement, otherwise] = c['Fn::If'];
          const [action, param] = CONDITIONAL[condition] ?? [];
          expect(statement).toMatchObject({ Effect: 'Allow', Action: action });
          expect(referencedParameters(statement.Resource)).toEqual([`<${param}>`]);
          expect(referencedResources(statement.Resource, sam.Resources)).toEqual([]);
          expect(JSON.stringify(statement.Resource)).not.toContain('*');
          expect(otherwise).toEqual({ Ref: 'AWS::NoValue' });
        }
        const statements = all.filter((s) => s['Fn::If'] === undefined) as { Action: unknown; Resource: unknown }[];
        for (const s of statements) {
          expect([s.Action].flat().every((a) => typeof a === 'string' && !a.includes('*'))).toBe(true);
          expect(JSON.stringify(s.Resource)).not.toContain('*');
          expect(referencedResources(s.Resource, sam.Resources)).toHaveLength(1);
        }
      }
    }
  });

  it("compute the rule object's ARN for any RulesObject, empty too (CloudFormation evaluates a Select in the branch an If leaves out)", () => {
    /** The intrinsic functions the grant uses, as CloudFormation evaluates them: a Select out of range throws. */
    const evaluate = (v: unknown, params: Record<string, string>): unknown => {
      if (typeof v === 'string') return v;
      if (Array.isArray(v)) return v.map((x) => evaluate(x, params));
      const o = v as Obj;
      if (typeof o.Ref === 'string') return o.Ref === 'AWS::Partition' ? 'aws' : (params[o.Ref] ?? '');
      if (o['Fn::Join'] !== undefined) {
        const [sep, list] = o['Fn::Join'] as [string, unknown[]];
        return (evaluate(list, params) as string[]).join(sep);
      }
      if (o['Fn::Split'] !== undefined) {
        const [sep, text] = o['Fn::Split'] as [string, unknown];
        return (evaluate(text, params) as string).split(sep);
      }
      if (o['Fn::Select'] !== undefined) {
        const [i, list] = o['Fn::Select'] as [number, unknown];
        const items = evaluate(list, params) as string[];
        if (i >= items.length) throw new Error(`Fn::Select cannot select nonexistent value at index ${i}`);
        return items[i];
      }
      if (o['Fn::Sub'] !== undefined) {
        const [template, vars] = o['Fn::Sub'] as [string, Obj];
        const values: Record<string, string> = { 'AWS::Partition': 'aws' };
        for (const [k, x] of Object.entries(vars)) values[k] = evaluate(x, params) as string;
        return template.replace(/\$\{([^}]+)\}/g, (_m, k: string) => values[k] ?? '');
      }
      throw new Error(`unexpected ${JSON.stringify(v)}`);
    };
    for (const [template, resources] of [
      ['sam', sam.Resources],
      ['serverless', slsAsSam(sls.resources.Resources) as typeof sam.Resources],
    ] as const) {
      const grant = roleStatements(resources, 'IngestRole').find(
        (x) => (x['Fn::If'] as [string] | undefined)?.[0] === 'HasRulesObject',
      ) as { 'Fn::If': [string, { Resource: unknown }, unknown] };
      const resource = grant['Fn::If'][1].Resource;
      expect(evaluate(resource, { RulesObject: 's3://aisoc-rules/packs/team.yaml' }), template).toBe(
        'arn:aws:s3:::aisoc-rules/packs/team.yaml',
      );
      expect(evaluate(resource, { RulesObject: '' }), template).toBe('arn:aws:s3:::');
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
        tenantSecretsArn: config.tenantSecretsArn,
      }).toEqual({
        template,
        events: 'kinesis',
        alerts: 'sqs',
        inbox: 'dynamodb',
        // The value is read from Secrets Manager at init, never set in the template.
        secret: null,
        arn: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:aisoc-k8s-audit-AbCdEf',
        // TenantSecretsArn's empty default: one installation-wide secret.
        tenantSecretsArn: null,
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

describe('the IngestOrigin parameter', () => {
  it('takes an https origin or nothing: the forwarder, as both templates set it up, refuses http at init', () => {
    const allowed = allowedBy('IngestOrigin');
    for (const ok of ['', 'https://aisoc.example.com', 'https://aisoc.example.com:8443']) expect(allowed(ok), ok).toBe(true);
    for (const bad of ['http://aisoc.example.com', 'aisoc.example.com', 'https://aisoc.example.com/v1'])
      expect(allowed(bad), bad).toBe(false);
    for (const env of [samEnv('Forwarder'), slsEnv('forwarder')]) expect(env.AISOC_ALLOW_INSECURE_HTTP).toBe('false');
    expect(loadForwarderConfig(samEnv('Forwarder', { IngestOrigin: 'https://aisoc.example.com' })).ingestUrl).toBe(
      'https://aisoc.example.com/v1/ingest/k8s-audit/default',
    );
    // What the pattern keeps out: an http origin would stop every forwarder start.
    expect(() => loadForwarderConfig(samEnv('Forwarder', { IngestOrigin: 'http://aisoc.example.com' }))).toThrow(
      'AISOC_ALLOW_INSECURE_HTTP=true',
    );
  });
});

describe('IngestNoEventsAlarm', () => {
  // It counts the events this stack's ingest stores, with missing data as breaching: when the
  // forwarder ships to another ingest, this one may store nothing at all, and the alarm would stay
  // in ALARM for good. So it exists only when the forwarder ships here.
  const OTHER = 'https://aisoc.example.com';
  /** Which alarms the stack creates with these parameters (the defaults otherwise), as CloudFormation decides each Condition. */
  const samAlarms = (overrides: Record<string, string> = {}) => {
    const params = { ...Object.fromEntries(Object.entries(sam.Parameters).map(([k, v]) => [k, v.Default ?? ''])), ...overrides };
    return Object.entries(sam.Resources as Record<string, { Type: string; Condition?: string }>)
      .filter(([, r]) => r.Type === 'AWS::CloudWatch::Alarm' && (r.Condition === undefined || holds(sam.Conditions, r.Condition, params)))
      .map(([id]) => id);
  };
  const slsAlarms = (overrides: Record<string, string> = {}) => {
    const params = { ...sls.params.default, ...overrides } as Record<string, string>;
    // osls writes the params into the conditions before CloudFormation decides them.
    const conditions = JSON.parse(
      JSON.stringify(sls.resources.Conditions ?? {}).replace(/\$\{param:(\w+)\}/g, (_, p: string) => params[p] ?? ''),
    ) as Obj;
    return Object.entries(sls.resources.Resources as Record<string, { Type: string; Condition?: string }>)
      .filter(([, r]) => r.Type === 'AWS::CloudWatch::Alarm' && (r.Condition === undefined || holds(conditions, r.Condition, {})))
      .map(([id]) => id);
  };

  it('exists when the forwarder ships to this stack, and not when it ships to another ingest, in both templates', () => {
    expect(samAlarms()).toContain('IngestNoEventsAlarm');
    expect(slsAlarms()).toContain('IngestNoEventsAlarm');
    expect(loadForwarderConfig(samEnv('Forwarder', { IngestOrigin: OTHER })).ingestUrl).toBe(`${OTHER}/v1/ingest/k8s-audit/default`);
    expect(samAlarms({ IngestOrigin: OTHER })).not.toContain('IngestNoEventsAlarm');
    const route = `${OTHER}/v1/ingest/k8s-audit/team-a`;
    expect(loadForwarderConfig(slsEnv('forwarder', { ingestUrl: route })).ingestUrl).toBe(route);
    expect(slsAlarms({ ingestUrl: route })).not.toContain('IngestNoEventsAlarm');
    // Every other alarm stays.
    expect(samAlarms({ IngestOrigin: OTHER })).toEqual(samAlarms().filter((a) => a !== 'IngestNoEventsAlarm'));
    expect(slsAlarms({ ingestUrl: route })).toEqual(slsAlarms().filter((a) => a !== 'IngestNoEventsAlarm'));
  });
});

describe('the 4xx and 5xx alarms of a public endpoint', () => {
  // Anyone on the internet can draw a 401 or a 404 from the ingest's API, and a 429 is resent by
  // design: what pages is a sender that keeps failing (3 of 3 five-minute periods), or a refusal
  // only a holder of the token can draw (docs/deploy.md, "Alarms").
  const both = () =>
    [
      ['infra/template.yaml', sam.Resources],
      ['serverless.yml', slsAsSam(sls.resources.Resources) as Record<string, { Type: string; Properties: Obj }>],
    ] as const;
  const returned = (p: Obj) => (p.Metrics as { Expression?: string; ReturnData?: boolean }[]).find((q) => q.ReturnData !== false);
  const metricOf = (p: Obj, id: string) =>
    (p.Metrics as { Id: string; MetricStat?: { Metric: Obj; Period: number; Stat: string } }[]).find((q) => q.Id === id)?.MetricStat;

  it.each(both())('%s: a wrong token pages when it lasts 15 minutes, a refused batch of a token holder at once', (_file, resources) => {
    expect(resources.IngestUnauthorizedAlarm?.Properties).toMatchObject({
      Namespace: 'AiSOC/K8sAudit',
      MetricName: 'AuthFailures',
      Dimensions: [{ Name: 'service', Value: { Ref: 'Ingest' } }],
      Statistic: 'Sum',
      Period: 300,
      EvaluationPeriods: 3,
      DatapointsToAlarm: 3,
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'notBreaching',
    });
    const refused = resources.IngestRefusedAlarm?.Properties ?? {};
    expect(returned(refused)?.Expression).toBe('answered4xx - unauthorized');
    expect(metricOf(refused, 'answered4xx')).toMatchObject({ Metric: { MetricName: 'Responses4xx' }, Period: 300, Stat: 'Sum' });
    expect(metricOf(refused, 'unauthorized')).toMatchObject({ Metric: { MetricName: 'AuthFailures' }, Period: 300, Stat: 'Sum' });
    expect(refused).toMatchObject({ EvaluationPeriods: 1, Threshold: 1, ComparisonOperator: 'GreaterThanOrEqualToThreshold' });
    expect(refused.DatapointsToAlarm).toBeUndefined();
  });

  it.each(both())('%s: API Gateway’s own 4xx page when they last 15 minutes, the ingest’s own left to its alarms', (_file, resources) => {
    const gateway = resources.HttpApi4xxAlarm?.Properties ?? {};
    expect(returned(gateway)?.Expression).toBe('gateway4xx - FILL(ingest4xx, 0)');
    expect(metricOf(gateway, 'gateway4xx')).toMatchObject({
      Metric: { Namespace: 'AWS/ApiGateway', MetricName: '4xx', Dimensions: [{ Name: 'ApiId', Value: { Ref: 'HttpApi' } }] },
      Period: 300,
      Stat: 'Sum',
    });
    expect(metricOf(gateway, 'ingest4xx')).toMatchObject({
      Metric: { Namespace: 'AiSOC/K8sAudit', MetricName: 'Responses4xx', Dimensions: [{ Name: 'service', Value: { Ref: 'Ingest' } }] },
      Period: 300,
      Stat: 'Sum',
    });
    expect(gateway).toMatchObject({ EvaluationPeriods: 3, DatapointsToAlarm: 3, Threshold: 1, TreatMissingData: 'notBreaching' });
  });

  it.each(both())(
    '%s: a 503 of a route turned off, and API Gateway’s own 5xx, page when they last 15 minutes; an outage at once',
    (_file, resources) => {
      const outage = resources.Ingest5xxAlarm?.Properties ?? {};
      expect(returned(outage)?.Expression).toBe('answered5xx - routesOff');
      expect(metricOf(outage, 'answered5xx')).toMatchObject({ Metric: { MetricName: 'Responses5xx' }, Period: 300, Stat: 'Sum' });
      expect(metricOf(outage, 'routesOff')).toMatchObject({ Metric: { MetricName: 'RoutesOff' }, Period: 300, Stat: 'Sum' });
      expect(outage).toMatchObject({ EvaluationPeriods: 1, Threshold: 1 });
      expect(resources.IngestRoutesOffAlarm?.Properties).toMatchObject({
        MetricName: 'RoutesOff',
        Dimensions: [{ Name: 'service', Value: { Ref: 'Ingest' } }],
        Period: 300,
        EvaluationPeriods: 3,
        DatapointsToAlarm: 3,
        Threshold: 1,
      });
      const gateway = resources.HttpApi5xxAlarm?.Properties ?? {};
      // An invocation that is no API Gateway request is in Responses5xx but not in API Gateway's 5xx: added back.
      expect(returned(gateway)?.Expression).toBe('gateway5xx - FILL(ingest5xx, 0) + FILL(unsupported, 0)');
      expect(metricOf(gateway, 'unsupported')).toMatchObject({ Metric: { MetricName: 'UnsupportedEvents' }, Period: 300, Stat: 'Sum' });
      expect(metricOf(gateway, 'gateway5xx')).toMatchObject({ Metric: { Namespace: 'AWS/ApiGateway', MetricName: '5xx' }, Period: 300 });
      expect(metricOf(gateway, 'ingest5xx')).toMatchObject({ Metric: { MetricName: 'Responses5xx' }, Period: 300 });
      expect(gateway).toMatchObject({ EvaluationPeriods: 3, DatapointsToAlarm: 3, Threshold: 1, TreatMissingData: 'notBreaching' });
    },
  );

  it('are the same in both templates', () => {
    const [[, a], [, b]] = both();
    for (const id of [
      'IngestRefusedAlarm',
      'IngestUnauthorizedAlarm',
      'HttpApi4xxAlarm',
      'Ingest5xxAlarm',
      'IngestRoutesOffAlarm',
      'HttpApi5xxAlarm',
    ]) {
      expect(b[id], id).toEqual(a[id]);
    }
  });
});

describe('the LogLevel and TenantSecretsArn parameters', () => {
  const ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:aisoc/tenant-secrets-AbC123';
  const ingestOf = (vars: Record<string, string>) => loadIngestConfig({ ...vars, AWS_LAMBDA_FUNCTION_NAME: 'aisoc-k8s-audit-ingest' });

  it('set LOG_LEVEL on both functions and K8S_AUDIT_TENANT_SECRETS_ARN on the ingest alone, in both templates', () => {
    for (const model of [slsModel('forwarder'), samModel('Forwarder'), slsModel('ingest'), samModel('Ingest')]) {
      expect(model.env.LOG_LEVEL).toEqual(['<LogLevel>']);
    }
    expect(slsModel('ingest').env.K8S_AUDIT_TENANT_SECRETS_ARN).toEqual(['<TenantSecretsArn>']);
    expect(samModel('Ingest').env.K8S_AUDIT_TENANT_SECRETS_ARN).toEqual(['<TenantSecretsArn>']);
    expect(slsModel('forwarder').env).not.toHaveProperty('K8S_AUDIT_TENANT_SECRETS_ARN');
    expect(samModel('Forwarder').env).not.toHaveProperty('K8S_AUDIT_TENANT_SECRETS_ARN');
  });

  it('offer the four levels both functions take, INFO by default', () => {
    const levels = sam.Parameters.LogLevel?.AllowedValues ?? [];
    expect(levels).toEqual(['DEBUG', 'INFO', 'WARN', 'ERROR']);
    expect(sam.Parameters.LogLevel?.Default).toBe('INFO');
    for (const level of levels) {
      for (const [ingest, forwarder] of [
        [samEnv('Ingest', { LogLevel: level }), samEnv('Forwarder', { LogLevel: level })],
        [slsEnv('ingest', { logLevel: level }), slsEnv('forwarder', { logLevel: level })],
      ] as const) {
        expect([ingest.LOG_LEVEL, forwarder.LOG_LEVEL]).toEqual([level, level]);
        expect(() => ingestOf(ingest)).not.toThrow();
        expect(() => loadForwarderConfig(forwarder)).not.toThrow();
      }
    }
  });

  it('take a whole Secrets Manager secret ARN or nothing, and the ingest reads empty as unset', () => {
    const allowed = allowedBy('TenantSecretsArn');
    for (const ok of [
      '',
      ARN,
      'arn:aws-cn:secretsmanager:cn-north-1:123456789012:secret:t-AbC123',
      'arn:aws-us-gov:secretsmanager:us-gov-west-1:123456789012:secret:t-AbC123',
    ]) {
      expect(allowed(ok), ok).toBe(true);
    }
    // Without the six characters Secrets Manager appends, the role's grant would match no secret.
    for (const bad of [
      'arn:aws:secretsmanager:eu-west-1:123456789012:secret:aisoc/tenants',
      'aisoc/tenant-secrets-AbC123',
      'arn:aws:s3:::bucket/tenants-AbC123',
      ` ${ARN}`,
    ]) {
      expect(allowed(bad), bad).toBe(false);
    }
    for (const [template, unset, set] of [
      ['sam', samEnv('Ingest'), samEnv('Ingest', { TenantSecretsArn: ARN })],
      ['serverless', slsEnv('ingest'), slsEnv('ingest', { tenantSecretsArn: ARN })],
    ] as const) {
      expect(unset.K8S_AUDIT_TENANT_SECRETS_ARN, template).toBe('');
      expect(ingestOf(unset).tenantSecretsArn, template).toBeNull();
      expect(ingestOf(set).tenantSecretsArn, template).toBe(ARN);
    }
  });

  it('grant the ingest role that secret when the parameter is set, and nothing when it is empty', () => {
    const readable = (granted: { Action: unknown; Resource: unknown }[]) =>
      granted.filter((s) => s.Action === 'secretsmanager:GetSecretValue').map((s) => s.Resource);
    for (const [template, resources, conditions] of [
      ['sam', sam.Resources, sam.Conditions],
      ['serverless', slsAsSam(sls.resources.Resources) as typeof sam.Resources, slsAsSam(sls.resources.Conditions ?? {})],
    ] as const) {
      expect(readable(grantedWith(resources, conditions, 'IngestRole', {})), template).toEqual([{ Ref: 'SharedSecret' }]);
      expect(readable(grantedWith(resources, conditions, 'IngestRole', { TenantSecretsArn: ARN })), template).toEqual([
        { Ref: 'SharedSecret' },
        ARN,
      ]);
      expect(readable(grantedWith(resources, conditions, 'ForwarderRole', { TenantSecretsArn: ARN })), template).toEqual([
        { Ref: 'SharedSecret' },
      ]);
    }
  });
});

/** A function's environment as deployed with these stage params (the defaults otherwise). */
function slsEnv(name: string, overrides: Record<string, string> = {}): Record<string, string> {
  const params = { ...sls.params.default, ...overrides };
  const defaults = Object.fromEntries(Object.entries(params).filter(([, v]) => typeof v === 'string')) as Record<string, string>;
  const vars = (sls.functions[name]?.environment ?? {}) as Obj;
  const substitute = (v: unknown): unknown =>
    JSON.parse(JSON.stringify(v).replace(/\$\{param:(\w+)\}/g, (_, p: string) => defaults[p] ?? ''));
  // The conditions take the values osls wrote into them.
  const conditions = substitute(sls.resources.Conditions ?? {}) as Obj;
  return Object.fromEntries(
    Object.entries(vars).map(([k, v]) => {
      const param = typeof v === 'string' ? /^\$\{param:(\w+)\}$/.exec(v)?.[1] : undefined;
      // osls substitutes ${param:...} (also inside a param's computed default) before CloudFormation sees it.
      const value = JSON.stringify(param === undefined ? v : params[param]).replace(
        /\$\{param:(\w+)\}/g,
        (_, p: string) => defaults[p] ?? '',
      );
      return [k, fakeResolve(JSON.parse(value), {}, conditions)];
    }),
  );
}

/** A function's environment as deployed with these template parameters (the defaults otherwise). */
function samEnv(logicalId: string, overrides: Record<string, string> = {}): Record<string, string> {
  const params = { ...Object.fromEntries(Object.entries(sam.Parameters).map(([k, v]) => [k, v.Default ?? ''])), ...overrides };
  const vars = ((sam.Resources[logicalId]?.Properties.Environment as { Variables: Obj }) ?? { Variables: {} }).Variables;
  return Object.fromEntries(Object.entries(vars).map(([k, v]) => [k, fakeResolve(v, params, sam.Conditions)]));
}
