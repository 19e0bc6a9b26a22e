// What answers a command may not be our ingest: a wrong --url or AISOC_INGEST_URL (an echo
// service, a proxy whose error page lists the request's headers) sends X-AiSOC-K8s-Token back.
// `status` and `rejected --replay` print what came back; the token is not in it.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../lib/audit/index.js';
import type { IngestServer } from '../../lib/ingest/adapters/server.js';
import { runCli } from '../helpers/cli.js';
import { eventList, uniqueFalcoEvents } from '../helpers/ingest.js';
import { tempDir } from '../helpers/tail.js';
import { startLocalIngest } from '../helpers/tail-ingest.js';

const SECRET = 'echoed-answers-secret-Vt6Hq2Lp9';

/** A server that answers every request with `status` and the request's headers, as httpbin's /anything does. */
async function startEcho(status: number): Promise<{ url: string; seen: IncomingMessage['headers'][]; close: () => Promise<void> }> {
  const seen: IncomingMessage['headers'][] = [];
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      seen.push(req.headers);
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: `headers: ${JSON.stringify(req.headers)}`, headers: req.headers }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, seen, close: () => new Promise<void>((r) => server.close(() => r())) };
}

describe('an answer that echoes the token', () => {
  let tmp: { dir: string; cleanup: () => void };
  let ingest: IngestServer;

  beforeAll(async () => {
    tmp = tempDir('aisoc-echoed-');
    ingest = await startLocalIngest(join(tmp.dir, 'data'), SECRET);
  });
  afterAll(async () => {
    await ingest?.close();
    tmp?.cleanup();
  });

  it.each([401, 200])('is printed without it by status and rejected --replay (HTTP %i)', async (code) => {
    // Items the ingest rejects, kept for a replay.
    const event = uniqueFalcoEvents()[0] as AuditEvent;
    const res = await fetch(`${ingest.url}/v1/ingest/k8s-audit/echo-${code}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-AiSOC-K8s-Token': SECRET },
      body: eventList([{ ...event, auditID: `echo-${code}`, verb: 7 }]),
    });
    expect(res.status).toBe(200);
    const echo = await startEcho(code);
    try {
      const env = { AISOC_DATA_DIR: join(tmp.dir, 'data'), K8S_AUDIT_SHARED_SECRET: SECRET };
      const runs = [
        await runCli(['status', '--tenant', 'acme', '--url', echo.url, '--json'], env),
        await runCli(['rejected', '--replay', '--tenant', `echo-${code}`], {
          ...env,
          AISOC_INGEST_URL: `${echo.url}/v1/ingest/k8s-audit/any`,
        }),
      ];

      expect(echo.seen.map((h) => h['x-aisoc-k8s-token'])).toEqual([SECRET, SECRET]);
      expect(runs.map((r) => r.code)).toEqual(code === 200 ? [0, 0] : [1, 1]);
      expect(runs.map((r) => `${r.stdout}${r.stderr}`.includes('<redacted>'))).toEqual([true, true]);
      expect(runs.map((r) => `${r.stdout}${r.stderr}`.includes(SECRET))).toEqual([false, false]);
    } finally {
      await echo.close();
    }
  });
});
