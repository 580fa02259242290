// Model-based suite, controllers with no events (hotplug=off): stale LUs, scans and deletes: random plug/unplug/rescan/I/O
// plans; after every step the guest's sysfs, /dev, by-path links and lsscsi equal the model's
// prediction, and the idle guest holds no orphan, busy host, used descriptor or leaked DMA object.
import { it } from 'vitest';
import { runScsiProperty } from '../../src/testkit/index.ts';
import { RUNS, TIMEOUT_MS } from './suite.ts';

it(`matches the model over ${RUNS} random plans with hotplug=off`, async () => {
  await runScsiProperty({ topology: { hotplug: false }, plan: { hotplug: false }, fc: { numRuns: RUNS } });
}, TIMEOUT_MS);
