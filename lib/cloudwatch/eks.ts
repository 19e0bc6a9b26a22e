import { DEFAULT_AUDIT_STREAM_PREFIX } from '../config/defaults.js';

export { DEFAULT_AUDIT_STREAM_PREFIX };

/** The suffix EKS leaves on an audit line it cut to fit a CloudWatch Logs event (falcosecurity/plugins#297). */
export const TRUNCATED_SUFFIX = '[Truncated...]';

const EKS_LOG_GROUP = /^\/aws\/eks\/([^/]+)\/cluster$/;

/** The cluster name of an EKS control-plane log group `/aws/eks/<cluster>/cluster`, or null. */
export function clusterFromLogGroup(logGroup: string): string | null {
  return EKS_LOG_GROUP.exec(logGroup)?.[1] ?? null;
}

/** Whether a log stream carries apiserver audit lines. */
export function isAuditStream(logStream: string, prefix: string = DEFAULT_AUDIT_STREAM_PREFIX): boolean {
  return logStream.startsWith(prefix);
}
