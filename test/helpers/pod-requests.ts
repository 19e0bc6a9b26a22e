// An attacker's requests as the apiserver audits them: a pod's bound service-account token (or any
// identity) sending one request, its verb and objectRef as the apiserver resolves the path. Written
// for Kubernetes Goat (test/integration/kubernetes-goat-serve.test.ts) and shared with ControlPlane's
// simulator scenarios (test/integration/simulator-serve.test.ts).

type Json = Record<string, unknown>;

/** A service account's bound token as a pod carries it: the pod's name and uid in `user.extra` (KEP-4193). */
export function podIdentity(namespace: string, sa: string, pod: string, node = 'goat-worker'): Json {
  return {
    username: `system:serviceaccount:${namespace}:${sa}`,
    uid: '6b1f1a47-3c1e-4c55-9d4e-0d5b6f3c2a10',
    groups: ['system:serviceaccounts', `system:serviceaccounts:${namespace}`, 'system:authenticated'],
    extra: {
      'authentication.kubernetes.io/pod-name': [pod],
      'authentication.kubernetes.io/pod-uid': ['0f6c7d2e-8a9b-4c1d-9e2f-3a4b5c6d7e8f'],
      'authentication.kubernetes.io/node-name': [node],
      'authentication.kubernetes.io/credential-id': ['JTI=5d2c1b0a-9f8e-4d7c-8b6a-5e4f3d2c1b0a'],
    },
  };
}

/** The request function of one event maker (test/helpers/k8s-events.ts eventMaker). */
export type Request = (
  user: Json,
  userAgent: string,
  sourceIP: string,
  verb: string,
  requestURI: string,
  objectRef: Json | undefined,
  code: number,
  more?: Json,
) => Json;

/**
 * One request made by `event`: `requestURI` as sent, its verb and objectRef as the apiserver
 * resolves them (apiVersion v1 unless the ref says), the answer's code (403: refused, as the
 * authorizer's decision annotation says). Reads are logged at Metadata, writes at RequestResponse.
 */
export function requester(event: (fields: Json) => Json): Request {
  return (user, userAgent, sourceIP, verb, requestURI, objectRef, code, more = {}) => {
    const denied = code === 403;
    return event({
      user,
      userAgent,
      sourceIPs: [sourceIP],
      verb,
      requestURI,
      ...(objectRef === undefined ? {} : { objectRef: { apiVersion: 'v1', ...objectRef } }),
      responseStatus: denied
        ? { metadata: {}, status: 'Failure', message: `${verb} forbidden`, reason: 'Forbidden', code: 403 }
        : { metadata: {}, code },
      annotations: { 'authorization.k8s.io/decision': denied ? 'forbid' : 'allow', 'authorization.k8s.io/reason': '' },
      level: verb === 'get' || verb === 'list' || verb === 'watch' ? 'Metadata' : 'RequestResponse',
      ...more,
    });
  };
}
