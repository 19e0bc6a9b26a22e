import { DEFAULT_INGEST_MAX_BODY_BYTES, DEFAULT_SHIP_MAX_BODY_BYTES } from './defaults.js';
import { type Env, EnvReader } from './env.js';
import { readTenantRouteUrl } from './forwarder.js';
import { noteSecretAsTenant, readSharedSecret } from './secret.js';
import { loadShipTls, type ShipTls } from './tls.js';

/** The AKS forwarder's configuration (Azure Functions app settings), validated once at start. */
export interface AksForwarderConfig {
  /** AISOC_INGEST_URL: the full tenant route, https://<host>/v1/ingest/k8s-audit/<tenant_id>. */
  readonly ingestUrl: string;
  /** AISOC_CA_FILE, AISOC_CLIENT_CERT_FILE / _KEY_FILE, AISOC_ALLOW_INSECURE_HTTP (docs/tls.md). */
  readonly tls: ShipTls;
  /** K8S_AUDIT_SHARED_SECRET (an app setting, best a Key Vault reference the host resolves). */
  readonly token: string;
  /** FORWARDER_MAX_BODY_BYTES: the cap of one records body (default 3 MiB, as the EKS forwarder). */
  readonly maxBodyBytes: number;
}

/** Reads the AKS forwarder's app settings; throws one `ConfigError` naming every bad one. */
export function loadAksForwarderConfig(env: Env): AksForwarderConfig {
  const r = new EnvReader(env);
  const ingestUrl = readTenantRouteUrl(r);
  const tls = loadShipTls(r, ingestUrl);
  // The one reader of the shared secret (lib/config/secret.ts), as every other path reads it.
  const token = readSharedSecret(r.string('K8S_AUDIT_SHARED_SECRET'), 'K8S_AUDIT_SHARED_SECRET', r.problems) ?? '';
  if (token === '' && r.problems.every((p) => !p.startsWith('K8S_AUDIT_SHARED_SECRET'))) {
    r.problems.push('K8S_AUDIT_SHARED_SECRET is required (the ingest shared secret; in Azure, a Key Vault reference)');
  }
  noteSecretAsTenant(r.problems, ingestUrl, token);
  const maxBodyBytes = r.int('FORWARDER_MAX_BODY_BYTES', DEFAULT_SHIP_MAX_BODY_BYTES, 64 * 1024, DEFAULT_INGEST_MAX_BODY_BYTES);
  r.done();
  return Object.freeze({ ingestUrl, tls, token, maxBodyBytes });
}
