// Models fs/char_dev.c + the register_blkdev part of block/genhd.c (Linux 6.1): which driver owns
// which major, how an open of a device node reaches it, and the lists /proc/devices prints.

import { Errno } from './errno.ts';
import type { FileOps } from './fs.ts';

export type DevOpen = (minor: number, flags: number) => FileOps | Promise<FileOps>;

interface Region {
  readonly major: number;
  readonly name: string;
  /** Minor range served by `open` (cdev_add); a region may be registered before any cdev. */
  open: DevOpen | null;
}

export class DeviceNumbers {
  readonly #chr: Region[] = [];
  readonly #blk: Region[] = [];

  /** register_chrdev_region / __register_chrdev: a major and its name (major 0 = pick a dynamic one). */
  registerChrdev(major: number, name: string, open: DevOpen | null = null): number {
    if (major === 0) major = this.#dynamicMajor();
    this.#chr.push({ major, name, open });
    return major;
  }

  unregisterChrdev(major: number, name: string): void {
    const i = this.#chr.findIndex((r) => r.major === major && r.name === name);
    if (i >= 0) this.#chr.splice(i, 1);
  }

  registerBlkdev(major: number, name: string, open: DevOpen | null = null): void {
    this.#blk.push({ major, name, open });
  }

  unregisterBlkdev(major: number, name: string): void {
    const i = this.#blk.findIndex((r) => r.major === major && r.name === name);
    if (i >= 0) this.#blk.splice(i, 1);
  }

  setOpen(kind: 'chr' | 'blk', major: number, open: DevOpen): void {
    for (const r of kind === 'chr' ? this.#chr : this.#blk) if (r.major === major) r.open = open;
  }

  /** chrdev_open / blkdev_open: ENXIO when nothing serves that number. */
  async open(kind: 'chr' | 'blk', major: number, minor: number, flags: number): Promise<FileOps> {
    const r = (kind === 'chr' ? this.#chr : this.#blk).find((x) => x.major === major && x.open);
    if (!r?.open) throw new Errno('ENXIO');
    return r.open(minor, flags);
  }

  /** Dynamic majors are handed out downward from 254 (CHRDEV_MAJOR_DYN_END .. 234), skipping taken ones. */
  #dynamicMajor(): number {
    for (let m = 254; m >= 234; m--) if (!this.#chr.some((r) => r.major === m)) return m;
    throw new Errno('EBUSY');
  }

  /** /proc/devices, as chrdev_show/blkdev_show print it: `%3d %s`, sorted by major. */
  procDevices(): string {
    const sorted = (rs: Region[]): Region[] => [...rs].sort((a, b) => a.major - b.major);
    const line = (r: Region): string => `${String(r.major).padStart(3, ' ')} ${r.name}\n`;
    return `Character devices:\n${sorted(this.#chr).map(line).join('')}\nBlock devices:\n${sorted(this.#blk).map(line).join('')}`;
  }
}
