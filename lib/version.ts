// Replaced at build time by a string literal (scripts/version-define.mjs: esbuild's and Vite's
// `define`); undeclared in a bundle built without it, hence the `typeof` guard.
declare const __AISOC_VERSION__: string | undefined;

/** The connector's version (package.json's, fixed at build time); undefined in a bundle built without the define. */
export const CONNECTOR_VERSION: string | undefined = typeof __AISOC_VERSION__ === 'string' ? __AISOC_VERSION__ : undefined;
