// Models libblkid (util-linux 2.38.1: src/probe.c, superblocks/superblocks.c, superblocks/iso9660.c,
// superblocks/linux_raid.c, partitions/dos.c, partitions/gpt.c, encode.c) and the udev blkid builtin's
// property names (systemd v252 udev-builtin-blkid.c print_property): low-level probing of a device
// through a byte reader, returning the NAME=value list in libblkid's order.
//
// Chains run in libblkid's order — superblocks, then partition tables — over the full prober lists,
// each prober making its reads; only iso9660 (+ Joliet), dos and gpt are decoded (PTUUID, PTTYPE;
// per-partition PART_ENTRY_* values are not modelled). linux_raid and udf read what they would read
// but report nothing. Which values a caller gets depends on its flags, as with
// blkid_probe_set_superblocks_flags: the `blkid` cache path asks LABEL|UUID|TYPE, `blkid -p` and
// udev add USAGE|VERSION — and those two probe the lowprobe way (a small whole disk is searched for a
// partition table first). Device flags as blkid_probe_set_device sets them: a device of at most
// 1440 KiB is "tiny" (no RAID probers, first superblock match wins) and never a CD-ROM, so a small
// ISO in an sr drive is probed like a floppy; a larger one gets BLKID_FL_CDROM_DEV (tail sectors
// test-read; RAID and "other" probers skipped).

import { O_NONBLOCK, O_RDONLY, POSIX_FADV_RANDOM, S_IFBLK, S_IFMT } from '../kernel/syscalls.ts';
import type { Syscalls } from '../kernel/syscalls.ts';

/** Reads `length` bytes at `offset` (short at the end of the device). */
export type BlkidReader = (offset: number, length: number) => Promise<Uint8Array>;

/** BLKID_SUBLKS_* flags, reduced to those that change what is reported. */
export const BLKID_SUBLKS_LABEL = 1 << 1;
export const BLKID_SUBLKS_UUID = 1 << 3;
export const BLKID_SUBLKS_TYPE = 1 << 5;
export const BLKID_SUBLKS_USAGE = 1 << 7;
export const BLKID_SUBLKS_VERSION = 1 << 8;
/** What the classic (cache) API asks for (libblkid verify.c). */
export const BLKID_FLAGS_CACHE = BLKID_SUBLKS_LABEL | BLKID_SUBLKS_UUID | BLKID_SUBLKS_TYPE;
/** What `blkid -p` and the udev builtin ask for. */
export const BLKID_FLAGS_LOWPROBE = BLKID_FLAGS_CACHE | BLKID_SUBLKS_USAGE | BLKID_SUBLKS_VERSION;

export interface BlkidValue {
  readonly name: string;
  readonly value: string;
}

export interface BlkidRead {
  readonly offset: number;
  readonly length: number;
}

export interface BlkidProbeOptions {
  /** Device size in bytes. */
  readonly size: number;
  /** Logical sector size (512 for disks, 2048 for CD-ROMs). */
  readonly sectorSize?: number;
  /**
   * The device is a CD-ROM drive with a medium (answers CDROM_GET_CAPABILITY). libblkid's
   * blkid_probe_set_device turns that into BLKID_FL_CDROM_DEV only for a whole disk that is not
   * "tiny" (> 1440 KiB); with the flag the RAID and "other" probers are skipped and the last 12
   * 512-byte sectors are test-read (cdrom_size_correction).
   */
  readonly cdrom?: boolean;
  /** blkid_probe_is_wholedisk (default true): false for a partition. */
  readonly wholedisk?: boolean;
  /**
   * The low-level probe of `blkid -p` (misc-utils/blkid.c lowprobe_superblocks) and of udev's
   * builtin (udev-builtin-blkid.c probe_superblocks): a small whole disk is first probed for a
   * partition table alone, and filesystems are looked for only when it has none.
   */
  readonly lowprobe?: boolean;
  /** udev's `blkid --noraid`: RAID probers filtered out (blkid_probe_filter_superblocks_usage). */
  readonly noraid?: boolean;
  readonly flags: number;
}

export interface BlkidResult {
  /** Values in the order libblkid sets them; empty when nothing was found. */
  readonly values: readonly BlkidValue[];
  /** Every distinct read the probe made, in order (libblkid's buffers are reused when they cover a request). */
  readonly reads: readonly BlkidRead[];
}

const ISO_SUPERBLOCK_OFFSET = 0x8000;
const ISO_SECTOR_SIZE = 0x800;
const ISO_VD_MAX = 16;
/** sizeof(struct iso_volume_descriptor) — what each descriptor read asks for. */
const ISO_VD_READ = 0x372;
const MD_RESERVED_BYTES = 0x10000;
/** probe.c: a device of at most 1440 KiB (a floppy) is "tiny". */
const TINY_DEV_MAX = 1440 * 1024;
const MD_SB_MAGIC = 0xa92b4efc;

class Prober {
  readonly values: BlkidValue[] = [];
  readonly reads: BlkidRead[] = [];
  readonly #buffers: { offset: number; data: Uint8Array }[] = [];
  readonly #read: BlkidReader;
  readonly opts: BlkidProbeOptions;
  /** pr->size: the device size, reduced by cdrom_size_correction when a tail sector is unreadable. */
  size: number;

  constructor(read: BlkidReader, opts: BlkidProbeOptions) {
    this.#read = read;
    this.opts = opts;
    this.size = opts.size;
  }

  /** BLKID_FL_TINY_DEV: set by blkid_probe_set_device for a device of at most 1440 KiB. */
  get tiny(): boolean {
    return this.opts.size <= TINY_DEV_MAX;
  }

  /** BLKID_FL_CDROM_DEV: only looked for on a whole disk that is not tiny (blkid_probe_set_device). */
  get cdromDev(): boolean {
    return this.opts.cdrom === true && !this.tiny && this.opts.wholedisk !== false;
  }

  /** blkid_probe_get_sectorsize. */
  get sectorSize(): number {
    return this.opts.sectorSize ?? 512;
  }

  /** A plain read(2) on the probe's fd, outside libblkid's buffers (is_sector_readable). */
  async readRaw(offset: number, length: number): Promise<boolean> {
    this.reads.push({ offset, length });
    return (await this.#read(offset, length)).length === length;
  }

  /** blkid_probe_get_buffer: null past the end of the device. */
  async get(offset: number, length: number): Promise<Uint8Array | null> {
    if (offset < 0 || offset + length > this.size) return null;
    for (const b of this.#buffers) {
      if (b.offset <= offset && offset + length <= b.offset + b.data.length) return b.data.subarray(offset - b.offset, offset - b.offset + length);
    }
    this.reads.push({ offset, length });
    const data = await this.#read(offset, length);
    if (data.length < length) return null;
    this.#buffers.push({ offset, data });
    return data;
  }

  set(name: string, value: string): void {
    const i = this.values.findIndex((v) => v.name === name);
    if (i >= 0) this.values.splice(i, 1);
    this.values.push({ name, value });
  }

  has(flag: number): boolean {
    return (this.opts.flags & flag) !== 0;
  }
}

// ---- string helpers (superblocks.c, encode.c) --------------------------------------------------

const isSpace = (c: string): boolean => c === ' ' || c === '\t' || c === '\n' || c === '\v' || c === '\f' || c === '\r';

function rtrim(s: string): string {
  let e = s.length;
  while (e > 0 && isSpace(s[e - 1]!)) e--;
  return s.slice(0, e);
}

function ltrim(s: string): string {
  let b = 0;
  while (b < s.length && isSpace(s[b]!)) b++;
  return s.slice(b);
}

/** Bytes up to the first NUL, one char per byte. */
function cString(b: Uint8Array): string {
  let s = '';
  for (const c of b) {
    if (c === 0) break;
    s += String.fromCharCode(c);
  }
  return s;
}

/** ul_encode_to_utf8(UL_ENCODE_UTF16BE): stops at a NUL code unit. */
function utf16beToString(b: Uint8Array): string {
  const units: number[] = [];
  for (let i = 0; i + 1 < b.length; i += 2) {
    const u = (b[i]! << 8) | b[i + 1]!;
    if (u === 0) break;
    units.push(u);
  }
  return String.fromCharCode(...units);
}

function utf8SeqLen(b: Uint8Array, i: number): number {
  const c = b[i]!;
  const len = c < 0x80 ? 1 : (c & 0xe0) === 0xc0 ? 2 : (c & 0xf0) === 0xe0 ? 3 : (c & 0xf8) === 0xf0 ? 4 : 0;
  if (len <= 1) return len;
  if (i + len > b.length) return 0;
  let cp = c & (0xff >> (len + 1));
  for (let k = 1; k < len; k++) {
    if ((b[i + k]! & 0xc0) !== 0x80) return 0;
    cp = (cp << 6) | (b[i + k]! & 0x3f);
  }
  const minLen = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
  if (minLen !== len || cp > 0x10ffff || (cp & 0xfffff800) === 0xd800 || (cp > 0xfdcf && cp < 0xfdf0) || (cp & 0xffff) === 0xffff) return 0;
  return len;
}

const WHITELIST = /[0-9A-Za-z#+\-.:=@_]/;

/** blkid_encode_string: valid UTF-8 and `[0-9A-Za-z#+-.:=@_]` kept, every other byte as `\xNN`. */
export function blkidEncodeString(value: string): string {
  const b = new TextEncoder().encode(value);
  let out = '';
  for (let i = 0; i < b.length; ) {
    const n = utf8SeqLen(b, i);
    if (n > 1) {
      out += new TextDecoder().decode(b.subarray(i, i + n));
      i += n;
      continue;
    }
    const ch = String.fromCharCode(b[i]!);
    out += ch !== '\\' && WHITELIST.test(ch) ? ch : `\\x${b[i]!.toString(16).padStart(2, '0')}`;
    i++;
  }
  return out;
}

/** blkid_safe_string: whitespace trimmed and collapsed, then blanks and unprintable bytes become `_`. */
export function blkidSafeString(value: string): string {
  const norm = value
    .replace(/^[ \t\n\v\f\r]+|[ \t\n\v\f\r]+$/g, '')
    .replace(/[ \t\n\v\f\r]+/g, ' ');
  const b = new TextEncoder().encode(norm);
  const out: number[] = [];
  for (let i = 0; i < b.length; ) {
    const c = b[i]!;
    if (c > 0x20 && c <= 0x7e) {
      out.push(c);
      i++;
    } else if (c === 0x20) {
      out.push(0x5f);
      i++;
    } else {
      const n = utf8SeqLen(b, i);
      if (n >= 1) {
        out.push(...b.subarray(i, i + n));
        i += n;
      } else {
        out.push(0x5f);
        i++;
      }
    }
  }
  return new TextDecoder().decode(Uint8Array.from(out));
}

// ---- superblocks: RAID and other probers without a magic ------------------------------------------

/** linux_raid.c: the md 0.90 superblock near the end, then v1.0 (end), v1.1 (start) and v1.2 (4 KiB). */
async function probeLinuxRaid(pr: Prober): Promise<boolean> {
  const size = pr.size;
  if (size < MD_RESERVED_BYTES) return false;
  const candidates: { off: number; len: number }[] = [];
  if (size > MD_RESERVED_BYTES) {
    candidates.push({ off: (size & ~(MD_RESERVED_BYTES - 1)) - MD_RESERVED_BYTES, len: 4096 }, { off: (size & ~0xfff) - 0x2000, len: 256 });
  }
  candidates.push({ off: 0, len: 256 }, { off: 0x1000, len: 256 });
  for (const c of candidates) {
    const b = await pr.get(c.off, c.len);
    if (!b) continue;
    const le = (b[0]! | (b[1]! << 8) | (b[2]! << 16) | (b[3]! << 24)) >>> 0;
    // A member would be reported as linux_raid_member; decoding md superblocks is not modelled.
    if (le === MD_SB_MAGIC) return false;
  }
  return false;
}

/**
 * A prober whose function reads fixed places whatever it finds there (nothing is decoded): each
 * entry is [offset, length], offsets < 0 counting from the end of the device; a read past either
 * end stops the prober, as a NULL from blkid_probe_get_buffer does. `minSize` is the prober's own
 * early size check.
 */
function readsOnly(minSize: number, places: (size: number) => [number, number][]): (pr: Prober) => Promise<boolean> {
  return async (pr) => {
    if (pr.size < minSize) return false;
    for (const [off, len] of places(pr.size)) {
      if (off < 0 || !(await pr.get(off, len))) return false;
    }
    return false;
  };
}

const SEC = 0x200;
/** Offsets, in 512-byte sectors from the end, where promise_raid.c looks for its metadata. */
const PDC_SECTORS = [63, 255, 256, 16, 399, 591, 675, 735, 911, 974, 991, 951, 3087];
/** luks.c LUKS2_HDR2_OFFSETS: where a secondary LUKS2 header may be. */
const LUKS2_HDR2_OFFSETS = [0x4000, 0x8000, 0x10000, 0x20000, 0x40000, 0x80000, 0x100000, 0x200000, 0x400000];
const ZFS_LABEL = 256 * 1024;

/** ddf_raid.c: anchor headers 1 and 257 sectors from the end. */
const probeDdf = readsOnly(0x30000, (sz) => [1, 257].map((n): [number, number] => [(Math.floor(sz / SEC) - n) * SEC, 512]));
/** isw, nvidia: 2 sectors from the end; lsi, via, silicon, adaptec, jmicron: the last sector. */
const lastSectors = (n: number, len: number) => readsOnly(0x10000, (sz) => [[(Math.floor(sz / SEC) - n) * SEC, len]]);
/** promise_raid.c: whole disks only, one metadata block at each of PDC_SECTORS from the end. */
const probePromise = readsOnly(0x40000, (sz) => PDC_SECTORS.map((n): [number, number] => [(Math.floor(sz / SEC) - n) * SEC, 512]));
/** drbd.c: v0.8 then v9 metadata 4 KiB from the end. */
const probeDrbd = readsOnly(0x10000, (sz) => [
  [sz - 4096, 512],
  [sz - 4096, 512],
]);
/** luks.c: the primary header, then each secondary LUKS2 offset. */
const probeLuks = readsOnly(0, () => [[0, 4096], ...LUKS2_HDR2_OFFSETS.map((o): [number, number] => [o, 4096])]);
/** xfs.c probe_xfs_log: the first 256 KiB, scanned for log records. */
const probeXfsLog = readsOnly(0, () => [[0, 256 * 1024]]);
/** zfs.c: the four 256 KiB vdev labels, two at the start and two at the (label-aligned) end. */
const probeZfs = readsOnly(0, (sz) => {
  const align = sz % ZFS_LABEL;
  return [
    [0, ZFS_LABEL],
    [ZFS_LABEL, ZFS_LABEL],
    [sz - 2 * ZFS_LABEL - align, ZFS_LABEL],
    [sz - ZFS_LABEL - align, ZFS_LABEL],
  ];
});
/** ufs.c: a superblock at 0, 8, 64 and 256 KiB. */
const probeUfs = readsOnly(0, () => [0, 8, 64, 256].map((kb): [number, number] => [kb * 1024, 1376]));
/** sysv.c: blocks 0, 9, 15 and 18 (1 KiB), each superblock in the block's second half. */
const probeSysv = readsOnly(0, () => [0, 9, 15, 18].map((b): [number, number] => [b * 1024 + 512, 512]));
/** nilfs.c: the primary superblock at 1 KiB, the backup 8 sectors from the end. */
const probeNilfs = readsOnly(0, (sz) => [
  [0x400, 1024],
  [(Math.floor(sz / SEC) - 8) * SEC, 1024],
]);
/** ext.c: every ext flavour and jbd read the superblock at 1 KiB. */
const probeExt = readsOnly(0, () => [[0x400, 0x200]]);

// ---- superblocks: udf ----------------------------------------------------------------------------

/** udf.c: the Volume Recognition Sequence starts at 32 KiB (UDF_VSD_OFFSET). */
const UDF_VSD_OFFSET = 0x8000;
/** sizeof(struct volume_structure_descriptor): type, 5-byte id, version. */
const UDF_VSD_READ = 7;
/** sizeof(struct volume_descriptor): a 16-byte tag and the largest descriptor body (424 bytes). */
const UDF_VD_READ = 440;
const UDF_TAG_AVDP = 2;
/** Ids a VRS may hold before (or around) an NSR descriptor; anything else ends the sequence. */
const UDF_VRS_IDS = new Set(['BEA01', 'BOOT2', 'CD001', 'CDW02', 'TEA01']);
/** udf_idinfo .magics: any of these ids at 32 KiB + 1 lets probe_udf run — an ISO9660 CD001 included. */
const UDF_MAGICS = new Set([...UDF_VRS_IDS, 'NSR02', 'NSR03']);

const udfMagic = (buf: Uint8Array): boolean => UDF_MAGICS.has(String.fromCharCode(...buf.subarray(1, 6)));

/**
 * probe_udf, as far as its reads go (no session offset hint is modelled, so it is 0). For each
 * candidate block size — the device's logical sector size first, then 512, 1024, 2048 and 4096,
 * each tried once — it walks the VRS in steps of max(block size, 2048) bytes from 32 KiB, up to 64
 * descriptors, stopping at an empty id or one a VRS cannot hold; the 2048-byte walk is made only
 * once. An NSR02/NSR03 sends it to the anchor (AVDP) at block 256, then 512, of that block size.
 * A UDF volume found that way is not decoded here.
 */
async function probeUdf(pr: Prober): Promise<boolean> {
  const ssz = pr.sectorSize;
  const sizes = [ssz, 512, 1024, 2048, 4096];
  let vsd2048: boolean | null = null;
  for (let i = 0; i < sizes.length; i++) {
    const bs = sizes[i]!;
    if (i !== 0 && bs === ssz) continue;
    const vsdLen = Math.max(bs, 2048);
    let nsr: boolean;
    if (vsdLen === 2048 && vsd2048 !== null) nsr = vsd2048;
    else {
      nsr = false;
      for (let b = 0; b < 64; b++) {
        const vsd = await pr.get(UDF_VSD_OFFSET + b * vsdLen, UDF_VSD_READ);
        if (!vsd) return false;
        if (vsd[1] === 0) break;
        const id = String.fromCharCode(...vsd.subarray(1, 6));
        if (id === 'NSR02' || id === 'NSR03') {
          nsr = true;
          break;
        }
        if (!UDF_VRS_IDS.has(id)) break;
      }
      if (vsdLen === 2048) vsd2048 = nsr;
    }
    if (!nsr) continue;
    for (const block of [256, 512]) {
      const vd = await pr.get(block * bs, UDF_VD_READ);
      if (!vd) return false;
      if (u32le(vd, 12) === block && (vd[0]! | (vd[1]! << 8)) === UDF_TAG_AVDP) return false;
    }
  }
  return false;
}

// ---- superblocks: iso9660 ------------------------------------------------------------------------

/** merge_utf16be_ascii: rebuild a long ASCII id from its (possibly shorter) Joliet twin; null when they differ. */
function mergeUtf16beAscii(utf16: Uint8Array, ascii: Uint8Array): Uint8Array | null {
  const len = ascii.length;
  const out: number[] = [];
  let a = 0;
  let u = 0;
  const upper = (c: number): number => (c >= 0x61 && c <= 0x7a ? c - 0x20 : c);
  const isUpper = (c: number): boolean => c >= 0x41 && c <= 0x5a;
  for (; u + 1 < len && a < len; a++, u += 2) {
    if (utf16[u]! >= 0xd8 && utf16[u]! <= 0xdb && u + 3 < len && utf16[u + 2]! >= 0xdc && utf16[u + 2]! <= 0xdf) {
      out.push(utf16[u]!, utf16[u + 1]!);
      u += 2;
    }
    if (ascii[a] === 0x5f) out.push(utf16[u]!, utf16[u + 1]!);
    else if (utf16[u] === 0 && utf16[u + 1] === 0x5f) out.push(0, ascii[a]!);
    else if (utf16[u] === 0 && upper(ascii[a]!) === upper(utf16[u + 1]!)) out.push(0, isUpper(ascii[a]!) ? utf16[u + 1]! : ascii[a]!);
    else return null;
  }
  for (; a < len; a++) out.push(0, ascii[a]!);
  return Uint8Array.from(out);
}

function isStrEmpty(b: Uint8Array): boolean {
  if (b[0] === 0) return true;
  return [...b].every((c) => isSpace(String.fromCharCode(c)));
}

function isUtf16beStrEmpty(b: Uint8Array): boolean {
  for (let i = 0; i + 1 < b.length; i += 2) if (b[i] !== 0 || !isSpace(String.fromCharCode(b[i + 1]!))) return false;
  return true;
}

/** The 16 date digits, or null when the date is unset (all '0' and offset 0). */
function isoDateUuid(b: Uint8Array): string | null {
  const digits = b.subarray(0, 16);
  if ([...digits].every((c) => c === 0x30) && b[16] === 0) return null;
  if ([...digits].every((c) => c === 0)) return null;
  const d = cString(digits).padEnd(16, '\0');
  return `${d.slice(0, 4)}-${d.slice(4, 6)}-${d.slice(6, 8)}-${d.slice(8, 10)}-${d.slice(10, 12)}-${d.slice(12, 14)}-${d.slice(14, 16)}`;
}

/** blkid_probe_set_id_label / set_utf8_id_label: both ends trimmed; empty ids are not set. */
function setIdLabel(pr: Prober, name: string, value: string): void {
  if (!pr.has(BLKID_SUBLKS_LABEL)) return;
  const v = ltrim(rtrim(value));
  if (v !== '') pr.set(name, v);
}

async function probeIso9660(pr: Prober): Promise<boolean> {
  const magic = await pr.get(ISO_SUPERBLOCK_OFFSET, 1024);
  if (!magic || cString(magic.subarray(1, 6)) !== 'CD001') return false;
  let boot: Uint8Array | null = null;
  let pvd: Uint8Array | null = null;
  let joliet: Uint8Array | null = null;
  for (let i = 0, off = ISO_SUPERBLOCK_OFFSET; i < ISO_VD_MAX && (!boot || !pvd || !joliet); i++, off += ISO_SECTOR_SIZE) {
    const d = await pr.get(off, ISO_VD_READ);
    if (!d || d[0] === 0xff) break;
    if (!boot && d[0] === 0) boot = d;
    else if (!pvd && d[0] === 1) pvd = d;
    else if (!joliet && d[0] === 2) {
      const esc = cString(d.subarray(88, 91));
      if (esc === '%/@' || esc === '%/C' || esc === '%/E') joliet = d;
    }
  }
  if (!pvd) return false;
  pr.set('BLOCK_SIZE', String(ISO_SECTOR_SIZE));

  // Each id is taken from Joliet when it extends the primary one, else from whichever is not blank.
  const field = (off: number, len: number): [Uint8Array, Uint8Array | null] => [pvd.subarray(off, off + len), joliet ? joliet.subarray(off, off + len) : null];
  const alwaysIds: [string, number, number][] = [
    ['SYSTEM_ID', 8, 32],
    ['VOLUME_SET_ID', 190, 128],
  ];
  for (const [name, off, len] of alwaysIds) {
    const [a, j] = field(off, len);
    const merged = j ? mergeUtf16beAscii(j, a) : null;
    if (j) setIdLabel(pr, name, utf16beToString(merged ?? j));
    else setIdLabel(pr, name, cString(a));
  }
  const blankableIds: [string, number][] = [
    ['PUBLISHER_ID', 318],
    ['DATA_PREPARER_ID', 446],
    ['APPLICATION_ID', 574],
  ];
  for (const [name, off] of blankableIds) {
    const [a, j] = field(off, 128);
    const asciiEmpty = isStrEmpty(a) || a[0] === 0x5f;
    const uniEmpty = !j || isUtf16beStrEmpty(j) || (j[0] === 0 && j[1] === 0x5f);
    const merged = !uniEmpty && !asciiEmpty ? mergeUtf16beAscii(j, a) : null;
    if (merged) setIdLabel(pr, name, utf16beToString(merged));
    else if (!uniEmpty) setIdLabel(pr, name, utf16beToString(j));
    else if (!asciiEmpty) setIdLabel(pr, name, cString(a));
  }
  // UUID from the modification date, else the creation date.
  const uuid = isoDateUuid(pvd.subarray(830, 847)) ?? isoDateUuid(pvd.subarray(813, 830));
  if (uuid !== null && pr.has(BLKID_SUBLKS_UUID)) pr.set('UUID', uuid);
  if (boot) setIdLabel(pr, 'BOOT_SYSTEM_ID', cString(boot.subarray(7, 39)));
  if (joliet && pr.has(BLKID_SUBLKS_VERSION)) pr.set('VERSION', 'Joliet Extension');
  if (pr.has(BLKID_SUBLKS_LABEL)) {
    const [a, j] = field(40, 32);
    const merged = j ? mergeUtf16beAscii(j, a) : null;
    const label = rtrim(j ? utf16beToString(merged ?? j) : cString(a));
    if (label !== '') pr.set('LABEL', label);
  }
  return true;
}

type Usage = 'raid' | 'other' | 'crypto' | 'filesystem';
interface SbProber {
  readonly name: string;
  readonly usage: Usage;
  /** idinfo .minsz: skipped on a smaller device. */
  readonly minsz?: number;
  /**
   * Where blkid_probe_get_idmag reads its 1 KiB magic buffers: (kboff + (sboff >> 10)) KiB for each
   * .magics entry, in order (zoned-only magics left out). Absent: no magic, the prober always runs.
   */
  readonly magicKb?: readonly number[];
  /** The probe function as far as modelled; for a prober with magics it runs only on a match. */
  readonly probe?: (pr: Prober) => Promise<boolean>;
  /** The magic bytes at (offset within the 1 KiB buffer) for the magics that are checked here. */
  readonly match?: (buf: Uint8Array, i: number) => boolean;
}

const isoMagic = (buf: Uint8Array): boolean => cString(buf.subarray(1, 6)) === 'CD001' || cString(buf.subarray(9, 14)) === 'CDROM';

/**
 * superblocks.c idinfos[] of util-linux 2.38.1, in order, with the 1 KiB magic buffers each reads
 * (kboff + sboff/1024 from each prober's .magics) and its minsz. Only linux_raid (not decoded) and
 * iso9660 look at what they read; every other prober only makes libblkid's reads.
 */
const SUPERBLOCKS: readonly SbProber[] = [
  { name: 'linux_raid_member', usage: 'raid', probe: probeLinuxRaid },
  { name: 'ddf_raid_member', usage: 'raid', probe: probeDdf },
  { name: 'isw_raid_member', usage: 'raid', probe: lastSectors(2, 512) },
  { name: 'lsi_mega_raid_member', usage: 'raid', probe: lastSectors(1, 512) },
  { name: 'via_raid_member', usage: 'raid', probe: lastSectors(1, 512) },
  { name: 'silicon_medley_raid_member', usage: 'raid', probe: lastSectors(1, 512) },
  { name: 'nvidia_raid_member', usage: 'raid', probe: lastSectors(2, 512) },
  { name: 'promise_fasttrack_raid_member', usage: 'raid', probe: probePromise },
  { name: 'hpt45x_raid_member', usage: 'raid', probe: lastSectors(11, 512) },
  { name: 'hpt37x_raid_member', usage: 'raid', magicKb: [4, 4] },
  { name: 'adaptec_raid_member', usage: 'raid', probe: lastSectors(1, 512) },
  { name: 'jmicron_raid_member', usage: 'raid', probe: lastSectors(1, 512) },
  { name: 'bcache', usage: 'other', minsz: 8192, magicKb: [4] },
  { name: 'ceph_bluestore', usage: 'other', magicKb: [0] },
  { name: 'drbd', usage: 'raid', probe: probeDrbd },
  { name: 'drbdmanage_control_volume', usage: 'other', minsz: 64 * 1024, magicKb: [0] },
  { name: 'drbdproxy_datalog', usage: 'filesystem', minsz: 16 * 1024, magicKb: [0] },
  { name: 'LVM2_member', usage: 'raid', magicKb: [0, 0, 1, 1] },
  { name: 'LVM1_member', usage: 'raid', magicKb: [0] },
  { name: 'DM_snapshot_cow', usage: 'other', magicKb: [0] },
  { name: 'DM_verity_hash', usage: 'crypto', magicKb: [0] },
  { name: 'DM_integrity', usage: 'crypto', magicKb: [0] },
  { name: 'crypto_LUKS', usage: 'crypto', probe: probeLuks },
  { name: 'VMFS_volume_member', usage: 'raid', magicKb: [1024] },
  { name: 'ubi', usage: 'raid', magicKb: [0] },
  { name: 'vdo', usage: 'other', magicKb: [0] },
  { name: 'stratis', usage: 'raid', minsz: 16 * SEC, magicKb: [0, 4] },
  { name: 'BitLocker', usage: 'crypto', magicKb: [0, 0, 0] },
  { name: 'vfat', usage: 'filesystem', magicKb: [0] },
  { name: 'swsuspend', usage: 'other', minsz: 10 * 4096, magicKb: [3, 7, 15, 31, 63] },
  { name: 'swap', usage: 'other', minsz: 10 * 4096, magicKb: [3, 7, 15, 31, 63] },
  { name: 'xfs', usage: 'filesystem', magicKb: [0] },
  { name: 'xfs_external_log', usage: 'other', minsz: 10 * 1024 * 1024, probe: probeXfsLog },
  { name: 'exfs', usage: 'filesystem', magicKb: [0] },
  { name: 'ext4dev', usage: 'filesystem', probe: probeExt },
  { name: 'ext4', usage: 'filesystem', probe: probeExt },
  { name: 'ext3', usage: 'filesystem', probe: probeExt },
  { name: 'ext2', usage: 'filesystem', probe: probeExt },
  { name: 'jbd', usage: 'other', probe: probeExt },
  { name: 'reiserfs', usage: 'filesystem', minsz: 128 * 1024, magicKb: [8, 8, 64, 64, 8] },
  { name: 'reiser4', usage: 'filesystem', minsz: 128 * 1024, magicKb: [64] },
  { name: 'jfs', usage: 'filesystem', minsz: 16 * 1024 * 1024, magicKb: [32] },
  { name: 'udf', usage: 'filesystem', magicKb: [32, 32, 32, 32, 32, 32, 32], match: udfMagic, probe: probeUdf },
  { name: 'iso9660', usage: 'filesystem', magicKb: [32, 32], match: isoMagic, probe: probeIso9660 },
  { name: 'zfs_member', usage: 'filesystem', minsz: 64 * 1024 * 1024, probe: probeZfs },
  { name: 'hfsplus', usage: 'filesystem', magicKb: [1, 1, 1] },
  { name: 'hfs', usage: 'filesystem', magicKb: [1] },
  { name: 'ufs', usage: 'filesystem', probe: probeUfs },
  { name: 'hpfs', usage: 'filesystem', magicKb: [8] },
  { name: 'sysv', usage: 'filesystem', probe: probeSysv },
  { name: 'xenix', usage: 'filesystem', magicKb: [2, 2] },
  { name: 'ntfs', usage: 'filesystem', magicKb: [0] },
  { name: 'ReFS', usage: 'filesystem', magicKb: [0] },
  { name: 'cramfs', usage: 'filesystem', magicKb: [0, 0] },
  { name: 'romfs', usage: 'filesystem', magicKb: [0] },
  { name: 'minix', usage: 'filesystem', magicKb: [1, 1, 1, 1, 1, 1, 1, 1, 1, 1] },
  { name: 'gfs', usage: 'filesystem', minsz: 32 * 1024 * 1024, magicKb: [64] },
  { name: 'gfs2', usage: 'filesystem', minsz: 32 * 1024 * 1024, magicKb: [64] },
  { name: 'ocfs', usage: 'filesystem', minsz: 14000 * 1024, magicKb: [8] },
  { name: 'ocfs2', usage: 'filesystem', minsz: 14000 * 1024, magicKb: [1, 2, 4, 8] },
  { name: 'oracleasm', usage: 'filesystem', magicKb: [0] },
  { name: 'vxfs', usage: 'filesystem', magicKb: [1, 8] },
  { name: 'squashfs', usage: 'filesystem', magicKb: [0] },
  { name: 'squashfs3', usage: 'filesystem', magicKb: [0, 0] },
  { name: 'nss', usage: 'filesystem', magicKb: [4] },
  { name: 'btrfs', usage: 'filesystem', minsz: 1024 * 1024, magicKb: [64, 0] },
  { name: 'ubifs', usage: 'filesystem', magicKb: [0] },
  { name: 'bfs', usage: 'filesystem', magicKb: [0] },
  { name: 'VMFS', usage: 'filesystem', magicKb: [2048] },
  { name: 'befs', usage: 'filesystem', minsz: 1024 * 1440, magicKb: [0, 0, 0, 0] },
  { name: 'nilfs2', usage: 'filesystem', minsz: 1024 * 1024, probe: probeNilfs },
  { name: 'exfat', usage: 'filesystem', magicKb: [0] },
  { name: 'f2fs', usage: 'filesystem', magicKb: [1] },
  { name: 'mpool', usage: 'filesystem', magicKb: [0] },
  { name: 'apfs', usage: 'filesystem', magicKb: [0] },
  { name: 'zonefs', usage: 'filesystem', magicKb: [0] },
  { name: 'erofs', usage: 'filesystem', magicKb: [1] },
];

/**
 * superblocks_probe for one idinfo: the usage filter (`--noraid`), the size, CD-ROM and floppy
 * checks, the magics, the function. The CD-ROM check needs BLKID_FL_CDROM_DEV, which a tiny CD
 * never gets, so on a CD of at most 1440 KiB the swap/journal/... ("other") probers do run.
 */
async function runSuperblock(pr: Prober, sb: SbProber): Promise<boolean> {
  if (sb.usage === 'raid' && pr.opts.noraid) return false;
  if (sb.minsz !== undefined && sb.minsz > pr.size) return false;
  if ((sb.usage === 'raid' || sb.usage === 'other') && pr.cdromDev) return false;
  if (sb.usage === 'raid' && pr.tiny) return false;
  if (sb.magicKb) {
    let matched = false;
    for (let i = 0; i < sb.magicKb.length && !matched; i++) {
      const buf = await pr.get(sb.magicKb[i]! * 1024, 1024);
      if (buf && sb.match?.(buf, i)) matched = true;
    }
    if (!matched) return false;
  }
  return sb.probe ? sb.probe(pr) : false;
}

// ---- partition tables ----------------------------------------------------------------------------

let crcTable: Uint32Array | null = null;
function crc32(b: Uint8Array): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let crc = 0xffffffff;
  for (const x of b) crc = crcTable[(crc ^ x) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

const hex = (b: Uint8Array): string => [...b].map((x) => x.toString(16).padStart(2, '0')).join('');

/** A GPT GUID (first three fields little-endian) in the usual lower-case form. */
export function gptGuidString(g: Uint8Array): string {
  const le = (o: number, n: number): string => hex(g.subarray(o, o + n).slice().reverse());
  return `${le(0, 4)}-${le(4, 2)}-${le(6, 2)}-${hex(g.subarray(8, 10))}-${hex(g.subarray(10, 16))}`;
}

function u32le(b: Uint8Array, o: number): number {
  return (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
}

/** A GPT header at `lba`, checked (signature, header CRC, its own LBA); its disk GUID or null. */
async function gptHeader(pr: Prober, lba: number, ssz: number): Promise<string | null> {
  const h = await pr.get(lba * ssz, ssz);
  if (!h || cString(h.subarray(0, 8)) !== 'EFI PART') return null;
  const hsize = u32le(h, 12);
  if (hsize < 92 || hsize > ssz) return null;
  const copy = h.slice(0, hsize);
  copy.fill(0, 16, 20);
  if (crc32(copy) !== u32le(h, 16)) return null;
  if (u32le(h, 24) !== lba || u32le(h, 28) !== 0) return null;
  return gptGuidString(h.subarray(56, 72));
}

/** dos and gpt, decoded from the first KiB (+ the GPT headers); true when a table was found. */
async function probeDosGpt(pr: Prober, mbr: Uint8Array | null): Promise<boolean> {
  const ssz = pr.sectorSize;
  if (!mbr || mbr[510] !== 0x55 || mbr[511] !== 0xaa) return false;
  const entries = [0, 1, 2, 3].map((i) => mbr.subarray(446 + 16 * i, 462 + 16 * i));
  if (entries.some((e) => e[0] !== 0 && e[0] !== 0x80)) return false;
  if (entries.some((e) => e[4] === 0xee)) {
    // gpt.c: a protective MBR, then the primary header, else the backup at the last LBA.
    const last = Math.floor(pr.size / ssz) - 1;
    const guid = (await gptHeader(pr, 1, ssz)) ?? (await gptHeader(pr, last, ssz));
    if (guid === null) return false;
    pr.set('PTUUID', guid);
    pr.set('PTTYPE', 'gpt');
    return true;
  }
  // dos.c: a FAT or NTFS boot sector also ends in 55 AA.
  if (cString(mbr.subarray(3, 11)) === 'NTFS    ') return false;
  if (cString(mbr.subarray(54, 59)) === 'FAT12' || cString(mbr.subarray(54, 59)) === 'FAT16' || cString(mbr.subarray(82, 87)) === 'FAT32') return false;
  const id = u32le(mbr, 440);
  if (id) pr.set('PTUUID', id.toString(16).padStart(8, '0'));
  pr.set('PTTYPE', 'dos');
  return true;
}

/** ultrix.c ULTRIX_SECTOR: the sector holding a 72-byte disklabel that ends 16 KiB into the disk. */
const ULTRIX_SECTOR = (16384 - 72) >> 9;
/** unixware.c: its VTOC magic lies in sector 29, i.e. in the 1 KiB magic buffer at KiB 14. */
const UNIXWARE_KB = (29 * 512) >> 10;

/**
 * partitions.c idinfos[] of util-linux 2.38.1, in order, stopping at the first table found: aix,
 * sgi and sun (magics in the first KiB), dos, gpt and pmbr (decoded above), mac (first KiB), ultrix
 * (no magic: its function reads ULTRIX_SECTOR), bsd (first KiB), unixware (minsz 1440 KiB + 1: not
 * on floppy-sized devices; magic in KiB 14), solaris_x86 and minix (first KiB), atari (no magic:
 * its function gives up unless the sector size is 512, else reads sector 0). Only dos and gpt are
 * decoded; the others only make their reads.
 */
async function probePartitions(pr: Prober): Promise<boolean> {
  const first = await pr.get(0, 1024);
  if (await probeDosGpt(pr, first)) return true;
  await pr.get(ULTRIX_SECTOR * SEC, SEC);
  if (pr.size > TINY_DEV_MAX) await pr.get(UNIXWARE_KB * 1024, 1024);
  if (pr.sectorSize === 512) await pr.get(0, SEC);
  return false;
}

/**
 * cdrom_size_correction (probe.c), for a device with BLKID_FL_CDROM_DEV: each of the last 12
 * 512-byte sectors is read with read(2) (is_sector_readable); the first one that cannot be read
 * cuts the probed size to its start. CDROM_LAST_WRITTEN is not modelled: it only lowers the end
 * when the drive reports a last written block below the capacity.
 */
async function cdromSizeCorrection(pr: Prober): Promise<void> {
  const nsectors = Math.floor(pr.size / SEC);
  for (let n = nsectors - 12; n < nsectors; n++) {
    if (n < 0) continue;
    if (!(await pr.readRaw(n * SEC, SEC))) {
      pr.size = n * SEC;
      return;
    }
  }
}

/** superblocks_safeprobe (superblocks.c). */
async function probeSuperblocks(pr: Prober): Promise<void> {
  // Every prober runs (the first result is kept) unless a RAID or crypto one matched; on a tiny
  // device the first result is returned at once.
  let found = false;
  for (const sb of SUPERBLOCKS) {
    const mark = pr.values.length;
    if (await runSuperblock(pr, sb)) {
      if (found) {
        pr.values.splice(mark);
        continue;
      }
      found = true;
      if (pr.has(BLKID_SUBLKS_TYPE)) pr.set('TYPE', sb.name);
      if (pr.has(BLKID_SUBLKS_USAGE)) pr.set('USAGE', sb.usage);
      if (pr.tiny) break;
      if (sb.usage === 'raid' || sb.usage === 'crypto') break;
    } else pr.values.splice(mark);
  }
}

/**
 * blkid_probe_set_device, then blkid_do_safeprobe over the superblocks and partitions chains. With
 * `lowprobe` a small whole disk (at most 1440 KiB) first gets a partitions-only blkid_do_fullprobe,
 * and a table found there is the whole answer (lowprobe_superblocks / probe_superblocks).
 */
export async function blkidProbe(read: BlkidReader, opts: BlkidProbeOptions): Promise<BlkidResult> {
  const pr = new Prober(read, opts);
  if (pr.cdromDev) await cdromSizeCorrection(pr);
  if (opts.lowprobe && opts.size <= TINY_DEV_MAX && opts.wholedisk !== false) {
    if (await probePartitions(pr)) return { values: pr.values, reads: pr.reads };
    pr.values.length = 0;
  }
  await probeSuperblocks(pr);
  await probePartitions(pr);
  return { values: pr.values, reads: pr.reads };
}

/** The classic cache keeps superblock values without the `*_ID` ids (verify.c blkid_probe_to_tags). */
export function blkidCacheTags(values: readonly BlkidValue[]): BlkidValue[] {
  return values.filter((v) => !v.name.includes('_ID'));
}

/** udev's blkid builtin (print_property, systemd v252): the ID_FS_* / ID_PART_TABLE_* properties, in order. */
export function udevBlkidProperties(values: readonly BlkidValue[]): [string, string][] {
  const out: [string, string][] = [];
  const encoded = new Set(['SYSTEM_ID', 'PUBLISHER_ID', 'APPLICATION_ID', 'BOOT_SYSTEM_ID', 'VOLUME_ID', 'LOGICAL_VOLUME_ID', 'VOLUME_SET_ID', 'DATA_PREPARER_ID']);
  for (const { name, value } of values) {
    if (name === 'TYPE' || name === 'USAGE' || name === 'VERSION') out.push([`ID_FS_${name}`, value]);
    else if (name === 'UUID' || name === 'UUID_SUB' || name === 'LABEL') {
      out.push([`ID_FS_${name}`, blkidSafeString(value)]);
      out.push([`ID_FS_${name}_ENC`, blkidEncodeString(value)]);
    } else if (name === 'PTTYPE') out.push(['ID_PART_TABLE_TYPE', value]);
    else if (name === 'PTUUID') out.push(['ID_PART_TABLE_UUID', value]);
    else if (name === 'PART_ENTRY_NAME' || name === 'PART_ENTRY_TYPE') out.push([`ID_${name}`, blkidEncodeString(value)]);
    else if (name.startsWith('PART_ENTRY_')) out.push([`ID_${name}`, value]);
    else if (encoded.has(name)) out.push([`ID_FS_${name}`, blkidEncodeString(value)]);
  }
  return out;
}


/** SCSI_CDROM_MAJOR: sr devices are probed as CD-ROMs with 2048-byte sectors. */
const SCSI_CDROM_MAJOR = 11;

/**
 * Opens `devname` read-only (O_NONBLOCK, as blkid and udev do), sizes it with SEEK_END and probes it.
 * Callers asking for USAGE (`blkid -p`, udev's builtin) probe the lowprobe way. Throws the open's Errno.
 */
export async function blkidProbeDevice(sys: Syscalls, devname: string, flags: number): Promise<BlkidResult> {
  const fd = await sys.open(devname, O_RDONLY | O_NONBLOCK);
  try {
    const st = await sys.fstat(fd);
    const size = await sys.lseek(fd, 0, 2);
    const blk = (st.mode & S_IFMT) === S_IFBLK;
    // CDROM_GET_CAPABILITY answers on sr devices; the other CD-ROM ioctls are not modelled.
    const cdrom = blk && st.rdevMajor === SCSI_CDROM_MAJOR;
    // blkid_probe_is_wholedisk: a partition has a `partition` attribute in sysfs.
    const wholedisk = !blk || !(await sys.stat(`/sys/dev/block/${st.rdevMajor}:${st.rdevMinor}/partition`).then(() => true, () => false));
    // blkid_probe_set_device: posix_fadvise(POSIX_FADV_RANDOM) turns read-ahead off; its result is ignored.
    await sys.fadvise?.(fd, 0, 0, POSIX_FADV_RANDOM).catch(() => undefined);
    const read: BlkidReader = (offset, length) => sys.read(fd, length, offset);
    const lowprobe = (flags & BLKID_SUBLKS_USAGE) !== 0;
    return await blkidProbe(read, { size, flags, cdrom, wholedisk, lowprobe, sectorSize: cdrom ? 2048 : 512 });
  } finally {
    await sys.close(fd);
  }
}
