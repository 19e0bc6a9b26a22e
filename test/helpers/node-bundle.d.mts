import type { BuildOptions } from 'esbuild';

export declare const NODE_TEST_BUNDLE: Readonly<BuildOptions>;
