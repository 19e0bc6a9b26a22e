import { parse, type Tags } from 'yaml';
import { isJsonObject } from '../json.js';
import { UsageError } from './args.js';

// How `sam local invoke` builds a function's environment, so `aisoc-k8s-audit invoke` fails where
// SAM fails. The rules come from aws/aws-sam-cli:
// - samcli/local/lambdafn/env_vars.py (EnvironmentVariables.resolve): only the variables the
//   template declares reach the function; each takes the template's value, then the shell's value
//   of that name, then the --env-vars override. A value that is still an intrinsic (a dict or a
//   list) or null becomes "", true/false become "true"/"false".
// - samcli/commands/local/lib/local_lambda.py (_make_env_vars): the overrides are the file's
//   `Parameters` section for every function, then the section named by the function's logical id
//   (or its FunctionName); any other key of the file is ignored.
// - samcli/lib/intrinsic_resolver/intrinsics_symbol_table.py: `Ref` to a parameter is its
//   --parameter-overrides value or its Default, to a resource its logical id; the pseudo
//   parameters are local stand-ins (account 123456789012, stack "local", URL suffix
//   "localhost", region us-east-1 or --region); `GetAtt X.Arn` is a made-up ARN naming X.

type Json = unknown;

// CloudFormation's short-form intrinsic functions, read as their long forms ({"Ref": x},
// {"Fn::GetAtt": [a, b]}, ...) so a template reads as the JSON CloudFormation sees.
const SCALAR_FNS = ['Base64', 'GetAZs', 'ImportValue', 'Sub'];
const SEQ_FNS = ['And', 'Cidr', 'Equals', 'FindInMap', 'If', 'Join', 'Not', 'Or', 'Select', 'Split', 'Sub', 'GetAtt', 'Base64'];

const CFN_TAGS: Tags = [
  { tag: '!Ref', resolve: (v: string) => ({ Ref: v }) },
  { tag: '!Condition', resolve: (v: string) => ({ Condition: v }) },
  { tag: '!GetAtt', resolve: (v: string) => ({ 'Fn::GetAtt': v.split('.', 2) }) },
  ...SCALAR_FNS.map((fn) => ({ tag: `!${fn}`, resolve: (v: string) => ({ [`Fn::${fn}`]: v }) })),
  ...SEQ_FNS.map((fn) => ({
    tag: `!${fn}`,
    collection: 'seq' as const,
    resolve: (seq: { toJSON(): Json }) => ({ [`Fn::${fn}`]: seq.toJSON() }),
  })),
];

/** Parses a CloudFormation / SAM / serverless.yml YAML text with the intrinsic-function tags understood. */
export function parseCfnYaml(text: string): Record<string, unknown> {
  return parse(text, { customTags: CFN_TAGS }) as Record<string, unknown>;
}

/** One function of a SAM template, as `sam local invoke` would run it. */
export interface SamFunction {
  logicalId: string;
  /** CodeUri as written (relative to the template's directory). */
  codeUri: string;
  /** Handler as written (`index.handler`). */
  handler: string;
  timeoutSeconds: number;
  memoryMb: number;
  /** The function's environment: declared variables only, resolved and overridden as SAM does. */
  env: Record<string, string>;
  /** Names the env file set for this function that the template does not declare (SAM drops them). */
  dropped: string[];
  /** --parameter-overrides keys the template has no parameter for (SAM ignores them). */
  undeclaredParameters: string[];
}

/** What a local invocation brings besides the template. */
export interface SamResolveOptions {
  /** `--parameter-overrides`: template parameter values by name. */
  parameterOverrides?: Record<string, string>;
  /** The parsed `--env-vars` file, if any. */
  envVars?: unknown;
  /** `--region`: the AWS::Region pseudo parameter (sam local's default is us-east-1, not the shell's). */
  region?: string;
  /** The shell's environment: a declared variable set there takes its value (SAM's second priority). */
  shellEnv?: Readonly<Record<string, string | undefined>>;
}

type Obj = Record<string, unknown>;

/** Reads `Key=Value Key2=Value2` and `ParameterKey=K,ParameterValue=V` as `sam --parameter-overrides` does. */
export function parseParameterOverrides(values: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const value of values) {
    for (const token of value.match(/(?:[^\s"']+|"[^"]*"|'[^']*')+/g) ?? []) {
      const long = /^ParameterKey=([^,]+),ParameterValue=(.*)$/.exec(token);
      const eq = token.indexOf('=');
      if (long === null && eq <= 0) throw new UsageError(`--parameter-overrides takes Key=Value pairs, got ${JSON.stringify(token)}`);
      const [key, raw] = long === null ? [token.slice(0, eq), token.slice(eq + 1)] : [long[1] as string, long[2] as string];
      out[key] = raw.replace(/^(["'])(.*)\1$/, '$2');
    }
  }
  return out;
}

// sam local's pseudo parameters: fixed stand-ins (IntrinsicsSymbolTable.DEFAULT_PSEUDO_PARAM_VALUES,
// aws/aws-sam-cli samcli/lib/intrinsic_resolver/intrinsics_symbol_table.py), which it puts among the
// parameter values (sam_base_provider.py _get_parameter_values), so they win over its own
// resolvers: AWS::URLSuffix is "localhost", and AWS::Region is us-east-1 whatever the shell's
// AWS_REGION, unless `--region` (invoke_context.py) or `--parameter-overrides AWS::Region=...`.
const PSEUDO: Record<string, (region: string) => string> = {
  'AWS::AccountId': () => '123456789012',
  'AWS::Partition': () => 'aws',
  'AWS::Region': (region) => region,
  'AWS::StackName': () => 'local',
  'AWS::StackId': () => 'arn:aws:cloudformation:us-east-1:123456789012:stack/local/51af3dc0-da77-11e4-872e-1234567db123',
  'AWS::URLSuffix': () => 'localhost',
};

/** Marks a value CloudFormation would drop (`!Ref AWS::NoValue`). */
const NO_VALUE = Symbol('AWS::NoValue');

/** Resolves intrinsic functions the way sam local's IntrinsicResolver does, as far as env values need. */
class Resolver {
  constructor(
    private readonly template: Obj,
    private readonly parameters: Record<string, string>,
    private readonly region: string,
  ) {}

  private ref(name: string): unknown {
    if (name === 'AWS::NoValue') return NO_VALUE;
    if (name in this.parameters) return this.parameters[name];
    const pseudo = PSEUDO[name];
    if (pseudo !== undefined) return pseudo(this.region);
    // A resource (or an unknown name): its logical id, as sam local resolves it.
    return name;
  }

  private getAtt(id: string, attr: string): unknown {
    if (attr === 'Arn') return `arn:aws:lambda:${this.region}:123456789012:function:${id}`;
    return { 'Fn::GetAtt': [id, attr] };
  }

  condition(name: string): boolean {
    const conditions = isJsonObject(this.template.Conditions) ? this.template.Conditions : {};
    return this.truth(conditions[name]);
  }

  private truth(v: unknown): boolean {
    if (!isJsonObject(v)) return v === true || v === 'true';
    if ('Condition' in v) return this.condition(String(v.Condition));
    const [fn, arg] = Object.entries(v)[0] ?? [];
    const args = Array.isArray(arg) ? arg : [];
    switch (fn) {
      case 'Fn::Equals':
        return String(this.value(args[0])) === String(this.value(args[1]));
      case 'Fn::Not':
        return !this.truth(args[0]);
      case 'Fn::And':
        return args.every((a) => this.truth(a));
      case 'Fn::Or':
        return args.some((a) => this.truth(a));
      default:
        return false;
    }
  }

  /** The value of a template node with every intrinsic it can resolve resolved. */
  value(v: unknown): unknown {
    if (Array.isArray(v)) return v.map((x) => this.value(x));
    if (!isJsonObject(v)) return v;
    const keys = Object.keys(v);
    if (keys.length !== 1) return Object.fromEntries(keys.map((k) => [k, this.value(v[k])]));
    const key = keys[0] as string;
    const arg = v[key];
    switch (key) {
      case 'Ref':
        return this.ref(String(arg));
      case 'Fn::GetAtt': {
        const [id, attr] = Array.isArray(arg) ? arg : String(arg).split('.', 2);
        return this.getAtt(String(id), String(attr));
      }
      case 'Fn::If': {
        const [cond, a, b] = Array.isArray(arg) ? arg : [];
        return this.value(this.condition(String(cond)) ? a : b);
      }
      case 'Fn::Join': {
        const [sep, list] = Array.isArray(arg) ? arg : [];
        const items = this.value(list);
        if (!Array.isArray(items) || items.some((i) => isJsonObject(i) || Array.isArray(i))) return v;
        return items.join(String(sep));
      }
      case 'Fn::Sub':
        return this.sub(arg) ?? v;
      default:
        return v;
    }
  }

  private sub(arg: unknown): string | undefined {
    const [text, vars] = Array.isArray(arg) ? [arg[0], isJsonObject(arg[1]) ? arg[1] : {}] : [arg, {}];
    if (typeof text !== 'string') return undefined;
    let unresolved = false;
    const out = text.replace(/\$\{([^}]*)\}/g, (whole, name: string) => {
      if (name.startsWith('!')) return `\${${name.slice(1)}}`;
      const value =
        name in vars
          ? this.value(vars[name])
          : name.includes('.')
            ? this.getAtt(...(name.split('.', 2) as [string, string]))
            : this.ref(name);
      if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return String(value);
      unresolved = true;
      return whole;
    });
    return unresolved ? undefined : out;
  }
}

/** An environment value as the Lambda runtime gets it from sam local (env_vars.py `_stringify_value`). */
function stringify(v: unknown): string {
  if (v === null || v === undefined || typeof v === 'object' || typeof v === 'symbol') return '';
  return String(v);
}

/** The `--env-vars` overrides for one function: `Parameters`, then its logical id's (or name's) section. */
export function envVarsOverrides(envVars: unknown, names: readonly string[]): Record<string, string> {
  if (envVars === undefined) return {};
  if (!isJsonObject(envVars)) throw new UsageError('the env file must hold a JSON object');
  const out: Record<string, string> = {};
  const sections = [
    envVars.Parameters,
    ...names
      .map((n) => envVars[n])
      .filter((s) => s !== undefined)
      .slice(0, 1),
  ];
  for (const [key, section] of Object.entries(envVars)) {
    if (!isJsonObject(section))
      throw new UsageError(
        `the env file's ${JSON.stringify(key)} must be an object of variables ({"Parameters": {...}} or {"<LogicalId>": {...}})`,
      );
  }
  for (const section of sections) {
    if (section === undefined) continue;
    for (const [name, value] of Object.entries(section as Obj)) {
      if (value !== null && typeof value === 'object')
        throw new UsageError(`the env file's variable ${name} must be a string, number or boolean`);
      out[name] = stringify(value);
    }
  }
  return out;
}

/**
 * Finds a function of a SAM template by logical id or FunctionName (exactly) and resolves its
 * configuration and environment as `sam local invoke` would (rules in the comment above).
 */
export function resolveSamFunction(template: Obj, name: string, opts: SamResolveOptions = {}): SamFunction {
  const resources = isJsonObject(template.Resources) ? template.Resources : {};
  const functions = Object.entries(resources).filter(([, r]) => isJsonObject(r) && r.Type === 'AWS::Serverless::Function');
  const globals = isJsonObject(template.Globals) && isJsonObject(template.Globals.Function) ? template.Globals.Function : {};

  const shell = opts.shellEnv ?? {};
  const parameters: Record<string, string> = {};
  const declaredParams = isJsonObject(template.Parameters) ? template.Parameters : {};
  for (const [key, p] of Object.entries(declaredParams))
    if (isJsonObject(p) && p.Default !== undefined) parameters[key] = String(p.Default);
  // sam local merges every override into the parameter values and uses those the template names
  // (aws/aws-sam-cli samcli/lib/providers/sam_base_provider.py, _get_parameter_values): one the
  // template does not declare changes nothing, and is reported, not refused.
  const undeclared: string[] = [];
  for (const [key, value] of Object.entries(opts.parameterOverrides ?? {})) {
    if (key in declaredParams || key in PSEUDO) parameters[key] = value;
    else undeclared.push(key);
  }
  const resolver = new Resolver(template, parameters, opts.parameterOverrides?.['AWS::Region'] || opts.region || 'us-east-1');

  // sam local finds the function by its logical id or its FunctionName, exactly as written
  // (aws/aws-sam-cli samcli/lib/providers/sam_function_provider.py, SamFunctionProvider.get): a
  // name that differs in case only is "Unable to find a function" there, so it is refused here too,
  // with the spelling that works.
  const nameOf = (r: unknown) => {
    const v = isJsonObject(r) && isJsonObject(r.Properties) ? resolver.value(r.Properties.FunctionName) : undefined;
    return typeof v === 'string' ? v : undefined;
  };
  const found = functions.find(([id]) => id === name) ?? functions.find(([, r]) => nameOf(r) === name);
  if (found === undefined) {
    const folded = functions.find(([id, r]) => id.toLowerCase() === name.toLowerCase() || nameOf(r)?.toLowerCase() === name.toLowerCase());
    throw new UsageError(
      folded === undefined
        ? `the template has no function ${JSON.stringify(name)}; it has ${functions.map(([id]) => id).join(', ') || 'none'}`
        : `the template has no function ${JSON.stringify(name)}: did you mean ${folded[0]}? (sam local invoke matches the logical id or FunctionName exactly, case included)`,
    );
  }
  const [logicalId, resource] = found as [string, Obj];
  const props = isJsonObject(resource.Properties) ? resource.Properties : {};

  const variables: Obj = {
    ...(isJsonObject(globals.Environment) && isJsonObject(globals.Environment.Variables) ? globals.Environment.Variables : {}),
    ...(isJsonObject(props.Environment) && isJsonObject(props.Environment.Variables) ? props.Environment.Variables : {}),
  };
  const functionName = resolver.value(props.FunctionName);
  const overrides = envVarsOverrides(opts.envVars, typeof functionName === 'string' ? [logicalId, functionName] : [logicalId]);
  const env: Record<string, string> = {};
  for (const [key, raw] of Object.entries(variables)) {
    const resolved = resolver.value(raw);
    if (resolved === NO_VALUE) continue;
    let value = stringify(resolved);
    const fromShell = shell[key];
    if (fromShell !== undefined) value = fromShell;
    if (key in overrides) value = overrides[key] as string;
    env[key] = value;
  }
  const num = (v: unknown, fallback: number) => {
    const n = Number(resolver.value(v));
    return Number.isFinite(n) && n > 0 ? n : fallback;
  };
  return {
    logicalId,
    codeUri: stringify(resolver.value(props.CodeUri ?? globals.CodeUri)),
    handler: stringify(resolver.value(props.Handler ?? globals.Handler)),
    // Lambda's own defaults when a template sets neither: 3 s and 128 MB.
    timeoutSeconds: num(props.Timeout ?? globals.Timeout, 3),
    memoryMb: num(props.MemorySize ?? globals.MemorySize, 128),
    env,
    dropped: Object.keys(overrides).filter((k) => !(k in variables)),
    undeclaredParameters: undeclared,
  };
}
