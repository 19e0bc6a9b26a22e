// Test helpers for the file tailer: real audit lines (the Falco traces) with unique auditIDs,
// temp directories, and a recording shipper that can be told to refuse events.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateAuditEvent } from '../../lib/audit/index.js';
import type { EventText } from '../../lib/ship/index.js';
import type { TailShipFn, TailShipResult } from '../../lib/tail/index.js';

const FALCO_DIR = join(import.meta.dirname, '../fixtures/falco');

let cached: string[] | null = null;

/** The text of an event as the tailer hands it to its shipper (the line's bytes, or its text). */
export function eventText(event: EventText): string {
  return typeof event === 'string' ? event : Buffer.from(event).toString('utf8');
}

/** Every line of the Falco k8s_audit traces that is a valid audit Event, as its original text. */
export function falcoEventLines(): string[] {
  if (cached !== null) return cached;
  const lines: string[] = [];
  for (const file of readdirSync(FALCO_DIR).sort()) {
    for (const line of readFileSync(join(FALCO_DIR, file), 'utf8').split('\n')) {
      if (line.trim() === '') continue;
      try {
        if (validateAuditEvent(JSON.parse(line)).ok) lines.push(line);
      } catch {
        // Not JSON (none are): not an event line.
      }
    }
  }
  cached = lines;
  return lines;
}

/** The auditID of an event line. */
export function auditIdOf(line: string): string {
  return (JSON.parse(line) as { auditID: string }).auditID;
}

/** `n` real events, each with its auditID replaced in the original text by `<prefix>-<i>`. */
export function uniqueEvents(n: number, prefix = 'evt', from = 0): string[] {
  const base = falcoEventLines();
  const out: string[] = [];
  for (let i = from; i < from + n; i++) {
    const line = base[i % base.length] as string;
    out.push(line.replace(auditIdOf(line), `${prefix}-${i}`));
  }
  return out;
}

/** The events as file content: one per line, each ending in `\n`. */
export function asFile(lines: readonly string[]): string {
  return lines.map((l) => `${l}\n`).join('');
}

/** A fresh temp directory and its clean-up. */
export function tempDir(label = 'aisoc-tail-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), label));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * A shipper that records what it was given, in order. `refuseFrom(i)` makes the next call fail
 * every event from index `i` of that call on (as `lib/ship` with `stopOnFailure` reports a batch
 * the ingest did not accept).
 */
export class RecordingShipper {
  readonly shipped: string[] = [];
  calls = 0;
  private refuse: { from: number; status?: number; retryable: boolean } | null = null;
  private tooLarge = new Set<string>();

  refuseFrom(from: number, status = 503): void {
    this.refuse = { from, status, retryable: true };
  }

  /** The ingest answers 413 for this one event, on its own. */
  refuseAsTooLarge(auditID: string): void {
    this.tooLarge.add(auditID);
  }

  /** Events sent on their own (an event over the body cap) fail as an ingest answering 503 would. */
  failAlone(): void {
    this.aloneFails = true;
  }

  private aloneFails = false;

  recover(): void {
    this.refuse = null;
    this.aloneFails = false;
  }

  ids(): string[] {
    return this.shipped.map(auditIdOf);
  }

  readonly ship: TailShipFn = async ({ events }, how) => {
    this.calls++;
    const result: TailShipResult & { failed: TailShipResult['failed'][number][] } = { delivered: 0, failed: [] };
    if (how?.alone === true && this.aloneFails) {
      result.failed.push({ index: 0, reason: 'ingest answered HTTP 503', status: 503, retryable: true });
      return result;
    }
    for (let i = 0; i < events.length; i++) {
      const line = eventText(events[i] as EventText);
      if (this.refuse !== null && i >= this.refuse.from) {
        result.failed.push({ index: i, reason: 'ingest answered HTTP 503', status: this.refuse.status, retryable: true });
        continue;
      }
      if (this.tooLarge.has(auditIdOf(line))) {
        result.failed.push({ index: i, reason: 'event too large for the ingest', status: 413, retryable: false });
        continue;
      }
      this.shipped.push(line);
      result.delivered++;
    }
    return result;
  };
}

/**
 * A RequestResponse-level `list` of pods as kube-apiserver's log backend writes it, longer than
 * `minBytes`: the real `create` of a pod in the Falco traces turned into a list of the namespace's
 * pods (verb `list`, objectRef without a name, no request body), its responseObject a PodList
 * (the Kubernetes API reference's shape: kind, apiVersion, ListMeta, items) of that real pod
 * repeated, as a big cluster's answer carries every pod. Members keep the event's order, so the
 * bodies come before the timestamps and annotations, as in the apiserver's output.
 */
export function podListLine(minBytes: number): { line: string; event: Record<string, unknown>; podName: string } {
  const created = JSON.parse(readFileSync(join(FALCO_DIR, 'create_nginx_pod_privileged.json'), 'utf8').split('\n')[0] as string) as Record<
    string,
    unknown
  >;
  const { kind: _kind, apiVersion: _apiVersion, ...pod } = created.responseObject as Record<string, unknown>;
  const items: unknown[] = [];
  const list = { kind: 'PodList', apiVersion: 'v1', metadata: { resourceVersion: '1503' }, items };
  const event: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(created)) {
    if (key === 'requestObject') continue;
    if (key === 'verb') event.verb = 'list';
    else if (key === 'objectRef') event.objectRef = { resource: 'pods', namespace: 'default', apiVersion: 'v1' };
    else if (key === 'responseObject') event.responseObject = list;
    else event[key] = value;
  }
  const podBytes = JSON.stringify(pod).length + 1;
  for (let n = Math.ceil(minBytes / podBytes) + 1; n > 0; n--) items.push(pod);
  return { line: JSON.stringify(event), event, podName: (pod.metadata as { name: string }).name };
}
