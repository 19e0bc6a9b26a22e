// What the credential tests share to build the audit events kubectl writes and to read back what
// was stored: the last-applied annotation, a path into a record, the event around a body.

/** The annotation `kubectl apply` keeps a copy of the object in. */
export const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

/** `obj` as `kubectl apply` creates it: its own JSON in the last-applied annotation. */
export function applied<T extends { metadata: object }>(obj: T): T {
  return { ...obj, metadata: { ...obj.metadata, annotations: { [LAST_APPLIED]: `${JSON.stringify(obj)}\n` } } };
}

/** The value at a dotted path (`requestObject.spec.0.value`), or undefined. */
export const dig = (v: unknown, path: string): unknown =>
  path.split('.').reduce<unknown>((x, k) => (x as Record<string, unknown> | undefined)?.[k], v);

/** The object a stored body's last-applied annotation holds (`body`: `requestObject` or `responseObject`). */
export const lastApplied = (raw: unknown, body: string): unknown =>
  JSON.parse(String((dig(raw, `${body}.metadata.annotations`) as Record<string, unknown>)[LAST_APPLIED]));

/** Builds events on `base` (kubectlWriteBase): an auditID, verb, URI and objectRef, then the bodies and any field they replace. */
export function eventOn(
  base: Record<string, unknown>,
): (auditID: string, verb: string, requestURI: string, objectRef: object, bodies: object) => Record<string, unknown> {
  return (auditID, verb, requestURI, objectRef, bodies) => ({ ...base, auditID, verb, requestURI, objectRef, ...bodies });
}
