import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { NormalisedRecord } from '../../../lib/audit/index.js';
import { readSubscriptionFile } from '../../../lib/cloudwatch/index.js';
import { runCli } from '../../helpers/cli.js';
import { awslogsEvent, controlPayload, eksPayload, kinesisEvent, OWNER, truncateLine } from '../../helpers/envelopes.js';
import { ocsfErrors } from '../../helpers/ocsf.js';
import { distinctLines } from '../../helpers/ship.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function saved(event: unknown): string {
  const dir = mkdtempSync(join(tmpdir(), 'aisoc-cwl-'));
  dirs.push(dir);
  const file = join(dir, 'event.json');
  writeFileSync(file, JSON.stringify(event, null, 2));
  return file;
}

async function normalise(argv: string[]): Promise<{ code: number; records: NormalisedRecord[]; stderr: string }> {
  const { code, stdout, stderr } = await runCli(['normalise', ...argv]);
  const records = stdout
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as NormalisedRecord);
  return { code, records, stderr };
}

describe('readSubscriptionFile', () => {
  it('returns null for anything that is not a saved forwarder event', () => {
    expect(readSubscriptionFile(distinctLines(1)[0] as string)).toBeNull();
    expect(readSubscriptionFile('{"kind":"EventList","items":[]}')).toBeNull();
    expect(readSubscriptionFile('{"Records": "nope"}')).toBeNull();
  });

  it('reads the audit events of a Kinesis event, with account, region and cluster', () => {
    const lines = distinctLines(4);

    const contents = readSubscriptionFile(JSON.stringify(kinesisEvent([controlPayload(), eksPayload(lines, { cluster: 'blue' })])));

    expect(contents?.clusterName).toBe('blue');
    expect(contents?.source).toEqual({ platform: 'eks', accountId: OWNER, region: 'eu-west-1' });
    expect(contents?.parsed.events).toEqual(lines.map((l) => JSON.parse(l)));
  });
});

describe('aisoc-k8s-audit normalise on a saved subscription event', () => {
  it('normalises the EKS audit events inside to schema-valid records with cluster and account', async () => {
    const lines = distinctLines(6);
    const file = saved(awslogsEvent(eksPayload([...lines, truncateLine(lines[0] as string)], { cluster: 'prod-eks' })));

    const { code, records, stderr } = await normalise(['--tenant', 'acme', file]);

    expect(records.map((r) => r.audit_id)).toEqual(lines.map((_, i) => `evt-${i}`));
    for (const r of records) {
      expect(r.cluster_name).toBe('prod-eks');
      expect(ocsfErrors(r.ocsf)).toEqual([]);
      expect((r.ocsf as { cloud?: { account?: { uid?: string } } }).cloud?.account?.uid).toBe(OWNER);
    }
    expect(stderr).toMatch(/\(auditID evt-0\): kube-apiserver-audit-\w+ event \d+: line truncated by EKS/);
    expect(stderr).toMatch(/normalised 6, rejected 1\n$/);
    expect(code).toBe(1);
  });
});
