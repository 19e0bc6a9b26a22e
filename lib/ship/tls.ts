/**
 * Transport security of the shipper. Every request it sends carries the installation's shared
 * secret in a header, so plain http is only allowed where the bytes never leave the machine:
 * a loopback address (the documented apiserver wiring posts to nginx on 127.0.0.1).
 */

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

// Origins already warned about in this process: "every run that uses it logs a warning once".
const warnedInsecure = new Set<string>();

/**
 * Logs, once per process and origin, that the shared secret goes over plain http to a
 * non-loopback host because AISOC_ALLOW_INSECURE_HTTP allowed it. Returns whether it logged.
 */
export function warnInsecureOnce(url: string, log: (entry: Record<string, unknown>) => void): boolean {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return false;
  }
  if (u.protocol !== 'http:' || isLoopbackHost(u.hostname) || warnedInsecure.has(u.origin)) return false;
  warnedInsecure.add(u.origin);
  log({
    level: 'warn',
    msg: `sending the shared secret over plain http to a non-loopback host (${ALLOW_INSECURE_HTTP_VAR}=true): anyone on the network path can read it; use https`,
    url: `${u.origin}${u.pathname}`,
  });
  return true;
}
