// Ours: golden conformance and unit tests for the SCSI userland tools (sg_basic).
import { describe, expect, it } from 'vitest';
import { sgLuns } from '../../../src/shell/sg_luns.ts';
import { sgModes } from '../../../src/shell/sg_modes.ts';
import { sgVpd } from '../../../src/shell/sg_vpd.ts';
import { sgReadcap } from '../../../src/shell/sg_readcap.ts';
import { sgTurs } from '../../../src/shell/sg_turs.ts';
import type { Command } from '../../../src/shell/process.ts';
import { fixedSense, runTool } from '../../fakes/golden_sysfs_kernel.ts';
import { goldenWorld } from './golden_device.ts';
import { replay } from './conformance.ts';

const CASES: readonly [string, string, string, Command][] = [
  ['seed_single_disk', 'boot', 'sg0.sg_turs', sgTurs],
  ['seed_single_disk', 'boot', 'sg0.sg_luns', sgLuns],
  ['seed_single_disk', 'boot', 'sg0.sg_luns_hex', sgLuns],
  ['seed_single_disk', 'boot', 'sg0.sg_readcap', sgReadcap],
  ['seed_single_disk', 'boot', 'sg0.sg_readcap_l', sgReadcap],
  ['seed_disk_and_cd_same_bus', 'boot', 'sg0.sg_luns', sgLuns],
  ['seed_disk_and_cd_same_bus', 'boot', 'sg0.sg_luns_hex', sgLuns],
  ['seed_disk_and_cd_same_bus', 'boot', 'sg1.sg_luns', sgLuns],
  ['seed_disk_and_cd_same_bus', 'boot', 'sg1.sg_luns_hex', sgLuns],
  ['seed_disk_and_cd_same_bus', 'boot', 'sg1.sg_readcap', sgReadcap],
  ['seed_disk_and_cd_same_bus', 'boot', 'sg1.sg_readcap_l', sgReadcap],
  ['seed_disk_and_cd_same_bus', 'boot', 'sg1.sg_turs', sgTurs],
  ['scsi_debug', 'boot', 'sg0.sg_luns', sgLuns],
  ['scsi_debug', 'boot', 'sg0.sg_luns_hex', sgLuns],
  ['scsi_debug', 'boot', 'sg0.sg_readcap', sgReadcap],
  ['scsi_debug', 'boot', 'sg0.sg_readcap_l', sgReadcap],
  ['hotplug_event', 'plugged', 'sg1.sg_readcap', sgReadcap],
  ['hotplug_event', 'plugged', 'sg1.sg_readcap_l', sgReadcap],
];

describe('sg_turs / sg_luns / sg_readcap match the goldens', () => {
  for (const [scenario, snapshot, label, run] of CASES) {
    it(`${scenario}/${snapshot} ${label}`, async () => {
      const { got, want } = await replay(goldenWorld(scenario, snapshot), label, run);
      expect(got).toEqual(want);
    });
  }

  it('hotplug_event/unplugged sg0.sg_readcap: the pending 3F/0E unit attention is reported noisily (rc 6)', async () => {
    // The remaining LUN holds REPORTED LUNS DATA HAS CHANGED after its neighbour was unplugged.
    const w = goldenWorld('hotplug_event', 'unplugged', { '0:0:0:0': { checkAll: fixedSense(0x6, 0x3f, 0x0e) } });
    const { got, want } = await replay(w, 'sg0.sg_readcap', sgReadcap);
    expect(got).toEqual(want);
  });

  it('sg_turs on a removed LU prints the transport error and, like sg3_utils 1.46, exits 0', async () => {
    const w = goldenWorld('seed_single_disk', 'boot', { '0:0:0:0': { hostStatus: 0x04 } });
    const r = await runTool(w.kernel, sgTurs, ['sg_turs', '/dev/sg0']);
    expect(r).toEqual({ rc: 0, stdout: '',
      stderr: 'test unit ready: transport: Host_status=0x04 [DID_BAD_TARGET]\nDriver_status=0x00 [DRIVER_OK]\n' });
  });

  it('sg_turs reports NOT READY as "device not ready" with exit status 2', async () => {
    const w = goldenWorld('seed_single_disk', 'boot', { '0:0:0:0': { checkAll: fixedSense(0x2, 0x3a, 0x00) } });
    expect(await runTool(w.kernel, sgTurs, ['sg_turs', '/dev/sg0'])).toEqual({ rc: 2, stdout: 'device not ready\n', stderr: '' });
  });
});

describe('sg_modes -a matches the goldens', () => {
  for (const [scenario, label] of [['seed_single_disk', 'sg0.sg_modes_a'], ['seed_disk_and_cd_same_bus', 'sg1.sg_modes_a'],
    ['scsi_debug', 'sg0.sg_modes_a']] as const) {
    it(`${scenario} ${label}`, async () => {
      const { got, want } = await replay(goldenWorld(scenario, 'boot'), label, sgModes);
      expect(got).toEqual(want);
    });
  }
});

describe('sg_vpd matches the goldens', () => {
  const CD_PG0 = new Map([[0x00, Uint8Array.from([0x05, 0x00, 0x00, 0x02, 0x00, 0x83])]]); // QEMU scsi-cd VPD 0x00
  const CASES: readonly [string, string, string, Record<string, { vpd: Map<number, Uint8Array> }>?][] = [
    ...['sn', 'di', 'di_hex', 'bl', 'bli', 'bdc', 'lbpv'].map((l) => ['seed_single_disk', 'boot', `sg0.sg_vpd_${l}`] as [string, string, string]),
    ...['di', 'di_hex', 'bl', 'bdc', 'lbpv'].map((l) => ['seed_disk_and_cd_same_bus', 'boot', `sg1.sg_vpd_${l}`,
      { '0:0:0:1': { vpd: CD_PG0 } }] as [string, string, string, Record<string, { vpd: Map<number, Uint8Array> }>]),
    ...['sn', 'di', 'di_hex', 'bl', 'bdc', 'lbpv'].map((l) => ['scsi_debug', 'boot', `sg0.sg_vpd_${l}`] as [string, string, string]),
    ['scsi_debug', 'boot', 'sg3.sg_vpd_di'], ['scsi_debug', 'boot', 'sg5.sg_vpd_di_hex'],
    ['hotplug_event', 'plugged', 'sg1.sg_vpd_di'], ['hotplug_event', 'plugged', 'sg1.sg_vpd_di_hex'],
  ];
  for (const [scenario, snapshot, label, ov] of CASES) {
    it(`${scenario}/${snapshot} ${label}`, async () => {
      const { got, want } = await replay(goldenWorld(scenario, snapshot, ov ?? {}), label, sgVpd);
      expect(got).toEqual(want);
    });
  }
});
