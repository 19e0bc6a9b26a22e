// A careless operator's configuration: a credential written into a URL the commands read, or a URL
// pointing at a path that carries a token. The command stops with exit 2 and says what is wrong,
// and the credential is in nothing it prints. In its own file: the Lambda tests of
// secrets-never-logged.test.ts re-import the modules, which would make main's ConfigError another
// class than the one these commands throw.
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openEventStore } from '../../lib/sinks/sqlite.js';
import { runCli } from '../helpers/cli.js';
import { buildCliBundle, PROJECT_CACHE, runBuiltCli } from '../helpers/cli-bundle.js';
import { eventList, tempDataDir, uniqueFalcoEvents } from '../helpers/ingest.js';
import { distinctLines, ok, startFaultServer } from '../helpers/ship.js';
import { startLocalIngest } from '../helpers/tail-ingest.js';

/** Every value of `secrets` found in a run's output, with the run's index. */
function leaks(runs: { stdout: string; stderr: string }[], secrets: string[]): string[] {
  return runs.flatMap((r, i) => secrets.filter((s) => `${r.stdout}${r.stderr}`.includes(s)).map((s) => `run ${i}: ${s}`));
}

// A password with a `#` in it (the rest of the URL becomes a fragment, and the port does not
// parse), a bracket, or the secret itself set as the URL.
describe('a URL that does not parse', () => {
  const SECRET = 'config-values-shared-secret-Gh7';
  const PASSWORD = 'url-password-Jd5#Kf2';
  it.each([
    ['a password with a # in it', `https://admin:${PASSWORD}@ingest.example.com/v1/ingest/k8s-audit/acme`],
    ['a password with a [ in it', `https://admin:[${PASSWORD}@ingest.example.com/v1/ingest/k8s-audit/acme`],
    ['the shared secret set as the URL', SECRET],
  ])('is refused without being printed: %s', async (_name, url) => {
    const env = { AISOC_INGEST_URL: url, K8S_AUDIT_SHARED_SECRET: SECRET, AWS_REGION: 'eu-west-1' };
    const runs = [
      await runCli(['tail', '--path', '/nonexistent/audit.log', '--once'], env),
      await runCli(['backfill', '--log-group', '/aws/eks/c/cluster', '--start', '1h'], env),
      await runCli(['redrive', '--queue-url', 'http://127.0.0.1:9/123456789012/q'], env),
      await runCli(['status', '--tenant', 'acme'], env),
      await runCli(['status', '--tenant', 'acme', '--url', url], { K8S_AUDIT_SHARED_SECRET: SECRET }),
    ];

    expect(runs.map((r) => r.code)).toEqual([2, 2, 2, 2, 2]);
    expect(runs.map((r) => /(AISOC_INGEST_URL|--url) (must be an http\(s\) URL|is not a URL)/.test(r.stderr))).toEqual([
      true,
      true,
      true,
      true,
      true,
    ]);
    expect(leaks(runs, [SECRET, 'url-password-Jd5', encodeURIComponent(PASSWORD)])).toEqual([]);
  });
});

// The inbox's URL (the token in its path) or a token pasted after the route: the tailer sends only
// to the tenant route, so it stops at start instead of sending there and logging the URL with
// every failed batch.
describe('tail with AISOC_INGEST_URL on another path', () => {
  const TOKEN = 'aisoc-inbox-token-Wq2Lm8Zt5Rn3';
  it.each([
    ['the inbox route', (base: string) => `${base}/v1/inbox/${TOKEN}`],
    ['a token after the tenant route', (base: string) => `${base}/v1/ingest/k8s-audit/acme/${TOKEN}`],
  ])('refuses %s without sending or printing the token', async (_name, urlOf) => {
    const server = await startFaultServer(() => ok());
    const tmp = tempDataDir('aisoc-config-values-tail-');
    try {
      const log = join(tmp.dir, 'audit.log');
      writeFileSync(log, `${distinctLines(1, 'config-values-tail')[0]}\n`);
      const env = {
        AISOC_INGEST_URL: urlOf(new URL(server.url).origin),
        K8S_AUDIT_SHARED_SECRET: 'config-values-secret-Bx4',
        CLUSTER_NAME: 'c',
      };

      const run = await runCli(['tail', '--path', log, '--cursor', join(tmp.dir, 'cursor'), '--once'], env);

      expect([run.code, server.requests.length]).toEqual([2, 0]);
      expect(run.stderr).toContain('AISOC_INGEST_URL must be the full tenant route');
      expect(leaks([run], [TOKEN, 'config-values-secret-Bx4'])).toEqual([]);
    } finally {
      await server.close();
      tmp.remove();
    }
  });
});

// A generated secret written unquoted into a connector config: one that starts with a YAML
// indicator (`|`, `>`, `*`) is not a string, and yaml's message for it quoted the whole token.
describe('a connector config whose secret breaks the YAML', () => {
  const SECRET = 'Zr8Lq3Vn6-connector-secret';
  it.each(['|', '>', '*'])('is refused with the position, not the text: a secret starting with %s', async (indicator) => {
    const tmp = tempDataDir('aisoc-config-values-yaml-');
    try {
      const file = join(tmp.dir, 'connector.yaml');
      writeFileSync(
        file,
        `mode: file_tail\ncluster_name: c\naudit_log_path: ${join(tmp.dir, 'audit.log')}\nshared_secret: ${indicator}${SECRET}\n`,
      );
      const runs = [
        await runCli(['test-connection', '--config', file], {}),
        await runCli(['tail', '--config', file, '--once'], {}),
        await runCli(['connector', 'run', '--config', file, '--once'], {}),
      ];

      expect(runs.map((r) => r.code)).toEqual([2, 2, 2]);
      expect(runs.map((r) => r.stderr.includes(`cannot parse ${file}: the text is not valid YAML`))).toEqual([true, true, true]);
      expect(leaks(runs, [SECRET.slice(0, 8)])).toEqual([]);
    } finally {
      tmp.remove();
    }
  });

  // `openssl rand -base64` never prints `!`, but a password manager's generator may. Before, yaml
  // read `!…` as a tag: the field became empty, test-connection said "ingest route not checked:
  // set shared_secret", and yaml's process warning printed the line, secret and all, to stderr.
  it('is refused naming the field and place, not the value: a secret starting with ! (a YAML tag)', async () => {
    const tmp = tempDataDir('aisoc-config-values-yaml-');
    const bundle = await buildCliBundle(PROJECT_CACHE, 'aisoc-yaml-tag-');
    try {
      const file = join(tmp.dir, 'connector.yaml');
      writeFileSync(
        file,
        `mode: file_tail\ncluster_name: c\naudit_log_path: ${join(tmp.dir, 'audit.log')}\ningest_url: http://127.0.0.1:9/v1/ingest/k8s-audit/acme\nshared_secret: !${SECRET}\n`,
      );
      const runs = [
        await runBuiltCli(bundle.cli, ['test-connection', '--config', file]),
        await runCli(['tail', '--config', file, '--once'], {}),
        await runCli(['connector', 'run', '--config', file, '--once'], {}),
      ];

      const said = `cannot parse ${file}: the value of shared_secret at line 5, column 16 starts with !, which YAML reads as a tag, not text: quote it (shared_secret: "!...")`;
      expect(runs.map((r) => [r.code, r.stderr.includes(said)])).toEqual(Array(3).fill([2, true]));
      // The bundled process's whole stderr: the one line, no yaml warning after it.
      expect(runs[0]?.stderr.trim()).toBe(said);
      expect(leaks(runs, [SECRET.slice(0, 8)])).toEqual([]);
    } finally {
      bundle.cleanup();
      tmp.remove();
    }
  });

  it("keeps yaml's own words when they quote nothing of the file", async () => {
    const tmp = tempDataDir('aisoc-config-values-yaml-');
    try {
      const file = join(tmp.dir, 'connector.yaml');
      writeFileSync(file, `mode: webhook\ncluster_name: c\nshared_secret: "${SECRET}\n`);
      const run = await runCli(['test-connection', '--config', file], {});
      expect([run.code, run.stderr.trim()]).toEqual([2, `cannot parse ${file}: Missing closing "quote at line 4, column 1`]);
    } finally {
      tmp.remove();
    }
  });
});

// An SQS queue URL has no user, password, query or fragment; one written with them was printed
// whole by the AWS SDK's warning that the queue's host differs from the client's endpoint, and
// kept in redrive's set-aside file. Both readers of a queue URL refuse it at start (exit 2).
describe('an SQS queue URL with a credential in it', () => {
  const [USER, PASSWORD, QUERY] = ['queue-user-Hs4', 'queue-password-Kp7', 'queue-query-Mx2'];
  const urls = [
    `https://${USER}:${PASSWORD}@127.0.0.1:9/123456789012/failures`,
    `https://127.0.0.1:9/123456789012/failures?X-Amz-Security-Token=${QUERY}`,
    `https://127.0.0.1:9/123456789012/failures#${QUERY}`,
    `http://[${PASSWORD}/123456789012/failures`,
  ];
  it.each(urls)('is refused by redrive --queue-url and the ingest sinks: %s', async (url) => {
    const tmp = tempDataDir('aisoc-config-values-sqs-');
    try {
      const env = {
        AISOC_INGEST_URL: 'http://127.0.0.1:9/v1/ingest/k8s-audit/acme',
        K8S_AUDIT_SHARED_SECRET: 'config-values-secret-Bx4',
        AWS_REGION: 'eu-west-1',
        // Loopback only, should a regression let a call through.
        AWS_ENDPOINT_URL: 'http://127.0.0.1:9',
      };
      const setAside = join(tmp.dir, 'set-aside.jsonl');
      const runs = [
        await runCli(['redrive', '--queue-url', url, '--set-aside', setAside], env),
        await runCli(['serve', '--port', '0', '--data-dir', tmp.dir], { ...env, EVENTS_SINK: 'stdout', ALERTS_SINK: `sqs:${url}` }),
        await runCli(['serve', '--port', '0', '--data-dir', tmp.dir], { ...env, EVENTS_SINK: 'stdout', REJECTS_SINK: `sqs:${url}` }),
      ];

      expect(runs.map((r) => r.code)).toEqual([2, 2, 2]);
      expect(
        runs.map((r) => /(--queue-url|ALERTS_SINK sqs target|REJECTS_SINK sqs target) must be an SQS queue URL/.test(r.stderr)),
      ).toEqual([true, true, true]);
      expect(leaks(runs, [USER, PASSWORD, QUERY])).toEqual([]);
      expect(existsSync(setAside)).toBe(false);
    } finally {
      tmp.remove();
    }
  });
});

// The shared secret given as the cluster name: both of the nginx front's headers set to the secret,
// or a tailer's CLUSTER_NAME / --cluster. Stored, it would be in every record and request line.
describe('the shared secret as the cluster name', () => {
  const SECRET = 'cluster-as-secret-Qd3Wm7';
  it('is refused by the ingest (header or ?cluster=) with nothing stored or logged, and by tail at start', async () => {
    const tmp = tempDataDir('aisoc-config-values-cluster-');
    const logs: Record<string, unknown>[] = [];
    const ingest = await startLocalIngest(join(tmp.dir, 'data'), SECRET, (e) => logs.push(e));
    try {
      const body = eventList(uniqueFalcoEvents().slice(0, 2));
      const post = (path: string, headers: Record<string, string>) =>
        fetch(`${ingest.url}${path}`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', 'X-AiSOC-K8s-Token': SECRET, ...headers },
          body,
        });
      const answers = [
        await post('/v1/ingest/k8s-audit/acme', { 'X-AiSOC-Cluster-Name': SECRET }),
        await post(`/v1/ingest/k8s-audit/acme?cluster=${SECRET}`, {}),
      ];
      const log = join(tmp.dir, 'audit.log');
      writeFileSync(log, `${distinctLines(1, 'cluster-as-secret')[0]}\n`);
      const env = { AISOC_INGEST_URL: `${ingest.url}/v1/ingest/k8s-audit/acme`, K8S_AUDIT_SHARED_SECRET: SECRET };
      const runs = [
        await runCli(['tail', '--path', log, '--cursor', join(tmp.dir, 'c1'), '--once'], { ...env, CLUSTER_NAME: SECRET }),
        await runCli(['tail', '--path', log, '--cursor', join(tmp.dir, 'c2'), '--once', '--cluster', SECRET], env),
      ];

      expect(answers.map((r) => r.status)).toEqual([400, 400]);
      expect((await answers[0]?.json()) as unknown).toEqual({
        error:
          'the cluster name is a secret of this installation: X-AiSOC-Cluster-Name (or ?cluster=) names the cluster, the X-AiSOC-K8s-Token header carries the secret',
      });
      expect(runs.map((r) => r.code)).toEqual([2, 2]);
      expect(runs.map((r) => /(CLUSTER_NAME|--cluster) is the shared secret/.test(r.stderr))).toEqual([true, true]);
      expect(leaks(runs, [SECRET])).toEqual([]);
      expect(JSON.stringify(logs)).not.toContain(SECRET);
      const store = openEventStore(join(tmp.dir, 'data'));
      try {
        expect(store.queryEvents({ tenant: 'acme' })).toEqual([]);
      } finally {
        store.close();
      }
    } finally {
      await ingest.close();
      tmp.remove();
    }
  });

  // Before, both read their input first (CloudWatch Logs, SQS) and sent --cluster as the header on
  // every batch; the ingest's 400 kept it out of the store, but the command's log named it.
  it('is refused by backfill --cluster and redrive --cluster at start, before any AWS call', async () => {
    const env = {
      AISOC_INGEST_URL: 'http://127.0.0.1:9/v1/ingest/k8s-audit/acme',
      K8S_AUDIT_SHARED_SECRET: SECRET,
      AWS_REGION: 'eu-west-1',
      // Loopback only, should a regression let a call through.
      AWS_ENDPOINT_URL: 'http://127.0.0.1:9',
      AWS_ACCESS_KEY_ID: 'testing',
      AWS_SECRET_ACCESS_KEY: 'testing',
    };
    const runs = [
      await runCli(['backfill', '--log-group', '/aws/eks/prod/cluster', '--start', '1h', '--cluster', SECRET], env),
      await runCli(['redrive', '--queue-url', 'http://127.0.0.1:9/123456789012/failures', '--cluster', SECRET], env),
      // A name that cannot be a header (a trailing space) is refused the same way, as tail does.
      await runCli(['backfill', '--log-group', '/aws/eks/prod/cluster', '--start', '1h', '--cluster', 'prod '], env),
    ];

    expect(runs.map((r) => [r.code, r.stdout, r.stderr.split('\n')[0]])).toEqual([
      [
        2,
        '',
        'aisoc-k8s-audit backfill: --cluster is the shared secret: it names the cluster (sent as X-AiSOC-Cluster-Name), X-AiSOC-K8s-Token carries the secret',
      ],
      [
        2,
        '',
        'aisoc-k8s-audit redrive: --cluster is the shared secret: it names the cluster (sent as X-AiSOC-Cluster-Name), X-AiSOC-K8s-Token carries the secret',
      ],
      [
        2,
        '',
        'aisoc-k8s-audit backfill: --cluster must be 1-256 printable ASCII characters without leading or trailing spaces (it is sent as the X-AiSOC-Cluster-Name header)',
      ],
    ]);
    expect(leaks(runs, [SECRET])).toEqual([]);
  }, 60_000);
});
