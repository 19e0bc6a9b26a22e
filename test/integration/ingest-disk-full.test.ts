// The local server's store on a disk that fills up: a 2 MiB tmpfs mounted as the data dir (the
// test needs root and Linux, and skips with a message otherwise; the injected SQLITE_FULL of
// test/integration/ingest-sink-faults.test.ts covers the same path everywhere). Real audit
// events are posted until the disk is full: the route answers 503 with the reason and
// Retry-After, never 200 for what was not stored; the store stays readable; once space is
// freed, the same server stores the resend without a restart.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../lib/audit/index.js';
import { type IngestServer, startIngestServer } from '../../lib/ingest/adapters/server.js';
import { openEventStore } from '../../lib/sinks/sqlite.js';
import { answer, eventList, ingestConfig, SECRET, uniqueFalcoEvents } from '../helpers/ingest.js';

let mountPoint = '';
let mounted = false;
let why = '';

beforeAll(() => {
  mountPoint = mkdtempSync(join(tmpdir(), 'aisoc-disk-full-'));
  if (process.platform !== 'linux' || process.getuid?.() !== 0) {
    why = 'needs root on Linux to mount a tmpfs';
    return;
  }
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m,mode=0700', 'tmpfs', mountPoint], { stdio: 'pipe' });
    mounted = true;
  } catch (err) {
    why = `mount -t tmpfs failed: ${(err as Error).message.split('\n')[0]}`;
  }
});

afterAll(() => {
  if (mounted) execFileSync('umount', ['-l', mountPoint]);
  rmSync(mountPoint, { recursive: true, force: true });
});

function post(server: IngestServer, events: AuditEvent[]): Promise<Response> {
  return fetch(`${server.url}/v1/ingest/k8s-audit/acme`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-AiSOC-K8s-Token': SECRET },
    body: eventList(events),
  });
}

describe('a full disk under the SQLite store', () => {
  it('answers 503 with the reason, never 200 for what was not stored, stays readable, and resumes by itself when space returns', async (ctx) => {
    if (!mounted) {
      console.warn(`skipped: ${why}`);
      ctx.skip();
    }
    const dataDir = join(mountPoint, 'data');
    const server = await startIngestServer({ config: ingestConfig({ AISOC_DATA_DIR: dataDir }) });
    const base = uniqueFalcoEvents();
    const batch = (k: number) => base.map((e) => ({ ...e, auditID: `full-${k}-${e.auditID}` }));
    const ok: number[] = [];
    let refused: { k: number; res: Response } | null = null;
    // What the disk has left, taken by a file of ours, to be given back later.
    const filler = join(mountPoint, 'filler');
    writeFileSync(filler, Buffer.alloc(1024 * 1024));
    try {
      for (let k = 0; k < 200 && refused === null; k++) {
        const res = await post(server, batch(k));
        if (res.status === 200) {
          ok.push(k);
          await res.arrayBuffer();
        } else refused = { k, res };
      }
      expect(refused).not.toBeNull();
      const { k: fullAt, res } = refused as { k: number; res: Response };
      expect(res.status).toBe(503);
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
      expect((await answer(res)).error).toMatch(
        /could not be stored \(sink unavailable: the disk holding the event store is full\); nothing was acknowledged/,
      );
      expect(ok.length).toBeGreaterThan(0);

      // Readable while full, through another connection: every batch answered 200 is there, the refused one is not.
      const reader = openEventStore(dataDir);
      try {
        expect(reader.countEvents({ tenant: 'acme' })).toBe(ok.length * base.length);
        expect(reader.countEvents({ auditId: batch(fullAt)[0]?.auditID })).toBe(0);
      } finally {
        reader.close();
      }

      // Space comes back; the same server stores the resend, and new batches.
      unlinkSync(filler);
      const resent = await post(server, batch(fullAt));
      expect([resent.status, (await answer(resent)).accepted]).toEqual([200, base.length]);
      const after = await post(server, batch(fullAt + 1));
      expect(after.status).toBe(200);
    } finally {
      await server.close();
    }
    const reader = openEventStore(dataDir);
    try {
      expect(reader.countEvents({ tenant: 'acme' })).toBe((ok.length + 2) * base.length);
    } finally {
      reader.close();
    }
  });
});
