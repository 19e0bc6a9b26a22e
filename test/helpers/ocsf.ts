import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { FIXTURES } from './fixtures.js';

// ajv-formats is CJS with a default export; under NodeNext its callable sits on `.default`.
const addFormats = (addFormatsModule as unknown as { default: typeof addFormatsModule }).default ?? addFormatsModule;

const schema = JSON.parse(readFileSync(join(FIXTURES, 'schema', 'ocsf-1.8.0-api-activity-6003.schema.json'), 'utf8')) as object;
const ajv = new Ajv2020({ strict: true, strictRequired: false, allErrors: true });
(addFormats as unknown as (a: Ajv2020) => void)(ajv);
const validate = ajv.compile(schema);

/** Validates an OCSF record against the 1.8.0 API Activity schema; returns the errors, empty when valid. */
export function ocsfErrors(record: unknown): string[] {
  if (validate(record)) return [];
  return (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? ''} ${JSON.stringify(e.params)}`);
}

const findingSchema = JSON.parse(readFileSync(join(FIXTURES, 'schema', 'ocsf-1.8.0-detection-finding-2004.schema.json'), 'utf8')) as object;
const validateFinding = ajv.compile(findingSchema);

/** Validates an OCSF record against the 1.8.0 Detection Finding (2004) schema; returns the errors, empty when valid. */
export function findingErrors(record: unknown): string[] {
  if (validateFinding(record)) return [];
  return (validateFinding.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? ''} ${JSON.stringify(e.params)}`);
}
