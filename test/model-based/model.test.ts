// The reference model of the property-testing kit, checked against what the real stack did (golden
// README findings, reference/midlayer.md §3.10) — so the suite compares the simulator with Linux's
// rules, not with itself.
import { describe, expect, it } from 'vitest';
import { ScsiModel, lsscsiLine, parseScanString, sdName } from '../../src/testkit/index.ts';
import type { Topology } from '../../src/testkit/index.ts';

const disk = (target: number, lun: number) => ({ target, lun, kind: 'disk' as const, sizeMiB: 1 });
const cd = (target: number, lun: number) => ({ target, lun, kind: 'cd' as const, sizeMiB: 1 });

describe('the scan-string parser', () => {
  it('refuses what the captured kernel refused with EINVAL', () => {
    // golden README "Hotplug": "x y", "0 1", "1 0 0" (channel > 0), "0 300 0", "0 1 99999", "" (echo adds \n)
    for (const s of ['x y', '0 1', '1 0 0', '0 300 0', '0 1 99999', '']) expect(parseScanString(`${s}\n`)).toBeNull();
  });
  it('accepts wildcards and C numbers, and splits a token longer than the %10s width', () => {
    expect(parseScanString('- - -\n')).toEqual({ channel: -1, id: -1, lun: -1 });
    expect(parseScanString('0 0x1f 017\n')).toEqual({ channel: 0, id: 31, lun: 15 }); // base 0: hex, octal
    expect(parseScanString('0 1a 0\n')).toBeNull(); // something left over
    expect(parseScanString('0 08 0\n')).toBeNull(); // 8 is no octal digit
    expect(parseScanString('0 1 32767\n')).toEqual({ channel: 0, id: 1, lun: 32767 }); // max_lun 32768
    expect(parseScanString('0 00000000001 0\n')).toBeNull(); // "0000000000" "1" "0" + "0": four conversions
    expect(parseScanString('0 1 0 x\n')).toBeNull();
  });
});

describe('names at boot', () => {
  it('gives sd names in the SMP async probe order and sg names in bus order (sparse-LUN finding)', () => {
    // golden README: LUs 2:5, 2:0, 7:3 → sda = 0:0:2:5, sdb = 0:0:2:0, sdc = 0:0:7:3; sg0 = 2:0, sg1 = 2:5, sg2 = 7:3
    const m = ScsiModel.boot({ controllers: [{ hotplug: true, luns: [disk(2, 5), disk(2, 0), disk(7, 3)] }] });
    const names = Object.fromEntries(m.sdevs.map((d) => [m.hctl(d), [m.devName(d), `sg${d.sg}`]]));
    expect(names).toEqual({ '0:0:2:0': ['sdb', 'sg0'], '0:0:2:5': ['sda', 'sg1'], '0:0:7:3': ['sdc', 'sg2'] });
    // target0:0:7 exists without a 0:0:7:0 device
    expect(m.snapshot().busDevices).toEqual(['0:0:2:0', '0:0:2:5', '0:0:7:3', 'host0', 'target0:0:2', 'target0:0:7']);
  });
  it('lets the second disk overtake the first across hosts, and by-path carries the PCI slot', () => {
    // sd.ts capture note: bus order 0:0:0:0, 0:0:1:0 (a CD), 1:0:0:0 → sda = 1:0:0:0, sdb = 0:0:0:0
    const topo: Topology = { controllers: [{ hotplug: true, luns: [disk(0, 0), cd(1, 0)] }, { hotplug: true, luns: [disk(0, 0)] }] };
    const s = ScsiModel.boot(topo).snapshot();
    expect(s.byPath).toEqual({
      'pci-0000:00:04.0-scsi-0:0:0:0': '../../sdb',
      'pci-0000:00:04.0-scsi-0:0:1:0': '../../sr0',
      'pci-0000:00:05.0-scsi-0:0:0:0': '../../sda',
    });
  });
  it('prints lsscsi -g lines as the real guest did', () => {
    // test/machine/boot.test.ts (seed golden)
    expect(lsscsiLine('0:0:0:0', 'disk', 'sda', 'sg0')).toBe('[0:0:0:0]    disk    QEMU     QEMU HARDDISK    2.5+  /dev/sda   /dev/sg0 \n');
    expect(lsscsiLine('0:0:0:1', 'cd', 'sr0', 'sg1')).toBe('[0:0:0:1]    cd/dvd  QEMU     QEMU CD-ROM      2.5+  /dev/sr0   /dev/sg1 \n');
    expect(sdName(25)).toBe('sdz');
    expect(sdName(26)).toBe('sdaa');
    expect(sdName(702)).toBe('sdaaa');
  });
});

describe('hot-plug rules', () => {
  it('keeps a stale LU without events through a full rescan until delete (CONTRACT)', () => {
    const m = ScsiModel.boot({ controllers: [{ hotplug: false, luns: [disk(0, 0), disk(1, 0)] }] });
    expect(m.deviceDel('bd0_1').rc).toBe(0);
    expect(m.scan(0, '- - -').rc).toBe(0);
    expect(m.snapshot().busDevices).toContain('0:0:1:0');
    expect(m.read('0:0:1:0', 0).rc).toBe('nonzero');
    m.deleteSdev('0:0:1:0');
    expect(m.snapshot().busDevices).toEqual(['0:0:0:0', 'host0', 'target0:0:0']);
  });
  it('adds the lowest free sd name and maps flat-space LUNs to 0x4000 + LUN', () => {
    const m = ScsiModel.boot({ controllers: [{ hotplug: true, luns: [disk(0, 0), disk(1, 0), disk(2, 0)] }] });
    // boot names: sda = 0:0:1:0 (it overtook 0:0:0:0), sdb = 0:0:0:0, sdc = 0:0:2:0; delete frees sda
    m.deleteSdev('0:0:1:0');
    m.driveAdd('d', '/images/d.img', 'disk', 1 << 20);
    expect(m.deviceAdd('hp', 'scsi0', 'd', 3, 300).rc).toBe(0);
    const d = m.findSdev('0:0:3:16684')!;
    expect(m.devName(d)).toBe('sda');
    // No event for a target that was never scanned: with events on, LUN 300 alone is added.
    expect(m.snapshot().busDevices).toContain('target0:0:3');
  });
  it('refuses a used address and picks the lowest free one automatically, as QEMU does', () => {
    const m = ScsiModel.boot({ controllers: [{ hotplug: true, luns: [disk(0, 0), disk(0, 1)] }] });
    m.driveAdd('a', '/images/a.img', 'disk', 1 << 20);
    expect(m.deviceAdd('x', 'scsi0', 'a', 0, 1).rc).toBe(1);
    expect(m.deviceAdd('x', 'scsi0', 'a', 0, null).rc).toBe(0);
    expect(m.findSdev('0:0:0:2')).toBeDefined();
    m.driveAdd('b', '/images/b.img', 'disk', 1 << 20);
    expect(m.deviceAdd('y', 'scsi0', 'b', null, null).rc).toBe(0);
    expect(m.findSdev('0:0:1:0')).toBeDefined();
  });
});

describe('names at boot with two LUs', () => {
  it('keeps bus order for sd when only two LUs exist (captured: targets 0 and 1 → sda, sdb)', () => {
    const m = ScsiModel.boot({ controllers: [{ hotplug: true, luns: [disk(0, 0), disk(1, 0)] }] });
    expect(m.snapshot().byPath).toEqual({ 'pci-0000:00:04.0-scsi-0:0:0:0': '../../sda', 'pci-0000:00:04.0-scsi-0:0:1:0': '../../sdb' });
  });
});
