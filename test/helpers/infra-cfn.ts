import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseCfnYaml } from '../../lib/cli/sam-template.js';

export { parseCfnYaml };

/** Reads and parses a CloudFormation-flavoured YAML file. */
export function loadCfnYaml(path: string): Record<string, unknown> {
  return parseCfnYaml(readFileSync(path, 'utf8'));
}

/** A template's resource as the tests read it. */
export type CfnResource = { Type: string; Condition?: string; Properties: Record<string, unknown> };

/** Both templates' resources (`root`: the checkout), serverless.yml's functions under their SAM logical ids. */
export function templateResources(root: string): Record<string, Record<string, CfnResource>> {
  const sam = loadCfnYaml(join(root, 'infra/template.yaml')) as { Resources: Record<string, CfnResource> };
  const sls = loadCfnYaml(join(root, 'serverless.yml')) as { resources: { Resources: Record<string, CfnResource> } };
  const slsResources = JSON.parse(
    JSON.stringify(sls.resources.Resources)
      .replaceAll('"ForwarderLambdaFunction"', '"Forwarder"')
      .replaceAll('"IngestLambdaFunction"', '"Ingest"'),
  ) as Record<string, CfnResource>;
  return { 'infra/template.yaml': sam.Resources, 'serverless.yml': slsResources };
}

/**
 * serverless.yml's stage params and the SAM template's parameters that carry the same choice. The
 * one pair left out differs in shape: ingestUrl is the forwarder's whole route, IngestOrigin only
 * https://host.
 */
export const PARAM_NAMES: Readonly<Record<string, string>> = {
  eksLogGroup: 'EksLogGroupName',
  tenantId: 'TenantId',
  clusterName: 'ClusterName',
  severityMode: 'SeverityMode',
  rulesDir: 'RulesDir',
  rulesObject: 'RulesObject',
  gkePush: 'GkePushTenants',
  logLevel: 'LogLevel',
  tenantSecretsArn: 'TenantSecretsArn',
  alarmEmail: 'AlarmEmail',
};
