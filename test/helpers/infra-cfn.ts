import { readFileSync } from 'node:fs';
import { parse, type Tags } from 'yaml';

type Json = unknown;

// CloudFormation's short-form intrinsic functions, read as their long forms ({"Ref": x},
// {"Fn::GetAtt": [a, b]}, ...) so both templates compare as the JSON CloudFormation sees.
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

/** Reads and parses a CloudFormation-flavoured YAML file. */
export function loadCfnYaml(path: string): Record<string, unknown> {
  return parseCfnYaml(readFileSync(path, 'utf8'));
}
