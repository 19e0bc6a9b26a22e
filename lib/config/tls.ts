import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { EnvReader } from './env.js';

/** How the shipper's connection to the ingest is secured (see `loadShipTls` in lib/config). */
export interface ShipTls {
  /** AISOC_ALLOW_INSECURE_HTTP: plain http to a non-loopback host, for a private network the operator vouches for. */
  readonly allowInsecureHttp: boolean;
  /**
   * CA certificates (PEM) trusted in addition to Node's default list and NODE_EXTRA_CA_CERTS
   * (AISOC_CA_FILE), or null for the defaults alone.
   */
  readonly extraCa: readonly string[] | null;
  /** Client certificate chain and its private key (PEM), for an ingest that asks for mTLS. */
  readonly clientCert: string | null;
  readonly clientKey: string | null;
}

/** Plain defaults: https with Node's trust store, http only to loopback. */
export const DEFAULT_SHIP_TLS: ShipTls = Object.freeze({ allowInsecureHttp: false, extraCa: null, clientCert: null, clientKey: null });

/** The variable that allows plain http to a non-loopback host. */
export const ALLOW_INSECURE_HTTP_VAR = 'AISOC_ALLOW_INSECURE_HTTP';

/**
 * Whether a host name or address is this machine's loopback: `localhost`, 127.0.0.0/8, `::1`
 * (also in brackets, as a URL writes it) and IPv4-mapped 127.x (`::ffff:7f00:1`).
 */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[(.*)\]$/, '$1');
  if (h === 'localhost' || h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
  if (/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h)) return true;
  // The WHATWG URL parser writes ::ffff:127.0.0.1 as ::ffff:7f00:1 (any 127/8 address: 7fxx:xxxx).
  return /^::ffff:(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|7f[0-9a-f]{2}:[0-9a-f]{1,4})$/.test(h);
}

/**
 * Why `url` must not carry the shared secret: plain http to a host that is not loopback. Null
 * when it is https or loopback (or not a URL at all: the caller reports that). `variable` names
 * the setting in the message, so the operator knows what to fix.
 */
export function plaintextUrlProblem(url: string, variable = 'AISOC_INGEST_URL'): string | null {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return null;
  }
  if (u.protocol !== 'http:' || isLoopbackHost(u.hostname)) return null;
  return (
    `${variable} is plain http:// to ${u.hostname}, which is not a loopback address: the shared secret would cross the network in clear text. ` +
    `Use https:// (set AISOC_CA_FILE for a private CA), or set ${ALLOW_INSECURE_HTTP_VAR}=true for a private network you vouch for`
  );
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** A file's text, or null with a problem naming the setting (never the content). */
function readText(r: EnvReader, name: string, path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    r.problems.push(`${name}: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    return null;
  }
}

/** The PEM certificates of a file, each checked to parse; a problem naming the variable otherwise. */
function readCertificates(r: EnvReader, name: string, path: string): string[] | null {
  const text = readText(r, name, path);
  if (text === null) return null;
  const pems = text.match(PEM_CERTIFICATE) ?? [];
  if (pems.length === 0) {
    r.problems.push(`${name}: ${path} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
    return null;
  }
  for (const [i, pem] of pems.entries()) {
    try {
      new X509Certificate(pem);
    } catch {
      r.problems.push(`${name}: certificate ${i + 1} of ${path} does not parse`);
      return null;
    }
  }
  return pems;
}

/**
 * A certificate chain and its private key from two files, checked to parse and to belong
 * together. The key's content never reaches a message. Null (with the problem recorded) otherwise.
 */
export function readKeyPair(
  r: EnvReader,
  certName: string,
  certPath: string,
  keyName: string,
  keyPath: string,
): { cert: string; key: string } | null {
  const chain = readCertificates(r, certName, certPath);
  const key = readText(r, keyName, keyPath);
  if (chain === null || key === null) return null;
  try {
    const leaf = new X509Certificate(chain[0] as string);
    if (!leaf.checkPrivateKey(createPrivateKey(key))) {
      r.problems.push(`${keyName}: the key in ${keyPath} does not belong to the first certificate of ${certPath} (${certName})`);
      return null;
    }
  } catch {
    r.problems.push(`${keyName}: ${keyPath} is not a PEM private key (an encrypted key is not supported)`);
    return null;
  }
  return { cert: chain.join('\n'), key };
}

/**
 * The shipper's transport settings from the environment, and the refusal of plain http to a
 * non-loopback `urlVar` unless AISOC_ALLOW_INSECURE_HTTP=true: AISOC_CA_FILE (PEM CAs trusted in
 * addition to Node's defaults and NODE_EXTRA_CA_CERTS), AISOC_CLIENT_CERT_FILE and
 * AISOC_CLIENT_KEY_FILE (mTLS). Files are read once, here; problems go to `r`.
 */
export function loadShipTls(r: EnvReader, url: string, urlVar = 'AISOC_INGEST_URL'): ShipTls {
  const allowInsecureHttp = r.bool(ALLOW_INSECURE_HTTP_VAR, false);
  if (!allowInsecureHttp && url !== '') {
    const problem = plaintextUrlProblem(url, urlVar);
    if (problem !== null) r.problems.push(problem);
  }
  let extraCa: string[] | null = null;
  const caFile = r.string('AISOC_CA_FILE');
  if (caFile !== undefined) {
    extraCa = readCertificates(r, 'AISOC_CA_FILE', caFile);
    // A `ca` option replaces Node's whole trust store, the certificates it loaded from
    // NODE_EXTRA_CA_CERTS included (Node's tls.createSecureContext docs): keep those trusted too.
    const nodeExtra = r.string('NODE_EXTRA_CA_CERTS');
    if (extraCa !== null && nodeExtra !== undefined) {
      const more = readCertificates(r, 'NODE_EXTRA_CA_CERTS', nodeExtra);
      if (more !== null) extraCa = [...more, ...extraCa];
    }
  }
  const certFile = r.string('AISOC_CLIENT_CERT_FILE');
  const keyFile = r.string('AISOC_CLIENT_KEY_FILE');
  let pair: { cert: string; key: string } | null = null;
  if ((certFile === undefined) !== (keyFile === undefined)) {
    r.problems.push('AISOC_CLIENT_CERT_FILE and AISOC_CLIENT_KEY_FILE go together (the client certificate for mTLS and its key)');
  } else if (certFile !== undefined && keyFile !== undefined) {
    pair = readKeyPair(r, 'AISOC_CLIENT_CERT_FILE', certFile, 'AISOC_CLIENT_KEY_FILE', keyFile);
  }
  return Object.freeze({
    allowInsecureHttp,
    extraCa: extraCa === null ? null : Object.freeze(extraCa),
    clientCert: pair?.cert ?? null,
    clientKey: pair?.key ?? null,
  });
}

/** Where `serve` reads its certificate, key and (for mTLS) client CAs, each with the name the operator set it by. */
export interface ServeTlsFiles {
  cert: { path: string; name: string };
  key: { path: string; name: string };
  clientCa: { path: string; name: string } | null;
}

/**
 * Reads `serve`'s TLS files (at start, and again on SIGHUP): the certificate chain and its key,
 * checked to belong together, and the client CAs. Throws one `ConfigError` naming every problem.
 */
export function readServeTls(files: ServeTlsFiles): { cert: string; key: string; clientCa: string | null } {
  const r = new EnvReader({});
  const pair = readKeyPair(r, files.cert.name, files.cert.path, files.key.name, files.key.path);
  const clientCa = files.clientCa === null ? null : readCertificates(r, files.clientCa.name, files.clientCa.path);
  r.done();
  return { cert: (pair as { cert: string }).cert, key: (pair as { key: string }).key, clientCa: clientCa?.join('\n') ?? null };
}
