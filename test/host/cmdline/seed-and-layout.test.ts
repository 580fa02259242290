// The seed's command lines, the goldens' qemu_args_scenario, the pc PCI layout and SCSI addressing.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseQemuArgs } from '../../../src/host/vl.ts';
import type { ScsiDeviceSpec, VirtioScsiPciSpec } from '../../../src/host/qdev-monitor.ts';
import { FS, args, err, ok } from './helpers.ts';

const scsi = (spec: { devices: readonly { kind: string }[] }) =>
  spec.devices.filter((d): d is ScsiDeviceSpec => d.kind === 'scsi');
const hbas = (spec: { devices: readonly { kind: string }[] }) =>
  spec.devices.filter((d): d is VirtioScsiPciSpec => d.kind === 'virtio-scsi-pci');
const pciName = (d: { slot: number; fn: number }) => `00:${d.slot.toString(16).padStart(2, '0')}.${d.fn}`;
const noEffect = (opt: string) => `vscsi: ${opt}: warning: this option has no effect here`;
const probeWarning = (f: string) => [
  `WARNING: Image format was not specified for '${f}' and probing guessed raw.`,
  '         Automatically detecting the format is dangerous for raw images, write operations on block 0 will be restricted.',
  "         Specify the 'raw' format explicitly to remove the restrictions.",
];
const SCSI_DISK_WARN = "warning: 'scsi-disk' is deprecated, please use 'scsi-hd' or 'scsi-cd' instead";

// Seed §6 II (paths mapped onto the fake host; /dev/sdb answers SG_IO there).
const SEED_II = [
  '-m', '4G', '-smp', '4', '-M', 'rhel6.2.0', '-name', 'RHEL6.2-Server-64', '-no-kvm-pit-reinjection', '-rtc-td-hack',
  '-drive', 'file=/w/disk.img,if=none,format=raw,rerror=stop,werror=stop,cache=none,id=scsi0',
  '-device', 'virtio-scsi-pci,id=scsi0', '-device', 'scsi-disk,drive=scsi0,scsi-id=0,lun=0,bootindex=0',
  '-netdev', 'tap,id=hostnet0,vhost=on,script=/etc/qemu-ifup-switch',
  '-device', 'virtio-net-pci,netdev=hostnet0,id=net0,mac=52:56:00:94:a3:20',
  '-uuid', '9e6f04cf-2ad7-45aa-9333-2d2ee26570c6', '-balloon', 'none', '-vnc', ':1', '--enable-kvm',
  '-drive', 'file=/dev/sdb,if=none,id=iscsi', '-device', 'virtio-scsi-pci,id=iscsi', '-device', 'scsi-block,drive=iscsi',
  '-usb', '-usbdevice', 'tablet', '-monitor', 'stdio',
  '-drive', 'file=/w/cd.iso,if=none,id=cd', '-device', 'scsi-cd,drive=cd,scsi-id=0,lun=1',
];

describe('the seed command lines', () => {
  it('§6 II parses with one warning per host-only option', () => {
    const r = ok(SEED_II);
    expect(r.warnings).toEqual([
      noEffect('-name RHEL6.2-Server-64'),
      noEffect('-no-kvm-pit-reinjection'),
      noEffect('-rtc-td-hack'),
      noEffect('-netdev tap,id=hostnet0,vhost=on,script=/etc/qemu-ifup-switch'),
      noEffect('-uuid 9e6f04cf-2ad7-45aa-9333-2d2ee26570c6'),
      noEffect('-balloon none'),
      noEffect('-vnc :1'),
      noEffect('--enable-kvm'),
      noEffect('-usb'),
      noEffect('-usbdevice tablet'),
      noEffect('-monitor stdio'),
      // machine selection comes after parsing, as in vl.c
      "vscsi: -M rhel6.2.0: warning: machine type 'rhel6.2.0' is treated as an alias of 'pc' here",
      // the two probed raw drives (no format=), opened read-write
      ...probeWarning('/dev/sdb'),
      ...probeWarning('/w/cd.iso'),
      `vscsi: -device scsi-disk,drive=scsi0,scsi-id=0,lun=0,bootindex=0: ${SCSI_DISK_WARN}`,
      "vscsi: -device virtio-net-pci,netdev=hostnet0,id=net0,mac=52:56:00:94:a3:20: warning: 'virtio-net-pci' has no effect here",
    ]);
    const s = r.spec;
    expect([s.machine, s.memoryMiB, s.cpus]).toEqual(['pc', 4096, 4]);
    // -netdev removes the default e1000, -usb adds the PIIX3 UHCI function
    expect(s.pci.map((f) => `${pciName(f)} ${f.name}`)).toEqual([
      '00:00.0 i440FX', '00:01.0 PIIX3', '00:01.1 piix3-ide', '00:01.2 piix3-usb-uhci', '00:01.3 PIIX4_PM', '00:02.0 VGA',
      '00:03.0 virtio-scsi-pci', '00:04.0 virtio-net-pci', '00:05.0 virtio-scsi-pci',
    ]);
    // the CD goes on the newest controller's bus (QEMU walks bus children newest first)
    expect(scsi(s).map((d) => `${d.driver} ${d.bus} ${d.scsiId}:${d.lun} ${d.drive}`)).toEqual([
      'scsi-hd scsi0.0 0:0 scsi0', 'scsi-block iscsi.0 0:0 iscsi', 'scsi-cd iscsi.0 0:1 cd',
    ]);
    expect(scsi(s)[0]!.requestedDriver).toBe('scsi-disk');
    expect(scsi(s)[0]!.props.bootindex).toBe(0);
    expect(hbas(s).map((h) => h.numQueues)).toEqual([4, 4]); // auto = vCPUs
  });

  it('§6 I: the disk and the cd on one controller; scsi-disk picks scsi-cd for media=cdrom', () => {
    const r = ok(args('-drive file=/w/disk.img,if=none,format=raw,rerror=stop,werror=stop,cache=none,id=scsi0 ' +
      '-device virtio-scsi-pci,id=scsi0 -device scsi-disk,drive=scsi0,scsi-id=0,lun=0,bootindex=0 ' +
      '-drive file=/w/cd.iso,if=none,media=cdrom,id=cd -device scsi-disk,drive=cd'));
    expect(scsi(r.spec).map((d) => `${d.driver} ${d.scsiId}:${d.lun}`)).toEqual(['scsi-hd 0:0', 'scsi-cd 1:0']);
    expect(r.spec.drives[0]!.cache).toEqual({ writeback: true, direct: true, noFlush: false });
    expect(r.spec.drives[0]!.rerror).toBe('stop');
  });

  it('§3 2) I: format=qcow2 is refused until qcow2 arrives', () => {
    const e = err(args('-drive file=/w/disk.img,if=none,format=qcow2,rerror=stop,werror=stop,id=scsi0 -device virtio-scsi-pci,id=scsi0 -device scsi-disk,drive=scsi0,bootindex=0'));
    expect(e.error).toContain("The 'qcow2' format is not supported yet");
  });

  it('§3 2) II: scsi-cd without a controller has no SCSI bus', () => {
    expect(err(args('-drive file=/w/cd.iso,if=none,id=cd -device scsi-cd,drive=cd')).error).toBe(
      "vscsi: -device scsi-cd,drive=cd: No 'SCSI' bus found for device 'scsi-cd'",
    );
  });

  it('§4 I: passthrough of a host device that answers SG_IO is kept for the device model', () => {
    const r = ok(args('-drive file=/dev/sdb,if=none,format=raw,id=cd -device virtio-scsi-pci,id=cd -device scsi-block,drive=cd'));
    expect(scsi(r.spec)[0]!.passthrough).toBe(true);
    expect(hbas(r.spec)[0]!.scsiBus).toBe('cd.0');
  });

  it('a .qcow2-named file holding raw data is probed raw with the warning', () => {
    const r = ok(args('-drive file=/w/raw.qcow2,if=none,id=disk1'));
    expect(r.warnings[0]).toBe("WARNING: Image format was not specified for '/w/raw.qcow2' and probing guessed raw.");
    expect(r.spec.drives[0]!.formatProbed).toBe(true);
  });
});

describe('goldens qemu_args_scenario', () => {
  it('seed_two_buses: 00:04.0 and 00:05.0, bus= honoured', () => {
    const r = ok(args('-drive file=/w/disk0.img,if=none,format=raw,id=d0 -drive file=/w/disk1.img,if=none,format=raw,id=d1 ' +
      '-drive file=/w/cd.iso,if=none,format=raw,media=cdrom,readonly=on,id=cd0 -device virtio-scsi-pci,id=scsi0 ' +
      '-device virtio-scsi-pci,id=scsi1 -device scsi-hd,drive=d0,bus=scsi0.0,scsi-id=0,lun=0 ' +
      '-device scsi-hd,drive=d1,bus=scsi1.0,scsi-id=0,lun=0 -device scsi-cd,drive=cd0,bus=scsi0.0,scsi-id=1,lun=0'));
    expect(r.warnings).toEqual([]);
    expect(hbas(r.spec).map((h) => `${pciName(h)} ${h.scsiBus} ${h.pciDeviceId.toString(16)}`)).toEqual([
      '00:04.0 scsi0.0 1004', '00:05.0 scsi1.0 1004',
    ]);
    expect(scsi(r.spec).map((d) => `${d.bus} ${d.scsiId}:${d.lun}`)).toEqual(['scsi0.0 0:0', 'scsi1.0 0:0', 'scsi0.0 1:0']);
    expect(r.spec.drives[2]!.readOnly).toBe(true);
  });

  it('seed_single_disk: the same id for the drive and the controller is accepted', () => {
    const r = ok(args('-machine pc -m 512 -smp 2 -drive file=/w/disk.img,if=none,format=raw,rerror=stop,werror=stop,cache=none,id=scsi0 ' +
      '-device virtio-scsi-pci,id=scsi0 -device scsi-hd,drive=scsi0,scsi-id=0,lun=0'));
    expect([r.spec.memoryMiB, r.spec.cpus, hbas(r.spec)[0]!.numQueues, hbas(r.spec)[0]!.vectors]).toEqual([512, 2, 2, 5]);
  });

  it('-machine q35 puts the first controller at 00:03.0', () => {
    const r = ok(args('-machine q35 -device virtio-scsi-pci'));
    expect(pciName(hbas(r.spec)[0]!)).toBe('00:03.0');
    expect(hbas(r.spec)[0]!.scsiBus).toBe('scsi.0');
  });

  it('the defaults are QEMU pc ones: 1 vCPU, 128 MiB', () => {
    const r = ok([]);
    expect([r.spec.machine, r.spec.cpus, r.spec.memoryMiB]).toEqual(['pc', 1, 128]);
    expect(r.spec.pci.map(pciName)).toEqual(['00:00.0', '00:01.0', '00:01.1', '00:01.3', '00:02.0', '00:03.0']);
  });
});

describe('PCI slot assignment', () => {
  it('addr= is honoured and later devices take the lowest free slot', () => {
    const r = ok(args('-device virtio-scsi-pci,addr=0x10 -device virtio-scsi-pci -device virtio-scsi-pci,addr=5.0'));
    expect(hbas(r.spec).map(pciName)).toEqual(['00:10.0', '00:04.0', '00:05.0']);
    expect(hbas(r.spec).map((h) => h.scsiBus)).toEqual(['scsi.0', 'scsi.1', 'scsi.2']);
  });

  it('-nodefaults frees slots 2 and 3', () => {
    expect(pciName(hbas(ok(args('-nodefaults -device virtio-scsi-pci')).spec)[0]!)).toBe('00:02.0');
  });

  it('property: n controllers without addr= fill slots 4.. in order', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 28 }), (n) => {
        const argv = Array.from({ length: n }, () => ['-device', 'virtio-scsi-pci']).flat();
        const r = parseQemuArgs(argv, FS);
        if (!('spec' in r)) return false;
        return hbas(r.spec).every((h, i) => h.slot === 4 + i && h.fn === 0);
      }),
    );
  });

  it('the 29th controller finds no slot', () => {
    const argv = Array.from({ length: 29 }, () => ['-device', 'virtio-scsi-pci']).flat();
    expect(err(argv).error).toBe('vscsi: -device virtio-scsi-pci: PCI: no slot/function available for virtio-scsi-pci, all in use or reserved');
  });
});

describe('SCSI address auto-assignment', () => {
  const drives = (n: number) =>
    Array.from({ length: n }, (_, i) => ['-drive', `file=/w/disk.img,if=none,format=raw,readonly=on,id=d${i}`]).flat();

  it('no scsi-id: lowest free target with lun 0; no lun: lowest free lun', () => {
    const r = ok([...drives(5), '-device', 'virtio-scsi-pci',
      '-device', 'scsi-hd,drive=d0', '-device', 'scsi-hd,drive=d1', '-device', 'scsi-hd,drive=d2,scsi-id=0',
      '-device', 'scsi-hd,drive=d3,scsi-id=0', '-device', 'scsi-hd,drive=d4,lun=1']);
    // d4 (lun=1): target 0 has LUN 1 already, target 1 does not
    expect(scsi(r.spec).map((d) => `${d.scsiId}:${d.lun}`)).toEqual(['0:0', '1:0', '0:1', '0:2', '1:1']);
  });

  it('no free lun / no free target', () => {
    // property: whatever the order, auto-assigned addresses never collide
    fc.assert(
      fc.property(fc.array(fc.record({ id: fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined }),
        lun: fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined }) }), { maxLength: 12 }), (devs) => {
        const argv = [...drives(devs.length), '-device', 'virtio-scsi-pci'];
        devs.forEach((d, i) => {
          let o = `scsi-hd,drive=d${i}`;
          if (d.id !== undefined) o += `,scsi-id=${d.id}`;
          if (d.lun !== undefined) o += `,lun=${d.lun}`;
          argv.push('-device', o);
        });
        const r = parseQemuArgs(argv, FS);
        if ('spec' in r) {
          const addrs = scsi(r.spec).map((d) => `${d.scsiId}:${d.lun}`);
          return new Set(addrs).size === addrs.length;
        }
        return 'error' in r && /lun already used by/.test(r.error);
      }),
    );
  });
});
