// YAML data files imported by the code (the shipped detection rules, rules/*.yaml) are parsed
// at build time and bundled as JSON: parsing the pack's YAML at init would cost a Lambda's cold
// start hundreds of milliseconds; reading JSON costs nothing. One plugin for esbuild (the
// bundles, the test bundles) and one transform for vitest, so every path sees the same data.
import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';

/** The document of a YAML file as a JavaScript module's default export. */
export function yamlModule(text) {
  return `export default ${JSON.stringify(parse(text))};`;
}

/** esbuild plugin: `import doc from './x.yaml'` gives the parsed document. */
export const yamlData = {
  name: 'aisoc-yaml-data',
  setup(b) {
    b.onLoad({ filter: /\.yaml$/ }, async (args) => ({
      contents: JSON.stringify(parse(await readFile(args.path, 'utf8'))),
      loader: 'json',
    }));
  },
};
