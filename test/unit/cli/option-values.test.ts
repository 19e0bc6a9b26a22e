import { describe, expect, it } from 'vitest';
import { runCli } from '../../helpers/cli.js';

// An option that takes a value, followed by a word that is an option: `invoke Ingest -e -h` printed
// the help (exit 0) as if -h were asked for, `tail --path -x` tailed a file named "-x". Every
// option that takes a value, of every command, now says it is missing its value, by name (exit 2).
const VALUE_OPTIONS: [string[], string[]][] = [
  [['backfill'], ['log-group', 'start', 'end', 'stream-prefix', 'cluster', 'rate', 'page-size', 'progress-interval']],
  [
    ['connector', 'run'],
    ['config', 'interval', 'health-file', 'metrics-port', 'metrics-host'],
  ],
  [
    ['connector', 'health'],
    ['health-file', 'max-age'],
  ],
  [['events'], ['tenant', 'cluster', 'severity', 'since', 'limit', 'data-dir', 'output']],
  [
    ['inbox', 'create'],
    ['tenant', 'cluster', 'label', 'template', 'data-dir'],
  ],
  [['inbox', 'list'], ['data-dir']],
  [
    ['invoke', 'Ingest'],
    ['event', 'env', 'env-vars', 'template', 'template-file', 'parameter-overrides', 'timeout', 'dist', 'add-host', 'region', 'profile'],
  ],
  [['normalise'], ['tenant', 'cluster']],
  [['redrive'], ['queue-url', 'max-messages', 'visibility-timeout', 'cluster', 'set-aside', 'progress-interval']],
  [['rejected'], ['tenant', 'since', 'limit', 'data-dir']],
  [['serve'], ['host', 'port', 'data-dir', 'tls-cert', 'tls-key', 'tls-client-ca']],
  [['status'], ['tenant', 'url', 'output']],
  [['tail'], ['config', 'path', 'cursor', 'cluster', 'interval', 'health-file', 'metrics-port', 'metrics-host']],
  [['test-connection'], ['config']],
];

const cases = VALUE_OPTIONS.flatMap(([command, options]) =>
  options.flatMap((o) => ['-h', '--help', '-x', '--json'].map((next) => [command.join(' '), `--${o}`, next] as const)),
);

describe('an option whose value is missing, an option following it', () => {
  it.each(cases)('%s %s %s: an error naming the option, not the help nor a value', async (command, option, next) => {
    const name = command.split(' ')[0] as string;
    // A data dir that does not exist: a command that took the next word as its value would fail on it.
    const r = await runCli([...command.split(' '), option, next], { AISOC_DATA_DIR: '/nonexistent/aisoc-option-values' });

    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(
      `aisoc-k8s-audit ${name}: ${option} needs a value (${next} is an option; a value that starts with - goes as ${option}=<value>)\n` +
        `Run 'aisoc-k8s-audit ${name} --help' for usage.\n`,
    );
  });

  it.each([
    ['-e', '--event'],
    ['-n', '--env-vars'],
    ['-t', '--template'],
  ])('invoke Ingest %s -h names %s, the option -e stands for', async (short, long) => {
    const r = await runCli(['invoke', 'Ingest', short, '-h']);
    expect(r).toMatchObject({ code: 2, stdout: '' });
    expect(r.stderr).toContain(`aisoc-k8s-audit invoke: ${long} needs a value (-h is an option;`);
  });

  it('still prints the help for -h or --help given as an option, after one without a value or before a bad one', async () => {
    for (const argv of [
      ['invoke', 'Ingest', '-h'],
      ['tail', '--once', '-h'],
      ['events', '--help', '--limit'],
      ['connector', 'health', '-h'],
      ['inbox', 'list', '--help'],
      ['rules', 'test', '-h'],
    ]) {
      const r = await runCli(argv);
      expect(r.code, argv.join(' ')).toBe(0);
      expect(r.stdout, argv.join(' ')).toMatch(/^Usage: aisoc-k8s-audit /);
    }
  });

  it('takes a value starting with - as --name=value, and a negative number as a value its range check refuses', async () => {
    const tenant = await runCli(['normalise', '--tenant=-x'], {}, '');
    expect(tenant).toMatchObject({ code: 2, stderr: expect.stringContaining('aisoc-k8s-audit normalise: --tenant must match') });
    const port = await runCli(['serve', '--port', '-1']);
    expect(port).toMatchObject({ code: 2, stderr: expect.stringContaining('--port must be a port from 0 to 65535') });
  });
});
