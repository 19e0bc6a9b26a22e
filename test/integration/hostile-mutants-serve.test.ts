// 200 real public events bent as a hostile client or an odd apiserver could (test/helpers/mutants.ts:
// fields of another JSON type, JSON patches of odd paths, bodies that are lists or text, null
// security contexts, labels as lists), posted as one EventList to a running `serve`, then read back
// as a user reads them: none may vanish. Each is stored (`events`) or rejected with a reason
// (the answer's `errors`, and `rejected`).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { tempDataDir } from '../helpers/ingest.js';
import { mutantOf, seedEvents } from '../helpers/mutants.js';
import { findingErrors } from '../helpers/ocsf.js';
import { cliJson, throughServe } from '../helpers/through-serve.js';

const SECRET = 'hostile-mutants-secret-0123456789';
const BATCH = 200;

interface Rejected {
  index: number;
  audit_id: string | null;
  reason: string;
}

describe('a batch of 200 bent real events through serve', () => {
  it('is answered 200; every item is stored or rejected with a reason; every alert a valid finding; no prototype polluted', async () => {
    const mutants = fc.sample(mutantOf(seedEvents()), { numRuns: BATCH, seed: 20261207 }).map(({ event }, i) =>
      // A unique auditID where the mutant kept a string one, so each stored record is found by it.
      typeof event.auditID === 'string' ? { ...event, auditID: `mutant-${i}` } : event,
    );
    const tmp = tempDataDir('hostile-mutants');
    try {
      const got = await throughServe(tmp.dir, SECRET, 'mutants', mutants);
      const rejected = await cliJson<Rejected>(['rejected', '--json', '--limit', '1000', '--data-dir', tmp.dir]);
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      // The envelope is a valid EventList, so the batch is answered 200 and its items one by one.
      expect(got.status).toBe(200);
      const answer = got.answer as { accepted: number; rejected: number; duplicates: number; errors: { index: number; reason: string }[] };
      expect(answer.accepted + answer.rejected + answer.duplicates).toBe(BATCH);
      expect(got.records).toHaveLength(answer.accepted);
      expect(rejected).toHaveLength(answer.rejected);
      for (const r of [...answer.errors, ...rejected]) expect(r.reason).toMatch(/\S/);
      const rejectedAt = new Set(rejected.map((r) => r.index));
      const stored = new Set(got.records.map((r) => r.audit_id));
      const lost = mutants.flatMap((m, i) => ((typeof m.auditID === 'string' && stored.has(m.auditID)) || rejectedAt.has(i) ? [] : [i]));
      expect(lost).toEqual([]);
      for (const a of got.alerts) expect(findingErrors(a.finding), a.audit_id).toEqual([]);
      // The batch tries both ways out and the alert path (seed 20261207: 152 stored, 48 rejected, 29 alerts).
      expect([answer.accepted > 0, answer.rejected > 0, got.alerts.length > 0]).toEqual([true, true, true]);
    } finally {
      tmp.remove();
    }
  }, 120_000);
});
