import { UsageError } from './args.js';
import type { Command, CommandIo } from './io.js';

interface CommandEntry {
  summary: string;
  load: () => Promise<{ run: Command }>;
}

// Each command is imported only when it runs, so `normalise` does not load the AWS SDK.
const COMMANDS: Record<string, CommandEntry> = {
  normalise: { summary: 'normalise audit events from files or stdin to NDJSON records', load: () => import('./normalise.js') },
  backfill: {
    summary: 'replay a time range of an EKS audit log group (FilterLogEvents) into the ingest',
    load: () => import('./backfill.js'),
  },
  redrive: { summary: "replay the forwarder's failure queue (SQS) and delete what was delivered", load: () => import('./redrive.js') },
  serve: {
    summary: 'run the ingest API locally (the same routes as the Lambda) with the embedded SQLite sink',
    load: () => import('./serve.js'),
  },
  events: { summary: 'show the events and alerts the local ingest stored', load: () => import('./events.js') },
  rejected: { summary: 'list the items the local ingest rejected, or replay them (--replay)', load: () => import('./rejected.js') },
  inbox: { summary: 'create, list and revoke legacy inbox tokens (k8s-audit template)', load: () => import('./inbox.js') },
  invoke: { summary: 'run a built Lambda bundle on an event file, like sam local invoke', load: () => import('./invoke.js') },
  tail: { summary: 'tail an apiserver audit log file and deliver it to the ingest (file_tail mode)', load: () => import('./tail.js') },
  rules: { summary: 'list the detection rules, or run their examples (rules list|test [DIR])', load: () => import('./rules.js') },
  'test-connection': { summary: "check a connector config as the UI's Test connection does", load: () => import('./test-connection.js') },
};

const USAGE = `aisoc-k8s-audit: the AiSOC Kubernetes audit-log connector

Usage: aisoc-k8s-audit <command> [options]
       aisoc-k8s-audit <command> --help

Commands:
${Object.entries(COMMANDS)
  .map(([name, c]) => `  ${name.padEnd(16)}${c.summary}`)
  .join('\n')}
`;

/** Runs the command named by `argv[0]`; resolves to the process exit code. */
export async function main(argv: string[], io: CommandIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.stdout.write(USAGE);
    return name === undefined ? 2 : 0;
  }
  const entry = COMMANDS[name];
  if (entry === undefined) {
    io.stderr.write(`aisoc-k8s-audit: unknown command ${JSON.stringify(name)}\n\n${USAGE}`);
    return 2;
  }
  try {
    const mod = await entry.load();
    return await mod.run(rest, io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr.write(`aisoc-k8s-audit ${name}: ${err.message}\nRun 'aisoc-k8s-audit ${name} --help' for usage.\n`);
      return 2;
    }
    io.stderr.write(`aisoc-k8s-audit ${name}: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}
