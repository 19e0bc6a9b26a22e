import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../lib/config/env.js';
import { loadTailConfig } from '../../../lib/config/tail.js';

const base = { AISOC_INGEST_URL: 'https://aisoc.example/v1/ingest/k8s-audit/acme', K8S_AUDIT_SHARED_SECRET: 's3cret' };

describe('loadTailConfig', () => {
  it("applies the connector documentation's defaults: 8 MiB per poll, a poll every 300 s", () => {
    const c = loadTailConfig(base);

    expect(c).toMatchObject({
      ingestUrl: base.AISOC_INGEST_URL,
      token: 's3cret',
      clusterName: null,
      path: null,
      cursorPath: null,
      maxBytes: 8 * 1024 * 1024,
      intervalSeconds: 300,
      batchEvents: 5000,
      concurrency: 2,
      gzip: false,
    });
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('reads the overrides', () => {
    const c = loadTailConfig({
      ...base,
      CLUSTER_NAME: 'lab',
      AISOC_TAIL_PATH: '/logs/audit.log',
      AISOC_TAIL_CURSOR: '/state/audit.cursor',
      AISOC_TAIL_MAX_BYTES: '65536',
      AISOC_TAIL_INTERVAL_SECONDS: '30',
      AISOC_TAIL_GZIP: 'true',
      AISOC_TAIL_CONCURRENCY: '4',
      AISOC_TAIL_BATCH_EVENTS: '400',
    });

    expect(c).toMatchObject({
      clusterName: 'lab',
      path: '/logs/audit.log',
      cursorPath: '/state/audit.cursor',
      maxBytes: 65536,
      intervalSeconds: 30,
      concurrency: 4,
      batchEvents: 400,
      gzip: true,
    });
  });

  it('names every missing or invalid variable in one error', () => {
    let error: unknown;
    try {
      loadTailConfig({
        AISOC_TAIL_MAX_BYTES: '10',
        AISOC_TAIL_INTERVAL_SECONDS: 'soon',
        AISOC_TAIL_CONCURRENCY: '0',
        AISOC_TAIL_BATCH_EVENTS: '0',
      });
    } catch (err) {
      error = err;
    }

    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems).toEqual([
      "AISOC_INGEST_URL is required (the ingest's full tenant route, https://<host>/v1/ingest/k8s-audit/<tenant_id>)",
      'K8S_AUDIT_SHARED_SECRET is required (the shared secret the ingest service checks in X-AiSOC-K8s-Token)',
      'AISOC_TAIL_MAX_BYTES must be an integer between 1024 and 268435456, got "10"',
      'AISOC_TAIL_BATCH_EVENTS must be an integer between 1 and 100000, got "0"',
      'AISOC_TAIL_CONCURRENCY must be an integer between 1 and 16, got "0"',
      'AISOC_TAIL_INTERVAL_SECONDS must be an integer between 1 and 86400, got "soon"',
    ]);
  });
});
