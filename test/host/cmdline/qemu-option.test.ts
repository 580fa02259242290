// QemuOpts syntax (util/qemu-option.c) and the -device help texts (qdev-monitor.c / object_interfaces.c).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { QemuOptsList } from '../../../src/host/qemu-option.ts';
import { qemuOptGet, qemuOptsParse } from '../../../src/host/qemu-option.ts';
import { objectPropertyHelp, qdevDeviceHelp } from '../../../src/host/qdev-properties.ts';
import { FS } from './helpers.ts';
import { parseQemuArgs } from '../../../src/host/vl.ts';

const DEVICE: QemuOptsList = { name: 'device', impliedOptName: 'driver', desc: [] };
const DRIVE: QemuOptsList = { name: 'drive', desc: [] };

function parse(list: QemuOptsList, s: string) {
  const r = qemuOptsParse(list, s, new Map());
  if (!r.ok) throw new Error(r.error.message);
  return r;
}

describe('QemuOpts syntax', () => {
  it('the implied first key takes the driver', () => {
    const r = parse(DEVICE, 'scsi-hd,drive=d0,id=hd0');
    expect(qemuOptGet(r.opts, 'driver')).toBe('scsi-hd');
    expect(qemuOptGet(r.opts, 'drive')).toBe('d0');
    expect(r.opts.id).toBe('hd0');
    expect(r.opts.opts.some((o) => o.name === 'id')).toBe(false);
  });

  it(',, is a literal comma inside a value, also in the implied one', () => {
    expect(qemuOptGet(parse(DRIVE, 'file=/w/a,,b.img,if=none').opts, 'file')).toBe('/w/a,b.img');
    expect(qemuOptGet(parse(DEVICE, 'odd,,name,x=1').opts, 'driver')).toBe('odd,name');
    expect(qemuOptGet(parse(DRIVE, 'file=x,,,,,if=none').opts, 'file')).toBe('x,,');
  });

  it('the last of two values wins', () => {
    expect(qemuOptGet(parse(DRIVE, 'cache=none,cache=unsafe').opts, 'cache')).toBe('unsafe');
  });

  it('short-form booleans: foo → on, nofoo → off, with the deprecation warning; help is exempt', () => {
    const r = parse(DEVICE, 'scsi-hd,removable,nodpofua,help');
    expect(r.opts.opts.map((o) => `${o.name}=${o.value}`)).toEqual(['driver=scsi-hd', 'removable=on', 'dpofua=off', 'help=on']);
    expect(r.warnings.map((w) => [w.message, ...w.extra])).toEqual([
      ["short-form boolean option 'removable' deprecated", 'Please use removable=on instead'],
      ["short-form boolean option 'nodpofua' deprecated", 'Please use dpofua=off instead'],
    ]);
  });

  it('property: escaping any value with ,, round-trips', () => {
    fc.assert(
      fc.property(fc.string(), fc.string({ minLength: 1 }).filter((k) => /^[a-z][a-z_-]*$/.test(k) && k !== 'id'), (v, k) => {
        const s = `${k}=${v.replaceAll(',', ',,')},if=none`;
        const r = qemuOptsParse(DRIVE, s, new Map());
        return r.ok && qemuOptGet(r.opts, k) === v && qemuOptGet(r.opts, 'if') === 'none';
      }),
    );
  });
});

describe('-device help', () => {
  it('lists our devices in QEMU 7.2 format (seed §2 shape)', () => {
    const r = parseQemuArgs(['-device', 'help'], FS);
    expect('help' in r && r.help).toBe(
      'Storage devices:\n' +
        'name "scsi-block", bus SCSI, desc "SCSI block device passthrough"\n' +
        'name "scsi-cd", bus SCSI, desc "virtual SCSI CD-ROM"\n' +
        'name "scsi-generic", bus SCSI, desc "pass through generic scsi device (/dev/sg*)"\n' +
        'name "scsi-hd", bus SCSI, desc "virtual SCSI disk"\n' +
        'name "scsi-tape", bus SCSI, desc "virtual SCSI tape drive"\n' + // ours: QEMU has no emulated tape
        'name "virtio-scsi-pci", bus PCI, alias "virtio-scsi"\n' +
        'name "virtio-scsi-pci-non-transitional", bus PCI\n' +
        'name "virtio-scsi-pci-transitional", bus PCI\n' +
        '\n' +
        'Network devices:\n' +
        'name "virtio-net-pci", bus PCI, alias "virtio-net"\n',
    );
    const q = parseQemuArgs(['-device', '?'], FS);
    expect('help' in q && r && 'help' in r && q.help === r.help).toBe(true);
  });

  it('property lines: name=<type>, padded to 24, description, default', () => {
    // "  events=<uint8>         -  (default: …)" is how QEMU prints a description-less default
    expect(objectPropertyHelp({ name: 'channel', kind: 'uint32', type: 'uint32', defval: '0' })).toBe(
      '  channel=<uint32>       -  (default: 0)',
    );
    expect(objectPropertyHelp({ name: 'serial', kind: 'str', type: 'str' })).toBe('  serial=<str>');
  });

  it('-device scsi-hd,help is sorted and typed', () => {
    const r = parseQemuArgs(['-device', 'scsi-hd,help'], FS);
    const lines = ('help' in r ? r.help : '').split('\n');
    expect(lines[0]).toBe('scsi-hd options:');
    expect(lines).toContain('  drive=<str>            - Node name or ID of a block device to use as a backend');
    expect(lines).toContain('  scsi-id=<uint32>       -  (default: 4294967295)');
    expect(lines).toContain('  rerror=<BlockdevOnError> - Error handling policy, report/ignore/enospc/stop/auto (default: "auto")');
    const body = lines.slice(1, -1);
    expect([...body].sort()).toEqual(body);
  });

  it('-device virtio-scsi-pci,help shows the aliased virtio-scsi properties (hotplug, num_queues)', () => {
    const h = qdevDeviceHelp('virtio-scsi-pci');
    const text = 'stdout' in h ? h.stdout : '';
    expect(text.startsWith('virtio-scsi-pci options:\n')).toBe(true);
    expect(text).toContain('  hotplug=<bool>         - on/off (default: true)\n');
    expect(text).toContain('  num_queues=<uint32>    -  (default: 4294967295)\n');
    expect(text).toContain('  addr=<int32>           - Slot and optional function number, example: 06.0 or 06 (default: -1)\n');
  });
});
