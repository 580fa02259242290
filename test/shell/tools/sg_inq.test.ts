// Ours: golden conformance and unit tests for the SCSI userland tools (sg_inq).
import { describe, expect, it } from 'vitest';
import { sgInq } from '../../../src/shell/sg_inq.ts';
import { goldenWorld } from './golden_device.ts';
import { replay } from './conformance.ts';

// Golden conformance: each case replays a captured `sg_inq` invocation against the same capture's device data.
const CASES: readonly [scenario: string, snapshot: string, label: string][] = [
  ['seed_single_disk', 'boot', 'sg0.sg_inq'],
  ['seed_single_disk', 'boot', 'sg0.sg_inq_p0'],
  ['seed_single_disk', 'boot', 'sg0.sg_inq_raw'],
  ['seed_disk_and_cd_same_bus', 'boot', 'sg1.sg_inq'],
  ['seed_disk_and_cd_same_bus', 'boot', 'sg1.sg_inq_raw'],
  ['scsi_debug', 'boot', 'sg0.sg_inq'],
  ['scsi_debug', 'boot', 'sg0.sg_inq_p0'],
  ['scsi_debug', 'boot', 'sg0.sg_inq_raw'],
];

describe('sg_inq matches the goldens', () => {
  for (const [scenario, snapshot, label] of CASES) {
    it(`${scenario} ${label}`, async () => {
      const { got, want } = await replay(goldenWorld(scenario, snapshot), label, sgInq);
      expect(got).toEqual(want);
    });
  }

  it('the CD page list: sg_inq 2.10 passes the PDT as the hex level, so a cd/dvd gets a bare hex line', async () => {
    const w = goldenWorld('seed_disk_and_cd_same_bus', 'boot', {
      // QEMU's scsi-cd VPD page 0: PDT 5, page length 2, pages 0x00 and 0x83 (the kernel never caches it).
      '0:0:0:1': { vpd: new Map([[0x00, Uint8Array.from([0x05, 0x00, 0x00, 0x02, 0x00, 0x83])]]) },
    });
    const { got, want } = await replay(w, 'sg1.sg_inq_p0', sgInq);
    expect(got).toEqual(want);
  });

  it('a missing device gives the open error and exit status 50 + errno', async () => {
    const w = goldenWorld('seed_single_disk', 'boot');
    const { runTool } = await import('../../fakes/golden_sysfs_kernel.ts');
    const r = await runTool(w.kernel, sgInq, ['sg_inq', '/dev/sg9']);
    expect(r).toEqual({ rc: 52, stdout: '', stderr: 'sg_inq: error opening file: /dev/sg9: No such file or directory\nsg_inq failed: No such file or directory\n' });
  });
});
