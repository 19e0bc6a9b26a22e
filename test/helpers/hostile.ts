// The large hostile bodies, generated in the test instead of committed (test/fixtures/hostile/
// holds the small crafted files; its README lists every body and the answer it gets).
import { gzipSync } from 'node:zlib';

/**
 * A gzip bomb: 1 GiB of zeros in about 1 MB. Sixteen gzip members of 64 MiB of zeros each, one
 * after the other (RFC 1952 §2.2: a gzip file is a series of members; every gunzip reads them
 * all), because deflating one 1 GiB member takes seconds and this takes a fraction of one.
 */
export function gzipBomb(inflatedMiB = 1024): Buffer {
  const member = gzipSync(Buffer.alloc(64 * 1024 * 1024), { level: 9 });
  return Buffer.concat(Array.from({ length: Math.ceil(inflatedMiB / 64) }, () => member));
}

/** `[[[ … ]]]` nested `depth` deep. */
export function deepArrays(depth: number): Buffer {
  return Buffer.from(`${'['.repeat(depth)}${']'.repeat(depth)}`);
}

/** `{"a":{"a": … 1 … }}` nested `depth` deep. */
export function deepObjects(depth: number): Buffer {
  return Buffer.from(`${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`);
}

/** A body that is one JSON string and nothing else, `bytes` long with its quotes. */
export function singleString(bytes: number): Buffer {
  const out = Buffer.alloc(bytes, 0x41);
  out[0] = 0x22;
  out[bytes - 1] = 0x22;
  return out;
}

/** An EventList of `n` empty items (`{}`). */
export function emptyItemsEventList(n: number): Buffer {
  return Buffer.from(`{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[${Array(n).fill('{}').join(',')}]}`);
}

/** An EventList holding one real-shaped event whose requestObject nests `depth` deep. */
export function deepRequestEvent(auditID: string, depth: number, requestURI = '/api/v1/namespaces/default/configmaps'): Buffer {
  const nest = `${'{"spec":'.repeat(depth)}{}${'}'.repeat(depth)}`;
  return Buffer.from(
    `{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Request",` +
      `"auditID":"${auditID}","stage":"ResponseComplete","verb":"create","requestURI":${JSON.stringify(requestURI)},"user":{"username":"crafted-user"},` +
      `"objectRef":{"resource":"configmaps","namespace":"default","name":"deep"},"responseStatus":{"code":201},` +
      `"requestReceivedTimestamp":"2024-05-01T12:00:00.000000Z","requestObject":${nest}}]}`,
  );
}

/** An EventList holding one event whose userAgent is a string of `bytes` bytes. */
export function hugeStringEvent(auditID: string, bytes: number): Buffer {
  const head = Buffer.from(`{"kind":"EventList","items":[{"auditID":"${auditID}","verb":"get","userAgent":"`);
  const tail = Buffer.from('"}]}');
  return Buffer.concat([head, Buffer.alloc(bytes, 0x61), tail]);
}

/** Chunks of spaces, `total` bytes in all: an upload that does not end soon. */
export function* chunks(total: number, size = 64 * 1024): Generator<Buffer> {
  const chunk = Buffer.alloc(size, 0x20);
  for (let sent = 0; sent < total; sent += size) yield chunk;
}
