import { describe, expect, it } from 'vitest';
import { ConnectorConfigError, describeConnectorConfig, parseConnectorConfig } from '../../../lib/tail/index.js';

function problemsOf(value: unknown, env: Record<string, string> = {}): string[] {
  try {
    parseConnectorConfig(value, { env });
  } catch (err) {
    if (err instanceof ConnectorConfigError) return err.problems;
    throw err;
  }
  return [];
}

describe('parseConnectorConfig', () => {
  it("applies the connector documentation's defaults to a minimal webhook instance", () => {
    const c = parseConnectorConfig({ mode: 'webhook', cluster_name: 'prod-eks-us-east-1' });

    expect(c).toEqual({
      mode: 'webhook',
      cluster_name: 'prod-eks-us-east-1',
      webhook_route: 'dedicated',
      inbox_token: null,
      audit_log_path: '/var/log/kubernetes/audit/audit.log',
      cursor_path: '/var/log/kubernetes/audit/audit.log.aisoc-cursor',
      poll_interval_seconds: 300,
      ingest_url: null,
      shared_secret: null,
      capabilities: ['PULL_AUDIT', 'PULL_ALERTS'],
    });
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('derives the cursor path from the audit log path, also when the cursor path is blank', () => {
    const c = parseConnectorConfig({ mode: 'file_tail', cluster_name: 'lab', audit_log_path: '/logs/audit.log', cursor_path: '  ' });

    expect(c.cursor_path).toBe('/logs/audit.log.aisoc-cursor');
  });

  it('keeps a dedicated cursor path and a custom poll interval', () => {
    const c = parseConnectorConfig({
      mode: 'file_tail',
      cluster_name: 'lab',
      cursor_path: '/var/lib/aisoc/k8s-audit/audit.cursor',
      poll_interval_seconds: '60',
    });

    expect(c.cursor_path).toBe('/var/lib/aisoc/k8s-audit/audit.cursor');
    expect(c.poll_interval_seconds).toBe(60);
  });

  it('uses the legacy inbox route when a token is given', () => {
    const c = parseConnectorConfig({ mode: 'webhook', cluster_name: 'lab', inbox_token: 'aik8s_abcdefghijklmnop' });

    expect(c.webhook_route).toBe('inbox');
  });

  it('requires the token on the legacy inbox route', () => {
    expect(problemsOf({ mode: 'webhook', cluster_name: 'lab', webhook_route: 'inbox' })).toEqual([
      'inbox_token is required in webhook mode',
    ]);
  });

  it('names every invalid field in one error', () => {
    const problems = problemsOf({
      mode: 'stream',
      cluster_name: ' padded ',
      audit_log_path: 'relative/audit.log',
      poll_interval_seconds: 1.5,
      ingest_url: 'ftp://host/x',
      capabilities: ['PULL_AUDIT', 'BLOCK'],
      extra: true,
    });

    expect(problems).toEqual([
      'unknown field "extra" (the fields are mode, cluster_name, webhook_route, inbox_token, audit_log_path, cursor_path, poll_interval_seconds, ingest_url, shared_secret, capabilities)',
      'mode must be webhook or file_tail, got "stream"',
      'cluster_name must be 1-256 printable ASCII characters without leading or trailing spaces',
      'audit_log_path must be an absolute path, got "relative/audit.log"',
      'poll_interval_seconds must be an integer between 1 and 86400, got 1.5',
      'ingest_url must be an http(s) URL (the full /v1/ingest/k8s-audit/<tenant_id> route)',
      'capabilities BLOCK not supported: Kubernetes audit logs are passive (PULL_AUDIT, PULL_ALERTS only)',
    ]);
  });

  it('requires mode and cluster_name', () => {
    expect(problemsOf({})).toEqual([
      'mode is required (webhook or file_tail)',
      'cluster_name is required (a human-readable cluster identifier, e.g. prod-eks-us-east-1; or set CLUSTER_NAME)',
    ]);
  });

  it('refuses a config that is not an object', () => {
    expect(problemsOf(['webhook'])).toEqual(['the connector config must be an object (a JSON object or a YAML mapping)']);
  });

  it('takes the ingest URL and secret from the environment when the file leaves them out', () => {
    const c = parseConnectorConfig(
      { mode: 'webhook', cluster_name: 'lab' },
      { env: { AISOC_INGEST_URL: 'https://aisoc.example/v1/ingest/k8s-audit/acme', K8S_AUDIT_SHARED_SECRET: 's3cret' } },
    );

    expect(c.ingest_url).toBe('https://aisoc.example/v1/ingest/k8s-audit/acme');
    expect(c.shared_secret).toBe('s3cret');
  });

  it('names the variable when the URL from the environment is bad', () => {
    expect(problemsOf({ mode: 'webhook', cluster_name: 'lab' }, { AISOC_INGEST_URL: 'not a url' })).toEqual([
      'AISOC_INGEST_URL must be an http(s) URL (the full /v1/ingest/k8s-audit/<tenant_id> route)',
    ]);
  });
});

describe('describeConnectorConfig', () => {
  it('shows whether the token and the secret are set, never their values', () => {
    const c = parseConnectorConfig({
      mode: 'webhook',
      cluster_name: 'lab',
      inbox_token: 'aik8s_tokentokentoken',
      shared_secret: 'hunter2hunter2',
    });

    const shown = JSON.stringify(describeConnectorConfig(c));

    expect(shown).not.toContain('aik8s_tokentokentoken');
    expect(shown).not.toContain('hunter2hunter2');
    expect(shown).toContain('"inbox_token":"<set>"');
  });
});
