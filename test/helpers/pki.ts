// A throwaway private PKI made in the test with Debian's openssl: a CA, server certificates for
// 127.0.0.1 / localhost (two, for a rotation), a client certificate for mTLS, and a second CA that
// nothing here trusts. Nothing comes from the network; everything lives in one temp directory.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hasCommand } from './host.js';

/** Whether openssl is on PATH (Debian's `openssl` package; .ci/run's image has it). */
export const HAS_OPENSSL = hasCommand('openssl');

/** Paths of the PEM files `makePki` writes. */
export interface TestPki {
  dir: string;
  caCert: string;
  /** Issued by the CA for IP 127.0.0.1 and DNS localhost. */
  serverCert: string;
  serverKey: string;
  /** A second server certificate from the same CA (what a rotation installs). */
  rotatedCert: string;
  rotatedKey: string;
  /** A client certificate (extendedKeyUsage clientAuth) from the same CA. */
  clientCert: string;
  clientKey: string;
  /** A CA that issued nothing the server uses, and a server certificate it signed. */
  otherCaCert: string;
  otherServerCert: string;
  otherServerKey: string;
  remove(): void;
}

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

function newKey(dir: string, name: string): void {
  openssl(dir, ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', name]);
}

function newCa(dir: string, name: string): void {
  newKey(dir, `${name}.key`);
  openssl(dir, ['req', '-x509', '-new', '-key', `${name}.key`, '-out', `${name}.crt`, '-days', '2', '-subj', `/CN=${name} test CA`]);
}

function issue(dir: string, ca: string, name: string, cn: string, ext: string): void {
  newKey(dir, `${name}.key`);
  openssl(dir, ['req', '-new', '-key', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`]);
  writeFileSync(join(dir, `${name}.ext`), ext);
  openssl(dir, [
    'x509',
    '-req',
    '-in',
    `${name}.csr`,
    '-CA',
    `${ca}.crt`,
    '-CAkey',
    `${ca}.key`,
    '-set_serial',
    String(Date.now() % 1_000_000_000),
    '-out',
    `${name}.crt`,
    '-days',
    '2',
    '-extfile',
    `${name}.ext`,
  ]);
}

const SERVER_EXT = 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n';

/** Makes the PKI in a fresh temp directory (about a second of openssl). */
export function makePki(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'aisoc-pki-'));
  newCa(dir, 'ca');
  newCa(dir, 'other-ca');
  issue(dir, 'ca', 'server', 'aisoc ingest', SERVER_EXT);
  issue(dir, 'ca', 'rotated', 'aisoc ingest (rotated)', SERVER_EXT);
  issue(dir, 'ca', 'client', 'aisoc tailer', 'extendedKeyUsage=clientAuth\n');
  issue(dir, 'other-ca', 'other-server', 'not the ingest', SERVER_EXT);
  const p = (f: string) => join(dir, f);
  return {
    dir,
    caCert: p('ca.crt'),
    serverCert: p('server.crt'),
    serverKey: p('server.key'),
    rotatedCert: p('rotated.crt'),
    rotatedKey: p('rotated.key'),
    clientCert: p('client.crt'),
    clientKey: p('client.key'),
    otherCaCert: p('other-ca.crt'),
    otherServerCert: p('other-server.crt'),
    otherServerKey: p('other-server.key'),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
