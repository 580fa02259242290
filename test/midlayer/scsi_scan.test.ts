import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { removeDevice, scanHost, scanHostSelected } from '../../src/midlayer/scsi_scan.ts';
import { parseScanString, SCAN_WILD_CARD } from '../../src/midlayer/scsi_sysfs.ts';
import { O_RDONLY } from '../../src/kernel/syscalls.ts';
import { setup } from '../fakes/midlayer_setup.ts';

describe('scsi_scan', () => {
  it('scans REPORT LUNS targets as the captures show: sparse LUNs, a target without LUN 0, no empty targets', async () => {
    const m = await setup([
      [0, 0, 0],
      [2, 0, 0],
      [2, 5, 0],
      [7, 3, 0],
    ]);
    await m.run(scanHost(m.mod, m.host));
    expect(await m.ls('/sys/bus/scsi/devices')).toEqual(['0:0:0:0', '0:0:2:0', '0:0:2:5', '0:0:7:3', 'host0', 'target0:0:0', 'target0:0:2', 'target0:0:7']);
    // Target 2: INQUIRY 2:0, its VPD pages, REPORT LUNS, then INQUIRY to 2:5 only (no 2:1..2:4).
    const t2 = m.st.cdbs.filter((c) => c.startsWith('2:') && (c.includes(' 12 00 ') || c.includes(' a0 ')));
    expect(t2.map((c) => c.slice(0, 6))).toEqual(['2:0 12', '2:0 a0', '2:5 12']);
    // Target 7: "QEMU TARGET" PQ 1 at LUN 0 twice (before and from REPORT LUNS), then LUN 3.
    const t7 = m.st.cdbs.filter((c) => c.startsWith('7:') && (c.includes(' 12 00 ') || c.includes(' a0 ')));
    expect(t7.map((c) => c.slice(0, 6))).toEqual(['7:0 12', '7:0 a0', '7:0 12', '7:3 12']);
    expect(await m.ls('/sys/devices/virtio0/host0/target0:0:7')).toEqual(['0:0:7:3', 'power', 'subsystem', 'uevent']);
    expect(m.k.log).toContain('scsi 0:0:0:0: Direct-Access     QEMU     QEMU HARDDISK    2.5+ PQ: 0 ANSI: 5');
    expect(m.k.log[0]).toBe('scsi host0: Fake SCSI HBA');
    expect(m.k.dmaLive()).toBe(0);
  });

  it('exposes LU attributes with Linux formats and links', async () => {
    const m = await setup([[0, 0, 0]]);
    await m.run(scanHost(m.mod, m.host));
    const d = '/sys/bus/scsi/devices/0:0:0:0';
    expect(await m.read(`${d}/vendor`)).toBe('QEMU    \n');
    expect(await m.read(`${d}/model`)).toBe('QEMU HARDDISK   \n');
    expect(await m.read(`${d}/scsi_level`)).toBe('6\n');
    expect(await m.read(`${d}/state`)).toBe('running\n');
    expect(await m.read(`${d}/queue_type`)).toBe('simple\n');
    expect(await m.read(`${d}/modalias`)).toBe('scsi:t-0x00\n');
    expect(await m.read(`${d}/uevent`)).toBe('DEVTYPE=scsi_device\nMODALIAS=scsi:t-0x00\n');
    expect(await m.sys.readlink(d)).toBe('../../../devices/virtio0/host0/target0:0:0/0:0:0:0');
    expect(await m.sys.readlink('/sys/class/scsi_host/host0')).toBe('../../devices/virtio0/host0/scsi_host/host0');
    expect(await m.read('/sys/class/scsi_host/host0/proc_name')).toBe('fake_lld\n');
    await expect(m.sys.open('/sys/class/scsi_host/host0/scan', O_RDONLY)).rejects.toMatchObject({ code: 'EACCES' });
    const fd = await m.sys.open(`${d}/vpd_pg83`, O_RDONLY);
    expect([...(await m.sys.read(fd, 100))]).toEqual([0x00, 0x83, 0x00, 0x06, 0x02, 0x00, 0x00, 0x02, 0x64, 0x30]);
  });

  it('honours scsi_mod.scan=manual: nothing until a scan write, then only what was asked', async () => {
    const m = await setup(
      [
        [0, 0, 0],
        [3, 0, 0],
      ],
      { 'scsi_mod.scan': 'manual' },
    );
    await m.run(scanHost(m.mod, m.host));
    expect(m.st.cdbs).toEqual([]);
    await m.run(m.write('/sys/class/scsi_host/host0/scan', '0 3 0\n'));
    expect(await m.ls('/sys/bus/scsi/devices')).toEqual(['0:0:3:0', 'host0', 'target0:0:3']);
    await expect(m.run(m.write('/sys/class/scsi_host/host0/scan', '0 300 0\n'))).rejects.toMatchObject({ code: 'EINVAL' });
    await m.run(m.write('/sys/class/scsi_host/host0/scan', '- - -\n'));
    expect(await m.ls('/sys/bus/scsi/devices')).toEqual(['0:0:0:0', '0:0:3:0', 'host0', 'target0:0:0', 'target0:0:3']);
  });

  it('removes a LU with `delete` and reaps its target with the last LU', async () => {
    const m = await setup([
      [1, 0, 0],
      [1, 1, 0],
    ]);
    await m.run(scanHost(m.mod, m.host));
    await m.run(m.write('/sys/bus/scsi/devices/0:0:1:1/delete', '1\n'));
    expect(await m.ls('/sys/bus/scsi/devices')).toEqual(['0:0:1:0', 'host0', 'target0:0:1']);
    await m.run(removeDevice(m.mod, m.host.devices[0]!));
    expect(await m.ls('/sys/bus/scsi/devices')).toEqual(['host0']);
    expect(await m.ls('/sys/devices/virtio0/host0')).toEqual(['power', 'scsi_host', 'subsystem', 'uevent']);
  });

  it('keeps existing LUs untouched on a full rescan and adds new ones', async () => {
    const m = await setup([[0, 0, 0]]);
    await m.run(scanHost(m.mod, m.host));
    m.st.cdbs.length = 0;
    m.st.lus.set('4:0', { type: 5, model: 'QEMU CD-ROM', ua: [0x29, 0] });
    await m.run(scanHostSelected(m.mod, m.host, SCAN_WILD_CARD, SCAN_WILD_CARD, SCAN_WILD_CARD, 'manual'));
    // The existing LU only gets REPORT LUNS (no INQUIRY); the new CD gets INQUIRY and the target's
    // REPORT LUNS but no VPD pages (captured: `1:0 INQUIRY len=36`, `1:0 REPORT LUNS`).
    expect(m.st.cdbs.filter((c) => c.startsWith('0:')).map((c) => c.slice(0, 6))).toEqual(['0:0 a0']);
    expect(m.st.cdbs.filter((c) => c.startsWith('4:'))).toEqual(['4:0 12 00 00 00 24 00', '4:0 a0 00 00 00 00 00 00 00 10 00 00 00']);
    expect(await m.read('/sys/bus/scsi/devices/0:0:4:0/blacklist')).toBe('NOREPORTLUN SKIP_VPD_PAGES\n');
  });
});

describe('the scan attribute parser', () => {
  const cases: Array<[string, ReturnType<typeof parseScanString>]> = [
    ['- - -\n', { channel: -1, id: -1, lun: -1 }],
    ['0 2 0', { channel: 0, id: 2, lun: 0 }],
    ['0 3 -\n', { channel: 0, id: 3, lun: -1 }],
    ['0 0x1f 010\n', { channel: 0, id: 31, lun: 8 }],
    ['x y\n', null],
    ['0 1\n', null],
    ['0 1 2 3\n', null],
    ['0 1a 0\n', null],
    ['0 08 0\n', null],
    ['0 -1 0\n', null],
    ['\n', null],
    ['', null],
  ];
  it.each(cases)('%j', (text, expected) => {
    expect(parseScanString(text)).toEqual(expected);
  });

  it('accepts every triple of numbers and wildcards it prints, and nothing with a fourth token', () => {
    const tok = fc.oneof(fc.constant('-'), fc.nat({ max: 1_000_000 }).map(String));
    fc.assert(
      fc.property(tok, tok, tok, fc.constantFrom(' ', '  ', '\t'), (a, b, c, sep) => {
        const parsed = parseScanString(`${a}${sep}${b}${sep}${c}\n`);
        const v = (t: string): number => (t === '-' ? -1 : Number(t));
        expect(parsed).toEqual({ channel: v(a), id: v(b), lun: v(c) });
        expect(parseScanString(`${a} ${b} ${c} 0\n`)).toBeNull();
      }),
    );
  });
});
