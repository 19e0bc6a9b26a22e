/** Every problem of the rule files in `dir` (default: the shipped pack), as `file: id: problem` lines. */
export function shippedRuleProblems(dir?: string): Promise<string[]>;
