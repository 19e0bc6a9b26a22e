import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lazyBuiltins } from '../../scripts/lazy-builtins.mjs';
import { buildRe2jsFile } from '../../scripts/re2js-file.mjs';
import { yamlData } from '../../scripts/yaml-data.mjs';
import { FALCO_DIR } from '../helpers/fixtures.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The files an ESM entry loads at start: itself and what it imports statically, transitively. */
function staticGraph(dir: string, entry: string): string[] {
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    const text = readFileSync(file, 'utf8');
    // esbuild writes static imports as `import ... from "./x.mjs"` or `import "./x.mjs"` at the top;
    // dynamic ones as `import("./x.mjs")`, which this skips.
    for (const m of text.matchAll(/^import\s+(?:[^'"()]*?\s+from\s+)?["'](\.[^"']+)["'];?$/gm)) visit(join(dirname(file), m[1] as string));
  };
  visit(join(dir, entry));
  return [...seen];
}

/** A Lambda entry built with the options of scripts/build.mjs, unminified so the walk can read the imports (and esbuild's module path comments). */
async function buildLambda(entry: string, out: string): Promise<void> {
  // Minifying changes how each chunk is written, not which modules it holds.
  await build({
    entryPoints: { index: join(ROOT, 'functions', entry) },
    outdir: out,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    splitting: true,
    chunkNames: 'chunks/[name]-[hash]',
    platform: 'node',
    format: 'esm',
    target: 'node22',
    mainFields: ['module', 'main'],
    external: ['better-sqlite3'],
    plugins: [lazyBuiltins, yamlData],
    logLevel: 'error',
  });
}

/** The Node builtins a set of bundle files imports statically. */
function builtinsOf(text: string): string[] {
  return [...new Set([...text.matchAll(/^import\s+(?:[^'"()]*?\s+from\s+)?["'](node:[^"']+)["'];?$/gm)].map((m) => m[1] as string))];
}

/** Builds `functions/<entry>` into a scratch directory before the suite's tests and removes it after; returns the directory. */
function useBundle(entry: string): () => string {
  let out = '';
  beforeAll(async () => {
    mkdirSync(join(ROOT, 'node_modules', '.cache'), { recursive: true });
    out = mkdtempSync(join(ROOT, 'node_modules', '.cache', `${entry.replace(/\.ts$/, '')}-bundle-`));
    await buildLambda(entry, out);
  });
  afterAll(() => rmSync(out, { recursive: true, force: true }));
  return () => out;
}

describe('the forwarder Lambda bundle', () => {
  const bundle = useBundle('forwarder.ts');

  it('loads no detection rules, CEL engine or YAML parser at start: it never scores an event', () => {
    const atStart = staticGraph(bundle(), 'index.mjs')
      .map((f) => readFileSync(f, 'utf8'))
      .join('\n');
    // The line check it does need is there (lib/audit/parse.ts), and the shipper.
    expect(atStart).toContain('lib/audit/parse.ts');
    expect(atStart).toContain('lib/ship/');
    // These cost 60-90 ms of its cold start when a barrel import pulled them in (docs/performance.md).
    for (const marker of ['node_modules/@marcbachmann/cel-js', 'node_modules/yaml/', 'lib/rules/', 'lib/audit/detect.ts']) {
      expect(atStart, marker).not.toContain(marker);
    }
    expect(builtinsOf(atStart)).not.toContain('node:stream/web');
  });
});

describe("the Lambdas' stand-in for node:stream/web", () => {
  it('answers instanceof ReadableStream as the real class does, loading it only then', async () => {
    const out = mkdtempSync(join(ROOT, 'node_modules', '.cache', 'stream-web-'));
    try {
      // What @middy/core does with it in its streaming mode, the only place it is used.
      await build({
        stdin: {
          contents: "import { ReadableStream } from 'node:stream/web'; export const isWebStream = (v) => v instanceof ReadableStream;",
          loader: 'js',
        },
        outfile: join(out, 'probe.mjs'),
        bundle: true,
        platform: 'node',
        format: 'esm',
        plugins: [lazyBuiltins],
        logLevel: 'error',
      });
      const text = readFileSync(join(out, 'probe.mjs'), 'utf8');
      expect(builtinsOf(text)).toEqual([]);
      const { isWebStream } = (await import(join(out, 'probe.mjs'))) as { isWebStream: (v: unknown) => boolean };
      expect(isWebStream(new ReadableStream())).toBe(true);
      expect(isWebStream(new (await import('node:stream')).Readable())).toBe(false);
      expect(isWebStream('body')).toBe(false);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});

describe('the ingest Lambda bundle', () => {
  const bundle = useBundle('ingest.ts');

  it('loads no sink SDK client, no SQLite and no DynamoDB client at start: each comes with its sink', () => {
    const out = bundle();
    const graph = staticGraph(out, 'index.mjs');
    const atStart = graph.map((f) => readFileSync(f, 'utf8')).join('\n');
    const everything = readdirSync(join(out, 'chunks'))
      .map((f) => readFileSync(join(out, 'chunks', f), 'utf8'))
      .join('\n');

    // The entry really imports shared chunks (the sink types, the audit code): the walk follows them.
    expect(graph.length).toBeGreaterThan(1);
    expect(atStart).toContain('SinkUnavailableError');
    for (const marker of [
      'PutRecordsCommand',
      'PutRecordBatchCommand',
      'SendMessageBatchCommand',
      'PutEventsCommand',
      'GetItemCommand',
      'better-sqlite3',
    ]) {
      expect(atStart, marker).not.toContain(marker);
      expect(everything, marker).toContain(marker);
    }
  });

  it("loads the CEL engine and the shipped pack at start, and the YAML parser only for operators' rule files", () => {
    const out = bundle();
    const atStart = staticGraph(out, 'index.mjs')
      .map((f) => readFileSync(f, 'utf8'))
      .join('\n');
    const everything = readdirSync(join(out, 'chunks'))
      .map((f) => readFileSync(join(out, 'chunks', f), 'utf8'))
      .join('\n');
    expect(atStart).toContain('node_modules/@marcbachmann/cel-js');
    expect(atStart).toContain('rules/workloads.yaml');
    // 120 KB that cost every cold start about 20 ms when it was imported at the top (docs/performance.md).
    expect(atStart).not.toContain('node_modules/yaml/');
    expect(everything).toContain('node_modules/yaml/');
    expect(builtinsOf(atStart)).not.toContain('node:stream/web');
    expect(builtinsOf(atStart)).not.toContain('node:http2');
    // RE2JS (~150 kB) is in no module of the bundle: it is a file of its own, required on first use.
    expect(`${atStart}\n${everything}`).not.toContain('node_modules/re2js');
  });
});

describe('RE2JS beside the ingest bundle', () => {
  // The bundle and re2js.cjs as scripts/build.mjs lays them out, in a directory with no
  // node_modules above it, as Lambda unpacks the zip.
  let task = '';
  beforeAll(async () => {
    task = mkdtempSync(join(tmpdir(), 'aisoc-re2js-'));
    await buildLambda('ingest.ts', join(task, 'ingest'));
    await buildRe2jsFile(join(task, 'ingest', 're2js.cjs'), { quiet: true });
    // An HTTP API request carrying Falco's trace of an anonymous request that created a namespace:
    // anonymous-request-allowed runs `!requestURI.matches('^/(healthz|...)')` on it.
    const event = JSON.parse(readFileSync(join(ROOT, 'infra/events/ingest-http-api-eventlist.json'), 'utf8'));
    const item = JSON.parse(readFileSync(join(FALCO_DIR, 'anonymous_creates_namespace_foo.json'), 'utf8').split('\n')[0] as string);
    event.body = JSON.stringify({ kind: 'EventList', apiVersion: 'audit.k8s.io/v1', metadata: {}, items: [item] });
    delete event.headers['content-length'];
    writeFileSync(join(task, 'event.json'), JSON.stringify(event));
    writeFileSync(
      join(task, 'run.mjs'),
      `import { readFileSync } from 'node:fs';
const { handler } = await import('./ingest/index.mjs');
const result = await handler(JSON.parse(readFileSync('event.json', 'utf8')), { awsRequestId: 'r', functionName: 'f', getRemainingTimeInMillis: () => 30000 });
console.log(JSON.stringify({ result }));
`,
    );
  });
  afterAll(() => rmSync(task, { recursive: true, force: true }));
  const run = () =>
    spawnSync(process.execPath, ['run.mjs'], {
      cwd: task,
      encoding: 'utf8',
      env: {
        PATH: process.env.PATH,
        K8S_AUDIT_SHARED_SECRET: 'sam-local-shared-secret-not-for-production',
        EVENTS_SINK: 'stdout',
        ALERTS_SINK: 'stdout',
      },
    });

  it('is required from re2js.cjs when a rule runs matches(), and the alert comes out', () => {
    const r = run();
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(JSON.parse(lines.at(-1) as string).result.statusCode).toBe(200);
    expect(lines.filter((l) => l.includes('"rule_ids":["anonymous-request-allowed"]')).length).toBeGreaterThan(0);
  });

  it('fails the start, naming it, when re2js.cjs is missing (rather than every matches() being no match)', () => {
    rmSync(join(task, 'ingest', 're2js.cjs'));
    const r = run();
    expect(r.status).not.toBe(0);
    expect(r.stdout + r.stderr).toContain('RE2JS (matches()) is not installed');
  });
});
