export function buildRe2jsFile(outfile: string, options?: { quiet?: boolean }): Promise<unknown>;
