// Models block/bdev.c + block/fops.c + block/ioctl.c + the block parts of mm/filemap.c and
// mm/readahead.c (Linux 6.1): the file an open of /dev/sdX (or sdXN) returns, the requests it
// sends to the disk driver, and blk_print_req_error.
//
// Simplifications (documented, not hidden):
// - Buffered I/O goes through one page cache per disk of 4 KiB pages indexed by disk offset; a
//   partition's file maps into the same cache. A read of a missing page reads ahead: one request
//   covering the missing pages from there to the end of the read-ahead window (read_ahead_kb,
//   128 KiB), clipped to the disk and stopping at the first page already cached. Linux grows its
//   window (4 pages, then doubling); we always use the full window.
// - A file marked POSIX_FADV_RANDOM (FMODE_RANDOM; libblkid does this) reads no further than asked:
//   filemap_read hands out the cached pages from the read position, and at the first missing page
//   page_cache_sync_ra → force_page_cache_ra reads the rest of the request (at most
//   max(io_pages, ra_pages) pages, in 2 MiB chunks) through page_cache_ra_unbounded, which skips
//   cached pages — so each run of missing pages becomes one request, in ascending order.
// - Writes dirty pages (a partial page not in the cache is read first, without read-ahead) and are
//   written back, contiguous dirty pages merged into one WRITE, on fsync, BLKFLSBUF and the last
//   close. fsync also sends a FLUSH when the disk has a volatile write cache.
// - O_DIRECT requires offset and length aligned to the logical block size (else EINVAL) and goes
//   straight to the driver as requests of the user's size (split at max_sectors_kb); cached pages in
//   the range are written back first and dropped afterwards.
// - A failed buffered read gives EIO; a failed O_DIRECT request gives blk_status_to_errno's errno.

import { ERRNO, Errno } from '../kernel/errno.ts';
import type { FileOps } from '../kernel/fs.ts';
import { KERN_ERR } from '../kernel/kernel.ts';
import { O_ACCMODE, O_DIRECT, O_RDONLY, POSIX_FADV_NORMAL, POSIX_FADV_RANDOM, POSIX_FADV_SEQUENTIAL } from '../kernel/syscalls.ts';
import { BLK_STS, REQ_IDLE, REQ_OP_CODE, REQ_SYNC, blkStatusToErrno, blockLayer } from './genhd.ts';
import type { BlkStatus, BlockLayer, BlockPart, Gendisk, ReqOp } from './genhd.ts';
import { SECTOR_SIZE, blkAddPartitions } from './partitions.ts';
import type { Kernel } from '../kernel/kernel.ts';

export const PAGE_SIZE = 4096;
const SECTORS_PER_PAGE = PAGE_SIZE / SECTOR_SIZE;

/** ioctl numbers (include/uapi/linux/fs.h, x86_64 encoding). */
export const BLKROSET = 0x125d;
export const BLKROGET = 0x125e;
export const BLKRRPART = 0x125f;
export const BLKGETSIZE = 0x1260;
export const BLKFLSBUF = 0x1261;
export const BLKRASET = 0x1262;
export const BLKRAGET = 0x1263;
export const BLKFRASET = 0x1264;
export const BLKFRAGET = 0x1265;
export const BLKSECTGET = 0x1267;
export const BLKSSZGET = 0x1268;
export const BLKBSZGET = 0x80081270;
export const BLKGETSIZE64 = 0x80081272;
export const BLKIOMIN = 0x1278;
export const BLKIOOPT = 0x1279;
export const BLKALIGNOFF = 0x127a;
export const BLKPBSZGET = 0x127b;
export const BLKDISCARDZEROES = 0x127c;
export const BLKROTATIONAL = 0x127e;
export const BLKGETDISKSEQ = 0x80081280;

interface BdevState {
  readonly pages: Map<number, Uint8Array>;
  readonly dirty: Set<number>;
  openers: number;
}

function state(disk: Gendisk): BdevState {
  disk.bdevState ??= { pages: new Map(), dirty: new Set(), openers: 0 } satisfies BdevState;
  return disk.bdevState as BdevState;
}

const OP_STR: Record<ReqOp, string> = { READ: 'READ', WRITE: 'WRITE', FLUSH: 'FLUSH', DISCARD: 'DISCARD', WRITE_ZEROES: 'WRITE_ZEROES' };

function errnoOf(st: BlkStatus): Errno {
  const name = blkStatusToErrno(st);
  return new Errno((name in ERRNO ? name : 'EIO') as keyof typeof ERRNO);
}

export interface BioResult {
  readonly status: BlkStatus;
  readonly data: Uint8Array;
}

/**
 * submit_bio_wait for one contiguous range: split at max_sectors, each piece one request to the
 * driver with a DMA buffer in guest memory. Stops at the first failure.
 */
export async function submitBio(
  layer: BlockLayer,
  disk: Gendisk,
  part: BlockPart | null,
  op: ReqOp,
  sector: number,
  nrSectors: number,
  opts: { data?: Uint8Array; flags?: number; quiet?: boolean } = {},
): Promise<BioResult> {
  const k = layer.kernel;
  const out = new Uint8Array(op === 'READ' ? nrSectors * SECTOR_SIZE : 0);
  const maxSectors = Math.max(disk.limits.maxSectors, SECTORS_PER_PAGE);
  const flags = opts.flags ?? (op === 'WRITE' ? REQ_SYNC | REQ_IDLE : op === 'READ' ? REQ_SYNC : 0);
  let done = 0;
  do {
    const n = Math.min(nrSectors - done, maxSectors);
    const bytes = n * SECTOR_SIZE;
    const buf = bytes > 0 ? k.dma.alloc(bytes, PAGE_SIZE) : null;
    if (buf !== null && op === 'WRITE' && opts.data) k.mem.writeBytes(buf, opts.data.subarray(done * SECTOR_SIZE, done * SECTOR_SIZE + bytes));
    const grp = op === 'READ' ? 0 : 1;
    disk.stats.inflight[grp]++;
    const start = k.loop.now();
    let st: BlkStatus;
    try {
      st = await disk.fops.submit(disk, { op, sector: sector + done, nrSectors: n, buf, flags, quiet: opts.quiet ?? false });
    } finally {
      disk.stats.inflight[grp]--;
    }
    if (buf !== null) {
      if (op === 'READ' && st === 'OK') out.set(k.mem.readBytes(buf, bytes), done * SECTOR_SIZE);
      k.dma.free(buf);
    }
    layer.account(disk, part, op, n, Math.floor((k.loop.now() - start) / 1e6));
    if (st !== 'OK') {
      if (!opts.quiet) blkPrintReqError(k, disk, st, op, sector + done, flags, Math.max(1, Math.ceil(bytes / disk.limits.maxSegmentSize)));
      return { status: st, data: out };
    }
    done += n;
  } while (done < nrSectors);
  return { status: 'OK', data: out };
}

/** blk_print_req_error: `I/O error, dev sda, sector N op 0x0:(READ) flags 0x800 phys_seg 1 prio class 2`. */
export function blkPrintReqError(k: Kernel, disk: Gendisk, st: BlkStatus, op: ReqOp, sector: number, flags: number, physSeg: number): void {
  k.printk(
    KERN_ERR,
    `${BLK_STS[st]} error, dev ${disk.name}, sector ${sector} op 0x${REQ_OP_CODE[op].toString(16)}:(${OP_STR[op]}) flags 0x${flags.toString(16)} phys_seg ${physSeg} prio class 2`,
  );
}

/** Reads pages [first, first+count) of the disk into the cache with one request. */
async function readPages(layer: BlockLayer, disk: Gendisk, part: BlockPart | null, first: number, count: number, quiet: boolean): Promise<BlkStatus> {
  const st = state(disk);
  const sector = first * SECTORS_PER_PAGE;
  const nr = Math.min(count * SECTORS_PER_PAGE, disk.capacity - sector);
  if (nr <= 0) return 'OK';
  const r = await submitBio(layer, disk, part, 'READ', sector, nr, { quiet });
  if (r.status !== 'OK') return r.status;
  for (let i = 0; i < count; i++) {
    const page = new Uint8Array(PAGE_SIZE);
    page.set(r.data.subarray(i * PAGE_SIZE, Math.min((i + 1) * PAGE_SIZE, r.data.length)));
    if (!st.pages.has(first + i)) st.pages.set(first + i, page);
  }
  return 'OK';
}

/** The page holding disk byte offset `off`, read (with read-ahead when asked) if needed. */
async function getPage(layer: BlockLayer, disk: Gendisk, part: BlockPart | null, index: number, readahead: boolean, quiet = false): Promise<Uint8Array> {
  const st = state(disk);
  const hit = st.pages.get(index);
  if (hit) return hit;
  const lastPage = Math.ceil(disk.capacity / SECTORS_PER_PAGE) - 1;
  let count = 1;
  if (readahead) {
    const window = Math.max(1, Math.floor((disk.limits.readAheadKb * 1024) / PAGE_SIZE));
    while (count < window && index + count <= lastPage && !st.pages.has(index + count)) count++;
  }
  const status = await readPages(layer, disk, part, index, count, quiet);
  if (status !== 'OK') throw new Errno('EIO');
  return st.pages.get(index)!;
}

/** FORCE_RA_CHUNK: force_page_cache_ra works through a request 2 MiB at a time. */
const FORCE_RA_CHUNK = (2 * 1024 * 1024) / PAGE_SIZE;

/**
 * force_page_cache_ra for pages [index, end) of the disk: at most max(io_pages, ra_pages) pages,
 * each run of missing pages one read (split where a request would outgrow max_sectors or the
 * segment limit, one segment per page), runs in ascending order.
 */
async function forceReadahead(layer: BlockLayer, disk: Gendisk, part: BlockPart | null, index: number, end: number): Promise<void> {
  const st = state(disk);
  const lastPage = Math.ceil(disk.capacity / SECTORS_PER_PAGE) - 1;
  const ioPages = Math.floor(disk.limits.maxSectors / SECTORS_PER_PAGE);
  const raPages = Math.floor((disk.limits.readAheadKb * 1024) / PAGE_SIZE);
  const stop = Math.min(end, index + Math.max(ioPages, raPages, 1), lastPage + 1);
  const perReq = Math.max(1, Math.min(ioPages, disk.limits.maxSegments || Infinity));
  for (let chunk = index; chunk < stop; chunk += FORCE_RA_CHUNK) {
    const chunkEnd = Math.min(stop, chunk + FORCE_RA_CHUNK);
    let i = chunk;
    while (i < chunkEnd) {
      if (st.pages.has(i)) {
        i++;
        continue;
      }
      let n = 1;
      while (i + n < chunkEnd && n < perReq && !st.pages.has(i + n)) n++;
      const status = await readPages(layer, disk, part, i, n, false);
      if (status !== 'OK') return;
      i += n;
    }
  }
}

/** Writes back dirty pages, contiguous runs merged into one WRITE each. */
export async function syncBlockdev(layer: BlockLayer, disk: Gendisk): Promise<void> {
  const st = state(disk);
  const dirty = [...st.dirty].sort((a, b) => a - b);
  let i = 0;
  let failed = false;
  while (i < dirty.length) {
    let j = i;
    while (j + 1 < dirty.length && dirty[j + 1] === dirty[j]! + 1) j++;
    const first = dirty[i]!;
    const count = j - i + 1;
    const sector = first * SECTORS_PER_PAGE;
    const nr = Math.min(count * SECTORS_PER_PAGE, disk.capacity - sector);
    const data = new Uint8Array(count * PAGE_SIZE);
    for (let p = 0; p < count; p++) data.set(st.pages.get(first + p)!, p * PAGE_SIZE);
    const r = await submitBio(layer, disk, null, 'WRITE', sector, nr, { data, flags: 0 });
    if (r.status !== 'OK') failed = true;
    for (let p = 0; p < count; p++) st.dirty.delete(first + p);
    i = j + 1;
  }
  if (failed) throw new Errno('EIO');
}

async function flush(layer: BlockLayer, disk: Gendisk): Promise<void> {
  if (!disk.limits.writeCache) return;
  const r = await submitBio(layer, disk, null, 'FLUSH', 0, 0, { flags: REQ_SYNC });
  if (r.status !== 'OK') throw errnoOf(r.status);
}

/** Drops clean cached pages (BLKFLSBUF, O_DIRECT writes, media change). */
export function invalidatePages(disk: Gendisk, first = 0, last = Number.MAX_SAFE_INTEGER): void {
  const st = state(disk);
  for (const idx of [...st.pages.keys()]) if (idx >= first && idx <= last && !st.dirty.has(idx)) st.pages.delete(idx);
}

/** Rescans the partitions of a disk through its page cache (no read-ahead, errors quiet). */
export async function rescanPartitions(layer: BlockLayer, disk: Gendisk, alreadyOpen = false): Promise<void> {
  if (!alreadyOpen) await disk.fops.open?.(disk, O_RDONLY);
  try {
    await blkAddPartitions(layer, disk, async (sector) => {
      try {
        const page = await getPage(layer, disk, null, Math.floor(sector / SECTORS_PER_PAGE), false, true);
        const off = (sector % SECTORS_PER_PAGE) * SECTOR_SIZE;
        return page.slice(off, off + SECTOR_SIZE);
      } catch {
        return null;
      }
    });
  } finally {
    if (!alreadyOpen) {
      disk.fops.release?.(disk);
      if (state(disk).openers === 0) invalidatePages(disk);
    }
  }
}

/** blkdev_open: the driver's open (sd revalidates when a partition scan is due), then the file. */
export async function openBdev(layer: BlockLayer, disk: Gendisk, part: BlockPart | null, flags: number): Promise<FileOps> {
  await disk.fops.open?.(disk, flags);
  if (disk.needPartScan && !part) await rescanPartitions(layer, disk, true);
  const st = state(disk);
  st.openers++;
  disk.openers++;
  const direct = (flags & O_DIRECT) !== 0;
  const writable = (flags & O_ACCMODE) !== O_RDONLY;
  if (writable && disk.ro) {
    st.openers--;
    disk.openers--;
    disk.fops.release?.(disk);
    throw new Errno('EACCES');
  }
  const base = part ? part.start * SECTOR_SIZE : 0;
  const size = (): number => (part ? part.nrSects : disk.capacity) * SECTOR_SIZE;
  const lbs = (): number => disk.limits.logicalBlockSize;
  let released = false;
  /** FMODE_RANDOM, set by posix_fadvise(POSIX_FADV_RANDOM). */
  let randomAccess = false;

  const read = async (pos: number, len: number): Promise<Uint8Array> => {
    const end = Math.min(pos + len, size());
    if (pos >= end) return new Uint8Array(0);
    if (direct) {
      if (pos % lbs() || len % lbs()) throw new Errno('EINVAL');
      await syncRange(pos, end);
      const r = await submitBio(layer, disk, part, 'READ', (base + pos) / SECTOR_SIZE, (end - pos) / SECTOR_SIZE);
      if (r.status !== 'OK') throw errnoOf(r.status);
      return r.data;
    }
    const out = new Uint8Array(end - pos);
    const endPage = Math.ceil((base + end) / PAGE_SIZE);
    let at = pos;
    while (at < end) {
      const abs = base + at;
      const idx = Math.floor(abs / PAGE_SIZE);
      if (randomAccess && !st.pages.has(idx)) await forceReadahead(layer, disk, part, idx, endPage);
      const page = randomAccess && st.pages.has(idx) ? st.pages.get(idx)! : await getPage(layer, disk, part, idx, !randomAccess);
      const off = abs % PAGE_SIZE;
      const n = Math.min(PAGE_SIZE - off, end - at);
      out.set(page.subarray(off, off + n), at - pos);
      at += n;
    }
    return out;
  };

  /** Writes back dirty pages overlapping [pos, end) of this file (before direct I/O). */
  const syncRange = async (pos: number, end: number): Promise<void> => {
    const st2 = state(disk);
    const first = Math.floor((base + pos) / PAGE_SIZE);
    const last = Math.floor((base + end - 1) / PAGE_SIZE);
    if ([...st2.dirty].some((i) => i >= first && i <= last)) await syncBlockdev(layer, disk);
  };

  const write = async (pos: number, data: Uint8Array): Promise<number> => {
    if (!writable) throw new Errno('EBADF');
    if (pos >= size()) throw new Errno('ENOSPC');
    const end = Math.min(pos + data.length, size());
    if (direct) {
      if (pos % lbs() || data.length % lbs()) throw new Errno('EINVAL');
      await syncRange(pos, end);
      const r = await submitBio(layer, disk, part, 'WRITE', (base + pos) / SECTOR_SIZE, (end - pos) / SECTOR_SIZE, { data: data.subarray(0, end - pos) });
      invalidatePages(disk, Math.floor((base + pos) / PAGE_SIZE), Math.floor((base + end - 1) / PAGE_SIZE));
      if (r.status !== 'OK') throw errnoOf(r.status);
      return end - pos;
    }
    let at = pos;
    while (at < end) {
      const abs = base + at;
      const idx = Math.floor(abs / PAGE_SIZE);
      const off = abs % PAGE_SIZE;
      const n = Math.min(PAGE_SIZE - off, end - at);
      let page = st.pages.get(idx);
      if (!page) {
        if (n === PAGE_SIZE) {
          page = new Uint8Array(PAGE_SIZE);
          st.pages.set(idx, page);
        } else page = await getPage(layer, disk, part, idx, false);
      }
      page.set(data.subarray(at - pos, at - pos + n), off);
      st.dirty.add(idx);
      at += n;
    }
    return end - pos;
  };

  const ioctl = async (request: number, arg: unknown): Promise<unknown> => {
    const l = disk.limits;
    switch (request) {
      case BLKGETSIZE64:
        return size();
      case BLKGETSIZE:
        return size() / SECTOR_SIZE;
      case BLKSSZGET:
        return l.logicalBlockSize;
      case BLKPBSZGET:
        return l.physicalBlockSize;
      case BLKBSZGET:
        return PAGE_SIZE;
      case BLKIOMIN:
        return l.ioMin;
      case BLKIOOPT:
        return l.ioOpt;
      case BLKALIGNOFF:
        return l.alignmentOffset;
      case BLKROGET:
        return disk.ro ? 1 : 0;
      case BLKROSET:
        disk.ro = Number(arg) !== 0;
        return 0;
      case BLKRAGET:
      case BLKFRAGET:
        return (l.readAheadKb * 1024) / SECTOR_SIZE;
      case BLKRASET:
      case BLKFRASET:
        l.readAheadKb = Math.floor((Number(arg) * SECTOR_SIZE) / 1024);
        return 0;
      case BLKSECTGET:
        return Math.min(l.maxSectors, 0xffff);
      case BLKROTATIONAL:
        return l.rotational ? 1 : 0;
      case BLKDISCARDZEROES:
        return 0;
      case BLKGETDISKSEQ:
        return disk.diskseq;
      case BLKFLSBUF:
        await syncBlockdev(layer, disk);
        invalidatePages(disk);
        return 0;
      case BLKRRPART:
        if (part) throw new Errno('EINVAL');
        if (disk.parts.size > 0 && st.openers > 1) throw new Errno('EBUSY');
        disk.needPartScan = true;
        await syncBlockdev(layer, disk);
        invalidatePages(disk);
        await disk.fops.open?.(disk, O_RDONLY);
        try {
          await rescanPartitions(layer, disk, true);
        } finally {
          disk.fops.release?.(disk);
        }
        return 0;
      default: {
        const r = disk.fops.ioctl?.(disk, request, arg);
        if (r === undefined) throw new Errno('ENOTTY');
        return r;
      }
    }
  };

  return {
    read,
    write,
    ioctl,
    // generic_fadvise: RANDOM sets FMODE_RANDOM, NORMAL and SEQUENTIAL clear it.
    fadvise: (advice: number) => {
      if (advice === POSIX_FADV_RANDOM) randomAccess = true;
      else if (advice === POSIX_FADV_NORMAL || advice === POSIX_FADV_SEQUENTIAL) randomAccess = false;
    },
    size,
    fsync: async () => {
      await syncBlockdev(layer, disk);
      await flush(layer, disk);
    },
    release: async () => {
      if (released) return;
      released = true;
      st.openers--;
      disk.openers--;
      try {
        // Last close: write back and drop the cache (blkdev_flush_mapping → kill_bdev).
        if (st.openers === 0) {
          await syncBlockdev(layer, disk);
          invalidatePages(disk);
        }
      } finally {
        disk.fops.release?.(disk);
      }
    },
  };
}

/** Hooks the block-device file and the partition scan into a kernel's block layer. */
export function bdevInit(k: Kernel): BlockLayer {
  const layer = blockLayer(k);
  layer.openBdev ??= (disk, part, flags) => openBdev(layer, disk, part, flags);
  layer.scanPartitions ??= (disk) => rescanPartitions(layer, disk);
  return layer;
}
