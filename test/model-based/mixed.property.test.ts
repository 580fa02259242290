// Model-based suite, mixed machines: 1–3 controllers, each with hotplug on or off, controllers added
// and removed at run time, every scan form (good and EINVAL), delete, rescan, reads and writes.
import { it } from 'vitest';
import { runScsiProperty } from '../../src/testkit/index.ts';
import { RUNS, TIMEOUT_MS } from './suite.ts';

it(`matches the model over ${RUNS} random plans on mixed controllers`, async () => {
  await runScsiProperty({ fc: { numRuns: RUNS } });
}, TIMEOUT_MS);
