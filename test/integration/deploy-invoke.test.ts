import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type IngestServer, startIngestServer } from '../../lib/ingest/adapters/server.js';
import { loadIngestConfig } from '../../lib/ingest/config.js';
import { openEventStore } from '../../lib/sinks/sqlite.js';
import { runCli } from '../helpers/cli.js';
import { buildScratchBundles, ROOT, scratchCheckout } from '../helpers/infra-scratch.js';

const EVENTS = join(ROOT, 'infra/events');

interface Recipe {
  index: number;
  where: string;
  event: string;
  args: string[];
}

/**
 * The `sam local invoke` command lines of README.md, docs/deploy.md (its table gives the
 * function and event, the header the rest) and the template's own comment.
 */
function documentedSamRecipes(): Recipe[] {
  const lines: { where: string; line: string }[] = [];
  for (const file of ['README.md', 'docs/deploy.md', 'infra/template.yaml']) {
    const text = readFileSync(join(ROOT, file), 'utf8').replace(/\\\n#?\s*/g, ' ');
    for (const m of text.matchAll(/sam local invoke (-t [^\s`]+ \w+ -e [^\s`]+ --env-vars [^\s`]+)/g))
      lines.push({ where: file, line: m[1] as string });
    for (const m of text.matchAll(/^\| [^|]+ \| `(Forwarder|Ingest) -e (infra\/events\/[^`\s]+)` \|/gm))
      lines.push({ where: `${file} table`, line: `-t infra/template.yaml ${m[1]} -e ${m[2]} --env-vars infra/events/env.json` });
  }
  return lines.map(({ where, line }, index) => {
    const args = line.split(/\s+/);
    return { index, where, args, event: basename(args[args.indexOf('-e') + 1] as string) };
  });
}
const LOCAL_ENV = JSON.parse(readFileSync(join(EVENTS, 'env.local.json'), 'utf8')) as Record<string, Record<string, string>>;
const SECRET = LOCAL_ENV.Ingest?.K8S_AUDIT_SHARED_SECRET ?? '';

const execFileAsync = promisify(execFile);
async function execFileP(file: string, args: string[], opts: { cwd: string; env: NodeJS.ProcessEnv }) {
  try {
    const { stdout, stderr } = await execFileAsync(file, args, opts);
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

interface Invocation {
  code: number;
  result: unknown;
  stderr: string;
}

interface ProxyResult {
  statusCode: number;
  body: string;
}

const auditIdsOfBody = (event: { body: string; isBase64Encoded?: boolean }): string[] => {
  const raw = event.isBase64Encoded ? gunzipSync(Buffer.from(event.body, 'base64')).toString() : event.body;
  return (JSON.parse(raw) as { items: { auditID: string }[] }).items.map((i) => i.auditID);
};

// Every committed sam-local event through the real bundles (built by the real build script into a
// scratch checkout), as `aisoc-k8s-audit invoke` runs them: the ingest with the stdout sinks of
// env.local.json, the forwarder pointed at a real local ingest on loopback with the SQLite sink.
describe('aisoc-k8s-audit invoke on infra/events', () => {
  let scratch = { dir: '', cleanup: () => {} };
  let dist = '';
  let dataDir = '';
  let ingest: IngestServer;

  beforeAll(async () => {
    scratch = scratchCheckout();
    dist = await buildScratchBundles(scratch.dir);
    dataDir = mkdtempSync(join(tmpdir(), 'aisoc-invoke-e2e-'));
    const config = loadIngestConfig(
      { K8S_AUDIT_SHARED_SECRET: SECRET, EVENTS_SINK: 'sqlite', AISOC_DATA_DIR: dataDir },
      { runtime: 'local' },
    );
    ingest = await startIngestServer({ config });
  }, 120_000);

  afterAll(async () => {
    await ingest?.close();
    rmSync(dataDir, { recursive: true, force: true });
    scratch.cleanup();
  });

  /** An env file like env.local.json, with the forwarder shipping to the test ingest as `tenant`. */
  function envFile(tenant: string, forwarder: Record<string, string> = {}): string {
    const path = join(scratch.dir, `env-${tenant}.json`);
    const env = {
      ...LOCAL_ENV,
      Forwarder: { ...LOCAL_ENV.Forwarder, AISOC_INGEST_URL: `${ingest.url}/v1/ingest/k8s-audit/${tenant}`, ...forwarder },
    };
    writeFileSync(path, JSON.stringify(env));
    return path;
  }

  async function invoke(fn: string, eventFile: string, env: string): Promise<Invocation> {
    const { code, stdout, stderr } = await runCli(['invoke', fn, '--event', join(EVENTS, eventFile), '--env', env, '--dist', dist], {
      PATH: process.env.PATH ?? '',
    });
    return { code, result: JSON.parse(stdout), stderr };
  }

  function stored(tenant: string): string[] {
    const store = openEventStore(dataDir);
    try {
      return store
        .queryEvents({ tenant, limit: 1000 })
        .map((r) => r.audit_id ?? '')
        .sort();
    } finally {
      store.close();
    }
  }

  const ingestCases: Record<string, (r: Invocation, event: { body: string; isBase64Encoded?: boolean }) => void> = {
    'ingest-http-api-eventlist.json': (r, event) => {
      const res = r.result as ProxyResult;
      expect(res.statusCode).toBe(200);
      expect(JSON.parse(res.body)).toEqual({ accepted: 9, rejected: 0, duplicates: 0, errors: [] });
      // Each invoke is a fresh init: the request's log line says so, as a Lambda cold start's does.
      expect(r.stderr).toMatch(/"message":"ingest request"[^\n]*"cold_start":true|"cold_start":true[^\n]*"message":"ingest request"/);
      // The stdout events sink wrote one record per audit event (the function's stdout goes to stderr here).
      for (const id of auditIdsOfBody(event)) expect(r.stderr).toContain(`"audit_id":"${id}"`);
    },
    'ingest-http-api-empty.json': (r) => {
      const res = r.result as ProxyResult;
      expect(res.statusCode).toBe(200);
      expect(JSON.parse(res.body)).toEqual({ accepted: 0, rejected: 0, duplicates: 0, errors: [] });
    },
    'ingest-http-api-bad-token.json': (r) => {
      const res = r.result as ProxyResult;
      expect(res.statusCode).toBe(401);
      expect(res.body).not.toContain('not-the-shared-secret');
      expect(r.stderr).not.toContain('not-the-shared-secret');
      expect(r.stderr).not.toContain('"audit_id"');
    },
    'ingest-http-api-gzip.json': (r, event) => {
      const res = r.result as ProxyResult;
      expect(res.statusCode).toBe(200);
      expect(JSON.parse(res.body)).toMatchObject({ accepted: 9, rejected: 0 });
      for (const id of auditIdsOfBody(event)) expect(r.stderr).toContain(`"audit_id":"${id}"`);
    },
    'ingest-rest-api-eventlist.json': (r) => {
      const res = r.result as ProxyResult;
      expect(res.statusCode).toBe(200);
      expect(JSON.parse(res.body)).toMatchObject({ accepted: 9, rejected: 0 });
    },
  };

  const forwarderCases: Record<string, { tenant: string; stored: number }> = {
    'forwarder-cloudwatch-logs.json': { tenant: 'cwl-direct', stored: 9 },
    'forwarder-kinesis.json': { tenant: 'cwl-kinesis', stored: 9 },
    'forwarder-control-message.json': { tenant: 'cwl-control', stored: 0 },
    'forwarder-other-stream.json': { tenant: 'cwl-other-stream', stored: 0 },
  };

  it('has an expectation for every event file', () => {
    const files = readdirSync(EVENTS).filter((f) => f.endsWith('.json') && !f.startsWith('env'));
    expect(files.sort()).toEqual([...Object.keys(ingestCases), ...Object.keys(forwarderCases)].sort());
  });

  for (const [file, check] of Object.entries(ingestCases)) {
    it(`ingest answers ${file}`, async () => {
      const event = JSON.parse(readFileSync(join(EVENTS, file), 'utf8'));
      const r = await invoke('Ingest', file, envFile('unused'));
      expect(r.code).toBe(0);
      check(r, event);
    });
  }

  for (const [file, { tenant, stored: n }] of Object.entries(forwarderCases)) {
    it(`forwarder handles ${file}: ${n} events reach the ingest`, async () => {
      const r = await invoke('Forwarder', file, envFile(tenant));
      expect(r.code).toBe(0);
      expect(r.result).toBeNull();
      expect(stored(tenant)).toHaveLength(n);
    });
  }

  it('forwarder exits 1 with its ForwardError when the ingest cannot be reached, so Lambda would retry', async () => {
    const env = envFile('unreachable', {
      AISOC_INGEST_URL: 'http://127.0.0.1:9/v1/ingest/k8s-audit/unreachable',
      FORWARDER_MAX_ATTEMPTS: '1',
      FORWARDER_REQUEST_TIMEOUT_MS: '2000',
    });
    const r = await invoke('Forwarder', 'forwarder-cloudwatch-logs.json', env);
    expect(r.code).toBe(1);
    expect(r.result).toMatchObject({ errorType: 'ForwardError' });
    expect((r.result as { errorMessage: string }).errorMessage).toContain('9 of 9 audit events not delivered');
    expect(r.stderr).not.toContain(SECRET);
  });

  // Every `sam local invoke` recipe the docs and the template show, run through `invoke` with the
  // same arguments: invoke resolves the environment with SAM's rules (declared variables only,
  // !Ref to a resource as its logical id), so a template or env file that SAM would not start
  // fails here. The forwarder's env file is copied with the ingest URL pointed at the test ingest.
  const recipes = documentedSamRecipes();
  it('finds the documented sam local invoke recipes', () => {
    expect(recipes.length).toBeGreaterThanOrEqual(11);
    expect(new Set(recipes.map((r) => r.event))).toEqual(new Set([...Object.keys(ingestCases), ...Object.keys(forwarderCases)]));
  });
  for (const recipe of recipes) {
    it(`runs the documented recipe ${recipe.where}: sam local invoke ${recipe.args.join(' ')}`, async () => {
      const args = recipe.args.map((a) => (a.startsWith('infra/') ? join(scratch.dir, a) : a));
      const forwarder = forwarderCases[recipe.event];
      if (forwarder !== undefined) {
        const envAt = args.indexOf('--env-vars') + 1;
        const env = JSON.parse(readFileSync(args[envAt] as string, 'utf8'));
        env.Forwarder.AISOC_INGEST_URL = `${ingest.url}/v1/ingest/k8s-audit/recipe-${recipe.index}`;
        args[envAt] = join(scratch.dir, `recipe-${recipe.index}.json`);
        writeFileSync(args[envAt] as string, JSON.stringify(env));
      }
      const { code, stdout, stderr } = await runCli(['invoke', ...args], { PATH: process.env.PATH ?? '' });
      expect(stderr).not.toContain('does not declare');
      expect(code, stderr).toBe(0);
      const result = JSON.parse(stdout);
      if (forwarder !== undefined) {
        expect(result).toBeNull();
        expect(stored(`recipe-${recipe.index}`)).toHaveLength(forwarder.stored);
      } else {
        const event = JSON.parse(readFileSync(join(EVENTS, recipe.event), 'utf8'));
        ingestCases[recipe.event]?.({ code, result, stderr }, event);
      }
    });
  }

  it('fails as sam local does when the template stops declaring the local secret (the env file value is dropped)', async () => {
    const template = readFileSync(join(ROOT, 'infra/template.yaml'), 'utf8').replace(/^ {10}K8S_AUDIT_SHARED_SECRET: ""\n/gm, '');
    const path = join(scratch.dir, 'infra-undeclared.yaml');
    writeFileSync(path, template);
    const env = join(EVENTS, 'env.json');
    const r = await runCli([
      'invoke',
      'Ingest',
      '-t',
      path,
      '-e',
      join(EVENTS, 'ingest-http-api-eventlist.json'),
      '--env-vars',
      env,
      '--dist',
      dist,
    ]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('the env file sets K8S_AUDIT_SHARED_SECRET, which');
    // With the secret dropped, the route is off: SAM would answer 503, never the documented 200.
    expect(JSON.parse(r.stdout)).toMatchObject({ statusCode: 503 });
  });

  it('the built CLI finds the template and bundles of its package from any working directory', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'aisoc-invoke-cwd-'));
    try {
      const { stdout, code } = await execFileP(
        process.execPath,
        [
          join(scratch.dir, 'dist/cli.mjs'),
          'invoke',
          'Ingest',
          '-e',
          join(EVENTS, 'ingest-http-api-eventlist.json'),
          '--env-vars',
          join(EVENTS, 'env.json'),
        ],
        { cwd, env: { PATH: process.env.PATH ?? '' } },
      );
      expect(code).toBe(0);
      expect(JSON.parse(JSON.parse(stdout).body)).toMatchObject({ accepted: 9, rejected: 0 });
    } finally {
      rmSync(cwd, { recursive: true, force: true });
    }
  });

  it("ingest scores with operators' rules from a directory (a layer's /opt/rules), and fails its init on one it cannot read", async () => {
    // A pod of Falco's traces running a miner image: the operators' rule file (YAML) adds the rule that names it.
    const template = JSON.parse(readFileSync(join(EVENTS, 'ingest-http-api-eventlist.json'), 'utf8')) as {
      body: string;
      isBase64Encoded?: boolean;
    };
    const pod = readFileSync(join(ROOT, 'test/fixtures/falco/create_nginx_pod_privileged.json'), 'utf8')
      .split('\n')
      .map((l) =>
        l.trim() === '' ? null : (JSON.parse(l) as { verb?: string; requestObject?: { spec?: { containers?: { image: string }[] } } }),
      )
      .find((e) => e?.verb === 'create' && e.requestObject?.spec?.containers !== undefined);
    for (const c of pod?.requestObject?.spec?.containers ?? []) c.image = 'docker.io/metal3d/xmrig:6.21';
    const eventPath = join(scratch.dir, 'ingest-miner.json');
    writeFileSync(
      eventPath,
      JSON.stringify({
        ...template,
        isBase64Encoded: false,
        body: JSON.stringify({ kind: 'EventList', apiVersion: 'audit.k8s.io/v1', items: [pod] }),
      }),
    );
    const run = async (rules: string) => {
      const env = join(scratch.dir, 'env-rules.json');
      writeFileSync(env, JSON.stringify({ ...LOCAL_ENV, Ingest: { ...LOCAL_ENV.Ingest, K8S_AUDIT_RULES: rules } }));
      const { code, stdout, stderr } = await runCli(['invoke', 'Ingest', '--event', eventPath, '--env', env, '--dist', dist], {
        PATH: process.env.PATH ?? '',
      });
      return { code, result: JSON.parse(stdout) as ProxyResult & { errorType?: string; errorMessage?: string }, stderr };
    };

    const scored = await run(join(ROOT, 'test/fixtures/operator-rules'));
    expect(scored.code).toBe(0);
    expect(scored.result.statusCode).toBe(200);
    expect(JSON.parse(scored.result.body)).toMatchObject({ accepted: 1, rejected: 0 });
    expect(scored.stderr).toMatch(/"rule_ids":\[[^\]]*"cryptominer-image"/);

    const missing = await run(join(scratch.dir, 'no-such-rules'));
    expect(missing.code).toBe(1);
    expect(missing.result).toMatchObject({ errorType: 'ConfigError' });
    expect(missing.result.errorMessage).toMatch(/K8S_AUDIT_RULES: .*no-such-rules: cannot read the rules directory \(ENOENT\)/);
  });

  it('ingest fails its init with a ConfigError naming EVENTS_SINK when run as a Lambda without a sink', async () => {
    const path = join(scratch.dir, 'env-no-sink.json');
    writeFileSync(path, JSON.stringify({ Ingest: { K8S_AUDIT_SHARED_SECRET: SECRET, K8S_AUDIT_SHARED_SECRET_ARN: '', EVENTS_SINK: '' } }));
    const r = await invoke('Ingest', 'ingest-http-api-empty.json', path);
    expect(r.code).toBe(1);
    expect(r.result).toMatchObject({ errorType: 'ConfigError' });
    expect((r.result as { errorMessage: string }).errorMessage).toContain('EVENTS_SINK');
    // The failure is also a line of the function's own log shape, before the runtime's error.
    const lines = r.stderr
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.find((l) => l.message === 'init failed')).toMatchObject({
      level: 'ERROR',
      service: 'aisoc-k8s-audit-ingest',
      error: expect.stringMatching(/^ConfigError: .*EVENTS_SINK/),
    });
  });
});
