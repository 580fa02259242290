// qdev-monitor's pure functions reused after start-up (device_add / device_del from the monitor).
import { describe, expect, it } from 'vitest';
import { qemuOptsParse } from '../../../src/host/qemu-option.ts';
import { qdevDeviceAdd, qdevDeviceDel } from '../../../src/host/qdev-monitor.ts';
import { args, ok } from './helpers.ts';

const opts = (s: string) => {
  const r = qemuOptsParse({ name: 'device', impliedOptName: 'driver', desc: [] }, s, new Map());
  if (!r.ok) throw new Error(r.error.message);
  return r.opts;
};

describe('device_add over the start-up tree', () => {
  const base = ok(args('-drive file=/w/disk.img,if=none,format=raw,id=d0 -drive file=/w/disk1.img,if=none,format=raw,id=d1 ' +
    '-device virtio-scsi-pci,id=scsi0 -device scsi-hd,drive=d0,id=hd0')).spec.tree;

  it('an id already taken by a device: Duplicate device ID', () => {
    const r = qdevDeviceAdd(base, opts('scsi-hd,drive=d1,id=hd0'));
    expect(r.ok ? '' : r.error.message).toBe("Duplicate device ID 'hd0'");
  });

  it('a new LUN lands at the next free target; device_del frees it again', () => {
    const r = qdevDeviceAdd(base, opts('scsi-hd,drive=d1,id=hp1'));
    if (!r.ok) throw new Error(r.error.message);
    expect(r.device.kind === 'scsi' && `${r.device.scsiId}:${r.device.lun}`).toBe('1:0');
    const del = qdevDeviceDel(r.tree, 'hp1');
    if (!del.ok) throw new Error(del.error.message);
    expect(del.tree.driveOwner.has('d1')).toBe(false);
    expect(qdevDeviceDel(del.tree, 'hp1')).toEqual({ ok: false, error: { message: "Device 'hp1' not found", hints: [] } });
  });

  it('the tree is not changed by a failed add', () => {
    const before = [...base.devices];
    const r = qdevDeviceAdd(base, opts('scsi-hd,drive=d0'));
    expect(r.ok ? '' : r.error.message).toBe("Drive 'd0' is already in use by another device");
    expect(base.devices).toEqual(before);
    expect(base.driveOwner.get('d0')).toBe('hd0');
  });
});
