import { ConfigError } from '../config/env.js';
import { editDistance } from '../edit-distance.js';
import { UsageError } from './args.js';
import type { Command, CommandIo } from './io.js';
import { packageVersion } from './package-root.js';

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
  status: {
    summary: "a tenant's clusters, last events, and the last hour's events, alerts and rejects, from a running serve",
    load: () => import('./status.js'),
  },
  rejected: { summary: 'list the items the local ingest rejected, or replay them (--replay)', load: () => import('./rejected.js') },
  inbox: { summary: 'create, list and revoke legacy inbox tokens (k8s-audit template)', load: () => import('./inbox.js') },
  invoke: { summary: 'run a built Lambda bundle on an event file, like sam local invoke', load: () => import('./invoke.js') },
  connector: {
    summary: 'run one connector instance from its config (connector run --config FILE), or check its health',
    load: () => import('./connector.js'),
  },
  tail: { summary: 'tail an apiserver audit log file and deliver it to the ingest (file_tail mode)', load: () => import('./tail.js') },
  rules: { summary: 'list the detection rules, or run their examples (rules list|test [DIR])', load: () => import('./rules.js') },
  'test-connection': { summary: "check a connector config as the UI's Test connection does", load: () => import('./test-connection.js') },
};

const USAGE = `aisoc-k8s-audit: the AiSOC Kubernetes audit-log connector

Usage: aisoc-k8s-audit <command> [options]
       aisoc-k8s-audit help <command>       (or <command> --help)
       aisoc-k8s-audit --version

Exit status: 0 success, 1 a runtime failure (something could not be reached, delivered or
read), 2 a usage or configuration error.

Commands:
${Object.entries(COMMANDS)
  .map(([name, c]) => `  ${name.padEnd(16)}${c.summary}`)
  .join('\n')}
`;

/** The known command closest to a mistyped one (edit distance at most 3, or a prefix), if any. */
export function closestCommand(name: string, names: readonly string[] = Object.keys(COMMANDS)): string | undefined {
  const prefixed = names.filter((n) => n.startsWith(name) && name.length >= 2);
  if (prefixed.length === 1) return prefixed[0];
  let best: { name: string; d: number } | undefined;
  for (const n of names) {
    const d = editDistance(name, n);
    if (d <= Math.min(3, Math.floor(n.length / 2)) && (best === undefined || d < best.d)) best = { name: n, d };
  }
  return best?.name;
}

/** Runs the command named by `argv[0]`; resolves to the process exit code. */
export async function main(argv: string[], io: CommandIo): Promise<number> {
  let [name, ...rest] = argv;
  if (name === '--version' || name === '-v' || name === 'version') {
    io.stdout.write(`aisoc-k8s-audit ${packageVersion()}\n`);
    return 0;
  }
  // `help <command>` is `<command> --help`, as in kubectl and git.
  if (name === 'help' && rest[0] !== undefined) [name, rest] = [rest[0], ['--help']];
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.stdout.write(USAGE);
    return name === undefined ? 2 : 0;
  }
  const entry = COMMANDS[name];
  if (entry === undefined) {
    const close = closestCommand(name);
    io.stderr.write(
      `aisoc-k8s-audit: unknown command ${JSON.stringify(name)}${close === undefined ? '' : `; did you mean ${JSON.stringify(close)}?`}\n` +
        `Run 'aisoc-k8s-audit --help' for the commands.\n`,
    );
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
    // A configuration error is the user's to fix, like a usage error: exit 2 (kubectl, aws).
    if (err instanceof ConfigError) {
      io.stderr.write(`aisoc-k8s-audit ${name}: ${err.message}\n`);
      return 2;
    }
    io.stderr.write(`aisoc-k8s-audit ${name}: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}
