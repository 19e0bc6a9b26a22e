import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { prng } from './prng.js';

// The benchmarks' seeded PRNG is the tests' (one mulberry32 for both).
export { prng };

type Obj = Record<string, unknown>;

/** The real audit events of the Falco traces (the `{"kind": 0}` input left out). */
export function baseEvents(root: string): Obj[] {
  const dir = join(root, 'test', 'fixtures', 'falco');
  const events: Obj[] = [];
  for (const file of readdirSync(dir).sort()) {
    for (const line of readFileSync(join(dir, file), 'utf8').split('\n')) {
      if (line.trim() === '') continue;
      const e = JSON.parse(line) as Obj;
      if (typeof e.auditID === 'string') events.push(e);
    }
  }
  const eks = JSON.parse(readFileSync(join(root, 'test', 'fixtures', 'ocsf-examples-eks', 'v1.1.0__eks.raw.json'), 'utf8')) as Obj;
  events.push(eks);
  return events;
}

const USERS = [
  'alice@example.com',
  'system:serviceaccount:kube-system:deployment-controller',
  'arn:aws:iam::123456789012:role/dev',
  'system:node:ip-10-0-1-7',
];
const NAMESPACES = ['default', 'kube-system', 'payments', 'web', 'monitoring', 'ci'];

function hex(rand: () => number, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += Math.floor(rand() * 16).toString(16);
  return s;
}

/**
 * `count` audit events as JSON lines: the real fixture events cycled, each with a fresh auditID
 * and a varied user and namespace, so nothing downstream is trivially cached.
 */
export function auditLines(root: string, count: number, seed: number): string[] {
  const rand = prng(seed);
  const base = baseEvents(root);
  const lines: string[] = [];
  for (let i = 0; i < count; i++) {
    const e = structuredClone(base[i % base.length]) as Obj;
    e.auditID = `${hex(rand, 8)}-${hex(rand, 4)}-${hex(rand, 4)}-${hex(rand, 4)}-${hex(rand, 12)}`;
    const user = (e.user ?? {}) as Obj;
    user.username = USERS[Math.floor(rand() * USERS.length)];
    e.user = user;
    const ref = e.objectRef as Obj | undefined;
    if (ref && typeof ref.namespace === 'string') ref.namespace = NAMESPACES[Math.floor(rand() * NAMESPACES.length)];
    lines.push(JSON.stringify(e));
  }
  return lines;
}

/** The time fields of an audit event, as a pattern over its JSON text. */
export const TIME_FIELDS = /"(requestReceivedTimestamp|stageTimestamp|timestamp)":"[^"]*"/g;

/** An apiserver's time text (RFC 3339, microseconds): `ms` with `micros` (0–999) below the millisecond. */
function auditTime(ms: number, micros: number): string {
  return `${new Date(ms).toISOString().slice(0, -1)}${String(micros).padStart(3, '0')}Z`;
}

/**
 * A writer of `text` (an event, or an EventList of them) with the times of a live event: every
 * time field set to `receivedMs` (`stageTimestamp` 3 ms later), as an apiserver stamps a request
 * when it arrives. The fixtures' own times are from 2018 and would repeat in every batch, which no
 * apiserver sends: in the store, repeated old times insert all over the time-led indexes instead
 * of at their end, and a store's cost per batch would grow as it fills. The text is split once;
 * each call only joins, so a load generator spends its CPU on sending.
 */
export function withLiveTimes(text: string): (receivedMs: number, micros: number) => string {
  const pieces: string[] = [];
  const keys: string[] = [];
  let last = 0;
  for (const m of text.matchAll(TIME_FIELDS)) {
    pieces.push(text.slice(last, m.index));
    keys.push(m[1] as string);
    last = (m.index as number) + m[0].length;
  }
  const tail = text.slice(last);
  if (keys.length === 0) return () => tail;
  return (receivedMs, micros) => {
    const received = auditTime(receivedMs, micros);
    const staged = auditTime(receivedMs + 3, micros);
    let out = '';
    for (let i = 0; i < pieces.length; i++) out += `${pieces[i]}"${keys[i]}":"${keys[i] === 'stageTimestamp' ? staged : received}"`;
    return out + tail;
  };
}
