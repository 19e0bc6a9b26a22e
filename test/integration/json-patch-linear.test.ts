// The rules read a JSON patch (`kubectl patch --type=json`) as the object it sets
// (jsonPatchView in lib/rules/engine.ts), copying a value of the event before writing into it so
// the record keeps the patch as sent. Copied once per op, a patch of n ops into one value of n
// keys cost n² key copies: 5,000 ops took 17 s in one scoring, a stall any requester allowed to
// patch could cause with a 300 KB body. Each value is now copied once. The built CLI runs in a
// process of its own, killed at the bound, so a return of the quadratic copy fails this test
// instead of blocking a test worker in synchronous code.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCliBundle, PROJECT_CACHE, runBuiltCli } from '../helpers/cli-bundle.js';
import { FALCO_DIR } from '../helpers/fixtures.js';

const OPS = 10_000;

let bundle: { cli: string; cleanup: () => void };

beforeAll(async () => {
  bundle = await buildCliBundle(PROJECT_CACHE, 'aisoc-json-patch-linear-cli-');
});

afterAll(() => {
  bundle?.cleanup();
});

describe('a JSON patch of many operations into one value', () => {
  it('is scored in bounded time and stored as it was sent', { timeout: 120_000 }, async () => {
    // A Deployment as a real apiserver logged its create (Falco's trace), patched instead: the
    // first op sets the pod template's labels to a map of OPS keys, each later op adds one more.
    const created = JSON.parse(readFileSync(join(FALCO_DIR, 'create_deployment.json'), 'utf8'));
    const labels: Record<string, string> = {};
    for (let i = 0; i < OPS; i++) labels[`k${i}`] = 'v';
    const patch = [
      { op: 'add', path: '/spec/template/metadata/labels', value: labels },
      ...Array.from({ length: OPS }, (_, i) => ({ op: 'add', path: `/spec/template/metadata/labels/n${i}`, value: 'v' })),
      { op: 'add', path: '/spec/template/spec/hostPID', value: true },
    ];
    const event = { ...created, verb: 'patch', auditID: 'json-patch-linear', requestObject: patch, responseObject: undefined };

    const r = await runBuiltCli(bundle.cli, ['normalise'], { stdin: JSON.stringify(event), timeoutMs: 30_000 });

    expect(r.stderr).toContain('normalised 1, rejected 0');
    const record = JSON.parse(r.stdout.trim());
    // The rules read the patch (its last op sets hostPID) ...
    expect(record.severity).toBe('high');
    expect(record.rule_ids).toContain('host-pid-or-ipc');
    // ... and the record keeps it as sent: the first op's map holds its own keys only.
    expect(record.raw_event.requestObject).toEqual(patch);
  });
});
