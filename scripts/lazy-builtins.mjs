// The Lambda bundles' stand-ins (an esbuild plugin, used by scripts/build.mjs) for Node builtins
// that dependencies import at the top of modules our Lambdas load at init, and that cost a cold
// start for nothing (docs/performance.md, "Cold start"):
// - `node:http2` (with assert and the http2 internals: 10-25 ms of init here) is imported by
//   @smithy/node-http-handler for its HTTP/2 handler, which the Kinesis client defaults to for
//   SubscribeToShard. Our sinks send over HTTP/1.1 (NodeHttpHandler), so no Lambda of ours opens
//   an HTTP/2 session; the stand-in loads the real module the first time anything touches it
//   (`process.getBuiltinModule`: Node >= 20.16 and 22.3).
// - `node:process` as an ES module (imported by the SDK's user-agent code) is a facade built by
//   reading every property of `process`, lazily computed getters included (~7 ms here), where
//   the global `process` is the same object for free.
// - `node:stream/web` (web streams and their transforms: ~2 ms here) is imported by @middy/core for
//   its response-streaming mode, which only tests `instanceof ReadableStream`; our Lambdas answer
//   buffered and never enter that mode. The stand-in loads the real class if it ever does.
// A name a bundled module imports and a stand-in does not export fails the build, not a run.
const LAZY_BUILTINS = {
  http2: `
let real;
const load = () => (real ??= process.getBuiltinModule('node:http2'));
export const connect = (...args) => load().connect(...args);
export const constants = new Proxy({}, { get: (_, name) => load().constants[name] });
export default { connect, constants };
`,
  process: `
const p = globalThis.process;
export const env = p.env;
export const versions = p.versions;
export default p;
`,
  'stream/web': `
const real = () => process.getBuiltinModule('node:stream/web');
export class ReadableStream {
  static [Symbol.hasInstance](value) { return value instanceof real().ReadableStream; }
}
`,
};
export const lazyBuiltins = {
  name: 'aisoc-lazy-builtins',
  setup(b) {
    b.onResolve({ filter: /^(node:)?(http2|process|stream\/web)$/ }, (args) => ({
      path: args.path.replace(/^node:/, ''),
      namespace: 'aisoc-builtin',
    }));
    b.onLoad({ filter: /.*/, namespace: 'aisoc-builtin' }, (args) => ({ contents: LAZY_BUILTINS[args.path], loader: 'js' }));
  },
};
