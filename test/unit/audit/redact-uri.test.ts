import { describe, expect, it } from 'vitest';
import { REDACTED } from '../../../lib/audit/redact.js';
import { isCredentialParamName, scrubUriCredentials } from '../../../lib/audit/redact-uri.js';
import { allFalcoEvents, eksRawEvent } from '../../helpers/fixtures.js';

// Paths as the Kubernetes API reference writes the proxy subresources: services/{name}/proxy,
// pods/{name}/proxy and nodes/{name}/proxy, with the proxied request's path and query after them.
const SVC = '/api/v1/namespaces/monitoring/services/grafana:3000/proxy';
const POD = '/api/v1/namespaces/default/pods/web-0/proxy';
const NODE = '/api/v1/nodes/ip-10-0-1-7.ec2.internal/proxy';
const JWT = 'eyJhbGciOiJSUzI1NiIsImtpZCI6InRlc3QifQ.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6ZGVmYXVsdDphcHAifQ.c2lnbmF0dXJl';

describe('scrubUriCredentials', () => {
  it.each([
    [`${SVC}/api/search?access_token=opaque123`, `${SVC}/api/search?access_token=${REDACTED}`],
    [`${POD}/metrics?api_key=opaque123&format=text`, `${POD}/metrics?api_key=${REDACTED}&format=text`],
    [`${NODE}/logs/?password=opaque123`, `${NODE}/logs/?password=${REDACTED}`],
    [
      `${SVC}/oauth/token?grant_type=x&client_id=app&client_secret=opaque123`,
      `${SVC}/oauth/token?grant_type=x&client_id=app&client_secret=${REDACTED}`,
    ],
    [`${SVC}/x?APIKEY=opaque123`, `${SVC}/x?APIKEY=${REDACTED}`],
    [`${SVC}/x?Api-Key=opaque123#frag`, `${SVC}/x?Api-Key=${REDACTED}#frag`],
    [`${SVC}/x?access%5Ftoken=opaque123`, `${SVC}/x?access%5Ftoken=${REDACTED}`],
    [`${SVC}/x?access%255Ftoken=opaque123`, `${SVC}/x?access%255Ftoken=${REDACTED}`],
    [`${SVC}/x?session_id=opaque123`, `${SVC}/x?session_id=${REDACTED}`],
    [`${SVC}/cb?code=opaque123&state=s1`, `${SVC}/cb?code=${REDACTED}&state=s1`],
    [`${SVC}/x?password=ab%26cd&next=1`, `${SVC}/x?password=${REDACTED}&next=1`],
  ])('redacts the value of a credential parameter: %s', (uri, expected) => {
    expect(scrubUriCredentials(uri)).toBe(expected);
  });

  it('redacts an AWS SigV4 pre-signed URL signature and session token, keeping the key id, date and expiry', () => {
    // The query parameters of AWS Signature Version 4 query-string authentication (S3 API reference).
    const uri =
      `${SVC}/bucket/key?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request` +
      '&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Security-Token=FQoGZXIvYXdzEopaque' +
      '&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404';
    const out = scrubUriCredentials(uri);
    expect(out).toContain('X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524');
    expect(out).toContain('X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400');
    expect(out).toContain(`X-Amz-Security-Token=${REDACTED}`);
    expect(out).toContain(`X-Amz-Signature=${REDACTED}`);
    expect(out).not.toContain('aeeed9bb');
    expect(out).not.toContain('FQoGZXIv');
  });

  it('redacts a GCS signed URL signature and an Azure SAS sig', () => {
    expect(scrubUriCredentials(`${SVC}/o?X-Goog-Algorithm=GOOG4-RSA-SHA256&X-Goog-Signature=0123abcd`)).toBe(
      `${SVC}/o?X-Goog-Algorithm=GOOG4-RSA-SHA256&X-Goog-Signature=${REDACTED}`,
    );
    expect(scrubUriCredentials(`${SVC}/c/b?sv=2022-11-02&se=2026-12-08T00%3A00%3A00Z&sp=r&sig=abc%2Bdef%3D`)).toBe(
      `${SVC}/c/b?sv=2022-11-02&se=2026-12-08T00%3A00%3A00Z&sp=r&sig=${REDACTED}`,
    );
  });

  it('reads a URL nested in another parameter, encoded or not', () => {
    const encoded = `${SVC}/login?redirect=https%3A%2F%2Fapp%2Fcb%3Faccess_token%3Dopaque123%26state%3Ds&x=1`;
    expect(scrubUriCredentials(encoded)).toBe(`${SVC}/login?redirect=https%3A%2F%2Fapp%2Fcb%3Faccess_token%3D${REDACTED}&x=1`);
    const raw = `${SVC}/login?redirect=https://app/cb?token=opaque123&x=1`;
    expect(scrubUriCredentials(raw)).toBe(`${SVC}/login?redirect=https://app/cb?token=${REDACTED}&x=1`);
  });

  it('redacts the password of a URL with userinfo, keeping the user; a userinfo without a password goes whole', () => {
    expect(scrubUriCredentials(`${SVC}/fetch?url=https://admin:opaque123@db.internal/x`)).toBe(
      `${SVC}/fetch?url=https://admin:${REDACTED}@db.internal/x`,
    );
    expect(scrubUriCredentials(`${SVC}/fetch?url=https%3A%2F%2Fadmin%3Aopaque123%40db.internal%2Fx`)).toBe(
      `${SVC}/fetch?url=https%3A%2F%2Fadmin%3A${REDACTED}%40db.internal%2Fx`,
    );
    expect(scrubUriCredentials(`${SVC}/fetch?url=https://ghp_opaque123@github.com/o/r`)).toBe(
      `${SVC}/fetch?url=https://${REDACTED}@github.com/o/r`,
    );
  });

  it("keeps a JWT value's header and claims, as the JWT redaction does elsewhere", () => {
    const headerAndClaims = JWT.slice(0, JWT.lastIndexOf('.'));
    expect(scrubUriCredentials(`${SVC}/x?auth_token=${JWT}`)).toBe(`${SVC}/x?auth_token=${headerAndClaims}.${REDACTED}`);
    expect(scrubUriCredentials(`${SVC}/x?auth=Bearer%20${JWT}`)).toBe(`${SVC}/x?auth=Bearer%20${headerAndClaims}.${REDACTED}`);
    // Normalised again from the stored raw event, it stays as it is.
    expect(scrubUriCredentials(`${SVC}/x?auth_token=${headerAndClaims}.${REDACTED}`)).toBe(
      `${SVC}/x?auth_token=${headerAndClaims}.${REDACTED}`,
    );
    // What only looks like one goes whole.
    expect(scrubUriCredentials(`${SVC}/x?token=opaque.secret.${REDACTED}`)).toBe(`${SVC}/x?token=${REDACTED}`);
    expect(scrubUriCredentials(`${SVC}/x?token=pre${JWT}`)).toBe(`${SVC}/x?token=${REDACTED}`);
  });

  it('leaves the Kubernetes API parameters and a URI without a query as they are (the same string)', () => {
    const list =
      '/api/v1/namespaces/default/pods?labelSelector=app%3Dweb&fieldSelector=status.phase%3DRunning&limit=500&continue=eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6MTIzfQ&resourceVersion=0&watch=true&allowWatchBookmarks=true&timeoutSeconds=300&sendInitialEvents=true&resourceVersionMatch=NotOlderThan';
    expect(scrubUriCredentials(list)).toBe(list);
    const exec =
      '/api/v1/namespaces/default/pods/web-0/exec?command=sh&command=-c&command=echo&container=app&stdin=true&stdout=true&tty=true';
    expect(scrubUriCredentials(exec)).toBe(exec);
    const logs = '/api/v1/namespaces/default/pods/web-0/log?container=app&follow=true&tailLines=100&timestamps=true';
    expect(scrubUriCredentials(logs)).toBe(logs);
    const plain = '/apis/apps/v1/namespaces/default/deployments/web';
    expect(scrubUriCredentials(plain)).toBe(plain);
    expect(scrubUriCredentials(`${SVC}/x?token=&a=1`)).toBe(`${SVC}/x?token=&a=1`);
  });

  it('leaves every request URI of the public fixtures (Falco traces, the EKS sample) as it is', () => {
    const uris = [...allFalcoEvents(), eksRawEvent()].map((e) => e.requestURI).filter((u): u is string => typeof u === 'string');
    expect(uris.some((u) => u.includes('?'))).toBe(true);
    for (const uri of uris) expect(scrubUriCredentials(uri)).toBe(uri);
  });

  it('runs in time linear in the URI on hostile input', () => {
    const many = `${SVC}/x?${'token=a&'.repeat(50_000)}`;
    expect(scrubUriCredentials(many) === `${SVC}/x?${`token=${REDACTED}&`.repeat(50_000)}`).toBe(true);
    const eq = `${SVC}/x?a${'='.repeat(200_000)}`;
    expect(scrubUriCredentials(eq) === eq).toBe(true);
    const schemes = `${SVC}/x?u=${'https://a:b@h/'.repeat(20_000)}`;
    expect(scrubUriCredentials(schemes) === `${SVC}/x?u=${`https://a:${REDACTED}@h/`.repeat(20_000)}`).toBe(true);
  });
});

describe('isCredentialParamName', () => {
  it.each([
    'access_token',
    'refresh_token',
    'id_token',
    'client_secret',
    'X-Amz-Signature',
    'X-Amz-Security-Token',
    'X-Goog-Signature',
    'sig',
    'apikey',
    'api.key',
    'passwd',
    'pwd',
    'Authorization',
    'jsessionid',
  ])('names %s a credential', (name) => expect(isCredentialParamName(name)).toBe(true));
  it.each([
    'limit',
    'continue',
    'labelSelector',
    'fieldSelector',
    'resourceVersion',
    'watch',
    'command',
    'container',
    'X-Amz-Credential',
    'X-Amz-Date',
    'sv',
    'se',
    'sp',
    'state',
    'client_id',
    '',
  ])('does not name %s a credential', (name) => expect(isCredentialParamName(name)).toBe(false));
});
