import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AuditEvent, type NormalisedRecord, normaliseAuditEvent } from '../../lib/audit/index.js';
import { main } from '../../lib/cli/main.js';
import { DEV_CONSOLE_TOKEN_FILE, DEV_SECRET_FILE, run as serve } from '../../lib/cli/serve.js';
import { openEventStore, SqliteSink } from '../../lib/sinks/sqlite.js';
import { captureIo } from '../helpers/cli.js';
import { buildCliBundle, PROJECT_CACHE } from '../helpers/cli-bundle.js';
import { hasCommand } from '../helpers/host.js';
import { outgoingRecords, runCli, tempDataDir, uniqueFalcoEvents } from '../helpers/ingest.js';

const execFileAsync = promisify(execFile);
const hasCurl = hasCommand('curl');

/** Runs `serve` in-process until `stop()`; stdout/stderr are collected as they come. */
function startServe(argv: string[], env: Record<string, string>) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (c: Buffer) => {
    out += c.toString();
  });
  stderr.on('data', (c: Buffer) => {
    err += c.toString();
  });
  const abort = new AbortController();
  const stdin = new PassThrough();
  const done = serve(argv, { stdout, stderr, stdin, env, signal: abort.signal });
  const url = async (): Promise<string> => {
    for (let i = 0; i < 200; i++) {
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out + err);
      if (m?.[1]) return m[1];
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error(`serve did not start: ${out}${err}`);
  };
  const stop = async (): Promise<number> => {
    abort.abort();
    return done;
  };
  return { url, out: () => out, err: () => err, stop };
}

describe('aisoc-k8s-audit serve', () => {
  it('in --dev mode creates a 0600 secret in the data dir, never prints it, and prints a curl smoke test that works as printed', async () => {
    const tmp = tempDataDir();
    // A data dir whose path needs quoting in sh: the printed command must still work as printed.
    const dataDir = join(tmp.dir, "it's data");
    const s = startServe(['--dev', '--port', '0', '--data-dir', dataDir], {});
    try {
      const url = await s.url();
      const secretFile = join(dataDir, DEV_SECRET_FILE);
      const printed = s.out();
      const curl = printed.slice(printed.indexOf('curl -X POST'), printed.indexOf('items":[]}\'') + 'items":[]}\''.length);

      expect(statSync(secretFile).mode & 0o777).toBe(0o600);
      const secret = readFileSync(secretFile, 'utf8').trim();
      expect(secret).toMatch(/^[A-Za-z0-9+/]{43}=$/);
      expect(s.out() + s.err()).not.toContain(secret);
      expect(printed).toContain(`uses the secret created in ${secretFile} (mode 0600; never printed)`);
      expect(printed).toContain(`curl -X POST ${url}/v1/ingest/k8s-audit/dev`);
      expect(curl).toContain('-H "Content-Type: application/json"');
      if (hasCurl) {
        const { stdout } = await execFileAsync('sh', ['-c', curl.replace(/\\\n/g, ' ')]);
        expect(JSON.parse(stdout)).toEqual({ accepted: 0, rejected: 0, duplicates: 0, errors: [] });
      }
    } finally {
      expect(await s.stop()).toBe(0);
      tmp.remove();
    }
  });

  it('prints the console URL, with a console token in --dev mode that logs in; --no-console and a cloud sink leave it out', async () => {
    const login = (url: string, secret: string) =>
      fetch(`${url}/console/api/login`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ tenant: 'dev', secret }),
      });
    const tmp = tempDataDir();
    try {
      const dev = startServe(['--dev', '--port', '0', '--data-dir', tmp.dir], {});
      const devUrl = await dev.url();
      const tokenFile = join(tmp.dir, DEV_CONSOLE_TOKEN_FILE);
      const printed = /Console: (\S+) \(log in with tenant dev and the console token: cat '([^']+)'; or the shared secret\)/.exec(
        dev.out(),
      );
      expect(printed?.[1]).toBe(`${devUrl}/console/`);
      expect(printed?.[2]).toBe(tokenFile);
      // The token is in its 0600 file, never in what serve printed.
      expect(statSync(tokenFile).mode & 0o777).toBe(0o600);
      const token = readFileSync(tokenFile, 'utf8').trim();
      expect(token).toMatch(/^[A-Za-z0-9_-]{32}$/);
      expect(dev.out() + dev.err()).not.toContain(token);
      expect((await login(devUrl, token)).status).toBe(200);
      expect(await dev.stop()).toBe(0);
      expect(existsSync(tokenFile)).toBe(false);

      const plain = startServe(['--port', '0', '--data-dir', tmp.dir], { K8S_AUDIT_SHARED_SECRET: 'serve-secret-123' });
      const plainUrl = await plain.url();
      expect(plain.out()).toContain(`Console: ${plainUrl}/console/ (log in with a tenant id and the shared secret)`);
      // A token from an earlier dev run does not outlive it.
      expect((await login(plainUrl, token)).status).toBe(401);
      expect((await login(plainUrl, 'serve-secret-123')).status).toBe(200);
      await plain.stop();

      for (const [argv, env] of [
        [['--no-console'], { K8S_AUDIT_SHARED_SECRET: 'serve-secret-123' }],
        [[], { K8S_AUDIT_SHARED_SECRET: 'serve-secret-123', EVENTS_SINK: 'stdout' }],
      ] as const) {
        const off = startServe([...argv, '--port', '0', '--data-dir', tmp.dir], env);
        const offUrl = await off.url();
        expect(off.out() + off.err()).not.toContain('Console:');
        expect((await login(offUrl, 'serve-secret-123')).status).toBe(404);
        await off.stop();
      }
    } finally {
      tmp.remove();
    }
  });

  it("a second --dev serve on a running one's port says so and leaves the running one's console token file as it was", async () => {
    const tmp = tempDataDir();
    try {
      const first = startServe(['--dev', '--port', '0', '--data-dir', tmp.dir], {});
      const url = await first.url();
      const port = new URL(url).port;
      const tokenFile = join(tmp.dir, DEV_CONSOLE_TOKEN_FILE);
      const token = readFileSync(tokenFile, 'utf8');

      // What a new operator does with `npm start` already running in another terminal.
      const second = await runCli(['serve', '--dev', '--port', port, '--data-dir', tmp.dir]);

      expect(second.code).toBe(1);
      expect(second.stderr).toBe(
        `aisoc-k8s-audit serve: the ingest cannot listen on 127.0.0.1:${port} (EADDRINUSE): another process already listens there (a serve or npm start still running?): stop it, or choose another port with --port\n`,
      );
      // Under npm start a flag reaches serve only after `--`: the message says how.
      const viaNpm = await runCli(['serve', '--dev', '--port', port, '--data-dir', tmp.dir], { npm_lifecycle_event: 'start' });
      expect(viaNpm.code).toBe(1);
      expect(viaNpm.stderr).toContain('stop it, or choose another port with --port (npm start -- --port 8081)');
      // The file the first banner named still holds the token the running console takes.
      expect(readFileSync(tokenFile, 'utf8')).toBe(token);
      const login = await fetch(`${url}/console/api/login`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ tenant: 'dev', secret: token.trim() }),
      });
      expect(login.status).toBe(200);
      expect(await first.stop()).toBe(0);
      expect(existsSync(tokenFile)).toBe(false);
    } finally {
      tmp.remove();
    }
  });

  it('a start that fails (port held by another listener, --host 0.0.0.0 refused, a bad rules dir) leaves no store or secret behind, and an existing store as it was', async () => {
    const tmp = tempDataDir();
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const port = String((holder.address() as AddressInfo).port);
    const taken = `aisoc-k8s-audit serve: the ingest cannot listen on 127.0.0.1:${port} (EADDRINUSE): another process already listens there (a serve or npm start still running?): stop it, or choose another port with --port\n`;
    const listing = (dir: string) =>
      readdirSync(dir)
        .sort()
        .map(
          (f) =>
            `${f} ${createHash('sha256')
              .update(readFileSync(join(dir, f)))
              .digest('hex')}`,
        );
    try {
      // A first-time user's data dir, not there yet (two levels), and one made empty beforehand.
      const fresh = join(tmp.dir, 'first', 'data');
      const held = await runCli(['serve', '--dev', '--port', port, '--data-dir', fresh]);
      expect(held).toMatchObject({ code: 1, stderr: taken });
      expect(existsSync(join(tmp.dir, 'first'))).toBe(false);
      const empty = join(tmp.dir, 'empty');
      mkdirSync(empty, { mode: 0o700 });
      expect(await runCli(['serve', '--dev', '--port', port, '--data-dir', empty])).toMatchObject({ code: 1, stderr: taken });
      expect(readdirSync(empty)).toEqual([]);
      const open = await runCli(['serve', '--dev', '--host', '0.0.0.0', '--port', '0', '--data-dir', fresh]);
      expect(open.code).toBe(2);
      expect(open.stderr).toContain('refusing to listen on 0.0.0.0 without TLS');
      expect(existsSync(join(tmp.dir, 'first'))).toBe(false);
      const rules = await runCli(['serve', '--dev', '--port', '0', '--data-dir', fresh], { K8S_AUDIT_RULES: join(tmp.dir, 'nope') });
      expect(rules.code).toBe(2);
      expect(existsSync(join(tmp.dir, 'first'))).toBe(false);

      // A store a serve wrote, with events in it: a failed start leaves every byte of it.
      const used = join(tmp.dir, 'used');
      const first = startServe(['--dev', '--port', '0', '--data-dir', used], {});
      const url = await first.url();
      const secret = readFileSync(join(used, DEV_SECRET_FILE), 'utf8').trim();
      const post = await fetch(`${url}/v1/ingest/k8s-audit/dev`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'X-AiSOC-K8s-Token': secret, 'X-AiSOC-Cluster-Name': 'c' },
        body: JSON.stringify({ kind: 'EventList', apiVersion: 'audit.k8s.io/v1', items: uniqueFalcoEvents().slice(0, 5) }),
      });
      expect(post.status).toBe(200);
      expect(await first.stop()).toBe(0);
      const kept = listing(used);
      expect(kept.length).toBeGreaterThanOrEqual(2);
      expect(await runCli(['serve', '--dev', '--port', port, '--data-dir', used])).toMatchObject({ code: 1, stderr: taken });
      expect(listing(used)).toEqual(kept);
    } finally {
      holder.close();
      tmp.remove();
    }
  });

  it('in --dev mode keeps the same secret across restarts', async () => {
    const tmp = tempDataDir();
    const secrets: string[] = [];
    for (let i = 0; i < 2; i++) {
      const s = startServe(['--dev', '--port', '0', '--data-dir', tmp.dir], {});
      await s.url();
      secrets.push(readFileSync(join(tmp.dir, DEV_SECRET_FILE), 'utf8').trim());
      expect(s.out()).toContain(`uses the secret ${i === 0 ? 'created' : 'kept'} in ${join(tmp.dir, DEV_SECRET_FILE)}`);
      await s.stop();
    }
    tmp.remove();

    expect(secrets[0]).not.toBe('');
    expect(secrets[0]).toBe(secrets[1]);
  });

  it('without --dev and without K8S_AUDIT_SHARED_SECRET answers 503 and writes no secret file', async () => {
    const tmp = tempDataDir();
    const s = startServe(['--port', '0', '--data-dir', tmp.dir], {});
    try {
      const url = await s.url();
      const res = await fetch(`${url}/v1/ingest/k8s-audit/acme`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: '{}',
      });

      expect(res.status).toBe(503);
      expect(s.out()).toMatch(/K8S_AUDIT_SHARED_SECRET is unset/);
      expect(existsSync(join(tmp.dir, DEV_SECRET_FILE))).toBe(false);
    } finally {
      await s.stop();
      tmp.remove();
    }
  });

  it('logs one JSON line per request to stderr', async () => {
    const tmp = tempDataDir();
    const s = startServe(['--port', '0', '--data-dir', tmp.dir], { K8S_AUDIT_SHARED_SECRET: 'serve-secret-123' });
    try {
      const url = await s.url();
      await fetch(`${url}/v1/ingest/k8s-audit/acme`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'X-AiSOC-K8s-Token': 'serve-secret-123' },
        body: '{"kind":"EventList","items":[]}',
      });
      const lines = s
        .err()
        .split('\n')
        .filter((l) => l.includes('"ingest request"'))
        .map((l) => JSON.parse(l));

      expect(lines).toMatchObject([{ tenant: 'acme', status: 200 }]);
      expect(s.err()).not.toContain('serve-secret-123');
    } finally {
      await s.stop();
      tmp.remove();
    }
  });

  describe('as a process', () => {
    let cli: string;
    let cleanup: () => void;
    beforeAll(async () => {
      // Bundled like dist/cli.mjs; kept under node_modules so better-sqlite3 (external) resolves.
      ({ cli, cleanup } = await buildCliBundle(PROJECT_CACHE, 'ingest-cli-'));
    });
    afterAll(() => cleanup());

    it('fails at once with exit 2 on a data dir it cannot create (it used to spin at 98 % CPU on /proc/nope)', async () => {
      for (const dir of ['/proc/nope', '/proc/nope/deeper']) {
        const started = Date.now();
        const r = await execFileAsync(process.execPath, [cli, 'serve', '--port', '0', '--data-dir', dir], {
          env: { PATH: process.env.PATH ?? '', K8S_AUDIT_SHARED_SECRET: 'proc-secret' },
          timeout: 20_000,
        }).then(
          () => ({ code: 0, stderr: '' }),
          (e: { code: number; stderr: string }) => ({ code: e.code, stderr: e.stderr }),
        );
        expect(r.code).toBe(2);
        expect(r.stderr).toContain(`the data dir ${dir} cannot be created or written`);
        expect(Date.now() - started).toBeLessThan(15_000);
      }
    });

    // `--data-dir .data/aisoc-k8s-audit.sqlite` (the store's file for its directory) said EACCES.
    it('says a --data-dir that is a file is not a directory (exit 2), not a permission problem', async () => {
      const tmp = tempDataDir('aisoc-data-dir-file-');
      const file = join(tmp.dir, 'aisoc-k8s-audit.sqlite');
      writeFileSync(file, '');
      try {
        const r = await execFileAsync(process.execPath, [cli, 'serve', '--port', '0', '--data-dir', file], {
          env: { PATH: process.env.PATH ?? '', K8S_AUDIT_SHARED_SECRET: 'file-secret-0123456789' },
          timeout: 20_000,
        }).then(
          () => ({ code: 0, stderr: '' }),
          (e: { code: number; stderr: string }) => ({ code: e.code, stderr: e.stderr }),
        );
        expect(r.code).toBe(2);
        expect(r.stderr).toBe(
          `aisoc-k8s-audit serve: invalid configuration: the data dir ${file} is a file, not a directory: give --data-dir (or AISOC_DATA_DIR) a directory\n`,
        );
      } finally {
        tmp.remove();
      }
    });

    it('creates the data dir 0700 and reports an existing one others can read', async () => {
      const parent = tempDataDir();
      const fresh = join(parent.dir, 'a', 'b');
      const wide = join(parent.dir, 'wide');
      mkdirSync(wide, { mode: 0o755 });
      chmodSync(wide, 0o755);
      try {
        for (const dir of [fresh, wide]) {
          const child = spawn(process.execPath, [cli, 'serve', '--port', '0', '--data-dir', dir], {
            env: { PATH: process.env.PATH ?? '', K8S_AUDIT_SHARED_SECRET: 'proc-secret' },
            stdio: ['ignore', 'pipe', 'pipe'],
          });
          let out = '';
          child.stdout?.on('data', (c: Buffer) => {
            out += c.toString();
          });
          child.stderr?.on('data', (c: Buffer) => {
            out += c.toString();
          });
          const exited = new Promise((resolve) => child.on('exit', resolve));
          for (let i = 0; i < 500 && !/listening on http/.test(out); i++) await new Promise((r) => setTimeout(r, 10));
          child.kill('SIGTERM');
          await exited;
          if (dir === fresh) {
            expect(statSync(fresh).mode & 0o777).toBe(0o700);
            expect(out).not.toContain('warning: the data dir');
          } else {
            expect(out).toContain(`warning: the data dir ${wide} is open to other users (mode 0755)`);
          }
        }
      } finally {
        parent.remove();
      }
    });

    it('drains and exits 0 on SIGTERM, closing the store', async () => {
      const tmp = tempDataDir();
      const child = spawn(process.execPath, [cli, 'serve', '--port', '0', '--data-dir', tmp.dir], {
        env: { PATH: process.env.PATH ?? '', K8S_AUDIT_SHARED_SECRET: 'proc-secret' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      let err = '';
      child.stdout.on('data', (c: Buffer) => {
        out += c.toString();
      });
      child.stderr.on('data', (c: Buffer) => {
        err += c.toString();
      });
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      for (let i = 0; i < 500 && !/listening on http/.test(out); i++) await new Promise((r) => setTimeout(r, 10));
      const url = /listening on (http:\/\/[\d.:]+)/.exec(out)?.[1];
      const res = await fetch(`${url}/v1/ingest/k8s-audit/acme`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'X-AiSOC-K8s-Token': 'proc-secret' },
        body: '{"kind":"EventList","items":[]}',
      });

      child.kill('SIGTERM');
      const code = await exited;

      expect(res.status).toBe(200);
      expect(code).toBe(0);
      expect(err).toContain('"ingest server closed"');
      tmp.remove();
    });
  });
});

describe('aisoc-k8s-audit events', () => {
  let tmp: ReturnType<typeof tempDataDir>;
  let records: NormalisedRecord[];
  beforeAll(async () => {
    tmp = tempDataDir();
    const store = openEventStore(tmp.dir);
    const outgoing = outgoingRecords(30, 'acme');
    await new SqliteSink(store, 'events+alerts').write([...outgoing, ...outgoingRecords(2, 'other')]);
    records = outgoing.map((r) => r.record);
    store.close();
  });
  afterAll(() => tmp.remove());

  it('prints a table, newest first, limited to 20 by default', async () => {
    const { code, stdout, stderr } = await runCli(['events', '--data-dir', tmp.dir]);

    const lines = stdout.trim().split('\n');
    expect(code).toBe(0);
    expect(lines[0]).toMatch(/^TIME\s+SEV\s+TENANT\s+CLUSTER\s+USER\s+VERB\s+CODE\s+TARGET/);
    expect(lines).toHaveLength(21);
    expect(stderr).toMatch(/20 of 32 events/);
  });

  it('prints NDJSON records with --json, filtered by tenant and severity', async () => {
    const { stdout } = await runCli(['events', '--tenant', 'acme', '--severity', 'high,medium', '--limit', '100', '--json'], {
      AISOC_DATA_DIR: tmp.dir,
    });

    const out = stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as NormalisedRecord);
    const expected = records.filter((r) => r.severity === 'high' || r.severity === 'medium');
    expect(out.map((r) => r.dedup_key).sort()).toEqual(expected.map((r) => r.dedup_key).sort());
  });

  it('reads the alerts table with --alerts', async () => {
    const { stdout } = await runCli(['events', '--alerts', '--tenant', 'acme', '--limit', '100', '--json', '--data-dir', tmp.dir]);

    const out = stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as NormalisedRecord);
    expect(out.length).toBe(records.filter((r) => r.severity === 'high').length);
    expect(out.every((r) => r.severity === 'high')).toBe(true);
  });

  it('takes --since as an age (6h, 4000d) as well as a time, and refuses what it cannot read', async () => {
    // The Falco traces are from 2018: none is in the last 6 hours, all are in the last 4000 days.
    const recent = await runCli(['events', '--since', '6h', '--json', '--data-dir', tmp.dir]);
    const old = await runCli(['events', '--since', '4000d', '--limit', '100', '--json', '--data-dir', tmp.dir]);
    const bad = await runCli(['events', '--since', 'yesterday-ish', '--data-dir', tmp.dir]);
    expect([recent.code, old.code, bad.code]).toEqual([0, 0, 2]);
    expect(recent.stdout).toBe('');
    expect(old.stdout.trim().split('\n')).toHaveLength(32);
    expect(bad.stderr).toContain('an age like 6h');
  });

  it('cuts table lines to a terminal, prints every column with -o wide and NDJSON with -o json', async () => {
    const cap = captureIo({});
    Object.assign(cap.io.stdout, { isTTY: true, columns: 60 });
    expect(await main(['events', '--data-dir', tmp.dir], cap.io)).toBe(0);
    const lines = cap.out().trim().split('\n');
    expect(lines.every((l) => l.length <= 60)).toBe(true);
    expect(lines.some((l) => l.endsWith('…'))).toBe(true);

    const wide = captureIo({});
    Object.assign(wide.io.stdout, { isTTY: true, columns: 60 });
    expect(await main(['events', '-o', 'wide', '--tenant', 'acme', '--data-dir', tmp.dir], wide.io)).toBe(0);
    const [head, first] = wide.out().split('\n');
    expect(head).toMatch(/^TIME\s+SEV\s+TENANT\s+CLUSTER\s+USER\s+VERB\s+CODE\s+STAGE\s+SOURCE IP\s+AUDIT ID\s+TARGET$/);
    expect(first).toContain('00000000-0000-4000-8000-');

    const json = await runCli(['events', '-o', 'json', '--limit', '3', '--data-dir', tmp.dir]);
    expect(
      json.stdout
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as NormalisedRecord).tenant_id),
    ).toHaveLength(3);
    expect((await runCli(['events', '-o', 'yaml', '--data-dir', tmp.dir])).code).toBe(2);
  });

  it('shows the control characters and bidi overrides a client wrote into an event as escapes, never to the terminal', async () => {
    const hostile = tempDataDir();
    const store = openEventStore(hostile.dir);
    const base = uniqueFalcoEvents()[0] as AuditEvent;
    const event = {
      ...base,
      auditID: 'e5c0e5c0-0000-4000-8000-000000000001',
      user: { username: '\u001b[2J\u001b]0;pwned\u0007mallory\r\nFAKE ROW', groups: [] },
      objectRef: { ...(base.objectRef as object), namespace: 'ns\u202egnp\u200f.ex\u200be' },
    } as AuditEvent;
    const record = normaliseAuditEvent(event, { tenantId: 'evil', clusterName: 'prod', receivedAt: Date.now() });
    const json = JSON.stringify(record);
    await new SqliteSink(store, 'events+alerts').write([{ record, json, bytes: Buffer.byteLength(json) }]);
    store.close();

    for (const args of [['events'], ['events', '-o', 'wide']]) {
      const { code, stdout } = await runCli([...args, '--data-dir', hostile.dir]);
      expect(code).toBe(0);
      expect(stdout).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069\u061c\u200e\u200f\u200b]/);
      expect(stdout.trim().split('\n')).toHaveLength(2);
      expect(stdout).toContain('\\x1b[2J\\x1b]0;pwned');
    }
    const wide = await runCli(['events', '-o', 'wide', '--data-dir', hostile.dir]);
    expect(wide.stdout).toContain('ns\\u202egnp\\u200f.ex\\u200be');
    hostile.remove();
  });

  it('says so when there is no store yet, and refuses a bad severity', async () => {
    const empty = tempDataDir();
    const none = await runCli(['events', '--data-dir', empty.dir]);
    const noneRejected = await runCli(['rejected', '--data-dir', empty.dir]);
    const bad = await runCli(['events', '--severity', 'critical', '--data-dir', tmp.dir]);
    empty.remove();

    expect([none.code, noneRejected.code, bad.code]).toEqual([1, 1, 2]);
    // Run elsewhere than serve's directory, the reader is told which flag points it there.
    expect(none.stderr).toBe(
      `no event store in ${empty.dir} yet: start the ingest (npm start) and send it events, or give --data-dir (or AISOC_DATA_DIR) the data dir serve uses\n`,
    );
    expect(noneRejected.stderr).toBe(
      `no event store in ${empty.dir} yet: nothing was rejected here (--data-dir or AISOC_DATA_DIR names the data dir serve uses)\n`,
    );
  });
});
