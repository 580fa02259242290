// Models block/genhd.c + block/disk-events.c + the bdi registration of mm/backing-dev.c (Linux 6.1):
// the gendisk, its sysfs directory and attributes, device numbers (fixed majors per driver, blkext
// 259 for extra partitions), diskseq, set_capacity_and_notify, disk events and /proc/partitions.
//
// One BlockLayer per kernel (found with `blockLayer(kernel)`): it owns the `block` and `bdi` classes,
// the registry of live disks and the dispatch from a /dev node's (major, minor) to the block-device
// file of src/block/bdev.ts.

import { Errno } from '../kernel/errno.ts';
import type { FileOps } from '../kernel/fs.ts';
import type { Kernel } from '../kernel/kernel.ts';
import { KERN_INFO } from '../kernel/kernel.ts';
import type { Gpa } from '../platform/guest_memory.ts';
import { Device } from '../sysfs/core.ts';
import type { AttrSpec } from '../sysfs/kernfs.ts';
import { createDir, createFiles, createLink, removeNode } from '../sysfs/kernfs.ts';
import { blkRegisterQueue, defaultLimits } from './blk_sysfs.ts';
import type { QueueLimits } from './blk_sysfs.ts';

export const BLOCK_EXT_MAJOR = 259;
/** Flags shown by `capability` (GENHD_FL_*). */
export const GENHD_FL_REMOVABLE = 1;
export const GENHD_FL_HIDDEN = 2;
export const GENHD_FL_NO_PART = 4;

export type ReqOp = 'READ' | 'WRITE' | 'FLUSH' | 'DISCARD' | 'WRITE_ZEROES';
/** REQ_OP_* values as blk_print_req_error prints them. */
export const REQ_OP_CODE: Record<ReqOp, number> = { READ: 0, WRITE: 1, FLUSH: 2, DISCARD: 3, WRITE_ZEROES: 9 };
/** REQ_SYNC / REQ_IDLE (blk_types.h): what a synchronous read / O_DIRECT write carries. */
export const REQ_SYNC = 1 << 11;
export const REQ_IDLE = 1 << 15;

/** blk_status_t values that reach the log, with the names of blk_errors[]. */
export const BLK_STS = {
  OK: '',
  NOTSUPP: 'operation not supported',
  TIMEOUT: 'timeout',
  NOSPC: 'critical space allocation',
  TRANSPORT: 'recoverable transport',
  TARGET: 'critical target',
  NEXUS: 'critical nexus',
  MEDIUM: 'critical medium',
  PROTECTION: 'protection',
  RESOURCE: 'kernel resource',
  IOERR: 'I/O',
} as const;
export type BlkStatus = keyof typeof BLK_STS;

/** Errno a failed request gives the reader (blk_status_to_errno). */
export function blkStatusToErrno(st: BlkStatus): string {
  switch (st) {
    case 'OK':
      return '';
    case 'NOTSUPP':
      return 'EOPNOTSUPP';
    case 'TIMEOUT':
      return 'ETIMEDOUT';
    case 'NOSPC':
      return 'ENOSPC';
    case 'TRANSPORT':
      return 'ENOLINK';
    case 'TARGET':
      return 'EREMOTEIO';
    case 'NEXUS':
      return 'EBADE';
    case 'MEDIUM':
      return 'ENODATA';
    case 'PROTECTION':
      return 'EILSEQ';
    case 'RESOURCE':
      return 'ENOMEM';
    case 'IOERR':
      return 'EIO';
  }
}

/** One request as the driver sees it: 512-byte sector units, data in guest memory. */
export interface BlkRequest {
  readonly op: ReqOp;
  readonly sector: number;
  readonly nrSectors: number;
  /** Data buffer in guest memory (READ/WRITE), null otherwise. */
  readonly buf: Gpa | null;
  readonly flags: number;
  /** Do not log a failure (RQF_QUIET: partition scan, internal reads). */
  readonly quiet?: boolean;
}

/** ≈ block_device_operations + the driver's queue_rq, reduced to what sd and sr need. */
export interface BlockDeviceOperations {
  /** Executes one request; resolves with the block status once it completed. */
  submit(disk: Gendisk, req: BlkRequest): Promise<BlkStatus>;
  /** Called for every open of the disk or one of its partitions (sd_open / sr_block_open); may throw Errno. */
  open?(disk: Gendisk, flags: number): Promise<void>;
  release?(disk: Gendisk): void;
  /** Driver ioctls (sr: CDROM*); undefined means "not mine". */
  ioctl?(disk: Gendisk, request: number, arg: unknown): unknown;
  /** disk_check_events: which events happened since the last check (`clearing`: an open asks). */
  checkEvents?(disk: Gendisk, clearing: boolean): Promise<DiskEvent[]>;
}

export type DiskEvent = 'media_change' | 'eject_request';

export interface IoStats {
  ios: [number, number, number, number];
  sectors: [number, number, number, number];
  ticksMs: [number, number, number, number];
  merges: [number, number, number, number];
  ioTicksMs: number;
  inflight: [number, number];
}

export class BlockPart {
  readonly disk: Gendisk;
  readonly partno: number;
  start: number;
  nrSects: number;
  readonly dev: Device;
  readonly stats: IoStats = newStats();

  constructor(disk: Gendisk, partno: number, start: number, nrSects: number, dev: Device) {
    this.disk = disk;
    this.partno = partno;
    this.start = start;
    this.nrSects = nrSects;
    this.dev = dev;
  }
}

function newStats(): IoStats {
  return { ios: [0, 0, 0, 0], sectors: [0, 0, 0, 0], ticksMs: [0, 0, 0, 0], merges: [0, 0, 0, 0], ioTicksMs: 0, inflight: [0, 0] };
}

export class Gendisk {
  readonly name: string;
  readonly major: number;
  readonly firstMinor: number;
  /** Minors reserved for the disk and its partitions (sd 16, sr 1). */
  readonly minors: number;
  flags = 0;
  /** Capacity in 512-byte sectors. */
  capacity = 0;
  /** set_disk_ro / the policy of the whole disk. */
  ro = false;
  diskseq = 0;
  /** Events this disk can report (`events`), and the poll interval (-1 = system default). */
  events: DiskEvent[] = [];
  eventsPollMsecs = -1;
  readonly fops: BlockDeviceOperations;
  privateData: unknown = null;
  readonly limits: QueueLimits;
  readonly parts = new Map<number, BlockPart>();
  readonly stats: IoStats = newStats();
  readonly dev: Device;
  readonly bdi: Device;
  /** GD_NEED_PART_SCAN. */
  needPartScan = false;
  openers = 0;
  live = false;
  /** Per-disk state of the block-device file (page cache), owned by bdev.ts. */
  bdevState: unknown = null;

  constructor(name: string, major: number, firstMinor: number, minors: number, fops: BlockDeviceOperations, nrCpus: number) {
    this.name = name;
    this.major = major;
    this.firstMinor = firstMinor;
    this.minors = minors;
    this.fops = fops;
    this.limits = defaultLimits(nrCpus);
    this.dev = new Device(name, null);
    this.bdi = new Device(`${major}:${firstMinor}`, null);
  }

  get removable(): boolean {
    return (this.flags & GENHD_FL_REMOVABLE) !== 0;
  }
}

/** The block layer of one kernel. */
export class BlockLayer {
  readonly kernel: Kernel;
  readonly disks: Gendisk[] = [];
  #diskseq = 0;
  readonly #ext = new Set<number>();
  /** Opens the block-device file for (disk, partition); installed by bdev.ts. */
  openBdev: ((disk: Gendisk, part: BlockPart | null, flags: number) => Promise<FileOps>) | null = null;
  /** Partition rescan of a disk; installed by partitions.ts (blk_add_partitions). */
  scanPartitions: ((disk: Gendisk) => Promise<void>) | null = null;
  /** Extra events poll interval for every disk (block.events_dfl_poll_msecs), in ms; 0 = off. */
  eventsDflPollMsecs = 0;

  constructor(kernel: Kernel) {
    this.kernel = kernel;
    kernel.dm.cls('block');
    kernel.dm.cls('bdi');
  }

  /** register_blkdev for a driver-owned major; opens of its minors are routed to the live disks. */
  registerBlkdev(major: number, name: string): void {
    this.kernel.devs.registerBlkdev(major, name, (minor, flags) => this.#open(major, minor, flags));
    if (major !== BLOCK_EXT_MAJOR && !this.#extRegistered) {
      this.#extRegistered = true;
      this.kernel.devs.registerBlkdev(BLOCK_EXT_MAJOR, 'blkext', (minor, flags) => this.#open(BLOCK_EXT_MAJOR, minor, flags));
    }
  }
  #extRegistered = false;

  unregisterBlkdev(major: number, name: string): void {
    this.kernel.devs.unregisterBlkdev(major, name);
  }

  nextDiskseq(): number {
    return ++this.#diskseq;
  }

  /** alloc_disk: diskseq is taken at allocation (inc_diskseq in __alloc_disk_node). */
  allocDisk(name: string, major: number, firstMinor: number, minors: number, fops: BlockDeviceOperations): Gendisk {
    const d = new Gendisk(name, major, firstMinor, minors, fops, this.kernel.nrCpus);
    d.diskseq = this.nextDiskseq();
    return d;
  }

  findDisk(name: string): Gendisk | undefined {
    return this.disks.find((d) => d.name === name);
  }

  /** The disk or partition behind a device number. */
  lookupDevt(major: number, minor: number): { disk: Gendisk; part: BlockPart | null } | undefined {
    for (const disk of this.disks) {
      if (disk.major === major && disk.firstMinor === minor) return { disk, part: null };
      for (const p of disk.parts.values()) {
        const dt = p.dev.devt;
        if (dt && dt.major === major && dt.minor === minor) return { disk, part: p };
      }
    }
    return undefined;
  }

  async #open(major: number, minor: number, flags: number): Promise<FileOps> {
    const hit = this.lookupDevt(major, minor);
    if (!hit || !hit.disk.live || !this.openBdev) throw new Errno('ENXIO');
    return this.openBdev(hit.disk, hit.part, flags);
  }

  /**
   * device_add_disk: the disk device under `parent` (…/block/sdX), /sys/block link, bdi, queue/,
   * then the partition scan (which opens the disk: sd revalidates once more there).
   */
  async deviceAddDisk(parent: Device, disk: Gendisk): Promise<void> {
    const dm = this.kernel.dm;
    const dev = disk.dev;
    dev.parent = parent;
    dev.cls = dm.cls('block');
    dev.devtype = 'disk';
    dev.devt = { kind: 'block', major: disk.major, minor: disk.firstMinor, devname: disk.name };
    dev.ueventVars = () => [['DISKSEQ', String(disk.diskseq)]];
    this.disks.push(disk);
    disk.live = true;
    // The bdi comes first (its uevent precedes the block one in the captures).
    const bdi = disk.bdi;
    bdi.cls = dm.cls('bdi');
    dm.add(bdi, bdiAttrs(disk));
    dm.add(dev, diskAttrs(disk));
    const dir = dev.dir!;
    createDir(dir, 'holders');
    createDir(dir, 'slaves');
    integrityDir(dir);
    traceDir(dir);
    if (bdi.dir) createLink(dir, 'bdi', bdi.dir);
    createLink(createDir(dm.sys, 'block'), disk.name, dir);
    blkRegisterQueue(this.kernel, disk);
    this.startPolling(disk);
    if (!(disk.flags & GENHD_FL_NO_PART) && disk.capacity > 0) {
      disk.needPartScan = true;
      await this.scanPartitions?.(disk);
    }
  }

  /** del_gendisk: partitions, queue, the disk device, its bdi. */
  delGendisk(disk: Gendisk): void {
    const dm = this.kernel.dm;
    disk.live = false;
    for (const p of [...disk.parts.values()]) this.deletePartition(disk, p);
    removeNode(createDir(dm.sys, 'block'), disk.name);
    dm.del(disk.dev);
    dm.del(disk.bdi);
    const i = this.disks.indexOf(disk);
    if (i >= 0) this.disks.splice(i, 1);
  }

  /** add_partition: partition n is minor first_minor + n, or blkext 259:N beyond the disk's range. */
  addPartition(disk: Gendisk, partno: number, start: number, nrSects: number): BlockPart {
    const dm = this.kernel.dm;
    const name = /\d$/.test(disk.name) ? `${disk.name}p${partno}` : `${disk.name}${partno}`;
    let major = disk.major;
    let minor = disk.firstMinor + partno;
    if (partno >= disk.minors) {
      major = BLOCK_EXT_MAJOR;
      minor = 0;
      while (this.#ext.has(minor)) minor++;
      this.#ext.add(minor);
    }
    const dev = new Device(name, disk.dev);
    dev.cls = dm.cls('block');
    dev.devtype = 'partition';
    dev.devt = { kind: 'block', major, minor, devname: name };
    dev.ueventVars = () => [['PARTN', String(partno)]];
    const part = new BlockPart(disk, partno, start, nrSects, dev);
    disk.parts.set(partno, part);
    dm.add(dev, partAttrs(disk, part));
    return part;
  }

  deletePartition(disk: Gendisk, part: BlockPart): void {
    const dt = part.dev.devt;
    if (dt?.major === BLOCK_EXT_MAJOR) this.#ext.delete(dt.minor);
    this.kernel.dm.del(part.dev);
    disk.parts.delete(part.partno);
  }

  /**
   * set_capacity_and_notify: logs the change and sends RESIZE=1, unless the disk is not live yet or
   * one of the sizes is zero (a medium appearing or going away is not a resize).
   */
  setCapacityAndNotify(disk: Gendisk, size: number): boolean {
    const old = disk.capacity;
    disk.capacity = size;
    if (!disk.live || old === size) return false;
    this.kernel.printk(KERN_INFO, `${disk.name}: detected capacity change from ${old} to ${size}`);
    if (!old || !size) return false;
    this.kernel.dm.uevent(disk.dev, 'change', [['RESIZE', '1']]);
    return true;
  }

  /**
   * disk_check_events: asks the driver; a media change takes a new diskseq. A poll reports what it
   * found with a uevent; an open (`clearing`) consumes the events silently (bdev_check_media_change).
   */
  async checkEvents(disk: Gendisk, clearing = false): Promise<DiskEvent[]> {
    if (!disk.fops.checkEvents || !disk.live) return [];
    const ev = await disk.fops.checkEvents(disk, clearing);
    const wanted = ev.filter((e) => disk.events.includes(e));
    // ev->pending: an event already found and not yet cleared by an open is not new (no second uevent,
    // no second diskseq); an open's check takes and clears them all.
    let pending = this.#pendingEvents.get(disk);
    if (!pending) this.#pendingEvents.set(disk, (pending = new Set()));
    const fresh = wanted.filter((e) => !pending.has(e));
    if (fresh.includes('media_change')) disk.diskseq = this.nextDiskseq();
    if (clearing) {
      // disk_clear_events hands back what earlier checks left pending, with what this one found.
      const all = [...new Set([...pending, ...wanted])];
      pending.clear();
      return all;
    }
    for (const e of fresh) pending.add(e);
    const env: Array<readonly [string, string]> = [];
    if (fresh.includes('media_change')) env.push(['DISK_MEDIA_CHANGE', '1']);
    if (fresh.includes('eject_request')) env.push(['DISK_EJECT_REQUEST', '1']);
    if (env.length > 0) this.kernel.dm.uevent(disk.dev, 'change', env);
    return wanted;
  }
  readonly #pendingEvents = new WeakMap<Gendisk, Set<DiskEvent>>();

  /**
   * block.events_dfl_poll_msecs (udev writes 2000): every disk that reports events and has no
   * interval of its own is polled on the loop as a daemon event, so polling never keeps the
   * machine busy.
   */
  setEventsDflPollMsecs(ms: number): void {
    this.eventsDflPollMsecs = ms;
    for (const d of this.disks) {
      // disk_events_set_dfl_poll_msecs flushes every disk's events (disk_flush_events(disk, 0)): an
      // immediate check that clears nothing — for sr a lone GET EVENT STATUS NOTIFICATION.
      if (d.live && d.events.length > 0 && d.fops.checkEvents) void this.checkEvents(d);
      this.startPolling(d);
    }
  }

  startPolling(disk: Gendisk): void {
    const interval = disk.eventsPollMsecs >= 0 ? disk.eventsPollMsecs : this.eventsDflPollMsecs;
    if (this.#polling.has(disk) || interval <= 0 || disk.events.length === 0 || !disk.fops.checkEvents) return;
    this.#polling.add(disk);
    const tick = (): void => {
      if (!disk.live) {
        this.#polling.delete(disk);
        return;
      }
      void this.checkEvents(disk).finally(() => {
        if (disk.live) this.kernel.loop.after(interval * 1e6, tick, { daemon: true });
        else this.#polling.delete(disk);
      });
    };
    this.kernel.loop.after(interval * 1e6, tick, { daemon: true });
  }
  readonly #polling = new Set<Gendisk>();

  /** /proc/partitions (show_partition): header, blank line, `%4d  %7d %10llu %s` per disk and partition. */
  procPartitions(): string {
    let out = 'major minor  #blocks  name\n\n';
    const line = (major: number, minor: number, sectors: number, name: string): string =>
      `${String(major).padStart(4)}  ${String(minor).padStart(7)} ${String(Math.floor(sectors / 2)).padStart(10)} ${name}\n`;
    for (const d of this.disks) {
      // Disks without capacity that cannot hold partitions are hidden (disk_max_parts / NO_PART with size 0).
      if (d.capacity === 0 && d.flags & GENHD_FL_NO_PART) continue;
      out += line(d.major, d.firstMinor, d.capacity, d.name);
      for (const p of [...d.parts.values()].sort((a, b) => a.partno - b.partno)) {
        const dt = p.dev.devt!;
        out += line(dt.major, dt.minor, p.nrSects, p.dev.name);
      }
    }
    return out;
  }

  /** Accounting at completion (blk_account_io_done): one I/O of `sectors` that took `ms`. */
  account(disk: Gendisk, part: BlockPart | null, op: ReqOp, sectors: number, ms: number): void {
    const grp = op === 'READ' ? 0 : op === 'WRITE' ? 1 : op === 'DISCARD' ? 2 : 3;
    for (const s of part ? [disk.stats, part.stats] : [disk.stats]) {
      s.ios[grp]!++;
      s.sectors[grp]! += op === 'FLUSH' ? 0 : sectors;
      s.ticksMs[grp]! += ms;
      s.ioTicksMs += ms;
    }
  }
}

const layers = new WeakMap<Kernel, BlockLayer>();

/** The block layer of a kernel (created on first use, as genhd_device_init runs at boot). */
export function blockLayer(kernel: Kernel): BlockLayer {
  let b = layers.get(kernel);
  if (!b) {
    b = new BlockLayer(kernel);
    layers.set(kernel, b);
  }
  return b;
}

/** Free-standing helpers for other subsystems: /proc/partitions text and lookup by name. */
export function procPartitions(kernel: Kernel): string {
  return blockLayer(kernel).procPartitions();
}

export function findDisk(kernel: Kernel, name: string): Gendisk | undefined {
  return blockLayer(kernel).findDisk(name);
}

/** part_stat_show: the 17 columns of `stat`. */
export function formatStat(s: IoStats): string {
  const f = (n: number): string => String(n).padStart(8);
  const inflight = s.inflight[0] + s.inflight[1];
  return (
    [
      s.ios[0], s.merges[0], s.sectors[0], s.ticksMs[0],
      s.ios[1], s.merges[1], s.sectors[1], s.ticksMs[1],
      inflight, s.ioTicksMs, s.ticksMs[0] + s.ticksMs[1] + s.ticksMs[2] + s.ticksMs[3],
      s.ios[2], s.merges[2], s.sectors[2], s.ticksMs[2],
      s.ios[3], s.ticksMs[3],
    ]
      .map(f)
      .join(' ') + '\n'
  );
}

function formatInflight(s: IoStats): string {
  return `${String(s.inflight[0]).padStart(8)} ${String(s.inflight[1]).padStart(8)}\n`;
}

/** The gendisk attributes (disk_attrs in genhd.c) with their modes. */
function diskAttrs(d: Gendisk): AttrSpec[] {
  const ro = (name: string, show: () => string): AttrSpec => ({ name, mode: 0o444, show: () => `${show()}\n` });
  return [
    ro('range', () => String(d.minors)),
    ro('ext_range', () => String(d.flags & GENHD_FL_NO_PART ? 1 : d.minors === 1 ? 1 : 256)),
    ro('removable', () => (d.removable ? '1' : '0')),
    ro('hidden', () => (d.flags & GENHD_FL_HIDDEN ? '1' : '0')),
    ro('ro', () => (d.ro ? '1' : '0')),
    ro('size', () => String(d.capacity)),
    ro('alignment_offset', () => String(d.limits.alignmentOffset)),
    ro('discard_alignment', () => '0'),
    ro('capability', () => d.flags.toString(16)),
    { name: 'stat', mode: 0o444, show: () => formatStat(d.stats) },
    { name: 'inflight', mode: 0o444, show: () => formatInflight(d.stats) },
    // __disk_events_show: the names, then a newline only if there was any.
    { name: 'events', mode: 0o444, show: () => (d.events.length ? `${d.events.join(' ')}\n` : '') },
    { name: 'events_async', mode: 0o444, show: () => '' },
    {
      name: 'events_poll_msecs',
      mode: 0o644,
      show: () => `${d.eventsPollMsecs}\n`,
      store: (text) => {
        const v = Number(text.trim());
        if (!Number.isInteger(v) || (v < 0 && v !== -1)) throw new Errno('EINVAL');
        d.eventsPollMsecs = v;
      },
    },
    ro('diskseq', () => String(d.diskseq)),
  ];
}

function partAttrs(d: Gendisk, p: BlockPart): AttrSpec[] {
  const ro = (name: string, show: () => string): AttrSpec => ({ name, mode: 0o444, show: () => `${show()}\n` });
  return [
    ro('partition', () => String(p.partno)),
    ro('start', () => String(p.start)),
    ro('size', () => String(p.nrSects)),
    ro('ro', () => (d.ro ? '1' : '0')),
    ro('alignment_offset', () => '0'),
    ro('discard_alignment', () => '0'),
    { name: 'stat', mode: 0o444, show: () => formatStat(p.stats) },
    { name: 'inflight', mode: 0o444, show: () => formatInflight(p.stats) },
  ];
}

/** /sys/devices/virtual/bdi/MAJ:MIN attributes (bdi_dev_attrs, 6.1). */
function bdiAttrs(d: Gendisk): AttrSpec[] {
  return [
    {
      name: 'read_ahead_kb',
      mode: 0o644,
      show: () => `${d.limits.readAheadKb}\n`,
      store: (t) => {
        const v = Number(t.trim());
        if (!Number.isInteger(v) || v < 0) throw new Errno('EINVAL');
        d.limits.readAheadKb = v;
      },
    },
    { name: 'min_ratio', mode: 0o644, show: () => '0\n', store: () => {} },
    { name: 'max_ratio', mode: 0o644, show: () => '100\n', store: () => {} },
    { name: 'stable_pages_required', mode: 0o444, show: () => '0\n' },
  ];
}

function integrityDir(dir: import('../kernel/fs.ts').DirNode): void {
  createFiles(createDir(dir, 'integrity'), [
    { name: 'device_is_integrity_capable', mode: 0o444, show: () => '0\n' },
    { name: 'format', mode: 0o444, show: () => 'none\n' },
    { name: 'protection_interval_bytes', mode: 0o444, show: () => '0\n' },
    { name: 'read_verify', mode: 0o644, show: () => '0\n', store: () => {} },
    { name: 'tag_size', mode: 0o444, show: () => '0\n' },
    { name: 'write_generate', mode: 0o644, show: () => '0\n', store: () => {} },
  ]);
}

function traceDir(dir: import('../kernel/fs.ts').DirNode): void {
  const disabled = (name: string): AttrSpec => ({ name, mode: 0o644, show: () => 'disabled\n', store: () => {} });
  createFiles(createDir(dir, 'trace'), [
    disabled('act_mask'),
    { name: 'enable', mode: 0o644, show: () => '0\n', store: () => {} },
    disabled('end_lba'),
    disabled('pid'),
    disabled('start_lba'),
  ]);
}
