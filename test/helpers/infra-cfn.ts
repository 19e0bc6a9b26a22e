import { readFileSync } from 'node:fs';
import { parseCfnYaml } from '../../lib/cli/sam-template.js';

export { parseCfnYaml };

/** Reads and parses a CloudFormation-flavoured YAML file. */
export function loadCfnYaml(path: string): Record<string, unknown> {
  return parseCfnYaml(readFileSync(path, 'utf8'));
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
