/** The console's files copied as they are, beside the bundled app.js. */
export declare const CONSOLE_STATIC_FILES: readonly string[];
/** Bundles web/console/app.ts into `<outdir>/app.js` and copies the page and stylesheet. */
export declare function buildConsole(root: string, outdir: string, opts?: { quiet?: boolean }): Promise<void>;
