import type { Writable } from 'node:stream';
import { Logger, type LogItem } from '@aws-lambda-powertools/logger';
import type { ConstructorOptions } from '@aws-lambda-powertools/logger/types';
import { LOG_LEVELS } from '../config/env.js';

// One logger for the whole bundle: Powertools Logger in both Lambdas, and the same class writing to
// a stream in the local commands, so every line has one shape (docs/deploy.md, "Operating it"):
//   {"level":"INFO","message":"ingest request","timestamp":"…","service":"aisoc-k8s-audit-ingest",
//    "sampling_rate":0, …the entry's own keys}
// plus, in Lambda, cold_start, function_name, function_request_id and xray_trace_id. The level
// comes from LOG_LEVEL (or POWERTOOLS_LOG_LEVEL), debug sampling from POWERTOOLS_LOGGER_SAMPLE_RATE.
// lib code never imports this: it takes a `LogFn` and stays free of any logging library.

import type { LogEntry } from '../ingest/service.js';

/** A structured log entry as lib code writes it (`msg`, an optional `level`, plain fields), defined once in the ingest core. */
export type { LogEntry };

/** Where lib code logs. */
export type LogFn = (entry: LogEntry) => void;

/** The `service` of each part's log lines. */
export const LOG_SERVICES = {
  forwarder: 'aisoc-k8s-audit-forwarder',
  ingest: 'aisoc-k8s-audit-ingest',
  serve: 'aisoc-k8s-audit-serve',
  tail: 'aisoc-k8s-audit-tail',
  backfill: 'aisoc-k8s-audit-backfill',
  redrive: 'aisoc-k8s-audit-redrive',
  connector: 'aisoc-k8s-audit-connector',
} as const;

/** The level an entry asks for, as a Logger method; anything unknown is info. */
function methodOf(level: unknown): 'debug' | 'info' | 'warn' | 'error' {
  return level === 'debug' || level === 'warn' || level === 'error' ? level : 'info';
}

/** Adapts a Logger to the `LogFn` lib code takes: `msg` becomes the line's `message`, the rest its fields. */
export function logTo(logger: Logger): LogFn {
  return (entry) => {
    const { level, msg, ...fields } = entry;
    logger[methodOf(level)](typeof msg === 'string' ? msg : String(msg ?? ''), fields);
  };
}

/**
 * A Powertools Logger that writes its lines to a stream (stderr for the local commands) instead of
 * process.stdout/stderr by level: `serve` with the stdout sink keeps stdout for records only.
 */
export class StreamLogger extends Logger {
  // Set after super(): a line printed while the base class is still being built goes to stderr.
  private out: Writable | undefined;

  constructor(out: Writable, options: ConstructorOptions = {}) {
    super(options);
    this.out = out;
  }

  protected override printLog(_logLevel: number, log: LogItem): void {
    log.prepareForPrint();
    (this.out ?? process.stderr).write(`${JSON.stringify(log.getAttributes(), this.getJsonReplacer())}\n`);
  }

  protected override createLogger(options?: ConstructorOptions): Logger {
    return new StreamLogger(this.out ?? process.stderr, options);
  }
}

/**
 * Runs a Lambda's init, and when it fails logs the failure as a line of the logger's own shape
 * (the error's name and message: a ConfigError names the variable, never a value), then rethrows
 * so the init fails as it must. The runtime prints its own `Init error` after it; a query or a
 * metric filter over the function's lines finds the failure in the shape it knows.
 */
export async function initOrLog<T>(log: LogFn, init: () => Promise<T>): Promise<T> {
  try {
    return await init();
  } catch (err) {
    log({ level: 'error', msg: 'init failed', error: err instanceof Error ? `${err.name}: ${err.message}` : String(err) });
    throw err;
  }
}

/** The Lambda logger of one function (lines on stdout, which Lambda ships to CloudWatch Logs). */
export function lambdaLogger(service: string): Logger {
  return new Logger({ serviceName: service });
}

/**
 * A local command's log: the Powertools line shape on `out`, level from the command's own
 * environment (LOG_LEVEL), so `serve` and `tail` read the same variables as the Lambdas.
 */
export function streamLog(out: Writable, service: string, env: NodeJS.ProcessEnv = process.env): LogFn {
  // The command's config loader has refused a level not in LOG_LEVELS (EnvReader.logLevel).
  const level = (env.POWERTOOLS_LOG_LEVEL || env.LOG_LEVEL || 'INFO').trim().toUpperCase();
  return logTo(new StreamLogger(out, { serviceName: service, logLevel: (LOG_LEVELS.includes(level) ? level : 'INFO') as 'INFO' }));
}
