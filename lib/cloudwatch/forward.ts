import { openLogsData, readForwarderEvent } from './decode.js';
import { clusterFromLogGroup, isAuditStream } from './eks.js';
import type { PayloadView } from './envelope.js';
import { checkAuditLine, reportSalvaged, reportUnforwardable } from './lines.js';
import { emptyCounts, type ForwardDeps, type ForwardReport, type ForwardSettings, MAX_SAMPLES } from './report.js';
import type { EncodedPayload, LogEvent } from './types.js';
import { LineWindow } from './window.js';

async function forwardPayload(payload: PayloadView, origin: number, window: LineWindow, ctx: RunContext): Promise<void> {
  const { report: r, settings: s, deps } = ctx;
  if (payload.messageType === 'CONTROL_MESSAGE') {
    // CloudWatch Logs checks a new destination with these; they carry no log data.
    r.controlMessages++;
    deps.log({ level: 'info', msg: 'control message skipped', logGroup: payload.logGroup });
    return;
  }
  if (payload.messageType !== 'DATA_MESSAGE') {
    r.undecodable++;
    window.markFailed(origin);
    deps.log({ level: 'error', msg: 'unknown subscription messageType', messageType: payload.messageType, logGroup: payload.logGroup });
    return;
  }
  const count = payload.count;
  r.received += count;
  if (!isAuditStream(payload.logStream, s.streamPrefix)) {
    r.skippedStreams++;
    r.skippedEvents += count;
    // Another stream of an EKS control-plane group is routine (its filter cannot name streams).
    // A group that is no EKS control-plane group, with no CLUSTER_NAME saying it is meant, is
    // most likely a subscription on the wrong group, or a sample such as `sam local generate-event
    // cloudwatch logs` (testLogGroup): said at WARN, with what to check, not passed over as routine.
    const unexpected = s.clusterName === null && clusterFromLogGroup(payload.logGroup) === null;
    deps.log({
      level: unexpected ? 'warn' : 'info',
      msg: 'stream skipped: not an apiserver audit stream',
      logGroup: payload.logGroup,
      logStream: payload.logStream,
      events: count,
      streamPrefix: s.streamPrefix,
      ...(unexpected && {
        hint: "the log group is not an EKS control-plane group (/aws/eks/<cluster>/cluster): check that the subscription is on the cluster's group",
      }),
    });
    return;
  }
  // Never shipped without a cluster name: a log group not named /aws/eks/<cluster>/cluster (and no
  // CLUSTER_NAME) names its events by the log group, which is at least stable and findable.
  let cluster = s.clusterName ?? clusterFromLogGroup(payload.logGroup);
  if (cluster === null) {
    cluster = payload.logGroup;
    deps.log({
      level: 'warn',
      msg: 'no cluster name: log group is not /aws/eks/<cluster>/cluster and CLUSTER_NAME is not set; using the log group name',
      logGroup: payload.logGroup,
    });
  }
  // The payload's owner is the AWS account of the log group (the events' own user.extra.arn may
  // name another account, as in the Security Lake sample).
  await window.useCluster(cluster, payload.logStream, /^\d{12}$/.test(payload.owner) ? payload.owner : null);
  for (let i = 0; i < count; i++) {
    let e: LogEvent;
    try {
      e = payload.event(i);
    } catch (err) {
      r.invalid++;
      deps.log({
        level: 'warn',
        msg: 'log event is not readable',
        reason: (err as Error).message,
        logGroup: payload.logGroup,
        logStream: payload.logStream,
        index: i,
      });
      continue;
    }
    const verdict = checkAuditLine(e.message, e.timestamp);
    if (verdict.kind === 'event') {
      // Awaited only when the line filled the window and it ships (LineWindow.add).
      const shipping = window.add(e.message, origin);
      if (shipping !== undefined) await shipping;
      continue;
    }
    const where = {
      logGroup: payload.logGroup,
      logStream: payload.logStream,
      eventId: e.id,
      // Not `timestamp`: the log line's own key, which Powertools drops with a warning line.
      logEventTimestamp: e.timestamp,
      length: e.message.length,
    };
    if (verdict.kind === 'salvaged') {
      reportSalvaged(verdict, where, r, deps.log);
      await window.add(verdict.text, origin);
      continue;
    }
    reportUnforwardable(verdict, where, r, deps.log);
  }
}

interface RunContext {
  report: ForwardReport;
  settings: ForwardSettings;
  deps: ForwardDeps;
}

/**
 * The forwarder core: reads a CloudWatch Logs subscription event or a Kinesis batch of them,
 * payload by payload, and ships every audit line through `lib/ship`. Returns what happened to
 * every line; never throws for data problems (see `hasFailures` / `ForwardError`).
 */
export async function forwardSubscriptionEvent(event: unknown, settings: ForwardSettings, deps: ForwardDeps): Promise<ForwardReport> {
  const shape = readForwarderEvent(event);
  const report: ForwardReport = { ...emptyCounts(), kind: shape.kind, failedRecords: [], samples: [] };
  const ctx: RunContext = { report, settings, deps };
  const window = new LineWindow(settings, deps, report);
  for (const [origin, encoded] of shape.payloads.entries()) {
    // Every payload the invocation holds counts as received, one that cannot be decoded too.
    report.payloads++;
    const payload = decodeOne(encoded, origin, window, ctx);
    if (payload === null) continue;
    await forwardPayload(payload, origin, window, ctx);
  }
  await window.flush();
  const failed = window.failedOrigins();
  report.failedRecords = shape.payloads
    .filter((p, i) => failed.has(i) && p.sequenceNumber !== undefined)
    .map((p) => p.sequenceNumber as string);
  return report;
}

function decodeOne(encoded: EncodedPayload, origin: number, window: LineWindow, ctx: RunContext): PayloadView | null {
  try {
    return openLogsData(encoded.data);
  } catch (err) {
    ctx.report.undecodable++;
    window.markFailed(origin);
    if (ctx.report.samples.length < MAX_SAMPLES) ctx.report.samples.push({ reason: (err as Error).message, retryable: false });
    ctx.deps.log({
      level: 'error',
      msg: 'subscription payload cannot be decoded; the invocation will fail so the event is kept',
      error: (err as Error).message,
      sequenceNumber: encoded.sequenceNumber ?? null,
    });
    return null;
  }
}
