import { readFileSync } from 'node:fs';
import { parseCfnYaml } from '../../lib/cli/sam-template.js';

export { parseCfnYaml };

/** Reads and parses a CloudFormation-flavoured YAML file. */
export function loadCfnYaml(path: string): Record<string, unknown> {
  return parseCfnYaml(readFileSync(path, 'utf8'));
}
