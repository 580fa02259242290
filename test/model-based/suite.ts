// Shared settings of the model-based suite (test/model-based/*.property.test.ts).

/**
 * Cases per property file: three files × 350 = 1,050 in CI (CI=1), 100 each elsewhere; FC_MB_RUNS
 * overrides. About 0.15 s per case (boot of 1–3 controllers included) on one core.
 */
export const RUNS = Number(process.env['FC_MB_RUNS'] ?? (process.env['CI'] ? 350 : 100));

/** Generous: the wall time is RUNS × ~0.15 s, plus shrinking when something fails. */
export const TIMEOUT_MS = 30 * 60_000;

