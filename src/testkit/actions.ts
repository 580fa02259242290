// Ours: the actions of a plug/unplug/rescan plan, as concrete lines (a vscsi script line each), how the
// model predicts them, and how they run on a machine.

import type { LineOutput, Machine } from '../machine/machine.ts';
import type { Expectation, LunKind, ScsiModel } from './model.ts';

/** A concrete action: everything resolved (ids, host numbers, H:C:T:L). */
export type Action =
  | { readonly kind: 'drive_add'; readonly id: string; readonly file: string; readonly media: LunKind; readonly sizeMiB: number }
  | { readonly kind: 'device_add'; readonly id: string; readonly ctrl: string; readonly drive: string; readonly media: LunKind; readonly target: number | null; readonly lun: number | null }
  | { readonly kind: 'device_del'; readonly id: string }
  | { readonly kind: 'controller_add'; readonly id: string; readonly hotplug: boolean }
  | { readonly kind: 'scan'; readonly host: number; readonly written: string }
  | { readonly kind: 'delete'; readonly hctl: string }
  | { readonly kind: 'rescan'; readonly hctl: string }
  | { readonly kind: 'read'; readonly hctl: string; readonly dev: string; readonly sector: number }
  | { readonly kind: 'write'; readonly hctl: string; readonly dev: string; readonly sector: number; readonly tag: string };

/** The vscsi script line of an action: `(qemu) …` for the monitor, a shell line for the guest. */
export function actionLine(a: Action): string {
  switch (a.kind) {
    case 'drive_add':
      return `(qemu) drive_add 0 file=${a.file},if=none,id=${a.id},format=raw${a.media === 'cd' ? ',media=cdrom,readonly=on' : ''}`;
    case 'device_add': {
      const addr = `${a.target !== null ? `,scsi-id=${a.target}` : ''}${a.lun !== null ? `,lun=${a.lun}` : ''}`;
      return `(qemu) device_add ${a.media === 'disk' ? 'scsi-hd' : 'scsi-cd'},drive=${a.drive},id=${a.id},bus=${a.ctrl}.0${addr}`;
    }
    case 'device_del':
      return `(qemu) device_del ${a.id}`;
    case 'controller_add':
      return `(qemu) device_add virtio-scsi-pci,id=${a.id}${a.hotplug ? '' : ',hotplug=off'}`;
    case 'scan':
      return `echo "${a.written}" > /sys/class/scsi_host/host${a.host}/scan`;
    case 'delete':
      return `echo 1 > /sys/bus/scsi/devices/${a.hctl}/delete`;
    case 'rescan':
      return `echo 1 > /sys/bus/scsi/devices/${a.hctl}/rescan`;
    case 'read':
      return `dd if=/dev/${a.dev} bs=512 count=1 skip=${a.sector} iflag=direct 2>/dev/null`;
    case 'write':
      return `printf '%0512d' ${a.tag} > /tmp/tk && dd if=/tmp/tk of=/dev/${a.dev} bs=512 count=1 seek=${a.sector} oflag=direct conv=fsync 2>/dev/null`;
  }
}

/** Applies an action to the model and returns what it predicts. */
export function predict(model: ScsiModel, a: Action): Expectation {
  switch (a.kind) {
    case 'drive_add':
      return model.driveAdd(a.id, a.file, a.media, a.sizeMiB << 20);
    case 'device_add':
      return model.deviceAdd(a.id, a.ctrl, a.drive, a.target, a.lun);
    case 'device_del':
      return model.deviceDel(a.id);
    case 'controller_add':
      return model.controllerAdd(a.id, a.hotplug);
    case 'scan':
      return model.scan(a.host, a.written);
    case 'delete':
      return model.deleteSdev(a.hctl);
    case 'rescan':
      return model.rescanSdev(a.hctl);
    case 'read':
      return model.read(a.hctl, a.sector);
    case 'write':
      return model.write(a.hctl, a.sector, a.tag);
  }
}

/** The host files an action needs before it runs (drive images), as path → size in bytes. */
export function actionImages(a: Action): Record<string, number> {
  return a.kind === 'drive_add' ? { [a.file]: a.sizeMiB << 20 } : {};
}

/** Runs one action line on the machine. */
export async function runAction(m: Machine, a: Action): Promise<LineOutput> {
  const line = actionLine(a);
  return line.startsWith('(qemu) ') ? m.monitor(line.slice('(qemu) '.length)) : m.guest(line);
}
