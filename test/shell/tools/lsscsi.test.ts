// Ours: golden conformance and unit tests for the SCSI userland tools (lsscsi).
import { describe, expect, it } from 'vitest';
import { lsscsi, size2string } from '../../../src/shell/lsscsi.ts';
import { goldenWorld } from './golden_device.ts';
import { replay } from './conformance.ts';

const LABELS = ['lsscsi', 'lsscsi_g', 'lsscsi_H', 'lsscsi_Hv', 'lsscsi_v', 'lsscsi_t', 'lsscsi_i', 'lsscsi_s', 'lsscsi_c', 'lsscsi_d'];
const WORLDS: readonly [string, string][] = [
  ['seed_single_disk', 'boot'], ['seed_disk_and_cd_same_bus', 'boot'], ['seed_two_buses', 'boot'],
  ['scsi_debug', 'boot'], ['hotplug_event', 'plugged'], ['hotplug_event', 'unplugged'],
];

describe('lsscsi matches the goldens', () => {
  for (const [scenario, snapshot] of WORLDS) {
    const w = goldenWorld(scenario, snapshot);
    for (const label of LABELS) {
      if (!(label in w.snap.commands)) continue;
      it(`${scenario}/${snapshot} ${label}`, async () => {
        const { got, want } = await replay(w, label, lsscsi);
        expect(got).toEqual(want);
      });
    }
  }
});

describe('size2string (3 significant figures)', () => {
  it.each([
    [67108864n, true, '67.1MB'], [376832n, true, '376kB'], [16777216n, true, '16.7MB'], [999n, true, '999B'],
    [1000n, true, '1.00kB'], [67108864n, false, '64.0MiB'], [33554432n, true, '33.5MB'],
  ])('%s bytes', (n, ten, want) => { expect(size2string(n, ten)).toBe(want); });
});
