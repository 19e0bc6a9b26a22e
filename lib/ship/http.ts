import type { Agent, IncomingMessage, ClientRequest as NodeClientRequest, RequestOptions } from 'node:http';
import type { ShipTls } from '../config/tls.js';

/** node:http or node:https with its keep-alive pool. */
interface Transport {
  request: (url: URL, options: RequestOptions) => NodeClientRequest;
  agent: Agent;
}

// One keep-alive pool per process and protocol: a warm Lambda or a long-running tailer reuses
// its connection to the ingest instead of paying a TCP (and TLS) handshake per batch. Loaded on
// the first POST, not at import: node:https and node:tls would add ~15 ms to a Lambda's init.
const transports = new Map<'http:' | 'https:', Promise<Transport>>();

// A private CA or a client certificate needs its own pool (the agent holds the TLS options); one
// per settings object, which a process builds once from its configuration.
const tlsTransports = new WeakMap<ShipTls, Promise<Transport>>();

function transport(protocol: 'http:' | 'https:', tls: ShipTls | null): Promise<Transport> {
  if (protocol === 'https:' && tls !== null && (tls.extraCa !== null || tls.clientCert !== null)) {
    let t = tlsTransports.get(tls);
    if (t === undefined) {
      t = Promise.all([import('node:https'), import('node:tls')]).then(([https, nodeTls]) => ({
        request: https.request,
        agent: new https.Agent({
          keepAlive: true,
          minVersion: 'TLSv1.2',
          // Node replaces its whole trust store with `ca` (NODE_EXTRA_CA_CERTS included), so the
          // defaults go in first: AISOC_CA_FILE adds to them (lib/config put NODE_EXTRA_CA_CERTS in extraCa).
          ...(tls.extraCa === null ? {} : { ca: [...nodeTls.rootCertificates, ...tls.extraCa] }),
          ...(tls.clientCert === null || tls.clientKey === null ? {} : { cert: tls.clientCert, key: tls.clientKey }),
        }),
      }));
      tlsTransports.set(tls, t);
    }
    return t;
  }
  let t = transports.get(protocol);
  if (t === undefined) {
    t =
      protocol === 'https:'
        ? import('node:https').then((m) => ({ request: m.request, agent: new m.Agent({ keepAlive: true }) }))
        : import('node:http').then((m) => ({ request: m.request, agent: new m.Agent({ keepAlive: true }) }));
    transports.set(protocol, t);
  }
  return t;
}

/** What a request with node:http(s) came back with, before lib/ship classifies it. */
export type HttpPostResult =
  | { kind: 'answer'; status: number; text: string; retryAfter: string | null }
  | { kind: 'error'; error: unknown }
  | { kind: 'unsendable'; message: string };

/**
 * POSTs a body with node:http(s) and reads the whole answer. The body goes to the socket as it
 * is: fetch (undici) copies a Uint8Array body and wraps it in a web stream first, which made a
 * loopback POST of a 3 MiB EventList cost about twice what the socket write does. A body given
 * in pieces (views of the caller's memory) is written corked, so the headers and the pieces leave
 * in one writev, with their summed length as Content-Length. A request that cannot be built (a
 * URL that is not http(s), a header value with control characters) is `unsendable`; every other
 * failure is returned as the error it was. Never throws.
 */
export function httpPost(
  url: string,
  headers: Record<string, string>,
  body: Uint8Array | readonly Uint8Array[],
  timeoutMs: number,
  tls: ShipTls | null = null,
): Promise<HttpPostResult> {
  return exchange('POST', url, headers, body, timeoutMs, tls);
}

/**
 * GETs `url` as `httpPost` posts: the same pools, so the same trust (AISOC_CA_FILE) and client
 * certificate as the shippers (`status` reads the ingest's status route so). Never throws.
 */
export function httpGet(
  url: string,
  headers: Record<string, string>,
  timeoutMs: number,
  tls: ShipTls | null = null,
): Promise<HttpPostResult> {
  return exchange('GET', url, headers, null, timeoutMs, tls);
}

async function exchange(
  method: 'GET' | 'POST',
  url: string,
  headers: Record<string, string>,
  body: Uint8Array | readonly Uint8Array[] | null,
  timeoutMs: number,
  tls: ShipTls | null,
): Promise<HttpPostResult> {
  let target: URL;
  try {
    target = new URL(url);
  } catch (err) {
    return { kind: 'unsendable', message: (err as Error).message };
  }
  if (target.protocol !== 'https:' && target.protocol !== 'http:') {
    return { kind: 'unsendable', message: `${target.protocol} URLs are not supported; use http or https` };
  }
  if (target.username !== '' || target.password !== '') {
    return { kind: 'unsendable', message: 'the URL must not carry credentials' };
  }
  const { request, agent } = await transport(target.protocol, tls);
  const signal = AbortSignal.timeout(Math.max(1, Math.floor(timeoutMs)));
  return new Promise((resolve) => {
    let settled = false;
    const done = (result: HttpPostResult): void => {
      if (settled) return;
      settled = true;
      // Past the deadline, whatever broke the exchange is reported as the timeout it is.
      resolve(result.kind === 'error' && signal.aborted ? { kind: 'error', error: signal.reason } : result);
    };
    let req: NodeClientRequest;
    try {
      const length =
        body === null
          ? null
          : Array.isArray(body)
            ? body.reduce((n: number, c: Uint8Array) => n + c.length, 0)
            : (body as Uint8Array).length;
      req = request(target, {
        method,
        headers: length === null ? headers : { ...headers, 'Content-Length': String(length) },
        agent,
        signal,
      });
    } catch (err) {
      // node:http validates header names and values as the request is built.
      done({ kind: 'unsendable', message: (err as Error).message });
      return;
    }
    req.once('error', (error) => done({ kind: 'error', error }));
    req.once('response', (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.once('error', (error) => done({ kind: 'error', error }));
      res.once('end', () => {
        const retryAfter = res.headers['retry-after'];
        done({
          kind: 'answer',
          status: res.statusCode ?? 0,
          text: Buffer.concat(chunks).toString('utf8'),
          retryAfter: typeof retryAfter === 'string' ? retryAfter : null,
        });
      });
      // The connection went away before the answer was complete.
      res.once('close', () => {
        if (!res.complete) done({ kind: 'error', error: Object.assign(new Error('the answer was cut off'), { code: 'ECONNRESET' }) });
      });
    });
    if (body === null) req.end();
    else if (Array.isArray(body)) {
      req.cork();
      for (const chunk of body as readonly Uint8Array[]) req.write(chunk);
      req.end();
    } else req.end(body as Uint8Array);
  });
}
