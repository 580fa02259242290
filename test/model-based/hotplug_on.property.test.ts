// Model-based suite, controllers with virtio-scsi events (hotplug=on): random plug/unplug/rescan/I/O
// plans; after every step the guest's sysfs, /dev, by-path links and lsscsi equal the model's
// prediction, and the idle guest holds no orphan, busy host, used descriptor or leaked DMA object.
import { it } from 'vitest';
import { runScsiProperty } from '../../src/testkit/index.ts';
import { RUNS, TIMEOUT_MS } from './suite.ts';

it(`matches the model over ${RUNS} random plans with hotplug=on`, async () => {
  await runScsiProperty({ topology: { hotplug: true }, plan: { hotplug: true }, fc: { numRuns: RUNS } });
}, TIMEOUT_MS);
