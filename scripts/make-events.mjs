// Writes the `sam local invoke -e` events in infra/events/ from the real audit events in
// test/fixtures/falco/ (captured from a real apiserver by the Falco project; see
// test/fixtures/SOURCES.md). Run it again after changing it; its output is committed.
//
//   node scripts/make-events.mjs            # write infra/events/*.json
//   node scripts/make-events.mjs --check    # exit 1 when a committed event differs from what it would write
//                                           # (gzip payloads compared decompressed: zlib builds differ)
//
// Envelopes follow the AWS documentation of each source: the CloudWatch Logs subscription
// payload (JSON, then gzip, then base64 under awslogs.data), the same payload delivered through a
// Kinesis data stream (gzip bytes as the record data), and API Gateway's Lambda proxy events
// (HTTP API payload format 2.0 and REST API 1.0). Everything is fixed (ids, times), so the output
// only changes when this script or the fixtures change.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';

const ROOT = new URL('..', import.meta.url).pathname;
const FIXTURES = join(ROOT, 'test/fixtures/falco');
const OUT = join(ROOT, 'infra/events');

/** The dummy secret shared by env.json and the events; never a real one. */
export const LOCAL_SHARED_SECRET = 'sam-local-shared-secret-not-for-production';
const ACCOUNT = '123456789012';
const REGION = 'us-east-1';
const CLUSTER = 'demo-cluster';
const TENANT = 'acme';
// EKS names the audit stream kube-apiserver-audit-<32 hex>; the apiserver's own log is
// kube-apiserver-<32 hex> in the same group (EKS control plane logging documentation).
const AUDIT_STREAM = 'kube-apiserver-audit-4f0e5a7c9b2d41e3a6b8c0d2e4f60718';
const APISERVER_STREAM = 'kube-apiserver-4f0e5a7c9b2d41e3a6b8c0d2e4f60718';
const LOG_GROUP = `/aws/eks/${CLUSTER}/cluster`;

// A spread of what detections look for: exec/attach (high), RBAC and secrets (high), workload
// changes (medium), a denied request and plain reads.
const PICKS = [
  'exec_pod.json',
  'attach_pod.json',
  'create_clusterrolebinding.json',
  'create_secret.json',
  'create_serviceaccount.json',
  'create_deployment.json',
  'delete_namespace_foo.json',
  'anonymous_creates_namespace_foo.json',
  'create_configmap.json',
];

/** Every audit event line of the picked fixtures, as the apiserver wrote it (one JSON object per line). */
function auditLines() {
  const lines = [];
  for (const file of PICKS) {
    for (const line of readFileSync(join(FIXTURES, file), 'utf8').split('\n')) {
      if (line.trim() !== '') lines.push(line.trim());
    }
  }
  return lines;
}

function epochMs(event) {
  const t = Date.parse(event.stageTimestamp ?? event.requestReceivedTimestamp ?? event.timestamp ?? '');
  return Number.isNaN(t) ? Date.UTC(2018, 9, 26, 13, 38, 34) : t;
}

/** A CloudWatch Logs event id: 56 digits, as the service hands them out (their content is opaque). */
function logEventId(timestamp, n) {
  return `${String(timestamp).padStart(20, '0')}${String(n).padStart(36, '0')}`.slice(0, 56);
}

function subscriptionPayload(logStream, messages) {
  return {
    messageType: 'DATA_MESSAGE',
    owner: ACCOUNT,
    logGroup: LOG_GROUP,
    logStream,
    subscriptionFilters: ['aisoc-k8s-audit'],
    logEvents: messages.map(({ timestamp, message }, i) => ({ id: logEventId(timestamp, i), timestamp, message })),
  };
}

// The control message CloudWatch Logs sends to check a new destination (shared/fixtures/SOURCES.md).
const CONTROL_MESSAGE = {
  messageType: 'CONTROL_MESSAGE',
  owner: 'CloudwatchLogs',
  logGroup: '',
  logStream: '',
  subscriptionFilters: [],
  logEvents: [{ id: '', timestamp: 1600110003794, message: 'CWL CONTROL MESSAGE: Checking health of destination Firehose.' }],
};

const gzipJson = (value) => gzipSync(Buffer.from(JSON.stringify(value)), { level: 9 });
const awslogs = (payload) => ({ awslogs: { data: gzipJson(payload).toString('base64') } });

function kinesisRecord(payload, n) {
  const sequenceNumber = `49590338271490256608559692538361571095921575989136588${String(n).padStart(3, '0')}`;
  return {
    kinesis: {
      kinesisSchemaVersion: '1.0',
      partitionKey: `${payload.logGroup || 'control'}-${n}`,
      sequenceNumber,
      data: gzipJson(payload).toString('base64'),
      approximateArrivalTimestamp: 1540561115.123 + n,
    },
    eventSource: 'aws:kinesis',
    eventVersion: '1.0',
    eventID: `shardId-000000000000:${sequenceNumber}`,
    eventName: 'aws:kinesis:record',
    invokeIdentityArn: `arn:aws:iam::${ACCOUNT}:role/aisoc-k8s-audit-forwarder`,
    awsRegion: REGION,
    eventSourceARN: `arn:aws:kinesis:${REGION}:${ACCOUNT}:stream/aisoc-k8s-audit-cwl`,
  };
}

/** An API Gateway HTTP API (payload format 2.0) proxy event for the ingest route. */
function httpApiEvent({ body, token, gzip = false, requestId }) {
  const path = `/v1/ingest/k8s-audit/${TENANT}`;
  const bodyBytes = gzip ? gzipSync(Buffer.from(body), { level: 9 }) : Buffer.from(body);
  const headers = {
    accept: 'application/json, */*',
    'content-length': String(bodyBytes.length),
    'content-type': 'application/json',
    host: 'abcdef1234.execute-api.us-east-1.amazonaws.com',
    'user-agent': 'kube-apiserver/v1.29.0 (linux/amd64) kubernetes/3f7a50f',
    'x-aisoc-cluster-name': CLUSTER,
    'x-amzn-trace-id': `Root=1-5bd31a1a-${requestId.replace(/-/g, '').slice(0, 24)}`,
    'x-forwarded-for': '203.0.113.10',
    'x-forwarded-port': '443',
    'x-forwarded-proto': 'https',
  };
  if (gzip) headers['content-encoding'] = 'gzip';
  if (token !== undefined) headers['x-aisoc-k8s-token'] = token;
  return {
    version: '2.0',
    routeKey: 'POST /v1/ingest/k8s-audit/{tenant_id}',
    rawPath: path,
    rawQueryString: '',
    headers,
    requestContext: {
      accountId: ACCOUNT,
      apiId: 'abcdef1234',
      domainName: 'abcdef1234.execute-api.us-east-1.amazonaws.com',
      domainPrefix: 'abcdef1234',
      http: {
        method: 'POST',
        path,
        protocol: 'HTTP/1.1',
        sourceIp: '203.0.113.10',
        userAgent: 'kube-apiserver/v1.29.0 (linux/amd64) kubernetes/3f7a50f',
      },
      requestId,
      routeKey: 'POST /v1/ingest/k8s-audit/{tenant_id}',
      stage: '$default',
      time: '26/Oct/2018:13:38:40 +0000',
      timeEpoch: 1540561120000,
    },
    pathParameters: { tenant_id: TENANT },
    body: gzip ? bodyBytes.toString('base64') : body,
    isBase64Encoded: gzip,
  };
}

/** An API Gateway REST API (payload format 1.0) proxy event for the same route. */
function restApiEvent({ body, token, requestId }) {
  const path = `/v1/ingest/k8s-audit/${TENANT}`;
  const headers = {
    Accept: 'application/json, */*',
    'Content-Type': 'application/json',
    Host: 'abcdef1234.execute-api.us-east-1.amazonaws.com',
    'User-Agent': 'kube-apiserver/v1.29.0 (linux/amd64) kubernetes/3f7a50f',
    'X-AiSOC-Cluster-Name': CLUSTER,
    'X-AiSOC-K8s-Token': token,
    'X-Forwarded-For': '203.0.113.10',
    'X-Forwarded-Port': '443',
    'X-Forwarded-Proto': 'https',
  };
  return {
    resource: '/v1/ingest/k8s-audit/{tenant_id}',
    path,
    httpMethod: 'POST',
    headers,
    multiValueHeaders: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, [v]])),
    queryStringParameters: null,
    multiValueQueryStringParameters: null,
    pathParameters: { tenant_id: TENANT },
    stageVariables: null,
    requestContext: {
      accountId: ACCOUNT,
      apiId: 'abcdef1234',
      domainName: 'abcdef1234.execute-api.us-east-1.amazonaws.com',
      httpMethod: 'POST',
      identity: { sourceIp: '203.0.113.10', userAgent: 'kube-apiserver/v1.29.0 (linux/amd64) kubernetes/3f7a50f' },
      path: `/prod${path}`,
      protocol: 'HTTP/1.1',
      requestId,
      requestTime: '26/Oct/2018:13:38:40 +0000',
      requestTimeEpoch: 1540561120000,
      resourceId: 'a1b2c3',
      resourcePath: '/v1/ingest/k8s-audit/{tenant_id}',
      stage: 'prod',
    },
    body,
    isBase64Encoded: false,
  };
}

/**
 * Variables for local runs: the ingest writes to stdout (a Lambda refuses the SQLite sink). sam
 * local sets only variables the template declares and resolves `!Ref SharedSecret` to the logical
 * id "SharedSecret", so the files empty the ARN and give the declared K8S_AUDIT_SHARED_SECRET
 * (and the inbox table, whose !Ref would name the logical id too).
 */
function localEnv(ingestOrigin, insecure = false) {
  return {
    Forwarder: {
      AISOC_INGEST_URL: `${ingestOrigin}/v1/ingest/k8s-audit/${TENANT}`,
      K8S_AUDIT_SHARED_SECRET_ARN: '',
      K8S_AUDIT_SHARED_SECRET: LOCAL_SHARED_SECRET,
      // host.docker.internal is not loopback, so lib/ship refuses plain http to it unless told:
      // the container reaches the host over Docker's private bridge, with a secret for local use only.
      ...(insecure ? { AISOC_ALLOW_INSECURE_HTTP: 'true' } : {}),
    },
    Ingest: {
      K8S_AUDIT_SHARED_SECRET_ARN: '',
      K8S_AUDIT_SHARED_SECRET: LOCAL_SHARED_SECRET,
      EVENTS_SINK: 'stdout',
      ALERTS_SINK: 'stdout',
      REJECTS_SINK: 'stdout',
      INBOX_TABLE: '',
    },
  };
}

/** Every event file by name, and the --env-vars files. */
export function buildEvents() {
  const lines = auditLines();
  const events = lines.map((line) => JSON.parse(line));
  const messages = lines.map((message, i) => ({ timestamp: epochMs(events[i]), message }));
  const eventList = JSON.stringify({ kind: 'EventList', apiVersion: 'audit.k8s.io/v1', metadata: {}, items: events });
  const emptyList = JSON.stringify({ kind: 'EventList', apiVersion: 'audit.k8s.io/v1', metadata: {}, items: [] });
  // The apiserver's own log shares the group: the Lambda must skip it (a subscription filter
  // pattern matches message text, not stream names).
  const apiserverLog = [
    {
      timestamp: 1540561114000,
      message: 'I1026 13:38:34.000000      10 controller.go:611] quota admission added evaluator for: deployments.apps',
    },
  ];

  const files = {
    'forwarder-cloudwatch-logs.json': awslogs(subscriptionPayload(AUDIT_STREAM, messages)),
    'forwarder-control-message.json': awslogs(CONTROL_MESSAGE),
    'forwarder-other-stream.json': awslogs(subscriptionPayload(APISERVER_STREAM, apiserverLog)),
    'forwarder-kinesis.json': {
      Records: [
        kinesisRecord(subscriptionPayload(AUDIT_STREAM, messages.slice(0, 4)), 1),
        kinesisRecord(CONTROL_MESSAGE, 2),
        kinesisRecord(subscriptionPayload(AUDIT_STREAM, messages.slice(4)), 3),
      ],
    },
    'ingest-http-api-eventlist.json': httpApiEvent({ body: eventList, token: LOCAL_SHARED_SECRET, requestId: 'Ab1cDeFgIAMEbcQ=' }),
    'ingest-http-api-empty.json': httpApiEvent({ body: emptyList, token: LOCAL_SHARED_SECRET, requestId: 'Ab1cDeFgIAMEbcR=' }),
    'ingest-http-api-bad-token.json': httpApiEvent({ body: eventList, token: 'not-the-shared-secret', requestId: 'Ab1cDeFgIAMEbcS=' }),
    'ingest-http-api-gzip.json': httpApiEvent({ body: eventList, token: LOCAL_SHARED_SECRET, gzip: true, requestId: 'Ab1cDeFgIAMEbcT=' }),
    'ingest-rest-api-eventlist.json': restApiEvent({
      body: eventList,
      token: LOCAL_SHARED_SECRET,
      requestId: 'c6af9ac6-7b61-11e6-9a41-93e8deadbeef',
    }),
    // sam local invoke --env-vars: per-function variables, keyed by the template's logical ids.
    // The function runs in a container there, so the forwarder reaches `npm start` (the local
    // ingest, port 8080) on the host as host.docker.internal.
    'env.json': localEnv('http://host.docker.internal:8080', true),
    // The same for `aisoc-k8s-audit invoke`, which runs the bundle on this machine.
    'env.local.json': localEnv('http://127.0.0.1:8080'),
  };
  return Object.fromEntries(Object.entries(files).map(([name, value]) => [name, `${JSON.stringify(value, null, 2)}\n`]));
}

/**
 * The content of an event file with every gzip+base64 string decompressed: gzip bytes differ
 * between zlib builds (Node versions), the payload they carry does not.
 */
function canonical(text) {
  const walk = (v) => {
    if (typeof v === 'string' && v.startsWith('H4sI')) {
      try {
        return { gunzipped: gunzipSync(Buffer.from(v, 'base64')).toString('utf8') };
      } catch {
        return v;
      }
    }
    if (Array.isArray(v)) return v.map(walk);
    if (v !== null && typeof v === 'object') {
      // Sizes of the compressed body change with the compressor too.
      return Object.fromEntries(
        Object.entries(v).map(([k, x]) => [k, k === 'content-length' && v['content-encoding'] === 'gzip' ? '<gzip length>' : walk(x)]),
      );
    }
    return v;
  };
  try {
    return JSON.stringify(walk(JSON.parse(text)));
  } catch {
    return text;
  }
}

if (process.argv[1] && new URL(import.meta.url).pathname === process.argv[1]) {
  const check = process.argv.includes('--check');
  let stale = 0;
  for (const [name, text] of Object.entries(buildEvents())) {
    const path = join(OUT, name);
    if (check) {
      let old = '';
      try {
        old = readFileSync(path, 'utf8');
      } catch {}
      if (canonical(old) !== canonical(text)) {
        stale++;
        process.stderr.write(`stale: infra/events/${name}\n`);
      }
    } else {
      writeFileSync(path, text);
      process.stdout.write(`wrote infra/events/${name}\n`);
    }
  }
  process.exitCode = stale > 0 ? 1 : 0;
}
