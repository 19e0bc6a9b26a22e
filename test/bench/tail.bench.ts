import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { validateAuditEvent } from '../../lib/audit/index.js';
import { FileTailer, tailShipper } from '../../lib/tail/index.js';
import { auditLines } from './corpus.js';
import type { BenchContext, BenchFigure } from './types.js';

/** The seed's per-poll cap: one full poll is what this benchmark measures. */
const POLL_BYTES = 8 * 1024 * 1024;

// A loopback ingest that reads each body and answers 200 at once, in its own thread so its work
// does not count against the tailer's (in production the ingest is another machine).
const SERVER = `
const { parentPort } = require('node:worker_threads');
const http = require('node:http');
const answer = '{"accepted":0,"rejected":0,"duplicates":0,"errors":[]}';
const server = http.createServer((req, res) => {
  req.on('data', () => {});
  req.on('end', () => { res.writeHead(200, { 'content-type': 'application/json' }); res.end(answer); });
});
server.keepAliveTimeout = 60000;
server.listen(0, '127.0.0.1', () => parentPort.postMessage(server.address().port));
parentPort.on('message', () => server.close(() => process.exit(0)));
`;

/** The floor: read the same bytes at an explicit position and split them into line strings. */
async function readAndSplit(path: string, bytes: number): Promise<number> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.allocUnsafe(bytes);
    let got = 0;
    while (got < bytes) {
      const { bytesRead } = await fh.read(buf, got, bytes - got, got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    let lines = 0;
    let chars = 0;
    for (let s = 0; s < got; ) {
      let nl = buf.indexOf(10, s);
      if (nl === -1) nl = got;
      chars += buf.toString('utf8', s, nl).length;
      lines++;
      s = nl + 1;
    }
    return lines + (chars > 0 ? 0 : 1);
  } finally {
    await fh.close();
  }
}

/**
 * One full 8 MiB poll of the file tailer (read at the cursor, split, validate every line, pack
 * EventLists, POST them to a loopback ingest, save the cursor) vs the floor of reading and
 * splitting the same bytes. MB/s, best of several rounds, floor and poll interleaved.
 */
export async function run(ctx: BenchContext): Promise<BenchFigure[]> {
  const dir = mkdtempSync(join(tmpdir(), 'aisoc-tail-bench-'));
  const worker = new Worker(SERVER, { eval: true });
  try {
    const port = await new Promise<number>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });

    // Exactly one poll's worth of complete lines of real audit events.
    const candidates = auditLines(ctx.root, 12_000, ctx.seed);
    const parts: string[] = [];
    let size = 0;
    for (const line of candidates) {
      const n = Buffer.byteLength(line) + 1;
      if (size + n > POLL_BYTES) break;
      parts.push(line);
      size += n;
    }
    const logPath = join(dir, 'audit.log');
    writeFileSync(logPath, `${parts.join('\n')}\n`);
    const events = parts.length;

    const { ship, isOversize } = tailShipper({
      url: `http://127.0.0.1:${port}/v1/ingest/k8s-audit/bench`,
      token: 'bench-token',
      clusterName: 'bench',
    });
    let polls = 0;
    let batchMs = 0;
    const poll = async (): Promise<void> => {
      const tailer = new FileTailer({ logPath, cursorPath: join(dir, `cursor-${polls++}`), maxBytes: POLL_BYTES, ship, isOversize });
      const t0 = process.hrtime.bigint();
      const r = await tailer.poll();
      batchMs = Number(process.hrtime.bigint() - t0) / 1e6;
      if (!r.complete || r.delivered !== events) throw new Error(`poll delivered ${r.delivered} of ${events}: ${r.error}`);
    };

    // Where a poll's time goes, measured on the same lines in the same run: validating each line
    // (JSON.parse + validateAuditEvent) and shipping them (lib/ship: pack, encode, POST).
    let parseMs = Number.POSITIVE_INFINITY;
    let shipMs = Number.POSITIVE_INFINITY;
    const parts2 = parts.slice();
    const parseOnly = (): void => {
      const t0 = process.hrtime.bigint();
      let ok = 0;
      for (const line of parts2) if (validateAuditEvent(JSON.parse(line)).ok) ok++;
      if (ok !== events) throw new Error('a benchmark line is not a valid event');
      parseMs = Math.min(parseMs, Number(process.hrtime.bigint() - t0) / 1e6);
    };
    const shipOnly = async (): Promise<void> => {
      const t0 = process.hrtime.bigint();
      await ship(parts2);
      shipMs = Math.min(shipMs, Number(process.hrtime.bigint() - t0) / 1e6);
    };

    const rounds = ctx.quick ? 2 : 7;
    await poll();
    await readAndSplit(logPath, size);
    let bestPoll = 0;
    let bestFloor = 0;
    const pollTimes: number[] = [];
    for (let i = 0; i < rounds; i++) {
      const t0 = process.hrtime.bigint();
      await readAndSplit(logPath, size);
      const floorS = Number(process.hrtime.bigint() - t0) / 1e9;
      bestFloor = Math.max(bestFloor, size / 1e6 / floorS);
      await poll();
      pollTimes.push(batchMs);
      bestPoll = Math.max(bestPoll, size / 1e6 / (batchMs / 1e3));
      parseOnly();
      await shipOnly();
    }
    pollTimes.sort((a, b) => a - b);
    const ratio = bestPoll / bestFloor;
    const floorMs = (size / 1e6 / bestFloor) * 1e3;
    return [
      {
        figure: 'tail: one 8 MiB poll to a loopback ingest',
        value: Math.round(bestPoll * 10) / 10,
        unit: 'MB/s',
        floor: Math.round(bestFloor * 10) / 10,
        floorLabel: 'read + split lines MB/s',
        ratio,
        goal: 'ratio ≥ 0.5',
        pass: ratio >= 0.5,
        notes:
          `${events} events, ${(size / 1048576).toFixed(2)} MiB per poll; poll median ${pollTimes[Math.floor(pollTimes.length / 2)]?.toFixed(0)} ms, ` +
          `best of ${rounds}; of the best poll: read+split ${floorMs.toFixed(0)} ms, JSON.parse+validate ${parseMs.toFixed(0)} ms, lib/ship ${shipMs.toFixed(0)} ms`,
      },
    ];
  } finally {
    worker.postMessage('stop');
    await worker.terminate();
    rmSync(dir, { recursive: true, force: true });
  }
}
