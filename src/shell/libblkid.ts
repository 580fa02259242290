// Models libblkid (util-linux 2.38.1: src/probe.c, superblocks/superblocks.c, superblocks/iso9660.c,
// superblocks/linux_raid.c, partitions/dos.c, partitions/gpt.c, encode.c) and the udev blkid builtin's
// property names (systemd v252 udev-builtin-blkid.c print_property): low-level probing of a device
// through a byte reader, returning the NAME=value list in libblkid's order.
//
// Chains run in libblkid's order — superblocks, then partition tables. Superblock probers reduced to
// the ones this machine can meet: linux_raid (its magic offsets are read — that is why blkid touches
// both ends of a disk — but members are not decoded) and iso9660 (+ Joliet). Partition tables: dos
// and gpt (PTUUID, PTTYPE; per-partition PART_ENTRY_* values are not modelled). Which values a caller
// gets depends on its flags, as with blkid_probe_set_superblocks_flags: the `blkid` cache path asks
// LABEL|UUID|TYPE, `blkid -p` and udev add USAGE|VERSION.

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
  /** A CD-ROM drive (BLKID_FL_CDROM_DEV): the RAID probers' end-of-device offsets are skipped. */
  readonly cdrom?: boolean;
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
const MD_SB_MAGIC = 0xa92b4efc;

class Prober {
  readonly values: BlkidValue[] = [];
  readonly reads: BlkidRead[] = [];
  readonly #buffers: { offset: number; data: Uint8Array }[] = [];
  readonly #read: BlkidReader;
  readonly opts: BlkidProbeOptions;

  constructor(read: BlkidReader, opts: BlkidProbeOptions) {
    this.#read = read;
    this.opts = opts;
  }

  /** blkid_probe_get_buffer: null past the end of the device. */
  async get(offset: number, length: number): Promise<Uint8Array | null> {
    if (offset < 0 || offset + length > this.opts.size) return null;
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
  const size = pr.opts.size;
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
    if (pr.opts.size < minSize) return false;
    for (const [off, len] of places(pr.opts.size)) {
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
  { name: 'udf', usage: 'filesystem', magicKb: [32, 32, 32, 32, 32, 32, 32] },
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

/** superblocks_probe for one idinfo: the size, CD-ROM and floppy filters, the magics, the function. */
async function runSuperblock(pr: Prober, sb: SbProber): Promise<boolean> {
  if (sb.minsz !== undefined && sb.minsz > pr.opts.size) return false;
  if ((sb.usage === 'raid' || sb.usage === 'other') && pr.opts.cdrom) return false;
  if (sb.usage === 'raid' && (pr.opts.size <= 1440 * 1024 || pr.opts.noraid)) return false;
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

async function probePartitions(pr: Prober): Promise<void> {
  const ssz = pr.opts.sectorSize ?? 512;
  const mbr = await pr.get(0, 1024);
  if (!mbr || mbr[510] !== 0x55 || mbr[511] !== 0xaa) return;
  const entries = [0, 1, 2, 3].map((i) => mbr.subarray(446 + 16 * i, 462 + 16 * i));
  if (entries.some((e) => e[0] !== 0 && e[0] !== 0x80)) return;
  if (entries.some((e) => e[4] === 0xee)) {
    // gpt.c: a protective MBR, then the primary header, else the backup at the last LBA.
    const last = Math.floor(pr.opts.size / ssz) - 1;
    const guid = (await gptHeader(pr, 1, ssz)) ?? (await gptHeader(pr, last, ssz));
    if (guid === null) return;
    pr.set('PTUUID', guid);
    pr.set('PTTYPE', 'gpt');
    return;
  }
  // dos.c: a FAT or NTFS boot sector also ends in 55 AA.
  if (cString(mbr.subarray(3, 11)) === 'NTFS    ') return;
  if (cString(mbr.subarray(54, 59)) === 'FAT12' || cString(mbr.subarray(54, 59)) === 'FAT16' || cString(mbr.subarray(82, 87)) === 'FAT32') return;
  const id = u32le(mbr, 440);
  if (id) pr.set('PTUUID', id.toString(16).padStart(8, '0'));
  pr.set('PTTYPE', 'dos');
}

/** blkid_do_safeprobe over the superblocks and partitions chains. */
export async function blkidProbe(read: BlkidReader, opts: BlkidProbeOptions): Promise<BlkidResult> {
  const pr = new Prober(read, opts);
  // superblocks_safeprobe: every prober runs (the first result is kept) unless a RAID or crypto one matched.
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
      if (sb.usage === 'raid' || sb.usage === 'crypto') break;
    } else pr.values.splice(mark);
  }
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
 * Throws the open's Errno.
 */
export async function blkidProbeDevice(sys: Syscalls, devname: string, flags: number): Promise<BlkidResult> {
  const fd = await sys.open(devname, O_RDONLY | O_NONBLOCK);
  try {
    const st = await sys.fstat(fd);
    const size = await sys.lseek(fd, 0, 2);
    const cdrom = (st.mode & S_IFMT) === S_IFBLK && st.rdevMajor === SCSI_CDROM_MAJOR;
    // blkid_probe_set_device: posix_fadvise(POSIX_FADV_RANDOM) turns read-ahead off; its result is ignored.
    await sys.fadvise?.(fd, 0, 0, POSIX_FADV_RANDOM).catch(() => undefined);
    const read: BlkidReader = (offset, length) => sys.read(fd, length, offset);
    return await blkidProbe(read, { size, flags, cdrom, sectorSize: cdrom ? 2048 : 512 });
  } finally {
    await sys.close(fd);
  }
}
