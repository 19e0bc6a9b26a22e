/** `{ __AISOC_VERSION__: '"<package.json version>"' }`: esbuild's and Vite's `define` for lib/version.ts. */
export declare const versionDefine: Readonly<Record<string, string>>;
