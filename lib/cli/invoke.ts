import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { access, readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { jsonErrorReason } from '../json.js';
import { flag, intFlag, multiFlag, parseArgs, UsageError } from './args.js';
import { type CommandIo, write } from './io.js';
import { packageRoot } from './package-root.js';
import { readInput } from './read-input.js';
import { parseCfnYaml, parseParameterOverrides, resolveSamFunction } from './sam-template.js';

const HELP = `Usage: aisoc-k8s-audit invoke <Forwarder|Ingest> [--event FILE] [--env-vars FILE]
         [--template FILE] [--parameter-overrides 'Key=Value ...'] [--region REGION] [--profile NAME]
         [--timeout SECONDS] [--dist DIR]

Runs a built Lambda bundle (from \`npm run build\`) on one event the way
\`sam local invoke -t TEMPLATE FUNCTION -e FILE --env-vars FILE\` does, without Docker or the SAM
CLI: the bundle is imported in a child process whose environment is the function's as SAM
resolves it (so its init reads the configuration like Lambda's), and its handler is called with a
Lambda-like context (awsRequestId, functionName, invokedFunctionArn, memoryLimitInMB,
logGroupName, logStreamName, getRemainingTimeInMillis counting down from the timeout).

Options:
  -e, --event FILE              the event JSON (infra/events/*.json); - reads standard input;
                                without it the event is {}, as sam local's (--no-event too)
  -n, --env-vars FILE           variables in sam local's --env-vars format (also --env):
                                {"Parameters": {...}} for every function, then {"Forwarder": {...}}
                                or {"Ingest": {...}} for one
  -t, --template FILE           the SAM template (default: infra/template.yaml of this package);
                                --template-file too, sam's own long name for it
  --parameter-overrides PAIRS   template parameters, 'Key=Value Key2=Value2' (repeatable)
  --timeout SECONDS             the function timeout (default: the template's Timeout)
  --dist DIR                    run DIR/<function>/index.mjs instead of the template's CodeUri
  --region REGION               the AWS::Region of the template (default us-east-1, as sam local's,
                                whatever this shell's AWS_REGION) and the function's AWS_REGION
  --profile NAME                the AWS profile whose credentials the function uses
  --add-host NAME:ADDRESS       taken and ignored, as sam local's container networking (repeatable)
  --help                        show this help

The function's environment, as sam local builds it (aws/aws-sam-cli
samcli/local/lambdafn/env_vars.py):
  - only the variables the template declares for the function are set; each starts from the
    template's value, with !Ref to a parameter giving its --parameter-overrides value or Default
    (an override of a parameter the template does not declare is ignored, with a warning),
    !Ref to a resource giving its logical id (e.g. SharedSecret), pseudo parameters sam local's
    stand-ins (AWS::Region us-east-1 or --region, AWS::URLSuffix localhost, AWS::StackName local)
    and an unresolvable value "";
  - a declared variable set in this shell takes the shell's value;
  - the env file's "Parameters" then the function's own section override declared variables; a
    variable the template does not declare is dropped (with a warning on stderr).
Then the Lambda runtime's variables (AWS_LAMBDA_FUNCTION_NAME, AWS_REGION, ...) and sam local's
(AWS_SAM_LOCAL, AWS_LAMBDA_FUNCTION_TIMEOUT, AWS_LAMBDA_FUNCTION_HANDLER, AWS_ACCOUNT_ID), PATH, HOME,
TMPDIR and every AWS_* variable of this shell (credentials, region, endpoints). Nothing else of
this shell leaks in.

The bundle is found from the template's CodeUri and Handler (relative to the template), so the
command works from any directory.

The handler's result is printed as JSON on stdout; everything the function logs goes to stderr.
When the handler throws (or init fails, or the timeout passes), stdout gets Lambda's error shape
{"errorType", "errorMessage", "trace"} and the exit status is 1.

Exit status: 0 when the handler returned, 1 when it threw, 2 for usage errors (no bundle built,
unknown function, unreadable event, env file or template).
`;

// sam local invoke's short options.
const SHORT: Record<string, string> = { '-e': '--event', '-n': '--env-vars', '-t': '--template' };

/** Variables of this shell the child keeps: what the runtime and the AWS SDK need, nothing of the app. */
const PASS_THROUGH = /^(PATH|HOME|TMPDIR|TMP|TEMP|LANG|LC_ALL|SYSTEMROOT|AWS_.+)$/;

// Lambda sends no response for a handler past its deadline; the runtime is killed shortly after.
const KILL_GRACE_MS = 1000;

/** Lambda's error shape, as the runtime serialises a thrown error. */
export interface LambdaError {
  errorType: string;
  errorMessage: string;
  trace?: string[];
}

type ChildMessage = { kind: 'result'; result?: unknown } | { kind: 'error'; phase: 'init' | 'invoke'; error: LambdaError };

// The child: waits for the invocation, imports the bundle (its init phase), calls the handler
// once with a context whose remaining time counts down from the deadline, sends back the result
// or the error, and exits without waiting for open sockets (Lambda freezes the sandbox there too).
const RUNNER = `
const serialise = (e) => e instanceof Error
  ? { errorType: e.name || 'Error', errorMessage: e.message, trace: String(e.stack || '').split('\\n').filter((l) => !l.includes('[eval')) }
  : { errorType: typeof e, errorMessage: String(e) };
const send = (m) => new Promise((ok) => process.send(m, () => ok()));
process.once('message', async (m) => {
  let mod;
  try {
    mod = await import(m.bundleUrl);
  } catch (e) {
    await send({ kind: 'error', phase: 'init', error: serialise(e) });
    process.exit(1);
  }
  const handler = mod.handler;
  if (typeof handler !== 'function') {
    await send({ kind: 'error', phase: 'init', error: { errorType: 'Runtime.HandlerNotFound', errorMessage: 'index.handler is undefined or not exported' } });
    process.exit(1);
  }
  const deadline = Date.now() + m.timeoutMs;
  const context = { ...m.context, getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()) };
  try {
    const result = await new Promise((ok, fail) => {
      const cb = (err, value) => (err ? fail(err) : ok(value));
      Object.assign(context, { done: cb, succeed: (v) => ok(v), fail: (e) => fail(e) });
      const out = handler(m.event, context, cb);
      if (out && typeof out.then === 'function') out.then(ok, fail);
      else if (handler.length < 3) ok(out);
    });
    await send({ kind: 'result', result });
    process.exit(0);
  } catch (e) {
    await send({ kind: 'error', phase: 'invoke', error: serialise(e) });
    process.exit(0);
  }
});
`;

/** What the runtime's variables describe: the function as the template configures it. */
export interface RuntimeFunction {
  name: string;
  memoryMb: number;
  timeoutSeconds: number;
  handler: string;
}

/**
 * The variables Lambda's Node.js runtime sets, and those sam local adds to them
 * (aws/aws-sam-cli samcli/local/lambdafn/env_vars.py, _get_aws_variables: AWS_SAM_LOCAL, the
 * function's timeout and handler, the stand-in account id), so code that looks for them under
 * `sam local invoke` finds them under `invoke` too.
 */
export function lambdaRuntimeEnv(fn: RuntimeFunction, region: string, requestDate: Date): Record<string, string> {
  const day = requestDate.toISOString().slice(0, 10).replace(/-/g, '/');
  const functionName = fn.name;
  const memoryMb = fn.memoryMb;
  return {
    AWS_SAM_LOCAL: 'true',
    AWS_LAMBDA_FUNCTION_TIMEOUT: String(fn.timeoutSeconds),
    AWS_LAMBDA_FUNCTION_HANDLER: fn.handler,
    AWS_ACCOUNT_ID: '123456789012',
    AWS_LAMBDA_FUNCTION_NAME: functionName,
    AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(memoryMb),
    AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${functionName}`,
    AWS_LAMBDA_LOG_STREAM_NAME: `${day}/[$LATEST]${randomBytes(16).toString('hex')}`,
    AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x',
    // Every invoke is a fresh init, as Lambda's on-demand one: Powertools reads it for cold_start
    // (Lambda's "Defined runtime environment variables").
    AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
    AWS_REGION: region,
    AWS_DEFAULT_REGION: region,
    LAMBDA_TASK_ROOT: '/var/task',
    TZ: ':UTC',
  };
}

/** The module a `Handler` names (`index.handler` -> index.mjs or index.js) under CodeUri, relative to the template. */
async function handlerModule(templateDir: string, codeUri: string, handler: string): Promise<string> {
  const base = resolve(templateDir, codeUri, handler.slice(0, handler.lastIndexOf('.')) || 'index');
  for (const ext of ['.mjs', '.js']) {
    try {
      await access(base + ext);
      return base + ext;
    } catch {
      // try the next extension
    }
  }
  return `${base}.mjs`;
}

async function readJson(path: string, what: string, stdin: NodeJS.ReadableStream): Promise<unknown> {
  let bytes: Buffer;
  try {
    bytes = path === '-' ? await readInput('-', stdin) : await readFile(path);
  } catch (err) {
    throw new UsageError(`cannot read ${what} ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    // An env file holds the shared secret: V8's message would quote the text around a bad token.
    throw new UsageError(`${what} ${path} is not JSON: ${jsonErrorReason(err)}`);
  }
}

/** `aisoc-k8s-audit invoke`: one event through a built Lambda bundle, like `sam local invoke`. */
export async function run(argv: string[], io: CommandIo): Promise<number> {
  const args = parseArgs(
    argv.map((a) => SHORT[a] ?? a),
    ['event', 'env', 'env-vars', 'template', 'template-file', 'parameter-overrides', 'timeout', 'dist', 'add-host', 'region', 'profile'],
    ['no-event'],
    ['parameter-overrides', 'add-host'],
  );
  if (args.help) {
    io.stdout.write(HELP);
    return 0;
  }
  // sam local's container networking; here the bundle runs on this host, which reaches its own
  // addresses as they are. Taken so a documented sam command line runs unchanged.
  if (args.flags.has('add-host')) {
    io.stderr.write("invoke: --add-host maps a name inside sam local's container; invoke runs on this host and ignores it\n");
  }
  const [fnName, ...extra] = args.positionals;
  if (fnName === undefined) throw new UsageError("name the function: Forwarder or Ingest (the template's logical id)");
  if (extra.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(extra[0])}`);
  // sam local invoke without --event invokes with {} (aws/aws-sam-cli
  // samcli/commands/local/invoke/cli.py: "If this option is not specified, no event is assumed");
  // --no-event is its older, now hidden, spelling of the same.
  const eventPath = flag(args, 'event');
  if (args.flags.has('env') && args.flags.has('env-vars')) throw new UsageError('give --env-vars or --env, not both');
  const envPath = flag(args, 'env-vars') ?? flag(args, 'env');

  // sam's one option has three names, --template-file first (aws/aws-sam-cli
  // samcli/commands/_utils/options.py, template_click_option: "--template-file", "--template", "-t").
  if (args.flags.has('template') && args.flags.has('template-file')) throw new UsageError('give --template or --template-file, not both');
  const templatePath = resolve(flag(args, 'template') ?? flag(args, 'template-file') ?? join(packageRoot(), 'infra', 'template.yaml'));
  let template: Record<string, unknown>;
  try {
    template = parseCfnYaml(await readFile(templatePath, 'utf8'));
  } catch (err) {
    throw new UsageError(`cannot read the template ${templatePath}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const envVars = envPath === undefined ? undefined : await readJson(envPath, 'env file', io.stdin);
  const inherited: Record<string, string> = {};
  for (const [name, value] of Object.entries(io.env)) if (value !== undefined && PASS_THROUGH.test(name)) inherited[name] = value;
  // sam local invoke's --region and --profile: the region is the AWS::Region pseudo parameter and
  // the runtime's AWS_REGION; the profile's credentials reach the function (here the SDK in the
  // child reads that profile itself).
  const regionFlag = flag(args, 'region');
  const profile = flag(args, 'profile');
  if (profile !== undefined) inherited.AWS_PROFILE = profile;
  const spec = resolveSamFunction(template, fnName, {
    envVars,
    ...(regionFlag === undefined ? {} : { region: regionFlag }),
    parameterOverrides: parseParameterOverrides(multiFlag(args, 'parameter-overrides')),
    shellEnv: io.env,
  });
  for (const key of spec.undeclaredParameters)
    io.stderr.write(
      `invoke: --parameter-overrides sets ${key}, which ${templatePath} has no parameter for: sam local ignores it, and so does invoke\n`,
    );
  for (const name of spec.dropped)
    io.stderr.write(
      `invoke: the env file sets ${name}, which ${templatePath} does not declare for ${spec.logicalId}: sam local drops it, and so does invoke\n`,
    );
  const fn = spec.logicalId.toLowerCase();
  const timeoutSeconds = intFlag(args, 'timeout', 1) ?? spec.timeoutSeconds;

  const dist = flag(args, 'dist');
  const bundle =
    dist === undefined ? await handlerModule(dirname(templatePath), spec.codeUri, spec.handler) : resolve(dist, fn, 'index.mjs');
  try {
    await access(bundle);
  } catch {
    throw new UsageError(`${bundle} is not built; run \`npm run build\` first`);
  }
  const event = eventPath === undefined ? {} : await readJson(eventPath, 'event', io.stdin);

  const region = spec.env.AWS_REGION || regionFlag || inherited.AWS_REGION || inherited.AWS_DEFAULT_REGION || 'us-east-1';
  // sam local names the function by its logical id (samcli/local/lambdafn/env_vars.py sets
  // AWS_LAMBDA_FUNCTION_NAME to the FunctionConfig's name, which local_lambda.py takes from the
  // function's logical id), and the runtime's context.functionName is that variable.
  const functionName = spec.env.AWS_LAMBDA_FUNCTION_NAME || spec.logicalId;
  const runtimeEnv = lambdaRuntimeEnv(
    { name: functionName, memoryMb: spec.memoryMb, timeoutSeconds, handler: spec.handler },
    region,
    new Date(),
  );
  const env = { ...inherited, ...runtimeEnv, ...spec.env };
  const awsRequestId = randomUUID();
  const context = {
    callbackWaitsForEmptyEventLoop: true,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:${region}:123456789012:function:${functionName}`,
    memoryLimitInMB: String(spec.memoryMb),
    awsRequestId,
    logGroupName: env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: env.AWS_LAMBDA_LOG_STREAM_NAME,
  };

  io.stderr.write(`START RequestId: ${awsRequestId} Version: $LATEST\n`);
  const started = Date.now();
  const outcome = await runChild({ bundleUrl: pathToFileURL(bundle).href, event, context, timeoutMs: timeoutSeconds * 1000 }, env, io);
  const ms = Date.now() - started;
  io.stderr.write(`END RequestId: ${awsRequestId}\nREPORT RequestId: ${awsRequestId}\tDuration: ${ms} ms\n`);

  if (outcome.kind === 'result') {
    await write(io.stdout, `${JSON.stringify(outcome.result ?? null)}\n`);
    return 0;
  }
  const { error } = outcome;
  io.stderr.write(`${outcome.phase === 'init' ? 'Init error' : 'Invoke error'}: ${error.errorType}: ${error.errorMessage}\n`);
  await write(io.stdout, `${JSON.stringify(error)}\n`);
  return 1;
}

type Outcome = { kind: 'result'; result?: unknown } | { kind: 'error'; phase: 'init' | 'invoke' | 'runtime'; error: LambdaError };

/** Runs the handler in a child process with `env`; its stdout and stderr are copied to `io.stderr`. */
function runChild(
  message: { bundleUrl: string; event: unknown; context: Record<string, unknown>; timeoutMs: number },
  env: Record<string, string>,
  io: CommandIo,
): Promise<Outcome> {
  return new Promise((done) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', RUNNER], { env, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
    child.stdout?.on('data', (chunk: Buffer) => io.stderr.write(chunk));
    child.stderr?.on('data', (chunk: Buffer) => io.stderr.write(chunk));
    let outcome: Outcome | undefined;
    const timer = setTimeout(() => {
      const seconds = (message.timeoutMs / 1000).toFixed(2);
      outcome ??= {
        kind: 'error',
        phase: 'runtime',
        error: { errorType: 'Sandbox.Timedout', errorMessage: `Task timed out after ${seconds} seconds` },
      };
      child.kill('SIGKILL');
    }, message.timeoutMs + KILL_GRACE_MS);
    child.on('message', (m: ChildMessage) => {
      outcome ??= m;
    });
    child.on('error', (err) => {
      outcome ??= { kind: 'error', phase: 'runtime', error: { errorType: 'Runtime.StartError', errorMessage: err.message } };
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      done(
        outcome ?? {
          kind: 'error',
          phase: 'runtime',
          error: {
            errorType: 'Runtime.ExitError',
            errorMessage: `the runtime exited without a response (${signal ?? `exit status ${code}`})`,
          },
        },
      );
    });
    child.send(message);
  });
}
