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
    const lines = distinctLines(8);
    const whole = lines.slice(0, 6);
    // evt-6 cut near its end (EKS appends [Truncated...]), evt-7 cut before its auditID.
    const cut = truncateLine(lines[6] as string, (lines[6] as string).length - 40);
    const file = saved(awslogsEvent(eksPayload([...whole, cut, truncateLine(lines[7] as string, 20)], { cluster: 'prod-eks' })));

    const { code, records, stderr } = await normalise(['--tenant', 'acme', file]);

    // The cut line comes out as the forwarder sends it: the members before the cut, flagged truncated.
    expect(records.map((r) => r.audit_id)).toEqual([...whole.map((_, i) => `evt-${i}`), 'evt-6']);
    for (const r of records) {
      expect(r.cluster_name).toBe('prod-eks');
      expect(ocsfErrors(r.ocsf)).toEqual([]);
      expect((r.ocsf as { cloud?: { account?: { uid?: string } } }).cloud?.account?.uid).toBe(OWNER);
    }
    const salvaged = records[6] as NormalisedRecord;
    expect(salvaged.raw_event.annotations).toMatchObject({ 'audit.k8s.io/truncated': 'true' });
    expect(salvaged.k8s_resource).toBe(JSON.parse(lines[6] as string).objectRef.resource);
    expect(stderr).toMatch(/kube-apiserver-audit-\w+ event \d+: line truncated by EKS/);
    expect(stderr).toMatch(/normalised 7, rejected 1\n$/);
    expect(code).toBe(1);
  });
});
