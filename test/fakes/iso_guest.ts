// Ours: a minimal guest for filesystem and blkid tests — a Vfs with /dev/sda and /dev/sr0 block nodes
// served from byte images (every device read recorded), /proc/mounts and /proc/partitions, /etc/passwd,
// the iso9660 filesystem registered, and a busybox shell with mount, umount and blkid.

import { DeviceNumbers } from '../../src/kernel/char_dev.ts';
import { Errno } from '../../src/kernel/errno.ts';
import { DevNode, DirNode, FileNode, bytes } from '../../src/kernel/fs.ts';
import type { FileOps } from '../../src/kernel/fs.ts';
import { isofsMount } from '../../src/kernel/isofs.ts';
import { ProcFs } from '../../src/kernel/procfs.ts';
import { Vfs } from '../../src/kernel/vfs.ts';
import { blkidEntry } from '../../src/shell/blkid.ts';
import { createBusyboxRegistry } from '../../src/shell/busybox.ts';
import { mountEntry, umountEntry } from '../../src/shell/mount.ts';
import { Shell } from '../../src/shell/sh.ts';
import type { LineResult } from '../../src/shell/sh.ts';

/** 2026-11-25 22:36:00 UTC, the goldens' capture day (ls prints old dates with the year). */
export const NOW = Date.UTC(2026, 10, 25, 22, 36, 0) / 1000;

export interface DeviceIo {
  readonly offset: number;
  readonly length: number;
}

export interface IsoGuest {
  readonly vfs: Vfs;
  readonly log: string[];
  /** Reads per device name, in order. */
  readonly reads: Map<string, DeviceIo[]>;
  /** Opens not yet released, per device name. */
  readonly openCount: Map<string, number>;
  run(line: string): Promise<LineResult>;
}

export interface GuestDisks {
  /** /dev/sda (8:0), 512-byte sectors. */
  readonly sda?: Uint8Array;
  /** /dev/sr0 (11:0), 2048-byte sectors; null = drive without medium. */
  readonly sr0?: Uint8Array | null;
}

export function isoGuest(disks: GuestDisks): IsoGuest {
  const root = new DirNode('', 0o755, NOW, 1);
  const etc = root.mkdir('etc');
  const passwd = etc.add(new FileNode('passwd', 0o644, NOW, 1));
  passwd.data = bytes('root:x:0:0:root:/root:/bin/sh\n');
  const group = etc.add(new FileNode('group', 0o644, NOW, 1));
  group.data = bytes('root:x:0:\n');
  root.mkdir('mnt');
  root.mkdir('tmp', 0o1777);
  const dev = root.mkdir('dev');
  const log: string[] = [];
  const reads = new Map<string, DeviceIo[]>();
  const openCount = new Map<string, number>();
  const devs = new DeviceNumbers();
  const vfs = new Vfs(root, {
    time: () => NOW,
    uptime: () => 34,
    sleep: async () => {},
    syslog: () => log,
    initModule: async () => {},
    deleteModule: async () => {},
    uname: () => ({ sysname: 'Linux', nodename: 'guest', release: '6.1.0-test', version: '#1', machine: 'x86_64' }),
  });
  vfs.setDeviceOpener((kind, major, minor, flags) => devs.open(kind, major, minor, flags));

  const serve = (name: string, image: Uint8Array | null): FileOps => {
    if (image === null) throw new Errno('ENOMEDIUM');
    openCount.set(name, (openCount.get(name) ?? 0) + 1);
    const list = reads.get(name) ?? [];
    reads.set(name, list);
    return {
      read(pos, len) {
        list.push({ offset: pos, length: len });
        return image.slice(pos, Math.min(image.length, pos + len));
      },
      size: () => image.length,
      release() {
        openCount.set(name, (openCount.get(name) ?? 1) - 1);
      },
    };
  };
  const partitions: string[] = [];
  if (disks.sda) {
    const img = disks.sda;
    devs.registerBlkdev(8, 'sd', () => serve('sda', img));
    dev.add(new DevNode('sda', 'blk', 8, 0, 0o600, NOW, 1));
    partitions.push(`   8        0 ${String(img.length / 1024).padStart(10)} sda`);
  }
  if (disks.sr0 !== undefined) {
    const img = disks.sr0;
    devs.registerBlkdev(11, 'sr', () => serve('sr0', img));
    dev.add(new DevNode('sr0', 'blk', 11, 0, 0o600, NOW, 1));
    partitions.push(`  11        0 ${String((img?.length ?? 0) / 1024).padStart(10)} sr0`);
  }

  const proc = new ProcFs(() => NOW);
  proc.addFile('mounts', () => vfs.procMounts());
  proc.addFile('partitions', () => `major minor  #blocks  name\n\n${partitions.map((l) => `${l}\n`).join('')}`);
  const procDir = root.mkdir('proc');
  procDir.mounted = proc.root;
  proc.root.mountpoint = procDir;

  vfs.registerFilesystem('iso9660', isofsMount({ openDevice: (n, f) => vfs.openNode(n, f), printk: (_level, text) => log.push(text) }));

  const registry = createBusyboxRegistry().add(mountEntry).add(umountEntry).add(blkidEntry);
  const sh = new Shell({ sys: vfs.syscalls(), registry });
  return { vfs, log, reads, openCount, run: (line) => sh.run(line) };
}
