// The rules of credentials in free text (lib/audit/redact-argv.ts, redact-uri.ts scrubTextUrls):
// command lines as `kubectl exec` and the kubelet's `/run` carry them, URLs quoted in error text.
import { describe, expect, it } from 'vitest';
import { scrubArgv, scrubCommandQuery } from '../../../lib/audit/redact-argv.js';
import { scrubTextUrls } from '../../../lib/audit/redact-uri.js';

describe('command lines', () => {
  it.each([
    // Datadog's process scrubber forms: name=value, name value, name:value.
    [
      ['app', '--db-password=hunter2', '--port=5432'],
      ['app', '--db-password=[REDACTED]', '--port=5432'],
    ],
    [
      ['app', '--api-key', 'k-123', '-v'],
      ['app', '--api-key', '[REDACTED]', '-v'],
    ],
    // psql's --password takes no value: the next flag stays.
    [
      ['psql', '--password', '-h', 'db'],
      ['psql', '--password', '-h', 'db'],
    ],
    // A header given to curl, as one argument or as a shell line.
    [
      ['curl', '-H', 'Authorization: Bearer abc.def'],
      ['curl', '-H', 'Authorization: Bearer [REDACTED]'],
    ],
    [
      ['sh', '-c', 'curl -H "Authorization: Basic dXNlcjpwYXNz" https://x/'],
      ['sh', '-c', 'curl -H "Authorization: Basic [REDACTED]" https://x/'],
    ],
    [
      ['curl', '-u', 'admin:s3cr3t', 'https://x/'],
      ['curl', '-u', 'admin:[REDACTED]', 'https://x/'],
    ],
    // MySQL's glued -p, after the client's name only.
    [
      ['/usr/bin/mysqldump', '-uroot', '-pS3cret', 'db'],
      ['/usr/bin/mysqldump', '-uroot', '-p[REDACTED]', 'db'],
    ],
    [
      ['ls', '-pla'],
      ['ls', '-pla'],
    ],
    // A URL's password, an environment assignment before a command.
    [
      ['psql', 'postgres://app:pw@db:5432/x'],
      ['psql', 'postgres://app:[REDACTED]@db:5432/x'],
    ],
    [
      ['env', 'PGPASSWORD=pw', 'psql'],
      ['env', 'PGPASSWORD=[REDACTED]', 'psql'],
    ],
  ])('%j → %j', (argv, expected) => expect(scrubArgv(argv)).toEqual(expected));

  it('returns the same array when nothing is a credential', () => {
    const argv = ['nginx', '-g', 'daemon off;', '--user=www'];
    expect(scrubArgv(argv)).toBe(argv);
  });

  it("reads a kubelet /run's cmd and leaves a URI without a command alone", () => {
    const run = '/api/v1/nodes/n1/proxy/run/default/web-0/app?cmd=mysql+-uroot+-pS3cret';
    expect(scrubCommandQuery(run)).toBe('/api/v1/nodes/n1/proxy/run/default/web-0/app?cmd=mysql+-uroot+-p[REDACTED]');
    const uri = '/api/v1/namespaces/default/pods/web-0/exec?command=sh&container=app&stdin=true';
    expect(scrubCommandQuery(uri)).toBe(uri);
  });
});

describe('URLs in text', () => {
  it('takes a userinfo password and a credential query value, and returns the same string otherwise', () => {
    expect(scrubTextUrls('Post "https://u:p@h/x?timeout=10s&token=t": EOF')).toBe(
      'Post "https://u:[REDACTED]@h/x?timeout=10s&token=[REDACTED]": EOF',
    );
    const text = 'failed calling webhook "v.example.com": failed to call webhook: Post "https://v.ns.svc:443/validate?timeout=10s": EOF';
    expect(scrubTextUrls(text)).toBe(text);
  });
});
