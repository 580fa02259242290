// Models block/blk-sysfs.c + block/blk-mq-sysfs.c + the scheduler line of block/elevator.c (Linux 6.1):
// the queue limits of a disk and the `queue/` and `mq/<n>/` directories with the captured modes.
//
// Only mq-deadline is registered as a scheduler (it is built into Debian's kernel; kyber and bfq are
// modules nobody loads). A queue with more than one hardware queue starts with `none`.

import { Errno } from '../kernel/errno.ts';
import type { DirNode } from '../kernel/fs.ts';
import type { Kernel } from '../kernel/kernel.ts';
import type { AttrSpec } from '../sysfs/kernfs.ts';
import { createDir, createFiles } from '../sysfs/kernfs.ts';
import type { Gendisk } from './genhd.ts';

export interface QueueLimits {
  logicalBlockSize: number;
  physicalBlockSize: number;
  ioMin: number;
  ioOpt: number;
  alignmentOffset: number;
  /** In 512-byte sectors. */
  maxHwSectors: number;
  maxSectors: number;
  maxDevSectors: number;
  maxSegments: number;
  maxSegmentSize: number;
  maxDiscardSegments: number;
  discardGranularity: number;
  /** In 512-byte sectors. */
  maxHwDiscardSectors: number;
  maxDiscardSectors: number;
  maxWriteZeroesSectors: number;
  maxWriteSameSectors: number;
  rotational: boolean;
  addRandom: boolean;
  writeCache: boolean;
  fua: boolean;
  nrHwQueues: number;
  tagDepth: number;
  nrRequests: number;
  scheduler: 'none' | 'mq-deadline';
  timeoutMs: number;
  readAheadKb: number;
  nomerges: number;
  rqAffinity: number;
  iostats: number;
  dmaAlignment: number;
  stableWrites: number;
  wbtLatUsec: number;
  nrCpus: number;
}

export function defaultLimits(nrCpus: number): QueueLimits {
  return {
    logicalBlockSize: 512,
    physicalBlockSize: 512,
    ioMin: 512,
    ioOpt: 0,
    alignmentOffset: 0,
    maxHwSectors: 255,
    maxSectors: 255,
    maxDevSectors: 0,
    maxSegments: 128,
    maxSegmentSize: 65536,
    maxDiscardSegments: 1,
    discardGranularity: 0,
    maxHwDiscardSectors: 0,
    maxDiscardSectors: 0,
    maxWriteZeroesSectors: 0,
    maxWriteSameSectors: 0,
    rotational: true,
    // A SCSI queue starts without QUEUE_FLAG_ADD_RANDOM; sd sets it for rotational disks.
    addRandom: false,
    writeCache: false,
    fua: false,
    nrHwQueues: 1,
    tagDepth: 256,
    nrRequests: 256,
    scheduler: 'mq-deadline',
    timeoutMs: 30000,
    readAheadKb: 128,
    nomerges: 0,
    rqAffinity: 1,
    iostats: 1,
    dmaAlignment: 3,
    stableWrites: 0,
    wbtLatUsec: 75000,
    nrCpus,
  };
}

/** elevator_get_default: one hardware queue → mq-deadline, several → none. */
export function setHwQueues(l: QueueLimits, nrHwQueues: number): void {
  l.nrHwQueues = nrHwQueues;
  l.scheduler = nrHwQueues > 1 ? 'none' : 'mq-deadline';
  l.nrRequests = l.scheduler === 'none' ? l.tagDepth : 2 * Math.min(l.tagDepth, 128);
}

/** elv_iosched_show: registered schedulers, the active one bracketed. */
export function schedulerLine(l: QueueLimits): string {
  const registered = ['mq-deadline'];
  if (l.scheduler === 'none') return `[none] ${registered.map((n) => `${n} `).join('')}\n`;
  return `${registered.map((n) => (n === l.scheduler ? `[${n}]` : n)).join(' ')} none\n`;
}

function num(name: string, get: () => number | string, mode = 0o444, set?: (v: number) => void): AttrSpec {
  const spec: AttrSpec = { name, mode, show: () => `${get()}\n` };
  if (!set) return mode & 0o200 ? { ...spec, store: () => {} } : spec;
  return {
    ...spec,
    store: (t) => {
      const v = Number(t.trim());
      if (!Number.isFinite(v) || !Number.isInteger(v)) throw new Errno('EINVAL');
      set(v);
    },
  };
}

/** queue_attrs (blk-sysfs.c 6.1) with the values the limits give. */
function queueAttrs(l: QueueLimits): AttrSpec[] {
  const kb = (sectors: number): number => sectors >> 1;
  const bytes = (sectors: number): number => sectors * 512;
  return [
    num('add_random', () => (l.addRandom ? 1 : 0), 0o644, (v) => (l.addRandom = v !== 0)),
    num('chunk_sectors', () => 0),
    num('dax', () => 0),
    num('discard_granularity', () => l.discardGranularity),
    num('discard_max_bytes', () => bytes(l.maxDiscardSectors), 0o644, (v) => {
      if (v & (l.discardGranularity - 1 || 0)) throw new Errno('EINVAL');
      l.maxDiscardSectors = Math.min(Math.floor(v / 512), l.maxHwDiscardSectors);
    }),
    num('discard_max_hw_bytes', () => bytes(l.maxHwDiscardSectors)),
    num('discard_zeroes_data', () => 0),
    num('dma_alignment', () => l.dmaAlignment),
    num('fua', () => (l.fua ? 1 : 0)),
    num('hw_sector_size', () => l.logicalBlockSize),
    num('io_poll', () => 0, 0o644, () => {}),
    num('io_poll_delay', () => -1, 0o644, () => {}),
    num('io_timeout', () => l.timeoutMs, 0o644, (v) => {
      if (v <= 0) throw new Errno('EINVAL');
      l.timeoutMs = v;
    }),
    num('iostats', () => l.iostats, 0o644, (v) => (l.iostats = v ? 1 : 0)),
    num('logical_block_size', () => l.logicalBlockSize),
    num('max_discard_segments', () => l.maxDiscardSegments),
    num('max_hw_sectors_kb', () => kb(l.maxHwSectors)),
    num('max_integrity_segments', () => 0),
    num('max_sectors_kb', () => kb(l.maxSectors), 0o644, (v) => {
      const maxHw = kb(l.maxHwSectors);
      if (v > maxHw || v < 4) throw new Errno('EINVAL');
      l.maxSectors = v * 2;
    }),
    num('max_segment_size', () => l.maxSegmentSize),
    num('max_segments', () => l.maxSegments),
    num('minimum_io_size', () => l.ioMin),
    num('nomerges', () => l.nomerges, 0o644, (v) => (l.nomerges = Math.min(Math.max(v, 0), 2))),
    num('nr_requests', () => l.nrRequests, 0o644, (v) => {
      if (v < 4) throw new Errno('EINVAL');
      l.nrRequests = v;
    }),
    num('nr_zones', () => 0),
    num('optimal_io_size', () => l.ioOpt),
    num('physical_block_size', () => l.physicalBlockSize),
    num('read_ahead_kb', () => l.readAheadKb, 0o644, (v) => {
      if (v < 0) throw new Errno('EINVAL');
      l.readAheadKb = v;
    }),
    num('rotational', () => (l.rotational ? 1 : 0), 0o644, (v) => (l.rotational = v !== 0)),
    num('rq_affinity', () => l.rqAffinity, 0o644, (v) => (l.rqAffinity = v)),
    {
      name: 'scheduler',
      mode: 0o644,
      show: () => schedulerLine(l),
      store: (t) => {
        const name = t.trim();
        if (name !== 'none' && name !== 'mq-deadline') throw new Errno('EINVAL');
        l.scheduler = name;
      },
    },
    num('stable_writes', () => l.stableWrites, 0o644, (v) => (l.stableWrites = v ? 1 : 0)),
    num('virt_boundary_mask', () => 0),
    num('wbt_lat_usec', () => l.wbtLatUsec, 0o644, (v) => (l.wbtLatUsec = v)),
    {
      name: 'write_cache',
      mode: 0o644,
      show: () => (l.writeCache ? 'write back\n' : 'write through\n'),
      store: (t) => {
        const v = t.trim();
        if (v === 'write back') l.writeCache = true;
        else if (v === 'write through' || v === 'none') l.writeCache = false;
        else throw new Errno('EINVAL');
      },
    },
    num('write_same_max_bytes', () => bytes(l.maxWriteSameSectors)),
    num('write_zeroes_max_bytes', () => bytes(l.maxWriteZeroesSectors)),
    num('zone_append_max_bytes', () => 0),
    num('zone_write_granularity', () => 0),
    { name: 'zoned', mode: 0o444, show: () => 'none\n' },
  ];
}

/** blk_mq_sysfs_register: mq/<n>/ with cpu<k>/ for the CPUs mapped to queue n (round robin). */
function mqDirs(dir: DirNode, l: QueueLimits): void {
  const mq = createDir(dir, 'mq');
  for (let q = 0; q < l.nrHwQueues; q++) {
    const qd = createDir(mq, String(q));
    const cpus: number[] = [];
    for (let c = 0; c < l.nrCpus; c++) if (c % l.nrHwQueues === q) cpus.push(c);
    for (const c of cpus) createDir(qd, `cpu${c}`);
    createFiles(qd, [
      { name: 'cpu_list', mode: 0o444, show: () => `${cpus.join(', ')}\n` },
      { name: 'nr_reserved_tags', mode: 0o444, show: () => '0\n' },
      { name: 'nr_tags', mode: 0o444, show: () => `${l.tagDepth}\n` },
    ]);
  }
}

/** blk_register_queue: queue/ and mq/ under the disk directory. */
export function blkRegisterQueue(_kernel: Kernel, disk: Gendisk): void {
  const dir = disk.dev.dir;
  if (!dir) return;
  createFiles(createDir(dir, 'queue'), queueAttrs(disk.limits));
  mqDirs(dir, disk.limits);
}
