// Models src/udev/udev-builtin-path_id.c (systemd v252): the persistent "by-path" name of a device, computed by
// walking its sysfs parents. Exported for `udevadm test-builtin path_id` and for the kernel-side udev model.
//
// The walk starts at the device and goes up the /sys/devices hierarchy (directories without a `uevent` file,
// such as `block/` or `scsi_generic/`, are not devices and are stepped over). Each parent contributes by its
// subsystem: a SCSI LU gives `scsi-H:C:T:L` (host number rebased to the lowest host under the same parent)
// and continues from its Scsi_Host; virtio is a transport without a name; a PCI function gives `pci-<addr>`
// and its PCI ancestors are skipped. The result is refused when no parent was a known bus (PCI here), or a
// block device was not reached through a known transport — scsi_debug's pseudo bus fails that way (ENOENT).

import { isErrno, type ErrnoCode } from '../kernel/errno.ts';
import type { Syscalls } from '../kernel/syscalls.ts';

export interface PathIdResult {
  readonly ID_PATH: string;
  readonly ID_PATH_TAG: string;
}

export type PathIdOutcome = { readonly ok: true; readonly props: PathIdResult } | { readonly ok: false; readonly error: ErrnoCode };

/** The slice of sd_device that path_id needs. */
interface Dev {
  readonly syspath: string;
  readonly sysname: string;
  readonly subsystem: string | null;
  readonly devtype: string | null;
}

/** Reads a whole file as text; null when it cannot be opened or read (the caller treats it as absent). */
export async function readTextFile(sys: Syscalls, path: string): Promise<string | null> {
  try {
    const fd = await sys.open(path, 0);
    try {
      let text = '';
      const dec = new TextDecoder();
      for (let pos = 0; ; ) {
        const b = await sys.read(fd, 4096, pos);
        if (b.length === 0) break;
        text += dec.decode(b, { stream: true });
        pos += b.length;
      }
      return text + dec.decode();
    } finally {
      await sys.close(fd);
    }
  } catch (e) {
    if (isErrno(e)) return null;
    throw e;
  }
}

async function exists(sys: Syscalls, path: string): Promise<boolean> {
  try { await sys.lstat(path); return true; } catch (e) { if (isErrno(e)) return false; throw e; }
}

function basename(p: string): string {
  return p.slice(p.lastIndexOf('/') + 1);
}

function dirname(p: string): string {
  const i = p.lastIndexOf('/');
  return i <= 0 ? '/' : p.slice(0, i);
}

/** sd_device_new_from_syspath: subsystem from the `subsystem` link, DEVTYPE from `uevent`. */
async function deviceAt(sys: Syscalls, syspath: string): Promise<Dev> {
  let subsystem: string | null = null;
  try { subsystem = basename(await sys.readlink(`${syspath}/subsystem`)); } catch (e) { if (!isErrno(e)) throw e; }
  const uevent = (await readTextFile(sys, `${syspath}/uevent`)) ?? '';
  const m = /^DEVTYPE=(.*)$/m.exec(uevent);
  return { syspath, sysname: basename(syspath), subsystem, devtype: m ? m[1]! : null };
}

/** sd_device_get_parent: the nearest ancestor directory under /sys/devices that is a device (has `uevent`). */
async function parentOf(sys: Syscalls, dev: Dev): Promise<Dev | null> {
  for (let p = dirname(dev.syspath); p.startsWith('/sys/devices/'); p = dirname(p)) {
    if (await exists(sys, `${p}/uevent`)) return deviceAt(sys, p);
  }
  return null;
}

async function parentWithSubsystemDevtype(sys: Syscalls, dev: Dev, subsystem: string, devtype: string): Promise<Dev | null> {
  for (let p = await parentOf(sys, dev); p !== null; p = await parentOf(sys, p)) {
    if (p.subsystem === subsystem && p.devtype === devtype) return p;
  }
  return null;
}

/** handle_scsi_default: `scsi-<host>:<bus>:<target>:<lun>` with the host rebased; continues from the host. */
async function handleScsiDefault(sys: Syscalls, dev: Dev, path: string[]): Promise<Dev | null> {
  const m = /^(\d+):(\d+):(\d+):(\d+)$/.exec(dev.sysname);
  if (!m) return null;
  const hostdev = await parentWithSubsystemDevtype(sys, dev, 'scsi', 'scsi_host');
  if (hostdev === null) return null;
  let host = Number(m[1]);
  // The lowest hostN among the host's siblings: a controller with several hosts numbers them from 0.
  let basenum = -1;
  try {
    for (const ent of await sys.readdir(dirname(hostdev.syspath))) {
      const h = /^host(\d+)$/.exec(ent.name);
      if (h && (basenum < 0 || Number(h[1]) < basenum)) basenum = Number(h[1]);
    }
  } catch (e) {
    if (!isErrno(e)) throw e;
    return null;
  }
  if (basenum < 0) return null;
  host -= basenum;
  path.unshift(`scsi-${host}:${m[2]!}:${m[3]!}:${m[4]!}`);
  return hostdev;
}

/** handle_scsi: the transport-specific variants (FC, SAS, iSCSI, ATA, Hyper-V) are not reachable here. */
async function handleScsi(sys: Syscalls, dev: Dev, path: string[]): Promise<Dev | null> {
  if (dev.devtype !== 'scsi_device') return dev;
  if (await exists(sys, `${dev.syspath}/ieee1394_id`)) {
    const id = ((await readTextFile(sys, `${dev.syspath}/ieee1394_id`)) ?? '').trim();
    path.unshift(`ieee1394-0x${id}`);
    return null;
  }
  const s = dev.syspath;
  if (s.includes('/rport-') || s.includes('/end_device-') || s.includes('/session') || s.includes('/ata') ||
    s.includes('/vmbus_') || s.includes('/VMBUS')) {
    // Transports whose naming needs their class attributes; none exists in this machine.
    return null;
  }
  return handleScsiDefault(sys, dev, path);
}

/** handle_scsi_tape: st/nst nodes get their mode suffix as the first component. */
function handleScsiTape(dev: Dev, path: string[]): void {
  const m = /^(n?st)\d+([lma]?)$/.exec(dev.sysname);
  if (m && m[2] !== '') path.unshift(`${m[1]!}${m[2]!}`);
}

/** The ID_PATH_TAG alphabet: [0-9A-Za-z-]; any run of other characters becomes one '_', trailing '_' dropped. */
export function pathIdTag(path: string): string {
  let tag = '';
  for (const c of path) {
    if (/[0-9A-Za-z-]/.test(c)) tag += c;
    else if (!tag.endsWith('_')) tag += '_';
  }
  return tag.replace(/_+$/, '');
}

/** builtin_path_id for the device at `syspath` (a /sys path; links such as /sys/class/block/sda are resolved). */
export async function pathId(sys: Syscalls, syspath: string): Promise<PathIdOutcome> {
  let real: string;
  try { real = await sys.realpath(syspath); } catch (e) { if (isErrno(e)) return { ok: false, error: e.code }; throw e; }
  const start = await deviceAt(sys, real);
  const path: string[] = [];
  let supportedTransport = false;
  let supportedParent = false;
  for (let parent: Dev | null = start; parent !== null; ) {
    const subsys = parent.subsystem;
    if (subsys === 'scsi_tape') {
      if (parent === start) handleScsiTape(parent, path);
    } else if (subsys === 'scsi') {
      parent = await handleScsi(sys, parent, path);
      supportedTransport = true;
    } else if (subsys === 'pci') {
      path.unshift(`pci-${parent.sysname}`);
      // skip_subsystem: bridges above the function are not part of the name.
      for (let up = await parentOf(sys, parent); up !== null && up.subsystem === 'pci'; up = await parentOf(sys, up)) {
        parent = up;
      }
      supportedParent = true;
    } else if (subsys === 'virtio') {
      for (let up = await parentOf(sys, parent); up !== null && up.subsystem === 'virtio'; up = await parentOf(sys, up)) {
        parent = up;
      }
      supportedTransport = true;
    }
    if (parent === null) break;
    parent = await parentOf(sys, parent);
  }
  if (path.length === 0 || !supportedParent) return { ok: false, error: 'ENOENT' };
  if (start.subsystem === 'block' && !supportedTransport) return { ok: false, error: 'ENOENT' };
  const idPath = path.join('-');
  return { ok: true, props: { ID_PATH: idPath, ID_PATH_TAG: pathIdTag(idPath) } };
}
