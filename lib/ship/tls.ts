/**
 * Transport security of the shipper. Every request it sends carries the installation's shared
 * secret in a header, so plain http is only allowed where the bytes never leave the machine:
 * a loopback address (the documented apiserver wiring posts to nginx on 127.0.0.1). The settings
 * (`ShipTls`) and the URL check that config and the shipper share live in lib/config/tls.ts.
 */

import { loggableUrl } from '../config/env.js';
import { ALLOW_INSECURE_HTTP_VAR, isLoopbackHost } from '../config/tls.js';

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
    url: loggableUrl(url),
  });
  return true;
}
