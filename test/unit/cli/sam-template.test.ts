import { describe, expect, it } from 'vitest';
import { parseCfnYaml, parseParameterOverrides, resolveSamFunction } from '../../../lib/cli/sam-template.js';

describe("resolveSamFunction (sam local invoke's environment rules)", () => {
  const template = parseCfnYaml(`
Parameters:
  TenantId: { Type: String, Default: default }
  ClusterName: { Type: String, Default: "" }
Conditions:
  HasCluster: !Not [!Equals [!Ref ClusterName, ""]]
Globals:
  Function:
    Timeout: 10
    Environment:
      Variables:
        FROM_GLOBALS: g
Resources:
  Queue: { Type: AWS::SQS::Queue }
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: !Sub "\${AWS::StackName}-fn"
      CodeUri: ../dist/fn/
      Handler: index.handler
      Environment:
        Variables:
          SECRET_ARN: !Ref Queue
          URL: !Sub "https://\${Queue}.execute-api.\${AWS::Region}.\${AWS::URLSuffix}/t/\${TenantId}"
          QUEUE_ARN: !GetAtt Queue.Arn
          CLUSTER: !If [HasCluster, !Ref ClusterName, "from-log-group"]
          FLAG: true
          UNRESOLVABLE: !Select [0, [a, b]]
          DROPPED: !Ref AWS::NoValue
          SHELL_SET: template
          DECLARED_EMPTY: ""
`);

  it('resolves Ref to a resource as its logical id, parameters from defaults, pseudo parameters as local stand-ins', () => {
    const fn = resolveSamFunction(template, 'Fn');
    expect(fn.logicalId).toBe('Fn');
    expect(fn.env).toEqual({
      FROM_GLOBALS: 'g',
      SECRET_ARN: 'Queue',
      URL: 'https://Queue.execute-api.us-east-1.localhost/t/default',
      QUEUE_ARN: 'arn:aws:lambda:us-east-1:123456789012:function:Queue',
      CLUSTER: 'from-log-group',
      FLAG: 'true',
      UNRESOLVABLE: '',
      SHELL_SET: 'template',
      DECLARED_EMPTY: '',
    });
    expect(fn.timeoutSeconds).toBe(10);
    expect(fn.memoryMb).toBe(128);
    expect(fn.codeUri).toBe('../dist/fn/');
  });

  it('applies --parameter-overrides, then the shell, then the env file, for declared variables only', () => {
    const fn = resolveSamFunction(template, 'Fn', {
      parameterOverrides: parseParameterOverrides(['TenantId=acme ClusterName="prod-1"']),
      shellEnv: { SHELL_SET: 'shell', NOT_DECLARED: 'x', AWS_REGION: 'eu-west-1' },
      envVars: {
        Parameters: { DECLARED_EMPTY: 'p', FROM_GLOBALS: 'p' },
        Fn: { FROM_GLOBALS: 'fn', EXTRA: 'y' },
        Other: { SHELL_SET: 'z' },
      },
    });
    // The shell's AWS_REGION is not AWS::Region: sam local's stand-in us-east-1 is.
    expect(fn.env.URL).toBe('https://Queue.execute-api.us-east-1.localhost/t/acme');
    expect(fn.env.CLUSTER).toBe('prod-1');
    expect(fn.env.SHELL_SET).toBe('shell');
    expect(fn.env.DECLARED_EMPTY).toBe('p');
    expect(fn.env.FROM_GLOBALS).toBe('fn');
    expect(fn.env).not.toHaveProperty('NOT_DECLARED');
    expect(fn.env).not.toHaveProperty('EXTRA');
    expect(fn.dropped).toEqual(['EXTRA']);
    expect(fn.undeclaredParameters).toEqual([]);
  });

  it('ignores an override of a parameter the template does not declare, as sam local does, and names it', () => {
    const fn = resolveSamFunction(template, 'Fn', { parameterOverrides: parseParameterOverrides(['TenantId=acme Nope=1']) });
    expect(fn.env.URL).toBe('https://Queue.execute-api.us-east-1.localhost/t/acme');
    expect(fn.undeclaredParameters).toEqual(['Nope']);
  });

  it('takes AWS::Region from --region or a pseudo-parameter override, as sam local does', () => {
    expect(resolveSamFunction(template, 'Fn', { region: 'eu-west-1' }).env.URL).toBe(
      'https://Queue.execute-api.eu-west-1.localhost/t/default',
    );
    const fn = resolveSamFunction(template, 'Fn', { region: 'eu-west-1', parameterOverrides: { 'AWS::Region': 'ap-south-1' } });
    expect(fn.env.URL).toBe('https://Queue.execute-api.ap-south-1.localhost/t/default');
    expect(fn.undeclaredParameters).toEqual([]);
  });

  it('finds the function by logical id or FunctionName exactly, as sam local does', () => {
    expect(resolveSamFunction(template, 'local-fn').logicalId).toBe('Fn');
    expect(() => resolveSamFunction(template, 'fn')).toThrow('the template has no function "fn": did you mean Fn?');
    expect(() => resolveSamFunction(template, 'nope')).toThrow('the template has no function "nope"; it has Fn');
  });

  // SAM refuses a section that is not an object (local_lambda.py); a variable whose value is an
  // object or a list it sets to "" (env_vars.py), where invoke refuses it (docs/deploy.md).
  it('finds the function section by FunctionName too, and refuses a malformed env file', () => {
    expect(resolveSamFunction(template, 'Fn', { envVars: { 'local-fn': { SHELL_SET: 'by-name' } } }).env.SHELL_SET).toBe('by-name');
    expect(() => resolveSamFunction(template, 'Fn', { envVars: { Fn: 'flat' } })).toThrow(/must be an object of variables/);
    expect(() => resolveSamFunction(template, 'Fn', { envVars: { Fn: { A: { nested: 1 } } } })).toThrow(/A must be a string/);
    expect(() => parseParameterOverrides(['novalue'])).toThrow(/Key=Value/);
    expect(parseParameterOverrides(['ParameterKey=TenantId,ParameterValue=a b'.replace(' ', '')])).toEqual({ TenantId: 'ab' });
  });
});
