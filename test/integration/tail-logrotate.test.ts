import { execFileSync } from 'node:child_process';
import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileTailer } from '../../lib/tail/index.js';
import { hasCommand } from '../helpers/host.js';
import { eventString } from '../helpers/legacy-audit.js';
import { asFile, RecordingShipper, tempDir, uniqueEvents } from '../helpers/tail.js';

// The tailer against the real logrotate (Debian's package): its own renames, copies and
// truncations, not a test's imitation of them. Skipped where logrotate is not installed.
const hasLogrotate = hasCommand('logrotate');

let tmp: { dir: string; cleanup: () => void };
let logPath: string;

beforeEach(() => {
  tmp = tempDir('aisoc-tail-logrotate-');
  logPath = join(tmp.dir, 'audit.log');
});

afterEach(() => tmp.cleanup());

/** Runs `logrotate -f` once with this stanza for the audit log (its state file beside it, named `<stem>`.state). */
function logrotate(directives: string, stem = 'logrotate'): void {
  const conf = join(tmp.dir, `${stem}.conf`);
  writeFileSync(conf, `${logPath} {\n  rotate 5\n  missingok\n${directives}\n}\n`, { mode: 0o644 });
  execFileSync('logrotate', ['-f', '-s', join(tmp.dir, `${stem}.state`), conf], { stdio: 'pipe' });
}

describe.skipIf(!hasLogrotate)('the tailer and a log logrotate rotated twice between two polls', () => {
  // logrotate's own state and configuration away from the log (as /var/lib/logrotate and
  // /etc/logrotate.d are), or beside it under the log's name (audit.logrotate.state): written at
  // each rotation, after the rotated file, and sharing the log's stem, they are no rotation of it
  // and none of their lines may be read as one.
  it.each([
    ['create', 'logrotate'],
    ['copytruncate', 'logrotate'],
    ['create', 'audit.logrotate'],
    ['copytruncate', 'audit.logrotate'],
  ])(
    'with %s, its own files named %s.*: every event of both rotated files and the new one is shipped once, in order',
    async (mode, stem) => {
      const shipper = new RecordingShipper();
      const tailer = new FileTailer({ logPath, cursorPath: `${logPath}.aisoc-cursor`, maxBytes: 8 * 1024 * 1024, ship: shipper.ship });
      const a = uniqueEvents(4, `${mode}-${stem}-a`);
      const b = uniqueEvents(3, `${mode}-${stem}-b`);
      const c = uniqueEvents(2, `${mode}-${stem}-c`);
      writeFileSync(logPath, asFile(a.slice(0, 1)));
      await tailer.poll();
      appendFileSync(logPath, asFile(a.slice(1)));
      logrotate(`  ${mode}`, stem);
      appendFileSync(logPath, asFile(b));
      logrotate(`  ${mode}`, stem);
      appendFileSync(logPath, asFile(c));

      const r = await tailer.poll();

      expect(r.files).toEqual([`${logPath}.2`, `${logPath}.1`, logPath]);
      expect(r.invalid).toBe(0);
      expect(shipper.shipped).toEqual([...a, ...b, ...c]);
      expect(r.complete).toBe(true);
    },
  );
});

describe.skipIf(!hasLogrotate)('the tailer and a legacy-format log logrotate rotated between two polls', () => {
  // kube-apiserver --audit-log-format=legacy (lib/audit/legacy.ts): its rotated files start with a
  // legacy line's time, not `{`, and are the log's rotations all the same; logrotate's state beside
  // the log is still none.
  it('ships every event of both rotated files and the new one, once, in order', async () => {
    const shipper = new RecordingShipper();
    const tailer = new FileTailer({ logPath, cursorPath: `${logPath}.aisoc-cursor`, maxBytes: 8 * 1024 * 1024, ship: shipper.ship });
    const line = (id: string) =>
      eventString(
        {
          auditID: id,
          stage: 'ResponseComplete',
          verb: 'get',
          user: { username: 'admin' },
          requestURI: '/api/v1/namespaces/default/pods/web',
          responseStatus: { code: 200 },
        },
        '2024-01-02T03:04:05.000006Z',
      );
    writeFileSync(logPath, `${line('l-0')}\n`);
    await tailer.poll();
    appendFileSync(logPath, `${line('l-1')}\n${line('l-2')}\n`);
    logrotate('  create', 'audit.logrotate');
    appendFileSync(logPath, `${line('l-3')}\n`);
    logrotate('  create', 'audit.logrotate');
    appendFileSync(logPath, `${line('l-4')}\n`);

    const r = await tailer.poll();

    // audit.log.1 was rotated after the cursor's file: read only if it starts as the log does.
    expect(r.files).toEqual([`${logPath}.2`, `${logPath}.1`, logPath]);
    expect(r.invalid).toBe(0);
    expect(shipper.shipped.map((s) => (JSON.parse(s) as { auditID: string }).auditID)).toEqual(['l-0', 'l-1', 'l-2', 'l-3', 'l-4']);
  });
});
