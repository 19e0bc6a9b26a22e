// Shared by the property tests that `npm run fuzz` runs: the number of cases, and a tally that
// each file prints as one summary line (cases run, crashes, answers of 500, rejections without
// a reason), so a long run says what it proved instead of only "passed".

/** Cases per property: bounded in CI; `npm run fuzz` sets FUZZ_RUNS=100000. */
export const FUZZ_RUNS = Number(process.env.FUZZ_RUNS ?? 1000);

/** A test timeout that grows with FUZZ_RUNS (30 s for the CI default of 1,000 cases). */
export function fuzzTimeout(msPerCase = 10): number {
  return Math.max(30_000, FUZZ_RUNS * msPerCase);
}

/** What a property test saw, across all its cases. */
export class FuzzTally {
  cases = 0;
  crashes = 0;
  answers500 = 0;
  /** Answers refused with a 4xx (or 503), and items rejected inside a 200. */
  refusals = 0;
  rejectedItems = 0;
  /** Refusals and rejected items without a non-empty reason. */
  withoutReason = 0;
  readonly statuses = new Map<number, number>();

  constructor(readonly name: string) {}

  /** Counts one answer by status. */
  status(code: number): void {
    this.statuses.set(code, (this.statuses.get(code) ?? 0) + 1);
    if (code === 500) this.answers500++;
  }

  /** The line `npm run fuzz` prints for this property. */
  summary(): string {
    const statuses = [...this.statuses.entries()]
      .sort((a, b) => a[0] - b[0])
      .map(([s, n]) => `${s}×${n}`)
      .join(' ');
    return (
      `[fuzz] ${this.name}: ${this.cases} cases run, ${this.crashes} crashes, ${this.answers500} answers of 500, ` +
      `${this.refusals} refused requests and ${this.rejectedItems} rejected items, ${this.withoutReason} without a reason` +
      (statuses === '' ? '' : `; statuses ${statuses}`)
    );
  }
}
