import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { validateAuditEvent } from '../../lib/audit/index.js';
import { DEFAULT_TAIL_BATCH_EVENTS, DEFAULT_TAIL_CONCURRENCY } from '../../lib/config/defaults.js';
import { DEFAULT_SHIP_MAX_BODY_BYTES, packEventLists } from '../../lib/ship/index.js';
import { FileTailer, type TailCursor, tailShipper, writeCursor } from '../../lib/tail/index.js';
import { joinLines, splitLines } from '../../lib/tail/lines.js';
import { auditLines } from '../helpers/corpus.js';
import type { BenchContext, BenchFigure } from './types.js';

/** The connector documentation's per-poll cap: one full poll is what this benchmark measures. */
const POLL_BYTES = 8 * 1024 * 1024;

/** How long the stand-in for a remote ingest takes to answer: a round trip plus the ingest's work on a batch. */
const REMOTE_ANSWER_MS = 25;

// A loopback ingest that reads each body and answers 200, in its own thread so its work does not
// count against the tailer's (in production the ingest is another machine): at once, or after
// REMOTE_ANSWER_MS for a tenant named "remote".
const SERVER = `
const { parentPort } = require('node:worker_threads');
const http = require('node:http');
const answer = '{"accepted":0,"rejected":0,"duplicates":0,"errors":[]}';
const server = http.createServer((req, res) => {
  const delay = req.url.endsWith('/remote') ? ${REMOTE_ANSWER_MS} : 0;
  req.on('data', () => {});
  req.on('end', () => {
    const send = () => { res.writeHead(200, { 'content-type': 'application/json' }); res.end(answer); };
    if (delay > 0) setTimeout(send, delay); else send();
  });
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

/** POSTs ready bodies over one keep-alive connection with node:http, the cheapest way to move them. */
async function postAll(agent: Agent, url: string, bodies: readonly Buffer[]): Promise<void> {
  for (const body of bodies) {
    await new Promise<void>((resolve, reject) => {
      const req = request(
        url,
        { method: 'POST', agent, headers: { 'Content-Type': 'application/json', 'Content-Length': body.length } },
        (res) => {
          res.resume();
          res.once('end', resolve);
        },
      );
      req.once('error', reject);
      req.end(body);
    });
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
    // Each measured poll is a running tailer's: its cursor file is there (at the start of the
    // file, so the poll reads the same 8 MiB) and is replaced, not created, by the poll.
    const st = statSync(logPath, { bigint: true });
    const start: TailCursor = {
      path: logPath,
      dev: st.dev.toString(),
      ino: st.ino.toString(),
      offset: 0,
      skipping: false,
      headBytes: 0,
      headHash: createHash('sha256').digest('hex'),
      updatedAt: '',
    };
    const cursorPath = join(dir, 'cursor');
    // One tailer per shipper, polling again and again as `tail` does (it keeps its read buffer
    // from poll to poll); the cursor it reads at the start of each poll is put back to the start.
    const tailers = new Map<ReturnType<typeof tailShipper>, FileTailer>();
    /** One timed poll through `shipper`, in milliseconds. */
    const timedPoll = async (shipper: ReturnType<typeof tailShipper>): Promise<number> => {
      await writeCursor(cursorPath, start);
      let tailer = tailers.get(shipper);
      if (tailer === undefined) {
        tailer = new FileTailer({ logPath, cursorPath, maxBytes: POLL_BYTES, ...shipper });
        tailers.set(shipper, tailer);
      }
      const t0 = process.hrtime.bigint();
      const r = await tailer.poll();
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      if (!r.complete || r.delivered !== events) throw new Error(`poll delivered ${r.delivered} of ${events}: ${r.error}`);
      return ms;
    };
    let batchMs = 0;
    const local = { ship, isOversize };
    const poll = async (): Promise<void> => {
      batchMs = await timedPoll(local);
    };
    // The same poll to an ingest that answers each batch after REMOTE_ANSWER_MS, with the
    // tailer's batches in flight at once (AISOC_TAIL_CONCURRENCY's default) and one at a time.
    const remote = { url: `http://127.0.0.1:${port}/v1/ingest/k8s-audit/remote`, token: 'bench-token', clusterName: 'bench' };
    const remoteDefault = tailShipper(remote);
    const remoteSerial = tailShipper({ ...remote, concurrency: 1 });

    // Where a poll's time goes, measured on the same lines in the same run: validating each line
    // (JSON.parse + validateAuditEvent, which the tailer leaves to the ingest), shipping them as
    // the tailer does (lib/ship given each line's bytes: pack, POST), and saving a cursor.
    let parseMs = Number.POSITIVE_INFINITY;
    let shipMs = Number.POSITIVE_INFINITY;
    let saveMs = Number.POSITIVE_INFINITY;
    const parts2 = parts.slice();
    // The lines as the tailer hands them to lib/ship: views of its read, split and joined by its
    // own line splitter (the newlines between them turned into commas, the joins claimed).
    const fileBytes = readFileSync(logPath);
    const joined = joinLines(fileBytes, splitLines(fileBytes, fileBytes.length, 0, { checkAll: false }).lines);
    if (joined.events.length !== events) throw new Error(`the splitter found ${joined.events.length} of ${events} lines`);
    const parseOnly = (): void => {
      const t0 = process.hrtime.bigint();
      let ok = 0;
      for (const line of parts2) if (validateAuditEvent(JSON.parse(line)).ok) ok++;
      if (ok !== events) throw new Error('a benchmark line is not a valid event');
      parseMs = Math.min(parseMs, Number(process.hrtime.bigint() - t0) / 1e6);
    };
    const shipOnly = async (): Promise<void> => {
      const t0 = process.hrtime.bigint();
      await ship(joined);
      shipMs = Math.min(shipMs, Number(process.hrtime.bigint() - t0) / 1e6);
    };
    const saveOnly = async (): Promise<void> => {
      const t0 = process.hrtime.bigint();
      await writeCursor(join(dir, 'cursor-save'), start, { replacing: true });
      saveMs = Math.min(saveMs, Number(process.hrtime.bigint() - t0) / 1e6);
    };
    await writeCursor(join(dir, 'cursor-save'), start);

    // The second floor: the same bytes read and split, then POSTed as the same EventList bodies
    // over loopback by node:http (packed beforehand): what moving them to an ingest costs at least.
    const url = `http://127.0.0.1:${port}/v1/ingest/k8s-audit/bench`;
    const bodies = packEventLists(parts, DEFAULT_TAIL_BATCH_EVENTS, DEFAULT_SHIP_MAX_BODY_BYTES).bodies.map((b) => Buffer.from(b.body));
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    let postMs = Number.POSITIVE_INFINITY;
    const postOnly = async (): Promise<void> => {
      const t0 = process.hrtime.bigint();
      await postAll(agent, url, bodies);
      postMs = Math.min(postMs, Number(process.hrtime.bigint() - t0) / 1e6);
    };
    // The floor of the goal: the poll's bytes as one loopback POST (the least a shipper can do).
    const oneBody = [Buffer.concat(bodies)];
    let postOneMs = Number.POSITIVE_INFINITY;
    const postOneOnly = async (): Promise<void> => {
      const t0 = process.hrtime.bigint();
      await postAll(agent, url, oneBody);
      postOneMs = Math.min(postOneMs, Number(process.hrtime.bigint() - t0) / 1e6);
    };

    const rounds = ctx.quick ? 2 : 15;
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
      await postOnly();
      await postOneOnly();
      await saveOnly();
    }
    agent.destroy();
    let remoteDefaultMs = Number.POSITIVE_INFINITY;
    let remoteSerialMs = Number.POSITIVE_INFINITY;
    for (let i = 0; i < (ctx.quick ? 1 : 3); i++) {
      remoteSerialMs = Math.min(remoteSerialMs, await timedPoll(remoteSerial));
      remoteDefaultMs = Math.min(remoteDefaultMs, await timedPoll(remoteDefault));
    }
    pollTimes.sort((a, b) => a - b);
    const ratio = bestPoll / bestFloor;
    const floorMs = (size / 1e6 / bestFloor) * 1e3;
    const withPost = size / 1e6 / ((floorMs + postMs) / 1e3);
    const withOnePost = size / 1e6 / ((floorMs + postOneMs) / 1e3);
    const pollMs = (size / 1e6 / bestPoll) * 1e3;
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
          `best of ${rounds}; best poll ${pollMs.toFixed(0)} ms: read+split ${floorMs.toFixed(1)} ms; for scale, on the same lines: JSON.parse+validate ${parseMs.toFixed(0)} ms, lib/ship ${shipMs.toFixed(1)} ms, POST alone ${postMs.toFixed(1)} ms, cursor save ${saveMs.toFixed(1)} ms`,
      },
      {
        figure: 'tail: the same poll vs read + split + one loopback POST of the same bytes',
        value: Math.round(bestPoll * 10) / 10,
        unit: 'MB/s',
        floor: Math.round(withOnePost * 10) / 10,
        floorLabel: 'read + split + one POST of the bytes (node:http) MB/s',
        ratio: bestPoll / withOnePost,
        goal: 'ratio ≥ 0.8',
        pass: bestPoll / withOnePost >= 0.8,
        notes: `one POST of ${((oneBody[0]?.length ?? 0) / 1048576).toFixed(2)} MiB: ${postOneMs.toFixed(1)} ms; read+split ${floorMs.toFixed(1)} ms`,
      },
      {
        figure: 'tail: the same poll vs read + split + loopback POST',
        value: Math.round(bestPoll * 10) / 10,
        unit: 'MB/s',
        floor: Math.round(withPost * 10) / 10,
        floorLabel: 'read + split + POST of the same bodies (node:http) MB/s',
        ratio: bestPoll / withPost,
        goal: 'reported (the POST alone exceeds the ≥ 0.5 budget above)',
        pass: postMs > floorMs,
        notes: `${bodies.length} bodies of ≤ ${DEFAULT_SHIP_MAX_BODY_BYTES / 1048576} MiB; POST alone ${postMs.toFixed(1)} ms vs read+split ${floorMs.toFixed(1)} ms`,
      },
      {
        figure: `tail: the same poll to an ingest answering in ${REMOTE_ANSWER_MS} ms, ${DEFAULT_TAIL_CONCURRENCY} batches in flight`,
        value: Math.round((size / 1e6 / (remoteDefaultMs / 1e3)) * 10) / 10,
        unit: 'MB/s',
        floor: Math.round((size / 1e6 / (remoteSerialMs / 1e3)) * 10) / 10,
        floorLabel: 'the same, one batch at a time (AISOC_TAIL_CONCURRENCY=1) MB/s',
        ratio: remoteSerialMs / remoteDefaultMs,
        goal: 'reported',
        pass: true,
        notes: `poll ${remoteDefaultMs.toFixed(0)} ms vs ${remoteSerialMs.toFixed(0)} ms one at a time; ${bodies.length} bodies`,
      },
    ];
  } finally {
    worker.postMessage('stop');
    await worker.terminate();
    rmSync(dir, { recursive: true, force: true });
  }
}
