import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';

/** The claims a Pub/Sub push token carries (Pub/Sub "Authenticate push subscriptions"). */
export interface PushClaims {
  iss?: string;
  aud?: string;
  email?: string;
  email_verified?: boolean;
  sub?: string;
  /** Seconds from now; negative for an expired token. */
  expiresIn?: number;
  issuedAgo?: number;
}

type Key = Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];

/**
 * A stand-in for Google's JWKS endpoint on 127.0.0.1, with RSA keys made in the test: signs
 * tokens the way Google signs Pub/Sub push tokens (RS256, a `kid` naming the published key), and
 * counts how often its keys were fetched. `down` makes it answer 503.
 */
export class LocalGoogleKeys {
  readonly kid = 'test-key-1';
  fetches = 0;
  down = false;
  #server: Server | null = null;
  #privateKey: Key | null = null;
  #jwk: JWK | null = null;

  /** The JWKS URL to configure as K8S_AUDIT_GKE_JWKS_URL. */
  url = '';

  async start(): Promise<this> {
    const { publicKey, privateKey } = await generateKeyPair('RS256', { extractable: true });
    this.#privateKey = privateKey;
    this.#jwk = { ...(await exportJWK(publicKey)), kid: this.kid, alg: 'RS256', use: 'sig' };
    this.#server = createServer((_req, res) => {
      this.fetches++;
      if (this.down) {
        res.writeHead(503).end('unavailable');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [this.#jwk] }));
    });
    await new Promise<void>((resolve) => this.#server?.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}/oauth2/v3/certs`;
    return this;
  }

  /** A token signed with the published key (or `key`, to forge one), under `kid` (default the published one). */
  async sign(claims: PushClaims, opts: { key?: Key; kid?: string } = {}): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    const { expiresIn = 3600, issuedAgo = 0, iss = 'https://accounts.google.com', ...rest } = claims;
    return new SignJWT({ ...rest })
      .setProtectedHeader({ alg: 'RS256', kid: opts.kid ?? this.kid, typ: 'JWT' })
      .setIssuer(iss)
      .setIssuedAt(now - issuedAgo)
      .setExpirationTime(now + expiresIn)
      .sign(opts.key ?? (this.#privateKey as Key));
  }

  /** A private key Google never published. */
  static async otherKey(): Promise<Key> {
    return (await generateKeyPair('RS256')).privateKey;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => (this.#server === null ? resolve() : this.#server.close(() => resolve())));
  }
}
