// Ours: reads what a machine's guest shows (the same views the model predicts) and what an idle guest
// must not hold any more: orphan sysfs directories, /dev nodes or udev links, commands in flight,
// descriptors on the virtqueues.

import type { Machine } from '../machine/machine.ts';
import type { Snapshot } from './model.ts';

async function ls(m: Machine, dir: string): Promise<string[]> {
  try {
    return (await m.sys.readdir(dir)).map((e) => e.name).filter((n) => n !== '.' && n !== '..').sort();
  } catch {
    return [];
  }
}

async function readText(m: Machine, path: string): Promise<string | null> {
  try {
    const fd = await m.sys.open(path, 0);
    try {
      const b = await m.sys.read(fd, 4096);
      return new TextDecoder().decode(b);
    } finally {
      await m.sys.close(fd);
    }
  } catch {
    return null;
  }
}

/** The guest's views the model predicts, read through its system calls (and `lsscsi -g`). */
export async function observe(m: Machine): Promise<Snapshot> {
  const dev = await ls(m, '/dev');
  const byPath: Record<string, string> = {};
  for (const name of await ls(m, '/dev/disk/by-path')) {
    try {
      byPath[name] = await m.sys.readlink(`/dev/disk/by-path/${name}`);
    } catch {
      byPath[name] = '?';
    }
  }
  return {
    busDevices: await ls(m, '/sys/bus/scsi/devices'),
    block: await ls(m, '/sys/block'),
    devSd: dev.filter((n) => /^sd[a-z]+$/.test(n)),
    devSr: dev.filter((n) => /^sr\d+$/.test(n)),
    devSg: dev.filter((n) => /^sg\d+$/.test(n)),
    devBsg: await ls(m, '/dev/bsg'),
    byPath,
    lsscsi: (await m.guest('lsscsi -g')).stdout,
  };
}

/** What an idle guest still holds that it should not; empty when clean. */
export async function idleLeaks(m: Machine): Promise<string[]> {
  const out: string[] = [];
  const bus = await ls(m, '/sys/bus/scsi/devices');
  for (const t of bus.filter((n) => n.startsWith('target'))) {
    const hct = t.slice('target'.length);
    if (!bus.some((n) => n.startsWith(`${hct}:`))) out.push(`target without LU: ${t}`);
  }
  for (const b of await ls(m, '/sys/block')) {
    if (/^(sd|sr)/.test(b) && (await ls(m, `/sys/block/${b}/device`)).length === 0) out.push(`block dir without a device: ${b}`);
  }
  const dev = await ls(m, '/dev');
  const block = new Set(await ls(m, '/sys/block'));
  for (const n of dev.filter((x) => /^(sd[a-z]+|sr\d+)$/.test(x))) if (!block.has(n)) out.push(`/dev/${n} without /sys/block/${n}`);
  const sgClass = new Set(await ls(m, '/sys/class/scsi_generic'));
  for (const n of dev.filter((x) => /^sg\d+$/.test(x))) if (!sgClass.has(n)) out.push(`/dev/${n} without a scsi_generic device`);
  const bsgClass = new Set(await ls(m, '/sys/class/bsg'));
  for (const n of await ls(m, '/dev/bsg')) if (!bsgClass.has(n)) out.push(`/dev/bsg/${n} without a bsg device`);
  for (const dir of await ls(m, '/dev/disk')) {
    for (const link of await ls(m, `/dev/disk/${dir}`)) {
      try {
        await m.sys.stat(`/dev/disk/${dir}/${link}`);
      } catch {
        out.push(`dangling udev link /dev/disk/${dir}/${link}`);
      }
    }
  }
  for (const h of await ls(m, '/sys/class/scsi_host')) {
    const busy = await readText(m, `/sys/class/scsi_host/${h}/host_busy`);
    if (busy !== null && busy.trim() !== '0') out.push(`${h} host_busy ${busy.trim()}`);
  }
  for (const d of bus.filter((n) => /^\d+:\d+:\d+:\d+$/.test(n))) {
    const busy = await readText(m, `/sys/bus/scsi/devices/${d}/device_busy`);
    if (busy !== null && busy.trim() !== '0') out.push(`${d} device_busy ${busy.trim()}`);
  }
  for (const host of m.guestKernel.scsi?.hosts ?? []) {
    if (host.hostBusy !== 0) out.push(`host${host.hostNo} hostBusy ${host.hostBusy}`);
    const v = host.hostdata as unknown as VqView | null;
    if (!v || !('ctrlVq' in v)) continue;
    if (v.ctrlVq.numFree !== v.ctrlVq.num) out.push(`host${host.hostNo} control vq: ${v.ctrlVq.num - v.ctrlVq.numFree} descriptors in use`);
    v.reqVqs.forEach((q, i) => {
      if (q.numFree !== q.num) out.push(`host${host.hostNo} request vq ${i}: ${q.num - q.numFree} descriptors in use`);
    });
    const posted = v.eventVq.num - v.eventVq.numFree;
    if (posted !== 0 && posted !== v.events.length) out.push(`host${host.hostNo} event vq: ${posted} buffers posted of ${v.events.length}`);
  }
  return out;
}

interface VqView {
  readonly ctrlVq: { readonly num: number; readonly numFree: number };
  readonly eventVq: { readonly num: number; readonly numFree: number };
  readonly reqVqs: readonly { readonly num: number; readonly numFree: number }[];
  readonly events: readonly unknown[];
}

/** What the guest's DMA allocator has handed out: bytes (pages, slab pages included) and live kmalloc objects. */
export function dmaUse(m: Machine): { bytes: number; objects: number } {
  return { bytes: m.guestKernel.pages.bytesInUse, objects: m.guestKernel.pages.objectsInUse };
}
