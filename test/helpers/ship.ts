// Test helpers for the shipper: real audit lines (the Falco traces) and a fault-injecting ingest
// stub on 127.0.0.1 that records what it accepted.
import { readdirSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { validateAuditEvent } from '../../lib/audit/index.js';

const FALCO_DIR = join(import.meta.dirname, '../fixtures/falco');

/** Every line of the Falco k8s_audit traces that is a valid audit Event, as its original text. */
export function falcoLines(): string[] {
  const lines: string[] = [];
  for (const file of readdirSync(FALCO_DIR).sort()) {
    for (const line of readFileSync(join(FALCO_DIR, file), 'utf8').split('\n')) {
      if (line.trim() === '') continue;
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch {
        continue;
      }
      if (validateAuditEvent(value).ok) lines.push(line);
    }
  }
  return lines;
}

/** Reads the auditID of an event line. */
export function auditIdOf(line: string): string {
  return (JSON.parse(line) as { auditID: string }).auditID;
}

/**
 * `n` distinct real events: the Falco lines in turn, each with its auditID replaced in the
 * original text by `<prefix>-<i>` so every event is unique and its index can be read back.
 */
export function distinctLines(n: number, prefix = 'evt'): string[] {
  const base = falcoLines();
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const line = base[i % base.length] as string;
    out.push(line.replace(auditIdOf(line), `${prefix}-${i}`));
  }
  return out;
}

/** What the stub does with one request. */
export type Fault =
  | { kind: 'answer'; status: number; body?: string; headers?: Record<string, string>; delayMs?: number }
  | { kind: 'reset' }
  | { kind: 'stall' };

/** One request the stub received. */
export interface SeenRequest {
  n: number;
  headers: IncomingMessage['headers'];
  auditIds: string[];
  /** The body as received (after gunzip), for byte-for-byte checks. */
  body: string;
  bodyBytes: number;
  answered: number | 'reset' | 'stall';
}

export interface FaultServer {
  url: string;
  requests: SeenRequest[];
  /** auditIDs of events in requests answered 2xx, in arrival order. */
  delivered: string[];
  close(): Promise<void>;
}

/** Starts an ingest stub on 127.0.0.1:0; `plan(n, req)` picks the fault for the n-th request (1-based). */
export async function startFaultServer(plan: (n: number, req: SeenRequest) => Fault = () => ok()): Promise<FaultServer> {
  const requests: SeenRequest[] = [];
  const delivered: string[] = [];
  const sockets = new Set<Socket>();
  let n = 0;
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let raw = Buffer.concat(chunks);
      if (req.headers['content-encoding'] === 'gzip') raw = gunzipSync(raw);
      const doc = JSON.parse(raw.toString('utf8')) as { kind: string; items: { auditID: string }[] };
      const seen: SeenRequest = {
        n: ++n,
        headers: req.headers,
        auditIds: doc.items.map((i) => i.auditID),
        body: raw.toString('utf8'),
        bodyBytes: raw.length,
        answered: 'stall',
      };
      requests.push(seen);
      const fault = plan(seen.n, seen);
      if (fault.kind === 'reset') {
        seen.answered = 'reset';
        req.socket.destroy();
        return;
      }
      if (fault.kind === 'stall') return;
      seen.answered = fault.status;
      if (fault.status >= 200 && fault.status < 300) delivered.push(...seen.auditIds);
      const body =
        fault.body ??
        (fault.status < 300 ? JSON.stringify({ accepted: seen.auditIds.length, rejected: 0, duplicates: 0, errors: [] }) : '{}');
      const answer = (): void => {
        res.writeHead(fault.status, { 'content-type': 'application/json', ...fault.headers });
        res.end(body);
      };
      if (fault.delayMs === undefined) answer();
      else setTimeout(answer, fault.delayMs);
    });
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1/ingest/k8s-audit/tenant-a`,
    requests,
    delivered,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/** A 200 answer with the ingest's counts. */
export function ok(): Fault {
  return { kind: 'answer', status: 200 };
}

/** An answer with the given status and an `{"error"}` body. */
export function status(code: number, error = `status ${code}`, headers?: Record<string, string>): Fault {
  return { kind: 'answer', status: code, body: JSON.stringify({ error }), ...(headers ? { headers } : {}) };
}
