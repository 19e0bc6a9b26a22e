import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LAMBDA_MAX_PAYLOAD_BYTES } from '../../../lib/config/ingest.js';
import { loadCfnYaml } from '../../helpers/infra-cfn.js';

const ROOT = join(import.meta.dirname, '../../..');
const FALCO = join(ROOT, 'test/fixtures/falco');

const events = readdirSync(FALCO)
  .filter((f) => f !== 'fal_01_003.json')
  .flatMap((f) => readFileSync(join(FALCO, f), 'utf8').split('\n'))
  .filter((l) => l.trim() !== '');
const bytes = (s: string) => Buffer.byteLength(s);
/** How much a body grows inside the Lambda event JSON (quotes and backslashes escaped). */
const escapeGrowth = (s: string) => bytes(JSON.stringify(s)) / bytes(s);
const largest = events.reduce((a, b) => (bytes(b) > bytes(a) ? b : a));
const densest = events.reduce((a, b) => (escapeGrowth(b) > escapeGrowth(a) ? b : a));

/** The whole synchronous invocation payload API Gateway sends Lambda for this body: the committed HTTP API event around it. */
function invocationBytes(body: string): number {
  const event = JSON.parse(readFileSync(join(ROOT, 'infra/events/ingest-http-api-eventlist.json'), 'utf8'));
  event.body = body;
  event.headers['content-length'] = String(bytes(body));
  return bytes(JSON.stringify(event));
}

/** An EventList of copies of one event (distinct auditIDs), as many as fit in `maxBytes` or `count`. */
function eventList(event: string, opts: { count?: number; maxBytes?: number }): string {
  const parsed = JSON.parse(event) as Record<string, unknown>;
  const items: string[] = [];
  let size = bytes('{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[]}');
  for (let i = 0; i < (opts.count ?? Number.MAX_SAFE_INTEGER); i++) {
    const item = JSON.stringify({ ...parsed, auditID: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}` });
    if (opts.maxBytes !== undefined && size + bytes(item) + 1 > opts.maxBytes) break;
    items.push(item);
    size += bytes(item) + 1;
  }
  return `{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[${items.join(',')}]}`;
}

const nginxCap =
  Number(/client_max_body_size (\d+)m;/.exec(readFileSync(join(ROOT, 'infra/k8s/nginx-forwarder.conf'), 'utf8'))?.[1]) * 1024 * 1024;
const truncateCap = Number(
  /--audit-webhook-truncate-max-batch-size=(\d+)/.exec(readFileSync(join(ROOT, 'infra/k8s/kube-apiserver-webhook.yaml'), 'utf8'))?.[1],
);
const forwarderCap = Number(
  (
    loadCfnYaml(join(ROOT, 'infra/template.yaml')).Resources as Record<
      string,
      { Properties: { Environment: { Variables: Record<string, string> } } }
    >
  ).Forwarder?.Properties.Environment.Variables.FORWARDER_MAX_BODY_BYTES,
);

// The platform limits the deploy docs promise: every batch our caps let through fits one
// synchronous Lambda invocation (6 MB of event JSON) behind API Gateway (10 MB of body).
describe('body caps against the Lambda invocation payload limit', () => {
  it('fit a default-size apiserver batch (400) of the largest fixture event with room to spare', () => {
    const body = eventList(largest, { count: 400 });
    expect(invocationBytes(body)).toBeLessThan(LAMBDA_MAX_PAYLOAD_BYTES / 2);
  });

  it('fit a batch at the nginx cap made of the most quote-dense fixture event', () => {
    const body = eventList(densest, { maxBytes: nginxCap });
    expect(bytes(body)).toBeGreaterThan(nginxCap - bytes(densest) - 2);
    expect(invocationBytes(body)).toBeLessThan(LAMBDA_MAX_PAYLOAD_BYTES);
  });

  it('keep the apiserver truncation cap and the forwarder body cap under the nginx cap', () => {
    expect(truncateCap).toBeLessThan(nginxCap);
    expect(forwarderCap).toBe(truncateCap);
    expect(invocationBytes(eventList(densest, { maxBytes: forwarderCap }))).toBeLessThan(LAMBDA_MAX_PAYLOAD_BYTES);
  });

  it('would not fit at the connector documentation’s 16 MiB default, which is why the AWS deployment caps lower', () => {
    const body = eventList(largest, { maxBytes: 16 * 1024 * 1024 });
    expect(invocationBytes(body)).toBeGreaterThan(LAMBDA_MAX_PAYLOAD_BYTES);
  });
});
