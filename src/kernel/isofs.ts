// Models fs/isofs (inode.c, dir.c, rock.c, joliet.c, util.c) (Linux 6.1): mounting an ISO 9660 image
// read-only from a block device, with Rock Ridge (RRIP) and Joliet names, as a tree of VFS nodes.
//
// Algorithm (isofs_fill_super): walk the volume descriptors from block 16 — the first primary one is
// kept, a Joliet supplementary one (escape `%/@`, `%/C`, `%/E`) ends the walk at once ("Microsoft Joliet
// Level N" is logged), a terminator ends it. The root inode is read from the "." record of the primary
// root directory; its System Use area (SP, then an ER entry, often in a CE continuation block) tells
// whether Rock Ridge is present ("ISO 9660 Extensions: RRIP_1991A"). Rock Ridge wins over Joliet; with
// `norock` (or no ER) a Joliet volume is read through the supplementary root instead.
//
// Inodes (isofs_read_inode): without Rock Ridge every directory is `dr-xr-xr-x` and every file
// `-r-xr-xr-x` (or `dmode=`/`mode=`), nlink 1, uid/gid from the options (0), mtime from the record's
// 7-byte date; Rock Ridge PX/TF/NM/SL override mode, links, owner, times, name and symlink target.
//
// Our reduction: the VFS walks paths synchronously, so the whole directory tree is read at mount time
// (Linux reads a directory on first lookup); file contents are read through the block device on
// demand, with a per-mount block cache standing in for the buffer and page caches.

import { Errno } from './errno.ts';
import { DevNode, DirNode, FileNode, LinkNode } from './fs.ts';
import type { FileOps, FsNode } from './fs.ts';
import { MS_RDONLY, MS_SILENT } from './vfs.ts';
import type { MountFn, SuperBlock } from './vfs.ts';
import { O_RDONLY, O_RDWR, S_IFBLK, S_IFCHR, S_IFDIR, S_IFLNK, S_IFMT } from './syscalls.ts';

/** ISOFS_BLOCK_SIZE: logical blocks are 2048 bytes on every disc the kernel accepts here. */
export const ISOFS_BLOCK_SIZE = 2048;
const ISO_VD_PRIMARY = 1;
const ISO_VD_SUPPLEMENTARY = 2;
const ISO_VD_END = 255;
/** The kernel looks at most this far (vol_desc_start + 16 … + 100) for descriptors. */
const ISO_VD_LAST_BLOCK = 100;
/** RR_MAX_CE_ENTRIES: continuation areas followed per System Use area before giving up. */
const RR_MAX_CE_ENTRIES = 32;
/** Guard against directory loops through CL entries or corrupt extents. */
const MAX_DIR_DEPTH = 64;

/** File flags of a directory record (ECMA-119 9.1.6). */
const FLAG_HIDDEN = 0x01;
const FLAG_DIRECTORY = 0x02;
const FLAG_ASSOCIATED = 0x04;
const FLAG_MULTI_EXTENT = 0x80;

/** Where the kernel log goes (the machine's printk) and levels it uses here. */
export type IsofsPrintk = (level: number, text: string) => void;
const KERN_WARNING = 4;
const KERN_DEBUG = 7;

export interface IsofsEnv {
  /** Opens the block device a mount names (≈ blkdev_get_by_dev); throws Errno. */
  openDevice(node: DevNode, flags: number): Promise<FileOps>;
  printk: IsofsPrintk;
}

/** Mount options (isofs_parse_options), with the kernel's defaults. */
export interface IsofsOptions {
  rock: boolean;
  joliet: boolean;
  hide: boolean;
  showassoc: boolean;
  cruft: boolean;
  utf8: boolean;
  iocharset: string | null;
  map: 'n' | 'o' | 'a';
  check: 'u' | 'r' | 's';
  session: number;
  sbsector: number;
  uid: number;
  gid: number;
  uidSet: boolean;
  gidSet: boolean;
  /** null = ISOFS_INVALID_MODE. */
  fmode: number | null;
  dmode: number | null;
  overriderockperm: boolean;
  blocksize: number;
}

export function defaultIsofsOptions(): IsofsOptions {
  return {
    rock: true,
    joliet: true,
    hide: false,
    showassoc: false,
    cruft: false,
    utf8: false,
    iocharset: null,
    map: 'n',
    check: 'u',
    session: -1,
    sbsector: -1,
    uid: 0,
    gid: 0,
    uidSet: false,
    gidSet: false,
    fmode: null,
    dmode: null,
    overriderockperm: false,
    blocksize: 1024,
  };
}

/** isofs_parse_options: null when an option is unknown or malformed (the mount fails with EINVAL). */
export function parseIsofsOptions(data: string | undefined): IsofsOptions | null {
  const o = defaultIsofsOptions();
  if (!data) return o;
  for (const opt of data.split(',')) {
    if (opt === '') continue;
    const eq = opt.indexOf('=');
    const key = eq < 0 ? opt : opt.slice(0, eq);
    const val = eq < 0 ? null : opt.slice(eq + 1);
    const num = (radix: number): number | null => (val !== null && /^[0-9a-fA-F]+$/.test(val) ? parseInt(val, radix) : null);
    switch (key) {
      case 'norock':
        o.rock = false;
        break;
      case 'nojoliet':
        o.joliet = false;
        break;
      case 'hide':
        o.hide = true;
        break;
      case 'unhide':
      case 'showassoc':
        o.showassoc = true;
        break;
      case 'cruft':
        o.cruft = true;
        break;
      case 'utf8':
        o.utf8 = true;
        break;
      case 'iocharset':
        if (val === null) return null;
        o.iocharset = val;
        break;
      case 'map':
        if (val === null) return null;
        if (val.startsWith('o') || val.startsWith('n') || val.startsWith('a')) o.map = val[0] as 'o' | 'n' | 'a';
        else if (val.startsWith('off')) o.map = 'o';
        else return null;
        break;
      case 'check':
        if (val === 'r' || val === 'relaxed') o.check = 'r';
        else if (val === 's' || val === 'strict') o.check = 's';
        else return null;
        break;
      case 'session': {
        const n = num(10);
        if (n === null || n >= 100) return null;
        o.session = n + 1;
        break;
      }
      case 'sbsector': {
        const n = num(10);
        if (n === null || n > 660 * 512) return null;
        o.sbsector = n;
        break;
      }
      case 'uid': {
        const n = num(10);
        if (n === null) return null;
        o.uid = n;
        o.uidSet = true;
        break;
      }
      case 'gid': {
        const n = num(10);
        if (n === null) return null;
        o.gid = n;
        o.gidSet = true;
        break;
      }
      case 'mode': {
        const n = num(8);
        if (n === null) return null;
        o.fmode = n & 0o777;
        break;
      }
      case 'dmode': {
        const n = num(8);
        if (n === null) return null;
        o.dmode = n & 0o777;
        break;
      }
      case 'overriderockperm':
        o.overriderockperm = true;
        break;
      case 'block': {
        const n = num(10);
        if (n !== 512 && n !== 1024 && n !== 2048) return null;
        o.blocksize = n;
        break;
      }
      case 'nocompress':
      case 'conv':
        break;
      default:
        return null;
    }
  }
  return o;
}

// ---- byte helpers (ECMA-119 7.x number formats) ----------------------------------------------

/** isonum_711: 8-bit unsigned. */
function num711(b: Uint8Array, off: number): number {
  return b[off] ?? 0;
}
/** isonum_723: 16-bit both-endian (the little-endian half is used). */
function num723(b: Uint8Array, off: number): number {
  return (b[off] ?? 0) | ((b[off + 1] ?? 0) << 8);
}
/** isonum_733: 32-bit both-endian (the little-endian half is used). */
export function num733(b: Uint8Array, off: number): number {
  return ((b[off] ?? 0) | ((b[off + 1] ?? 0) << 8) | ((b[off + 2] ?? 0) << 16) | ((b[off + 3] ?? 0) << 24)) >>> 0;
}

/**
 * iso_date: a 7-byte recording date (years since 1900, month, day, h, m, s, GMT offset in 15-minute
 * units) to seconds since the epoch. Offsets outside ±13 h are ignored, as the kernel does.
 */
export function isoDate(p: Uint8Array, off: number): number {
  const year = num711(p, off);
  let tz = num711(p, off + 6);
  let t =
    Date.UTC(year + 1900, num711(p, off + 1) - 1, num711(p, off + 2), num711(p, off + 3), num711(p, off + 4), num711(p, off + 5)) /
    1000;
  if (tz & 0x80) tz -= 256;
  if (tz >= -52 && tz <= 52) t -= tz * 15 * 60;
  return t;
}

function latin1(b: Uint8Array): string {
  let s = '';
  for (const c of b) s += String.fromCharCode(c);
  return s;
}

/** isofs_name_translate (map=normal): lower case, drop a trailing `;1` / `.;1`, other `;` and `/` become `.`. */
export function isofsNameTranslate(raw: Uint8Array): string {
  let out = '';
  const len = raw.length;
  for (let i = 0; i < len; i++) {
    let c = raw[i]!;
    if (c === 0) break;
    if (c >= 0x41 && c <= 0x5a) c |= 0x20;
    if (c === 0x2e && i === len - 3 && raw[i + 1] === 0x3b && raw[i + 2] === 0x31) break;
    if (c === 0x3b && i === len - 2 && raw[i + 1] === 0x31) break;
    if (c === 0x3b || c === 0x2f) c = 0x2e;
    out += String.fromCharCode(c);
  }
  return out;
}

/** get_joliet_filename: UCS-2 big-endian to UTF-8, a trailing `;1` and trailing dots dropped. */
export function jolietName(raw: Uint8Array): string {
  const units: number[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const u = (raw[i]! << 8) | raw[i + 1]!;
    if (u === 0) break;
    units.push(u);
  }
  let s = String.fromCharCode(...units);
  if (s.length > 2 && s.endsWith(';1')) s = s.slice(0, -2);
  while (s.length >= 2 && s.endsWith('.')) s = s.slice(0, -1);
  return s;
}

// ---- directory records -----------------------------------------------------------------------

/** One directory record (ECMA-119 9.1), with where it was found. */
interface DirRecord {
  readonly bytes: Uint8Array;
  readonly extent: number;
  readonly extAttrLength: number;
  readonly size: number;
  readonly date: number;
  readonly flags: number;
  readonly name: Uint8Array;
  /** Offset of the System Use area inside `bytes`. */
  readonly suOffset: number;
}

function parseRecord(b: Uint8Array): DirRecord {
  const nameLen = num711(b, 32);
  return {
    bytes: b,
    extent: num733(b, 2),
    extAttrLength: num711(b, 1),
    size: num733(b, 10),
    date: isoDate(b, 18),
    flags: num711(b, 25),
    name: b.subarray(33, 33 + nameLen),
    suOffset: 33 + nameLen + (nameLen % 2 === 0 ? 1 : 0),
  };
}

/** What the Rock Ridge entries of one record said (parse_rock_ridge_inode / get_rock_ridge_filename). */
interface RockInfo {
  mode: number | null;
  nlink: number | null;
  uid: number | null;
  gid: number | null;
  rdev: { major: number; minor: number } | null;
  mtime: number | null;
  name: string | null;
  symlink: string | null;
  /** CL: the directory really lives at this block (deep-directory relocation). */
  childLink: number | null;
  /** RE: this record is the relocated copy and is hidden from readdir. */
  relocated: boolean;
  /** SP skip and ER seen (root "." only). */
  spSkip: number | null;
  er: string | null;
}

function emptyRock(): RockInfo {
  return {
    mode: null,
    nlink: null,
    uid: null,
    gid: null,
    rdev: null,
    mtime: null,
    name: null,
    symlink: null,
    childLink: null,
    relocated: false,
    spSkip: null,
    er: null,
  };
}

type BlockReader = (block: number, count: number) => Promise<Uint8Array>;

/** Walks the SUSP entries of a System Use area, following CE continuation areas. */
async function parseRock(area: Uint8Array, read: BlockReader): Promise<RockInfo> {
  const info = emptyRock();
  let nameParts: string[] | null = null;
  let linkParts: string[] | null = null;
  let linkContinues = false;
  let buf = area;
  let ceCount = 0;
  for (;;) {
    let cont: { block: number; offset: number; size: number } | null = null;
    let p = 0;
    while (p + 4 <= buf.length) {
      const sig = String.fromCharCode(buf[p]!, buf[p + 1]!);
      const len = buf[p + 2]!;
      if (len < 4 || p + len > buf.length) break;
      const e = buf.subarray(p, p + len);
      switch (sig) {
        case 'SP':
          if (len >= 7 && e[4] === 0xbe && e[5] === 0xef) info.spSkip = e[6]!;
          break;
        case 'CE':
          if (len >= 28) cont = { block: num733(e, 4), offset: num733(e, 12), size: num733(e, 20) };
          break;
        case 'ER': {
          const lenId = num711(e, 4);
          if (8 + lenId <= len) info.er = latin1(e.subarray(8, 8 + lenId));
          break;
        }
        case 'PX':
          if (len >= 36) {
            info.mode = num733(e, 4);
            info.nlink = num733(e, 12);
            info.uid = num733(e, 20);
            info.gid = num733(e, 28);
          }
          break;
        case 'PN':
          if (len >= 20) {
            const high = num733(e, 4);
            const low = num733(e, 12);
            // Old discs put the whole dev_t in the low word (rock.c).
            info.rdev = high === 0 ? { major: (low >> 8) & 0xfff, minor: (low & 0xff) | ((low >> 12) & 0xfff00) } : { major: high, minor: low };
          }
          break;
        case 'TF': {
          // Only the 7-byte form is understood by Linux 6.1; stamps come in CREATE, MODIFY, ACCESS, ATTRIBUTES order.
          const flags = num711(e, 4);
          let at = 5;
          for (const bit of [1, 2, 4, 8]) {
            if (!(flags & bit)) continue;
            if (bit === 2 && at + 7 <= len) info.mtime = isoDate(e, at);
            at += 7;
          }
          break;
        }
        case 'NM': {
          const flags = num711(e, 4);
          if (flags & 0x06) break; // CURRENT / PARENT: nothing to add
          nameParts ??= [];
          nameParts.push(latin1(e.subarray(5)));
          break;
        }
        case 'SL': {
          linkParts ??= [];
          let q = 5;
          while (q + 2 <= len) {
            const cflags = e[q]!;
            const clen = e[q + 1]!;
            const text = latin1(e.subarray(q + 2, q + 2 + clen));
            let piece: string;
            if (cflags & 0x02) piece = '.';
            else if (cflags & 0x04) piece = '..';
            else if (cflags & 0x08) piece = '';
            else piece = text;
            if (linkContinues && linkParts.length > 0) linkParts[linkParts.length - 1] += piece;
            else linkParts.push(piece);
            if (cflags & 0x08 && linkParts.length === 1) linkParts.push('');
            linkContinues = (cflags & 0x01) !== 0;
            q += 2 + clen;
          }
          break;
        }
        case 'CL':
          if (len >= 12) info.childLink = num733(e, 4);
          break;
        case 'RE':
          info.relocated = true;
          break;
        default:
          break;
      }
      p += len;
    }
    if (!cont || ++ceCount > RR_MAX_CE_ENTRIES) break;
    const first = cont.block + Math.floor(cont.offset / ISOFS_BLOCK_SIZE);
    const within = cont.offset % ISOFS_BLOCK_SIZE;
    const blocks = Math.ceil((within + cont.size) / ISOFS_BLOCK_SIZE);
    if (cont.size === 0 || blocks > 16) break;
    const data = await read(first, blocks);
    buf = data.subarray(within, within + cont.size);
  }
  if (nameParts) info.name = nameParts.join('');
  if (linkParts) info.symlink = linkParts.length === 2 && linkParts[0] === '' && linkParts[1] === '' ? '/' : linkParts.join('/');
  return info;
}

/** A directory whose size is the length of its extent, as isofs reports it. */
class IsoDirNode extends DirNode {
  readonly isoSize: number;
  constructor(name: string, mode: number, mtime: number, dev: number, isoSize: number) {
    super(name, mode, mtime, dev, 'zero', true);
    this.isoSize = isoSize;
  }
  override size(): number {
    return this.isoSize;
  }
}

/** One mounted ISO 9660 filesystem (≈ isofs_sb_info + the bdev it holds). */
class IsofsSuper implements SuperBlock {
  root!: DirNode;
  readonly #dev: FileOps;
  readonly #devNum: number;
  readonly #opt: IsofsOptions;
  readonly #cache = new Map<number, Uint8Array>();
  /** 1 = Rock Ridge in use, 2 = not yet known (no ER seen, entries still honoured), 0 = off. */
  rock: 0 | 1 | 2;
  jolietLevel = 0;
  nlsLoaded = false;
  check: 'r' | 's' = 's';
  #spSkip = 0;
  #dirs = 0;

  constructor(dev: FileOps, devNum: number, opt: IsofsOptions) {
    this.#dev = dev;
    this.#devNum = devNum;
    this.#opt = opt;
    this.rock = opt.rock ? 2 : 0;
  }

  /** sb_bread for a run of blocks, one device read for the blocks not cached yet. */
  readonly read: BlockReader = async (block, count) => {
    const out = new Uint8Array(count * ISOFS_BLOCK_SIZE);
    let i = 0;
    while (i < count) {
      const hit = this.#cache.get(block + i);
      if (hit) {
        out.set(hit, i * ISOFS_BLOCK_SIZE);
        i++;
        continue;
      }
      let j = i;
      while (j < count && !this.#cache.has(block + j)) j++;
      const want = (j - i) * ISOFS_BLOCK_SIZE;
      if (!this.#dev.read) throw new Errno('EIO');
      const data = await this.#dev.read((block + i) * ISOFS_BLOCK_SIZE, want);
      if (data.length < want) throw new Errno('EIO');
      for (let k = i; k < j; k++) {
        const blk = data.slice((k - i) * ISOFS_BLOCK_SIZE, (k - i + 1) * ISOFS_BLOCK_SIZE);
        this.#cache.set(block + k, blk);
        out.set(blk, k * ISOFS_BLOCK_SIZE);
      }
      i = j;
    }
    return out;
  };

  async fill(printk: IsofsPrintk, silent: boolean): Promise<void> {
    const opt = this.#opt;
    const start = opt.sbsector !== -1 ? opt.sbsector : 0;
    let pri: Uint8Array | null = null;
    let sec: Uint8Array | null = null;
    for (let blk = start + 16; blk < start + ISO_VD_LAST_BLOCK; blk++) {
      const vd = await this.read(blk, 1);
      if (latin1(vd.subarray(1, 6)) !== 'CD001') continue;
      const type = vd[0]!;
      if (type === ISO_VD_END) break;
      if (type === ISO_VD_PRIMARY) {
        pri ??= vd;
      } else if (type === ISO_VD_SUPPLEMENTARY && vd[88] === 0x25 && vd[89] === 0x2f) {
        if (opt.joliet) {
          this.jolietLevel = vd[90] === 0x40 ? 1 : vd[90] === 0x43 ? 2 : vd[90] === 0x45 ? 3 : 0;
          printk(KERN_DEBUG, `ISO 9660 Extensions: Microsoft Joliet Level ${this.jolietLevel}`);
        }
        sec = vd;
        break;
      }
    }
    if (!pri && !(sec && this.jolietLevel)) {
      if (!silent) printk(KERN_WARNING, 'ISOFS: Unable to identify CD-ROM format.');
      throw new Errno('EINVAL');
    }
    const usePvd = pri && (opt.rock || !this.jolietLevel) ? pri : sec!;
    if (num723(usePvd, 128) !== ISOFS_BLOCK_SIZE) {
      printk(KERN_WARNING, `ISOFS: Bad logical zone size ${num723(usePvd, 128)}`);
      throw new Errno('EINVAL');
    }
    if (this.jolietLevel && !opt.utf8) this.nlsLoaded = true;

    let rootRec = parseRecord(usePvd.subarray(156, 190));
    let root = await this.#readRoot(rootRec);
    if (this.rock === 1) {
      this.jolietLevel = 0;
    } else if (this.jolietLevel && sec) {
      this.rock = 0;
      const jRec = parseRecord(sec.subarray(156, 190));
      if (jRec.extent + jRec.extAttrLength !== rootRec.extent + rootRec.extAttrLength) {
        printk(KERN_DEBUG, 'ISOFS: changing to secondary root');
        rootRec = jRec;
        root = await this.#readRoot(rootRec);
      }
    }
    this.check = opt.check === 'u' ? (this.jolietLevel ? 'r' : 's') : opt.check;
    await this.#fillDir(root, rootRec, 0);
    this.root = root;
  }

  /** The root inode: the "." record at the start of the root extent, and its System Use area. */
  async #readRoot(rec: DirRecord): Promise<IsoDirNode> {
    const blk = await this.read(rec.extent + rec.extAttrLength, 1);
    const dotLen = blk[0] ?? 0;
    const dot = dotLen >= 34 ? parseRecord(blk.subarray(0, dotLen)) : rec;
    let rock = emptyRock();
    if (this.rock) {
      rock = await parseRock(dot.bytes.subarray(dot.suOffset), this.read);
      if (rock.spSkip !== null) this.#spSkip = rock.spSkip;
      if (rock.er !== null) {
        this.rock = 1;
        this.#printER?.(rock.er);
      }
    }
    const node = new IsoDirNode('', 0, 0, this.#devNum, dot.size);
    this.#applyInode(node, dot, rock);
    return node;
  }

  #printER: ((id: string) => void) | null = null;
  setErPrinter(f: (id: string) => void): void {
    this.#printER = f;
  }

  /** Inode fields from a record (isofs_read_inode), then Rock Ridge overrides. */
  #applyInode(node: FsNode, rec: DirRecord, rock: RockInfo): void {
    const opt = this.#opt;
    const isDir = (rec.flags & FLAG_DIRECTORY) !== 0;
    node.mode = isDir ? (opt.dmode ?? 0o555) : (opt.fmode ?? 0o555);
    node.nlink = 1;
    node.uid = opt.uid;
    node.gid = opt.gid;
    node.mtime = rec.date;
    if (this.rock) {
      if (rock.mode !== null) node.mode = rock.mode & 0o7777;
      if (rock.nlink !== null) node.nlink = rock.nlink;
      if (rock.uid !== null) node.uid = rock.uid;
      if (rock.gid !== null) node.gid = rock.gid;
      if (rock.mtime !== null) node.mtime = rock.mtime;
      if (opt.uidSet) node.uid = opt.uid;
      if (opt.gidSet) node.gid = opt.gid;
    }
    if (opt.overriderockperm) {
      if (node instanceof DirNode && opt.dmode !== null) node.mode = opt.dmode;
      if (node instanceof FileNode && opt.fmode !== null) node.mode = opt.fmode;
    }
  }

  /** Every record of a directory extent (do_isofs_readdir's walk), "." and ".." included. */
  async #records(rec: DirRecord): Promise<DirRecord[]> {
    const blocks = Math.ceil(rec.size / ISOFS_BLOCK_SIZE);
    if (blocks === 0) return [];
    const data = await this.read(rec.extent + rec.extAttrLength, Math.min(blocks, 4096));
    const out: DirRecord[] = [];
    let off = 0;
    while (off < Math.min(rec.size, data.length)) {
      const len = data[off] ?? 0;
      if (len === 0) {
        off = (Math.floor(off / ISOFS_BLOCK_SIZE) + 1) * ISOFS_BLOCK_SIZE;
        continue;
      }
      if (len < 34 || off + len > data.length) break;
      out.push(parseRecord(data.subarray(off, off + len)));
      off += len;
    }
    return out;
  }

  async #fillDir(dir: DirNode, rec: DirRecord, depth: number): Promise<void> {
    if (depth > MAX_DIR_DEPTH || ++this.#dirs > 100_000) return;
    const recs = await this.#records(rec);
    let multi: DirRecord[] = [];
    for (const r of recs.slice(2)) {
      if (r.flags & FLAG_MULTI_EXTENT) {
        multi.push(r);
        continue;
      }
      const sections = [...multi, r];
      multi = [];
      const first = sections[0]!;
      if (first.flags & FLAG_ASSOCIATED && !this.#opt.showassoc) continue;
      if (first.flags & FLAG_HIDDEN && this.#opt.hide) continue;
      const rock = this.rock ? await parseRock(first.bytes.subarray(first.suOffset + this.#spSkip), this.read) : emptyRock();
      if (rock.relocated) continue;
      const name = this.#name(first, rock);
      if (name === '' || name === '.' || name === '..' || dir.children.has(name)) continue;
      const node = await this.#makeNode(name, first, sections, rock, depth);
      if (node) dir.add(node).dev = this.#devNum;
    }
  }

  #name(rec: DirRecord, rock: RockInfo): string {
    if (this.rock && rock.name !== null) return rock.name;
    if (this.jolietLevel) return jolietName(rec.name);
    if (this.#opt.map === 'n') return isofsNameTranslate(rec.name);
    return latin1(rec.name).replace(/\0.*$/, '');
  }

  async #makeNode(name: string, rec: DirRecord, sections: DirRecord[], rock: RockInfo, depth: number): Promise<FsNode | null> {
    const fmt = this.rock && rock.mode !== null ? rock.mode & S_IFMT : (rec.flags & FLAG_DIRECTORY ? S_IFDIR : 0);
    if (rock.childLink !== null) {
      // CL: the directory's contents (and its "." inode) live at the relocated extent.
      const blk = await this.read(rock.childLink, 1);
      const dotLen = blk[0] ?? 0;
      if (dotLen < 34) return null;
      const dot = parseRecord(blk.subarray(0, dotLen));
      const dotRock = await parseRock(dot.bytes.subarray(dot.suOffset + this.#spSkip), this.read);
      const d = new IsoDirNode(name, 0, 0, this.#devNum, dot.size);
      this.#applyInode(d, dot, dotRock);
      await this.#fillDir(d, dot, depth + 1);
      return d;
    }
    if (fmt === S_IFDIR) {
      const d = new IsoDirNode(name, 0, 0, this.#devNum, rec.size);
      this.#applyInode(d, rec, rock);
      await this.#fillDir(d, rec, depth + 1);
      return d;
    }
    if (fmt === S_IFLNK && rock.symlink !== null) {
      const l = new LinkNode(name, rock.symlink, 0, this.#devNum);
      this.#applyInode(l, rec, rock);
      return l;
    }
    if ((fmt === S_IFCHR || fmt === S_IFBLK) && rock.rdev) {
      const d = new DevNode(name, fmt === S_IFCHR ? 'chr' : 'blk', rock.rdev.major, rock.rdev.minor, 0, 0, this.#devNum);
      this.#applyInode(d, rec, rock);
      return d;
    }
    let size = sections.reduce((s, r) => s + r.size, 0);
    if (this.#opt.cruft) size &= 0x00ffffff;
    if (rec.bytes[26]) size = 0; // interleaved files are not supported
    const extents = sections.map((r) => ({ block: r.extent + r.extAttrLength, size: this.#opt.cruft ? r.size & 0x00ffffff : r.size }));
    const f = new FileNode(name, 0, 0, this.#devNum, () => this.#fileOps(extents, size), size);
    // isofs reports i_blocks as (size + 511) >> 9.
    f.blocks = Math.ceil(size / 512);
    this.#applyInode(f, rec, rock);
    return f;
  }

  /** generic_ro_fops over the file's extents: reads whole blocks through the block cache. */
  #fileOps(extents: readonly { block: number; size: number }[], size: number): FileOps {
    return {
      read: async (pos, len) => {
        const end = Math.min(size, pos + len);
        if (pos >= end) return new Uint8Array(0);
        const out = new Uint8Array(end - pos);
        let base = 0;
        for (const ext of extents) {
          const lo = Math.max(pos, base);
          const hi = Math.min(end, base + ext.size);
          if (lo < hi) {
            const firstBlk = Math.floor((lo - base) / ISOFS_BLOCK_SIZE);
            const lastBlk = Math.floor((hi - base - 1) / ISOFS_BLOCK_SIZE);
            const data = await this.read(ext.block + firstBlk, lastBlk - firstBlk + 1);
            const from = lo - base - firstBlk * ISOFS_BLOCK_SIZE;
            out.set(data.subarray(from, from + (hi - lo)), lo - pos);
          }
          base += ext.size;
        }
        return out;
      },
      size: () => size,
    };
  }

  /** isofs_show_options: the filesystem's part of a /proc/mounts line. */
  showOptions(): string {
    const o = this.#opt;
    let s = '';
    if (!this.rock) s += ',norock';
    else if (!this.jolietLevel) s += ',nojoliet';
    if (o.cruft) s += ',cruft';
    if (o.hide) s += ',hide';
    if (o.showassoc) s += ',showassoc';
    if (o.overriderockperm) s += ',overriderockperm';
    s += `,check=${this.check}`;
    s += `,map=${o.map}`;
    if (o.session !== -1) s += `,session=${o.session - 1}`;
    if (o.sbsector !== -1) s += `,sbsector=${o.sbsector}`;
    s += `,blocksize=${ISOFS_BLOCK_SIZE}`;
    if (o.uidSet) s += `,uid=${o.uid}`;
    if (o.gidSet) s += `,gid=${o.gid}`;
    if (o.dmode !== null) s += `,dmode=${o.dmode.toString(8)}`;
    if (o.fmode !== null) s += `,mode=${o.fmode.toString(8)}`;
    if (this.nlsLoaded) s += `,iocharset=${o.iocharset ?? 'utf8'}`;
    else if (o.utf8) s += ',utf8';
    return s;
  }

  async kill(): Promise<void> {
    this.#cache.clear();
    await this.#dev.release?.();
  }
}

/**
 * The `iso9660` filesystem type (isofs_mount → mount_bdev → isofs_fill_super). Register it with
 * `vfs.registerFilesystem('iso9660', isofsMount({ openDevice: (n, f) => vfs.openNode(n, f), printk }))`.
 */
export function isofsMount(env: IsofsEnv): MountFn {
  return async (source, flags, data) => {
    // mount_bdev: the source must name a block device.
    if (!source) throw new Errno('ENOENT');
    if (!(source instanceof DevNode) || source.kind !== 'blk') throw new Errno('ENOTBLK');
    const opt = parseIsofsOptions(data);
    if (!opt) throw new Errno('EINVAL');
    const readOnly = (flags & MS_RDONLY) !== 0;
    const dev = await env.openDevice(source, readOnly ? O_RDONLY : O_RDWR);
    // We don't support read-write mounts.
    if (!readOnly) {
      await dev.release?.();
      throw new Errno('EACCES');
    }
    const sb = new IsofsSuper(dev, (source.major << 8) | source.minor, opt);
    // rock.c prints the ER identifier on its own line after a bare prefix (printk + KERN_CONT).
    sb.setErPrinter((id) => env.printk(KERN_DEBUG, `ISO 9660 Extensions: ${id}`));
    try {
      await sb.fill(env.printk, (flags & MS_SILENT) !== 0);
    } catch (e) {
      await dev.release?.();
      throw e;
    }
    return sb;
  };
}
