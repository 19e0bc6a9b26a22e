/**
 * The contract between `npm run bench` (test/bench/run.ts) and each benchmark file
 * `test/bench/<name>.bench.ts`, which exports `run(ctx): Promise<BenchFigure[]>`.
 */
export interface BenchFigure {
  /** What was measured, e.g. "normalise events/s". */
  figure: string;
  /** The measured value and its unit. */
  value: number;
  unit: string;
  /** The floor measured in the same run, and what it is ("JSON.parse+stringify events/s"). */
  floor: number | null;
  floorLabel: string;
  /** value / floor (or floor / value where lower is better: say so in `goal`). */
  ratio: number | null;
  /** The goal in words ("ratio ≥ 0.5") and whether this run met it. */
  goal: string;
  pass: boolean;
  /** Extra figures worth printing (p50, p99, bundle size, ...). */
  notes?: string;
}

export interface BenchContext {
  /** Seed for generated inputs, so a run can be repeated. */
  seed: number;
  /** Root of the checkout (for fixtures). */
  root: string;
  /**
   * The built bundles (`npm run build`'s dist/), copied aside when the run started so a build
   * running meanwhile (another terminal, a test) cannot swap them out under a benchmark.
   */
  dist: string;
  /** Shorter runs (used by a smoke test so the suite stays runnable). */
  quick: boolean;
}
