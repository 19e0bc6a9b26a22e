import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import type { AuditEvent } from '../../lib/audit/index.js';

/** test/fixtures, resolved from this file so tests run from any working directory. */
export const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures');
export const FALCO_DIR = join(FIXTURES, 'falco');
export const EKS_RAW = join(FIXTURES, 'ocsf-examples-eks', 'v1.1.0__eks.raw.json');

/** Every Falco trace file name (47 files, 51 events plus the `{"kind": 0}` regression input). */
export function falcoFiles(): string[] {
  return readdirSync(FALCO_DIR)
    .filter((f) => f.endsWith('.json'))
    .sort();
}

/** The audit events of one Falco trace file (one JSON Event per line). */
export function falcoEvents(file: string): AuditEvent[] {
  return readFileSync(join(FALCO_DIR, file), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as AuditEvent);
}

/** The first event of a Falco trace file, as a fresh object the test may change. */
export function falcoEvent(file: string): AuditEvent {
  const first = falcoEvents(file)[0];
  if (first === undefined) throw new Error(`no event in ${file}`);
  return first;
}

/** Every real audit event in the Falco traces (skips the `{"kind": 0}` regression input). */
export function allFalcoEvents(): AuditEvent[] {
  return falcoFiles()
    .filter((f) => f !== 'fal_01_003.json')
    .flatMap((f) => falcoEvents(f));
}

/** The EKS audit event from the OCSF examples (Security Lake's source sample). */
export function eksRawEvent(): AuditEvent {
  return JSON.parse(readFileSync(EKS_RAW, 'utf8')) as AuditEvent;
}

export const GKE_DIR = join(FIXTURES, 'gke');

/** The real GKE audit LogEntries (Google's KHI test logs, YAML as published), by file name. */
export function gkeEntries(): Map<string, Record<string, unknown>> {
  const out = new Map<string, Record<string, unknown>>();
  for (const file of readdirSync(GKE_DIR)
    .filter((f) => f.endsWith('.yaml'))
    .sort()) {
    out.set(file, parseYaml(readFileSync(join(GKE_DIR, file), 'utf8')) as Record<string, unknown>);
  }
  return out;
}
