// Ours: golden conformance and unit tests for the SCSI userland tools (udevadm_scsi_id).
import { describe, expect, it } from 'vitest';
import { formatScsiIdExport, scsiId, scsiIdMain } from '../../../src/shell/scsi_id.ts';
import { formatUdevDb, parseUdevDb, udevadm, udevDbPath, type UdevDbRecord } from '../../../src/shell/udevadm.ts';
import { runTool } from '../../fakes/golden_sysfs_kernel.ts';
import { goldenWorld, type GoldenWorld } from './golden_device.ts';
import { replay } from './conformance.ts';

const KERNEL_KEYS = new Set(['DEVPATH', 'DEVNAME', 'DEVTYPE', 'DISKSEQ', 'MAJOR', 'MINOR', 'SUBSYSTEM', 'DRIVER']);

/** What the kernel-side udev model would have stored for the device a golden `udevadm info` shows. */
function dbFromInfo(info: string): UdevDbRecord | null {
  const lines = info.split('\n');
  const e = lines.filter((l) => l.startsWith('E: ')).map((l) => l.slice(3));
  const usec = e.find((l) => l.startsWith('USEC_INITIALIZED='));
  if (usec === undefined) return null;
  const val = (k: string): string | undefined => e.find((l) => l.startsWith(`${k}=`))?.slice(k.length + 1);
  const tags = (k: string): string[] => (val(k) ?? '').split(':').filter(Boolean);
  return {
    links: lines.filter((l) => l.startsWith('S: ')).map((l) => l.slice(3)),
    linkPriority: Number(lines.find((l) => l.startsWith('L: '))?.slice(3) ?? 0),
    usecInitialized: Number(usec.slice('USEC_INITIALIZED='.length)),
    properties: e.map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)] as [string, string])
      .filter(([k]) => !KERNEL_KEYS.has(k) && !['USEC_INITIALIZED', 'DEVLINKS', 'TAGS', 'CURRENT_TAGS'].includes(k)),
    tags: tags('TAGS'),
    currentTags: tags('CURRENT_TAGS'),
  };
}

function withDb(w: GoldenWorld, label: string): GoldenWorld {
  const info = w.cmd(label).stdout;
  const d = /^D: ([bc]) (\d+):(\d+)$/m.exec(info)!;
  const rec = dbFromInfo(info);
  if (rec) w.kernel.addFile(udevDbPath(d[1] as 'b' | 'c', Number(d[2]), Number(d[3])), formatUdevDb(rec));
  return w;
}

describe('udev database format', () => {
  it('round-trips', () => {
    const rec: UdevDbRecord = { links: ['cdrom', 'disk/by-path/x'], linkPriority: -100, usecInitialized: 5,
      properties: [['ID_CDROM', '1'], ['ID_A', 'b=c']], tags: ['uaccess', 'seat'], currentTags: ['seat'] };
    expect(formatUdevDb(rec)).toBe('S:cdrom\nS:disk/by-path/x\nL:-100\nI:5\nE:ID_CDROM=1\nE:ID_A=b=c\nG:uaccess\nG:seat\nQ:seat\nV:1\n');
    expect(parseUdevDb(formatUdevDb(rec))).toEqual(rec);
  });
});

describe('udevadm info matches the goldens', () => {
  const CASES: readonly [string, string, string][] = [
    ['seed_single_disk', 'boot', 'sda.udev_info'],
    ['seed_single_disk', 'boot', 'sg0.udev_info'],
    ['seed_two_buses', 'boot', 'sdb.udev_info'],
    ['seed_two_buses', 'boot', 'sr0.udev_info'],
    ['seed_two_buses', 'boot', 'sg1.udev_info'],
    ['scsi_debug', 'boot', 'sda.udev_info'],
    ['hotplug_event', 'plugged', 'sdb.udev_info'],
  ];
  for (const [scenario, snapshot, label] of CASES) {
    it(`${scenario} ${label}`, async () => {
      const w = withDb(goldenWorld(scenario, snapshot), label);
      const { got, want } = await replay(w, label, udevadm);
      expect(got).toEqual(want);
    });
  }
  it('short options -q all -n give the same record', async () => {
    const w = withDb(goldenWorld('seed_single_disk', 'boot'), 'sda.udev_info');
    const r = await runTool(w.kernel, udevadm, ['udevadm', 'info', '-q', 'all', '-n', 'sda']);
    expect(r.stdout).toBe(w.cmd('sda.udev_info').stdout);
  });
  it('settle and trigger succeed silently', async () => {
    const w = goldenWorld('seed_single_disk', 'boot');
    expect(await runTool(w.kernel, udevadm, ['udevadm', 'settle'])).toEqual({ rc: 0, stdout: '', stderr: '' });
    expect(await runTool(w.kernel, udevadm, ['udevadm', 'trigger'])).toEqual({ rc: 0, stdout: '', stderr: '' });
  });
});

describe('scsi_id matches the goldens (INQUIRY + VPD 0x00/0x80/0x83 through SG_IO)', () => {
  const CD_PG0 = new Map([[0x00, Uint8Array.from([0x05, 0x00, 0x00, 0x02, 0x00, 0x83])]]);
  const CASES: readonly [string, string, string, Record<string, { vpd: Map<number, Uint8Array> }>?][] = [
    ['seed_single_disk', 'boot', 'sda.scsi_id'],
    ['seed_disk_and_cd_same_bus', 'boot', 'sr0.scsi_id', { '0:0:0:1': { vpd: CD_PG0 } }],
    ['scsi_debug', 'boot', 'sda.scsi_id'],
    ['scsi_debug', 'boot', 'sdd.scsi_id'],
    ['scsi_debug', 'boot', 'sdf.scsi_id'],
    ['hotplug_event', 'plugged', 'sdb.scsi_id'],
  ];
  for (const [scenario, snapshot, label, ov] of CASES) {
    it(`${scenario} ${label}`, async () => {
      const w = goldenWorld(scenario, snapshot, ov ?? {});
      // The CD's page 0x83 is not cached by the kernel: take it from the same capture's sg_vpd -p di -H.
      const { got, want } = await replay(w, label, scsiIdMain);
      expect(got).toEqual(want);
    });
  }
  it('scsiId() gives the ID_* properties the udev database holds', async () => {
    const w = goldenWorld('seed_single_disk', 'boot');
    const props = await scsiId(w.kernel, '/dev/sda');
    expect(props).not.toBeNull();
    const info = w.cmd('sda.udev_info').stdout;
    for (const line of formatScsiIdExport(props!).trimEnd().split('\n')) expect(info).toContain(`E: ${line}\n`);
  });
  it('without --whitelisted (and no config file) the device is blacklisted: exit 1, nothing printed', async () => {
    const w = goldenWorld('seed_single_disk', 'boot');
    expect(await runTool(w.kernel, scsiIdMain, ['scsi_id', '--export', '-d', '/dev/sda'])).toEqual({ rc: 1, stdout: '', stderr: '' });
  });
});
