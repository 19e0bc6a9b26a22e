// The connector's version, package.json's, as esbuild's `define` (and Vite's, for the tests) gives
// it to the code: `__AISOC_VERSION__` becomes a string literal in every bundle, so nothing reads
// package.json at run time (a Lambda bundle has none beside it, and a cold start pays no file read).
import { readFileSync } from 'node:fs';

const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));

export const versionDefine = Object.freeze({ __AISOC_VERSION__: JSON.stringify(version) });
