// Pack files are parsed at build time and bundled as data (scripts/yaml-data.mjs, for esbuild
// and vitest alike), so the shipped rules cost no YAML parsing at init.
declare module '*.yaml' {
  const doc: unknown;
  export default doc;
}
