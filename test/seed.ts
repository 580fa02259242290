// Pins fast-check's seed: fixed in CI (or FC_SEED=N), random but printed elsewhere, so every failure reproduces.
import fc from 'fast-check';

const fromEnv = process.env['FC_SEED'];
const seed = fromEnv !== undefined ? Number(fromEnv) : process.env['CI'] ? 20261125 : (Date.now() ^ 0x5eed) >>> 0;
fc.configureGlobal({ seed, numRuns: Number(process.env['FC_RUNS'] ?? 100) });
if (!process.env['CI'] && fromEnv === undefined) {
  // Only printed when the seed is not already known to the person running the tests.
  process.stdout.write(`fast-check seed ${seed} (rerun with FC_SEED=${seed})\n`);
}
