import { dirname, join, normalize } from 'node:path';
import { describe, expect, it } from 'vitest';
import { importsOf, sourceFiles, sourceText } from '../helpers/source.js';

// The module boundaries CONTRIBUTING.md ("Dependencies") states, checked over the import lines of
// every file, so a change that crosses one fails here instead of in a review.

/** Each relative import of a lib file, resolved to a repository path (`lib/ship/post.ts`). */
function relativeImports(file: string): string[] {
  return importsOf(sourceText(file))
    .filter((spec) => spec.startsWith('.'))
    .map((spec) => normalize(join(dirname(file), spec)).replace(/\.js$/, '.ts'));
}

// The pure, dependency-free modules at the root of lib that config may use.
const CONFIG_MAY_IMPORT = new Set(['lib/protocol.ts', 'lib/json.ts']);

describe('lib/config is a leaf', () => {
  it('no file of lib/config imports from another folder of lib (only lib/protocol.ts and lib/json.ts)', () => {
    const files = sourceFiles('lib/config');
    expect(files.length).toBeGreaterThan(5);
    const crossings = files.flatMap((file) =>
      relativeImports(file)
        .filter((target) => !target.startsWith('lib/config/') && !CONFIG_MAY_IMPORT.has(target))
        .map((target) => `${file} → ${target}`),
    );
    expect(crossings).toEqual([]);
  });

  it('the modules config may import import nothing themselves', () => {
    for (const file of CONFIG_MAY_IMPORT) expect(importsOf(sourceText(file)), file).toEqual([]);
  });

  it('the import reader sees static, type-only, multi-line, re-exported and dynamic imports, not comments', () => {
    const text = [
      "import { a } from '../ship/a.js';",
      "import type { B } from '../audit/types.js';",
      'import {',
      '  c,',
      "} from '../cloudwatch/c.js';",
      "export { d } from '../metrics/d.js';",
      "const e = await import('../tail/e.js');",
      "// import { f } from '../sinks/f.js';",
      "/** import { g } from '../sinks/g.js'; */",
    ].join('\n');
    expect(importsOf(text)).toEqual(['../ship/a.js', '../audit/types.js', '../cloudwatch/c.js', '../metrics/d.js', '../tail/e.js']);
  });
});

// A transport's modules: the node:http(s) server and its sockets, the Lambda event types and middy.
const TRANSPORT = /^(node:)?(http|https|http2|net|tls)$|^aws-lambda$|^@middy\//;

describe('the ingest core is transport-free', () => {
  it('no file of lib/ingest outside lib/ingest/adapters imports node:http, node:net, aws-lambda or middy', () => {
    const core = sourceFiles('lib/ingest').filter((file) => !file.startsWith('lib/ingest/adapters/'));
    expect(core.length).toBeGreaterThan(5);
    const transports = core.flatMap((file) =>
      importsOf(sourceText(file))
        .filter((spec) => TRANSPORT.test(spec))
        .map((spec) => `${file} → ${spec}`),
    );
    expect(transports).toEqual([]);
  });

  it('the adapters are where the transports are', () => {
    expect(importsOf(sourceText('lib/ingest/adapters/server.ts'))).toContain('node:http');
    expect(importsOf(sourceText('lib/ingest/adapters/lambda.ts'))).toContain('aws-lambda');
  });
});
