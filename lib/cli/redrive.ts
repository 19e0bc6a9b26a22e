import { SQSClient } from '@aws-sdk/client-sqs';
import { DEFAULT_REDRIVE_VISIBILITY_SECONDS, redriveFailures } from '../cloudwatch/redrive.js';
import { awsCallError, awsClientOptions, awsEndpointOf, loadForwarderSettings } from '../config/forwarder.js';
import { LOG_SERVICES, streamLog } from '../log/index.js';
import { flag, intFlag, parseArgs, UsageError } from './args.js';
import type { CommandIo, ShippingCommandDeps } from './io.js';

/** Injectable pieces of the command, for tests. */
export type RedriveDeps = ShippingCommandDeps;

const HELP = `Usage: aisoc-k8s-audit redrive --queue-url URL [--max-messages N] [--visibility-timeout SECONDS] [--cluster NAME]

Replays the forwarder's on-failure destination (an SQS queue of Lambda asynchronous invocation
records, {"requestPayload": <the original event>, ...}; a dead-letter queue holding the bare
events works too) through the same code as the forwarder Lambda. Each message is deleted only
after every audit event in it was delivered; the others stay in the queue and are listed.
Replaying is safe: the ingest drops repeats (same auditID and stage) as duplicates.

Options:
  --queue-url URL             the SQS queue of the forwarder's on-failure destination
  --max-messages N            stop after N messages (default: until the queue is empty)
  --visibility-timeout S      seconds a message stays hidden while it is replayed (default ${DEFAULT_REDRIVE_VISIBILITY_SECONDS})
  --cluster NAME              cluster name sent with the events (default: CLUSTER_NAME, else from each log group)
  --help                      show this help

Environment: AISOC_INGEST_URL and K8S_AUDIT_SHARED_SECRET (or K8S_AUDIT_SHARED_SECRET_ARN), as for
the forwarder Lambda; the AWS credentials and region of the SDK's default chain.

One line per message on stderr. Exit status: 0 when every message was replayed and deleted,
1 when some were kept, 2 for usage errors.
`;

/** `aisoc-k8s-audit redrive`: the failure queue back through the forwarder core. */
export async function run(argv: string[], io: CommandIo, deps: RedriveDeps = {}): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    io.stdout.write(HELP);
    return 0;
  }
  const args = parseArgs(argv, ['queue-url', 'max-messages', 'visibility-timeout', 'cluster']);
  if (args.positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(args.positionals[0])}`);
  const queueUrl = flag(args, 'queue-url');
  if (queueUrl === undefined) throw new UsageError('--queue-url is required');
  const maxMessages = intFlag(args, 'max-messages', 1);
  const visibility = intFlag(args, 'visibility-timeout', 1);
  const loaded = await loadForwarderSettings(io.env, ...(deps.readSecret ? [deps.readSecret] : []));
  const cluster = flag(args, 'cluster');
  const settings = cluster === undefined ? loaded : { ...loaded, clusterName: cluster };
  const log = streamLog(io.stderr, LOG_SERVICES.redrive, io.env);
  const clientOptions = awsClientOptions(io.env, 'SQS');
  const endpoint = awsEndpointOf(clientOptions, 'sqs');
  const sqs = new SQSClient(clientOptions);
  try {
    const report = await redriveFailures({
      sqs: {
        send: (async (command: Parameters<SQSClient['send']>[0]) => {
          try {
            return await sqs.send(command);
          } catch (err) {
            throw awsCallError('SQS', endpoint, err);
          }
        }) as SQSClient['send'],
      },
      queueUrl,
      settings,
      deps: { log, ...(deps.fetch ? { fetch: deps.fetch } : {}), ...(deps.sleep ? { sleep: deps.sleep } : {}) },
      ...(maxMessages === undefined ? {} : { maxMessages }),
      ...(visibility === undefined ? {} : { visibilitySeconds: visibility }),
      onMessage: (m) =>
        io.stderr.write(
          m.deleted
            ? `redrive: message ${m.messageId}: ${m.forwarded} events delivered, deleted\n`
            : `redrive: message ${m.messageId}: kept in the queue: ${m.reason ?? 'not delivered'} (${m.forwarded} delivered, ${m.failed} failed)\n`,
        ),
    });
    io.stderr.write(
      `redrive done: ${report.messages} messages, ${report.deleted} deleted, ${report.kept} kept, ${report.forwarded} events delivered\n`,
    );
    return report.kept > 0 ? 1 : 0;
  } finally {
    sqs.destroy();
  }
}
