import type { Plugin } from 'esbuild';

export declare function yamlModule(text: string): string;
export declare const yamlData: Plugin;
