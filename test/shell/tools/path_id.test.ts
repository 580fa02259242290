// Ours: golden conformance and unit tests for the SCSI userland tools (path_id).
import { describe, expect, it } from 'vitest';
import { pathId, pathIdTag } from '../../../src/shell/path_id.ts';
import { udevadm } from '../../../src/shell/udevadm.ts';
import { goldenWorld } from './golden_device.ts';
import { replay } from './conformance.ts';

describe('path_id computed from sysfs (udev 252 builtin)', () => {
  // Every device of the two-controller capture: sd, sr, sg and bsg, on host0 (00:04.0) and host1 (00:05.0).
  const two = goldenWorld('seed_two_buses', 'boot');
  const derived = (two.snap.derived as { path_id?: Record<string, { rc: number; ID_PATH?: string; ID_PATH_TAG?: string }> }).path_id ?? {};
  const SYS: Record<string, string> = {};
  for (const name of Object.keys(derived)) {
    SYS[name] = /^\d+:\d+:\d+:\d+$/.test(name) ? `/sys/class/bsg/${name}`
      : name.startsWith('sg') ? `/sys/class/scsi_generic/${name}` : `/sys/class/block/${name}`;
  }
  it('covers sd, sr, sg and bsg nodes on both controllers', () => {
    expect(Object.keys(SYS).sort()).toEqual(expect.arrayContaining(['sda', 'sdb', 'sr0', 'sg0', 'sg1', 'sg2', '0:0:0:0', '1:0:0:0']));
  });
  for (const [name, want] of Object.entries(derived)) {
    it(`seed_two_buses ${name}`, async () => {
      const r = await pathId(two.kernel, SYS[name]!);
      expect(r).toEqual({ ok: true, props: { ID_PATH: want.ID_PATH, ID_PATH_TAG: want.ID_PATH_TAG } });
    });
  }

  it('scsi_debug (pseudo bus, no PCI parent) fails with ENOENT', async () => {
    const w = goldenWorld('scsi_debug', 'boot');
    expect(await pathId(w.kernel, '/sys/class/block/sda')).toEqual({ ok: false, error: 'ENOENT' });
  });

  it('tags replace runs of characters outside [0-9A-Za-z-] by one underscore', () => {
    expect(pathIdTag('pci-0000:00:04.0-scsi-0:0:0:0')).toBe('pci-0000_00_04_0-scsi-0_0_0_0');
    expect(pathIdTag('a::b..')).toBe('a_b');
  });
});

describe('udevadm test-builtin path_id matches the goldens', () => {
  const CASES: readonly [string, string, string][] = [
    ['seed_single_disk', 'boot', 'sda.path_id'],
    ['seed_single_disk', 'boot', 'sg0.sg_map_path'],
    ['seed_single_disk', 'boot', 'bsg_0:0:0:0.path_id'],
    ['scsi_debug', 'boot', 'sda.path_id'],
    ['scsi_debug', 'boot', 'sg0.sg_map_path'],
    ['scsi_debug', 'boot', 'bsg_0:0:0:0.path_id'],
  ];
  for (const [scenario, snapshot, label] of CASES) {
    it(`${scenario} ${label}`, async () => {
      const { got, want } = await replay(goldenWorld(scenario, snapshot), label, udevadm);
      expect(got).toEqual(want);
    });
  }
});
