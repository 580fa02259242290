// Models block/partitions/{core.c,check.h,msdos.c,efi.c} (Linux 6.1): the partition scan of a disk.
// The parsers are pure functions over a sector-read callback (512-byte sectors) and return what they
// found plus the tokens of the ` sda: sda1 sda2 < sda5 >` line; `blkAddPartitions` applies the
// result to a gendisk.
//
// Parsers run in the kernel's order (efi before msdos); the first that finds a table wins. Debian's
// kernel also tries parsers for foreign formats after msdos; of those only the page reads show (the
// captured scan of a blank disk reads the pages holding sectors 0, 8 and 24: the Amiga RDB search
// covers sectors 0..15 and the Ultrix label sits in sector 31), so they are modelled as reads.

import { KERN_INFO } from '../kernel/kernel.ts';
import type { BlockLayer, Gendisk } from './genhd.ts';

export const SECTOR_SIZE = 512;
/** Returns one 512-byte sector, or null on an I/O error. */
export type SectorReader = (sector: number) => Promise<Uint8Array | null>;

export interface ParsedPartition {
  readonly partno: number;
  /** In 512-byte sectors. */
  readonly start: number;
  readonly size: number;
  readonly extended?: boolean;
}

/** A partition number or the `<`/`>` around DOS logical partitions, in print order. */
export type PartToken = number | '<' | '>';

export interface ScanResult {
  readonly parser: 'efi' | 'msdos' | null;
  readonly parts: readonly ParsedPartition[];
  readonly tokens: readonly PartToken[];
  readonly ioError: boolean;
}

export interface ScanOptions {
  /** Disk size in 512-byte sectors. */
  readonly capacity: number;
  readonly logicalBlockSize: number;
  /** Highest partition number allowed (disk_max_parts - 1). */
  readonly limit: number;
}

class IoError extends Error {}

const le32 = (b: Uint8Array, o: number): number => (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
const le64 = (b: Uint8Array, o: number): number => le32(b, o) + le32(b, o + 4) * 2 ** 32;

async function must(read: SectorReader, sector: number): Promise<Uint8Array> {
  const s = await read(sector);
  if (!s) throw new IoError();
  return s;
}

// ---- CRC32 (IEEE, as efi_crc32) -------------------------------------------------------------------

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[i] = c >>> 0;
  }
  return t;
})();

export function crc32(data: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of data) c = CRC_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

// ---- msdos ----------------------------------------------------------------------------------------

const DOS_EXTENDED = new Set([0x05, 0x0f, 0x85]);
const EFI_PMBR_OSTYPE = 0xee;

interface DosEntry {
  readonly type: number;
  readonly start: number;
  readonly size: number;
}

function dosEntries(sec: Uint8Array): DosEntry[] {
  const out: DosEntry[] = [];
  for (let i = 0; i < 4; i++) {
    const o = 0x1be + 16 * i;
    out.push({ type: sec[o + 4]!, start: le32(sec, o + 8), size: le32(sec, o + 12) });
  }
  return out;
}

const hasDosMagic = (sec: Uint8Array): boolean => sec[510] === 0x55 && sec[511] === 0xaa;

/** msdos_partition: primaries 1–4, then logical partitions from 5 walking the EBR chain. */
export async function msdosPartition(read: SectorReader, opts: ScanOptions): Promise<{ parts: ParsedPartition[]; tokens: PartToken[] } | null> {
  const mbr = await must(read, 0);
  if (!hasDosMagic(mbr)) return null;
  const entries = dosEntries(mbr);
  // Boot indicator must be 0 or 0x80 (msdos_magic_present + the sanity check on boot_ind).
  for (let i = 0; i < 4; i++) if ((mbr[0x1be + 16 * i]! & 0x7f) !== 0) return null;
  if (entries.some((e) => e.type === EFI_PMBR_OSTYPE)) return null;
  const parts: ParsedPartition[] = [];
  const tokens: PartToken[] = [];
  let next = 5;
  for (let slot = 1; slot <= 4; slot++) {
    const e = entries[slot - 1]!;
    if (e.size === 0 || e.type === 0) continue;
    if (DOS_EXTENDED.has(e.type)) {
      // The extended partition itself is shown with at most 2 sectors (1 KiB), only its table.
      parts.push({ partno: slot, start: e.start, size: Math.min(e.size, 2), extended: true });
      tokens.push(slot, '<');
      next = await parseExtended(read, e.start, e.size, next, opts, parts, tokens);
      tokens.push('>');
      continue;
    }
    parts.push({ partno: slot, start: e.start, size: e.size });
    tokens.push(slot);
  }
  return { parts, tokens };
}

async function parseExtended(
  read: SectorReader,
  extStart: number,
  extSize: number,
  first: number,
  opts: ScanOptions,
  parts: ParsedPartition[],
  tokens: PartToken[],
): Promise<number> {
  let partno = first;
  let ebr = extStart;
  // The kernel stops after 100 links to survive loops in the chain.
  for (let loops = 0; loops < 100 && partno <= opts.limit; loops++) {
    const sec = await must(read, ebr);
    if (!hasDosMagic(sec)) break;
    const entries = dosEntries(sec);
    let link: DosEntry | undefined;
    for (const e of entries.slice(0, 2)) {
      if (e.size === 0 || e.type === 0) continue;
      if (DOS_EXTENDED.has(e.type)) {
        link ??= e;
        continue;
      }
      if (partno > opts.limit) break;
      parts.push({ partno, start: ebr + e.start, size: e.size });
      tokens.push(partno);
      partno++;
    }
    if (!link) break;
    ebr = extStart + link.start;
    if (link.start >= extSize) break;
  }
  return partno;
}

// ---- EFI GPT --------------------------------------------------------------------------------------

const GPT_SIGNATURE = 'EFI PART';

interface GptHeader {
  readonly myLba: number;
  readonly alternateLba: number;
  readonly firstUsable: number;
  readonly lastUsable: number;
  readonly entriesLba: number;
  readonly numEntries: number;
  readonly entrySize: number;
  readonly entriesCrc: number;
}

async function readLba(read: SectorReader, lba: number, lbs: number): Promise<Uint8Array> {
  const per = lbs / SECTOR_SIZE;
  const out = new Uint8Array(lbs);
  for (let i = 0; i < per; i++) out.set(await must(read, lba * per + i), i * SECTOR_SIZE);
  return out;
}

async function isGptValid(read: SectorReader, lba: number, lastLba: number, lbs: number): Promise<{ hdr: GptHeader; entries: Uint8Array } | null> {
  const b = await readLba(read, lba, lbs);
  if (String.fromCharCode(...b.subarray(0, 8)) !== GPT_SIGNATURE) return null;
  const hsize = le32(b, 12);
  if (hsize < 92 || hsize > lbs) return null;
  const copy = b.slice(0, hsize);
  copy.fill(0, 16, 20);
  if (crc32(copy) !== le32(b, 16)) return null;
  const hdr: GptHeader = {
    myLba: le64(b, 24),
    alternateLba: le64(b, 32),
    firstUsable: le64(b, 40),
    lastUsable: le64(b, 48),
    entriesLba: le64(b, 72),
    numEntries: le32(b, 80),
    entrySize: le32(b, 84),
    entriesCrc: le32(b, 88),
  };
  if (hdr.myLba !== lba) return null;
  if (hdr.firstUsable > lastLba || hdr.lastUsable > lastLba || hdr.lastUsable < hdr.firstUsable) return null;
  if (hdr.entrySize !== 128 || hdr.numEntries === 0 || hdr.numEntries * hdr.entrySize > 1 << 20) return null;
  const total = hdr.numEntries * hdr.entrySize;
  const blocks = Math.ceil(total / lbs);
  const entries = new Uint8Array(blocks * lbs);
  for (let i = 0; i < blocks; i++) entries.set(await readLba(read, hdr.entriesLba + i, lbs), i * lbs);
  if (crc32(entries.subarray(0, total)) !== hdr.entriesCrc) return null;
  return { hdr, entries };
}

/** efi_partition: protective MBR, primary header at LBA 1 (alternate at the last LBA as fallback). */
export async function efiPartition(read: SectorReader, opts: ScanOptions): Promise<{ parts: ParsedPartition[]; tokens: PartToken[] } | null> {
  const lbs = opts.logicalBlockSize;
  const lastLba = Math.floor((opts.capacity * SECTOR_SIZE) / lbs) - 1;
  if (lastLba < 2) return null;
  const mbr = await must(read, 0);
  if (!hasDosMagic(mbr) || !dosEntries(mbr).some((e) => e.type === EFI_PMBR_OSTYPE)) return null;
  let found = await isGptValid(read, 1, lastLba, lbs);
  const alt = found ? await isGptValid(read, found.hdr.alternateLba <= lastLba ? found.hdr.alternateLba : lastLba, lastLba, lbs) : await isGptValid(read, lastLba, lastLba, lbs);
  found ??= alt;
  if (!found) return null;
  const per = lbs / SECTOR_SIZE;
  const parts: ParsedPartition[] = [];
  const tokens: PartToken[] = [];
  for (let i = 0; i < found.hdr.numEntries && i < opts.limit; i++) {
    const e = found.entries.subarray(i * 128, (i + 1) * 128);
    if (e.every((x, k) => k >= 16 || x === 0)) continue;
    const start = le64(e, 32);
    const end = le64(e, 40);
    if (end < start || end > lastLba) continue;
    parts.push({ partno: i + 1, start: start * per, size: (end - start + 1) * per });
    tokens.push(i + 1);
  }
  return { parts, tokens };
}

/** check_partition: every parser in order; reads the foreign-format sectors when nothing matched. */
export async function checkPartition(read: SectorReader, opts: ScanOptions): Promise<ScanResult> {
  try {
    const efi = await efiPartition(read, opts);
    if (efi) return { parser: 'efi', ...efi, ioError: false };
    const dos = await msdosPartition(read, opts);
    if (dos) return { parser: 'msdos', ...dos, ioError: false };
    // Amiga RDB search (sectors 0..15) and Ultrix disklabel (sector 31): nothing found on our disks.
    for (const s of [8, 31]) if (s < opts.capacity) await must(read, s);
    return { parser: null, parts: [], tokens: [], ioError: false };
  } catch (e) {
    if (e instanceof IoError) return { parser: null, parts: [], tokens: [], ioError: true };
    throw e;
  }
}

/** The line check_partition prints: ` sda: sda1 sda2 < sda5 >`. */
export function formatPartitionLine(diskName: string, tokens: readonly PartToken[]): string {
  const sep = /\d$/.test(diskName) ? 'p' : '';
  let s = ` ${diskName}:`;
  for (const t of tokens) s += typeof t === 'number' ? ` ${diskName}${sep}${t}` : ` ${t}`;
  return s;
}

/**
 * blk_add_partitions / bdev_disk_changed: drops the old partitions, scans, adds the new ones.
 * `read` goes through the disk's page cache (bdev.ts) so that the scan's reads show as in Linux.
 */
export async function blkAddPartitions(layer: BlockLayer, disk: Gendisk, read: SectorReader): Promise<void> {
  for (const p of [...disk.parts.values()]) layer.deletePartition(disk, p);
  disk.needPartScan = false;
  if (disk.capacity === 0) return;
  const res = await checkPartition(read, { capacity: disk.capacity, logicalBlockSize: disk.limits.logicalBlockSize, limit: 255 });
  if (res.ioError) {
    layer.kernel.printk(KERN_INFO, ` ${disk.name}: unable to read partition table`);
    return;
  }
  if (!res.parser) return;
  layer.kernel.printk(KERN_INFO, formatPartitionLine(disk.name, res.tokens));
  for (const p of res.parts) {
    if (p.start >= disk.capacity) continue;
    layer.addPartition(disk, p.partno, p.start, Math.min(p.size, disk.capacity - p.start));
  }
}
