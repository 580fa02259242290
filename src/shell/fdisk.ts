// Models util-linux/fdisk.c + fdisk_gpt.c (busybox 1.36, DOS and GPT labels; no Sun/SGI/AIX/OSF):
// `fdisk -l [DISK]...` lists the geometry and partition table of each disk (of every whole disk in
// /proc/partitions when none is named), `fdisk -s DEV...` prints sizes in KiB, and `fdisk DISK`
// reads the label, prompts for a command and ends as at the end of input (the command loop that
// edits a table is not modelled).
//
// Geometry: heads/sectors come from the partition table's CHS end fields when they agree, else from
// HDIO_GETGEO, else 255/63; cylinders = sectors / (heads * sectors-per-track * sector-size/512).

import type { Errno } from '../kernel/errno.ts';
import { isErrno } from '../kernel/errno.ts';
import type { Syscalls } from '../kernel/syscalls.ts';
import { O_RDONLY, O_RDWR } from '../kernel/syscalls.ts';
import { BLKGETSIZE, BLKGETSIZE64, BLKSSZGET, HDIO_GETGEO, ioctlValue } from '../kernel/uapi/fs.ts';
import type { HdGeometry } from '../kernel/uapi/fs.ts';
import type { Process } from './process.ts';
import { Out, err, getopt, positiveArg, readFile, resolvePath, showUsage } from './applet.ts';

const USAGE = '[-uls] [-C CYLINDERS] [-H HEADS] [-S SECTORS] [-b SSZ] DISK';
const DEFAULT_SECTOR_SIZE = 512;
const MAXIMUM_PARTS = 60;
const PART_TABLE_OFFSET = 0x1be;
const PART_ENTRY_SIZE = 16;
const GPT_MAGIC = 'EFI PART';
const LEGACY_GPT_TYPE = 0xee;
const GPT_MAX_PARTS = 256;
const GPT_MAX_PART_ENTRY_LEN = 4096;

/** i386_sys_types: the DOS partition type names this busybox knows. */
const SYS_TYPES: ReadonlyMap<number, string> = new Map([
  [0x00, 'Empty'],
  [0x01, 'FAT12'],
  [0x04, 'FAT16 <32M'],
  [0x05, 'Extended'],
  [0x06, 'FAT16'],
  [0x07, 'HPFS/NTFS'],
  [0x0a, 'OS/2 Boot Manager'],
  [0x0b, 'Win95 FAT32'],
  [0x0c, 'Win95 FAT32 (LBA)'],
  [0x0e, 'Win95 FAT16 (LBA)'],
  [0x0f, "Win95 Ext'd (LBA)"],
  [0x11, 'Hidden FAT12'],
  [0x12, 'Compaq diagnostics'],
  [0x14, 'Hidden FAT16 <32M'],
  [0x16, 'Hidden FAT16'],
  [0x17, 'Hidden HPFS/NTFS'],
  [0x1b, 'Hidden Win95 FAT32'],
  [0x1c, 'Hidden W95 FAT32 (LBA)'],
  [0x1e, 'Hidden W95 FAT16 (LBA)'],
  [0x3c, 'Part.Magic recovery'],
  [0x41, 'PPC PReP Boot'],
  [0x42, 'SFS'],
  [0x63, 'GNU HURD or SysV'],
  [0x80, 'Old Minix'],
  [0x81, 'Minix / old Linux'],
  [0x82, 'Linux swap'],
  [0x83, 'Linux'],
  [0x84, 'OS/2 hidden C: drive'],
  [0x85, 'Linux extended'],
  [0x86, 'NTFS volume set'],
  [0x87, 'NTFS volume set'],
  [0x8e, 'Linux LVM'],
  [0x9f, 'BSD/OS'],
  [0xa0, 'Thinkpad hibernation'],
  [0xa5, 'FreeBSD'],
  [0xa6, 'OpenBSD'],
  [0xa8, 'Darwin UFS'],
  [0xa9, 'NetBSD'],
  [0xab, 'Darwin boot'],
  [0xaf, 'HFS / HFS+'],
  [0xb7, 'BSDI fs'],
  [0xb8, 'BSDI swap'],
  [0xbe, 'Solaris boot'],
  [0xeb, 'BeOS fs'],
  [0xee, 'EFI GPT'],
  [0xef, 'EFI (FAT-12/16/32)'],
  [0xf0, 'Linux/PA-RISC boot'],
  [0xf2, 'DOS secondary'],
  [0xf8, 'EBBR protective'],
  [0xfd, 'Linux raid autodetect'],
]);

const isExtended = (t: number): boolean => t === 0x05 || t === 0x0f || t === 0x85;

/** One 16-byte DOS partition entry inside a sector buffer. */
class Entry {
  readonly buf: Uint8Array;
  readonly at: number;
  constructor(buf: Uint8Array, at: number) {
    this.buf = buf;
    this.at = at;
  }
  #u8(o: number): number {
    return this.buf[this.at + o] ?? 0;
  }
  #u32(o: number): number {
    return (this.#u8(o) | (this.#u8(o + 1) << 8) | (this.#u8(o + 2) << 16) | (this.#u8(o + 3) << 24)) >>> 0;
  }
  get bootInd(): number { return this.#u8(0); }
  get head(): number { return this.#u8(1); }
  get sector(): number { return this.#u8(2); }
  get cyl(): number { return this.#u8(3); }
  get sysInd(): number { return this.#u8(4); }
  get endHead(): number { return this.#u8(5); }
  get endSector(): number { return this.#u8(6); }
  get endCyl(): number { return this.#u8(7); }
  get startSect(): number { return this.#u32(8); }
  get nrSects(): number { return this.#u32(12); }
  isCleared(): boolean {
    for (let i = 0; i < PART_ENTRY_SIZE; i++) if (this.#u8(i) !== 0) return false;
    return true;
  }
  next(): Entry {
    return new Entry(this.buf, this.at + PART_ENTRY_SIZE);
  }
}

const ptOffset = (buf: Uint8Array, n: number): Entry => new Entry(buf, PART_TABLE_OFFSET + n * PART_ENTRY_SIZE);
const validPartTableFlag = (b: Uint8Array): boolean => b[510] === 0x55 && b[511] === 0xaa;
const cylinderOf = (s: number, c: number): number => c | ((s & 0xc0) << 2);

/** struct pte: a partition table entry, the sector it lives in and that sector's disk offset. */
interface Pte {
  partTable: Entry | null;
  extPointer: Entry | null;
  offsetFromDevStart: number;
  sectorBuffer: Uint8Array;
}

/** The listing was abandoned (fdisk_fatal while listing: longjmp back, nothing printed). */
class ListingAbort {}

/** A fatal error outside listing: `fdisk: MSG` and exit 1. */
class Fatal {
  readonly msg: string;
  constructor(msg: string) {
    this.msg = msg;
  }
}

interface Options {
  readonly listing: boolean;
  readonly nowarn: boolean;
  readonly userSectorSize: number | null;
  readonly userCylinders: number;
  readonly userHeads: number;
  readonly userSectors: number;
  readonly cylUnits: boolean;
}

type Label = 'dos' | 'gpt';

interface GptInfo {
  readonly header: Uint8Array;
  readonly parts: Uint8Array;
  readonly nParts: number;
  readonly entryLen: number;
}

/** Everything fdisk knows about the disk it has open (its globals). */
class Disk {
  readonly sys: Syscalls;
  readonly o: Out;
  readonly opts: Options;
  /** The name as given (what fdisk prints) and the path opened. */
  readonly device: string;
  readonly path: string;
  fd = -1;
  sectorSize = DEFAULT_SECTOR_SIZE;
  heads = 0;
  sectors = 0;
  cylinders = 0;
  totalSectors = 0;
  unitsPerSector = 1;
  partitions = 4;
  extIndex = 0;
  extendedOffset = 0;
  label: Label = 'dos';
  gpt: GptInfo | null = null;
  mbr: Uint8Array = new Uint8Array(DEFAULT_SECTOR_SIZE);
  readonly ptes: Pte[] = [];

  constructor(p: Process, o: Out, opts: Options, device: string) {
    this.sys = p.sys;
    this.o = o;
    this.opts = opts;
    this.device = device;
    this.path = resolvePath(p.cwd, device);
  }

  fatal(what: 'open' | 'read' | 'seek'): never {
    if (this.opts.listing) throw new ListingAbort();
    throw new Fatal(`can't ${what} '${this.device}'`);
  }

  /** full_read at a byte offset: short only at the end of the device. */
  async readAt(offset: number, length: number): Promise<Uint8Array> {
    const out = new Uint8Array(length);
    let got = 0;
    while (got < length) {
      const b = await this.sys.read(this.fd, length - got, offset + got);
      if (b.length === 0) break;
      out.set(b, got);
      got += b.length;
    }
    return got === length ? out : out.subarray(0, got);
  }

  async readPte(offset: number): Promise<Pte> {
    let buf: Uint8Array;
    try {
      buf = await this.readAt(offset * this.sectorSize, this.sectorSize);
    } catch (e) {
      if (!isErrno(e)) throw e;
      this.fatal('read');
    }
    if (buf.length !== this.sectorSize) this.fatal('read');
    return { partTable: null, extPointer: null, offsetFromDevStart: offset, sectorBuffer: buf };
  }

  async ioctlNumber(request: number): Promise<number | null> {
    try {
      return ioctlValue(await this.sys.ioctl(this.fd, request));
    } catch (e) {
      if (!isErrno(e)) throw e;
      return null;
    }
  }

  // ---- get_geometry ----

  async getGeometry(): Promise<void> {
    if (this.opts.userSectorSize === null) {
      const ss = await this.ioctlNumber(BLKSSZGET);
      if (ss !== null) this.sectorSize = ss;
      if (this.sectorSize !== DEFAULT_SECTOR_SIZE) this.o.print(`Note: sector size is ${this.sectorSize} (not ${DEFAULT_SECTOR_SIZE})\n`);
    } else this.sectorSize = this.opts.userSectorSize;
    const secFac = this.sectorSize / 512;
    let kernHeads = 0;
    let kernSectors = 0;
    try {
      const g = (await this.sys.ioctl(this.fd, HDIO_GETGEO)) as HdGeometry | undefined;
      if (g && typeof g === 'object') {
        kernHeads = g.heads;
        kernSectors = g.sectors;
      }
    } catch (e) {
      if (!isErrno(e)) throw e;
    }
    const [ptHeads, ptSectors] = this.partitionTableGeometry();
    const o = this.opts;
    this.heads = o.userHeads || ptHeads || kernHeads || 255;
    this.sectors = o.userSectors || ptSectors || kernSectors || 63;
    this.totalSectors = await this.blkGetSizeSectors();
    this.cylinders = Math.floor(this.totalSectors / (this.heads * this.sectors * secFac));
    if (this.cylinders === 0) this.cylinders = o.userCylinders;
  }

  /** Heads and sectors per track from the CHS end of the primary entries, when they all agree. */
  partitionTableGeometry(): [number, number] {
    if (!validPartTableFlag(this.mbr)) return [0, 0];
    let hh = 0;
    let ss = 0;
    let first = true;
    for (let i = 0; i < 4; i++) {
      const p = ptOffset(this.mbr, i);
      if (p.sysInd === 0) continue;
      const h = p.endHead + 1;
      const s = p.endSector & 0o77;
      if (first) {
        hh = h;
        ss = s;
        first = false;
      } else if (hh !== h || ss !== s) return [0, 0];
    }
    return first ? [0, 0] : [hh, ss];
  }

  /** bb_BLKGETSIZE_sectors: the size in 512-byte sectors (BLKGETSIZE64, else BLKGETSIZE, else lseek). */
  async blkGetSizeSectors(): Promise<number> {
    const bytes = await this.ioctlNumber(BLKGETSIZE64);
    if (bytes !== null) return Math.floor(bytes / 512);
    const sects = await this.ioctlNumber(BLKGETSIZE);
    if (sects !== null) return sects;
    try {
      const sz = await this.sys.lseek(this.fd, 0, 2);
      await this.sys.lseek(this.fd, 0, 0);
      return sz > 0 ? Math.floor(sz / this.sectorSize) : 0;
    } catch {
      return 0;
    }
  }

  // ---- get_boot ----

  /** Opens the disk and reads its label: 1 = could not open/read, -1 = no DOS signature, 0 = a label. */
  async getBoot(): Promise<{ rc: 1; errno: Errno | null } | { rc: -1 | 0 }> {
    try {
      this.fd = await this.sys.open(this.path, this.opts.listing ? O_RDONLY : O_RDWR);
    } catch (e) {
      if (!isErrno(e)) throw e;
      try {
        this.fd = await this.sys.open(this.path, O_RDONLY);
      } catch (e2) {
        if (!isErrno(e2)) throw e2;
        if (this.opts.listing) return { rc: 1, errno: e2 };
        this.fatal('open');
      }
      this.o.print(`'${this.device}' is opened for read only\n`);
    }
    let mbr: Uint8Array;
    try {
      mbr = await this.readAt(0, 512);
    } catch (e) {
      if (!isErrno(e)) throw e;
      if (this.opts.listing) return { rc: 1, errno: e };
      this.fatal('read');
    }
    if (mbr.length !== 512) {
      if (this.opts.listing) return { rc: 1, errno: null };
      this.fatal('read');
    }
    this.mbr = mbr;
    for (let i = 0; i < 4; i++) this.ptes[i] = { partTable: ptOffset(mbr, i), extPointer: null, offsetFromDevStart: 0, sectorBuffer: mbr };
    this.partitions = 4;

    await this.getGeometry();
    this.unitsPerSector = this.opts.cylUnits && this.heads * this.sectors ? this.heads * this.sectors : 1;

    if (await this.checkGptLabel()) return { rc: 0 };
    if (!validPartTableFlag(mbr)) {
      if (this.opts.listing) return { rc: -1 };
      this.o.print('Device contains neither a valid DOS partition table, nor Sun, SGI, OSF or GPT disklabel\n');
      this.createDosLabel();
      return { rc: 0 };
    }
    this.afterTable();
    for (let i = 0; i < 4; i++) {
      if (!isExtended(this.ptes[i]!.partTable!.sysInd)) continue;
      if (this.partitions !== 4) this.o.print(`Ignoring extra extended partition ${i + 1}\n`);
      else await this.readExtended(i);
    }
    for (let i = 3; i < this.partitions; i++) {
      const b = this.ptes[i]!.sectorBuffer;
      if (!validPartTableFlag(b)) {
        const hex = (n: number): string => n.toString(16).padStart(2, '0');
        this.o.print(`Warning: invalid flag 0x${hex(b[510] ?? 0)},0x${hex(b[511] ?? 0)} of partition table ${i + 1} will be corrected by w(rite)\n`);
      }
    }
    return { rc: 0 };
  }

  /** warn_cylinders + warn_geometry, after a table was found or made. */
  afterTable(): void {
    if (this.label === 'dos' && this.cylinders > 1024 && !this.opts.nowarn) {
      this.o.print(
        `\nThe number of cylinders for this disk is set to ${this.cylinders}.\n` +
          'There is nothing wrong with that, but this is larger than 1024,\n' +
          'and could in certain setups cause problems with:\n' +
          '1) software that runs at boot time (e.g., old versions of LILO)\n' +
          '2) booting and partitioning software from other OSs\n' +
          '   (e.g., DOS FDISK, OS/2 FDISK)\n',
      );
    }
    if (this.heads && this.sectors && this.cylinders) return;
    let s = 'Unknown value(s) for:';
    if (!this.heads) s += ' heads';
    if (!this.sectors) s += ' sectors';
    if (!this.cylinders) s += ' cylinders';
    this.o.print(`${s} (settable in the extra functions menu)\n`);
  }

  /** create_doslabel: an empty table in memory (the command loop would write it with `w`). */
  createDosLabel(): void {
    this.o.print(
      'Building a new DOS disklabel. Changes will remain in memory only,\n' +
        'until you decide to write them. After that the previous content\n' +
        "won't be recoverable.\n\n",
    );
    this.label = 'dos';
    this.partitions = 4;
    const mbr = this.mbr.slice();
    mbr.fill(0, 510 - 4 * 16, 510);
    mbr[510] = 0x55;
    mbr[511] = 0xaa;
    this.mbr = mbr;
    this.extendedOffset = 0;
    for (let i = 0; i < 4; i++) this.ptes[i] = { partTable: ptOffset(mbr, i), extPointer: null, offsetFromDevStart: 0, sectorBuffer: mbr };
    this.afterTable();
  }

  async readExtended(ext: number): Promise<void> {
    this.extIndex = ext;
    const pex = this.ptes[ext]!;
    pex.extPointer = pex.partTable;
    let p = pex.partTable!;
    if (!p.startSect) {
      this.o.print('Bad offset in primary extended partition\n');
      return;
    }
    while (isExtended(p.sysInd)) {
      if (this.partitions >= MAXIMUM_PARTS) {
        this.o.print(`Warning: deleting partitions after ${this.partitions}\n`);
        return;
      }
      const pe = await this.readPte(this.extendedOffset + p.startSect);
      this.ptes[this.partitions] = pe;
      if (!this.extendedOffset) this.extendedOffset = p.startSect;
      const q = ptOffset(pe.sectorBuffer, 0);
      let e = q;
      for (let i = 0; i < 4; i++, e = e.next()) {
        if (!e.nrSects) continue;
        if (isExtended(e.sysInd)) {
          if (pe.extPointer) this.o.print(`Warning: extra link pointer in partition table ${this.partitions + 1}\n`);
          else pe.extPointer = e;
        } else if (e.sysInd) {
          if (pe.partTable) this.o.print(`Warning: ignoring extra data in partition table ${this.partitions + 1}\n`);
          else pe.partTable = e;
        }
      }
      if (!pe.partTable) pe.partTable = pe.extPointer?.at === q.at ? q.next() : q;
      if (!pe.extPointer) pe.extPointer = pe.partTable.at === q.at ? q.next() : q;
      p = pe.extPointer;
      this.partitions++;
    }
    // Remove empty links (renumbering what follows).
    for (let i = 4; i < this.partitions; i++) {
      const pe = this.ptes[i]!;
      if (!pe.partTable!.nrSects && (this.partitions > 5 || this.ptes[4]!.partTable!.sysInd)) {
        this.o.print(`Omitting empty partition (${i + 1})\n`);
        this.ptes.splice(i, 1);
        this.partitions--;
        i = 3;
      }
    }
  }

  // ---- GPT ----

  async checkGptLabel(): Promise<boolean> {
    const first = ptOffset(this.mbr, 0);
    if (!validPartTableFlag(this.mbr) || first.sysInd !== LEGACY_GPT_TYPE) {
      this.label = 'dos';
      return false;
    }
    const pe = await this.readPte(1);
    const h = pe.sectorBuffer;
    const dv = new DataView(h.buffer, h.byteOffset, h.byteLength);
    if (String.fromCharCode(...h.subarray(0, 8)) !== GPT_MAGIC) {
      this.label = 'dos';
      return false;
    }
    const hdrSize = dv.getUint32(12, true);
    const hdrCrc = dv.getUint32(16, true);
    const zeroed = h.slice();
    zeroed.fill(0, 16, 20);
    if (crc32(zeroed.subarray(0, Math.min(hdrSize, zeroed.length))) !== hdrCrc) this.o.print('\nwarning: GPT header CRC is invalid\n\n');
    const nParts = dv.getUint32(80, true);
    const entryLen = dv.getUint32(84, true);
    if (nParts > GPT_MAX_PARTS || entryLen > GPT_MAX_PART_ENTRY_LEN || hdrSize > this.sectorSize) {
      this.o.print('\nwarning: unable to parse GPT disklabel\n\n');
      this.label = 'dos';
      return false;
    }
    const arrayLen = nParts * entryLen;
    const firstPartLba = Number(dv.getBigUint64(72, true));
    let parts: Uint8Array;
    try {
      parts = await this.readAt(firstPartLba * this.sectorSize, arrayLen);
    } catch (e) {
      if (!isErrno(e)) throw e;
      this.fatal('read');
    }
    if (parts.length !== arrayLen) this.fatal('read');
    if (crc32(parts) !== dv.getUint32(88, true)) this.o.print('\nwarning: GPT array CRC is invalid\n\n');
    this.o.print('Found valid GPT with protective MBR; using GPT\n\n');
    this.label = 'gpt';
    this.gpt = { header: h, parts, nParts, entryLen };
    return true;
  }

  gptListTable(): void {
    const g = this.gpt!;
    const dv = new DataView(g.header.buffer, g.header.byteOffset, g.header.byteLength);
    const u64 = (v: DataView, o: number): bigint => v.getBigUint64(o, true);
    this.o.print(`Disk ${this.device}: ${this.totalSectors} sectors, ${smartUlltoa5(this.totalSectors * this.sectorSize, ' KMGTPEZY')}\n`);
    this.o.print(`Logical sector size: ${this.sectorSize}\n`);
    this.o.print(`Disk identifier (GUID): ${guidString(g.header.subarray(56, 72))}\n`);
    this.o.print(`Partition table holds up to ${dv.getUint32(80, true)} entries\n`);
    this.o.print(`First usable sector is ${u64(dv, 40)}, last usable sector is ${u64(dv, 48)}\n\n`);
    this.o.print('Number  Start (sector)    End (sector)  Size Name\n');
    for (let i = 0; i < g.nParts; i++) {
      const e = g.parts.subarray(i * g.entryLen, (i + 1) * g.entryLen);
      if (e.length < 128) break;
      const ev = new DataView(e.buffer, e.byteOffset, e.byteLength);
      const start = u64(ev, 32);
      const end = u64(ev, 40);
      if (start === 0n) continue;
      const size = smartUlltoa5(Number(1n + end - start) * this.sectorSize, ' KMGTPEZY');
      let name = '';
      for (let c = 0; c < 36; c++) {
        const ch = ev.getUint16(56 + 2 * c, true);
        if (ch === 0) break;
        name += ch >= 0x20 && ch < 0x7f ? String.fromCharCode(ch) : '?';
      }
      this.o.print(`${String(i + 1).padStart(6)} ${String(start).padStart(15)} ${String(end).padStart(15)} ${size} ${name}\n`);
    }
  }

  // ---- listing ----

  listDiskGeometry(): void {
    let xbytes = Math.floor(this.totalSectors / ((1024 * 1024) / 512));
    let x = 'M';
    if (xbytes >= 10000) {
      xbytes = Math.floor((xbytes + 512) / 1024);
      x = 'G';
    }
    const ss = this.sectorSize;
    this.o.print(
      `Disk ${this.device}: ${xbytes} ${x}B, ${this.totalSectors * 512} bytes, ${this.totalSectors} sectors\n` +
        `${this.cylinders} cylinders, ${this.heads} heads, ${this.sectors} sectors/track\n` +
        `Units: ${this.opts.cylUnits ? 'cylinder' : 'sector'}s of ${this.unitsPerSector} * ${ss} = ${this.unitsPerSector * ss} bytes\n\n`,
    );
  }

  startFromDevStart(pe: Pte): number {
    return pe.offsetFromDevStart + pe.partTable!.startSect;
  }

  listTable(): void {
    if (this.label === 'gpt') {
      this.gptListTable();
      return;
    }
    this.listDiskGeometry();
    let w = this.device.length;
    if (w && /\d$/.test(this.device)) w++;
    if (w < 7) w = 7;
    this.o.print(`${'Device'.padEnd(w - 1)} Boot StartCHS    EndCHS        StartLBA     EndLBA    Sectors  Size Id Type\n`);
    for (let i = 0; i < this.partitions; i++) {
      const pe = this.ptes[i]!;
      const p = pe.partTable;
      if (!p || p.isCleared()) continue;
      let boot = p.bootInd.toString(16).padStart(2, '0');
      if ((p.bootInd & 0x7f) === 0) boot = p.bootInd ? '* ' : '  ';
      const start = this.startFromDevStart(pe);
      const nr = p.nrSects;
      const end = nr !== 0 ? start + nr - 1 : start;
      const chs = (c: number, h: number, s: number): string => `${cylinderOf(s, c)},${h},${s & 0x3f}`.padEnd(11);
      this.o.print(
        `${partname(this.device, i + 1, w + 2)}${boot} ${chs(p.cyl, p.head, p.sector)} ${chs(p.endCyl, p.endHead, p.endSector)} ` +
          `${String(start).padStart(10)} ${String(end).padStart(10)} ${String(nr).padStart(10)} ` +
          `${smartUlltoa5(nr * this.sectorSize, ' KMGTPEZY')} ${p.sysInd.toString(16).padStart(2)} ${SYS_TYPES.get(p.sysInd) ?? 'Unknown'}\n`,
      );
      this.checkConsistency(p, i);
    }
    if (this.wrongPOrder()) this.o.print('\nPartition table entries are not in disk order\n');
  }

  linear2chs(ls: number): [number, number, number] {
    const spc = this.heads * this.sectors;
    const c = Math.floor(ls / spc);
    const r = ls % spc;
    return [c, Math.floor(r / this.sectors), (r % this.sectors) + 1];
  }

  checkConsistency(p: Entry, partition: number): void {
    if (!this.heads || !this.sectors || partition >= 4) return;
    const pb = [cylinderOf(p.sector, p.cyl), p.head, p.sector & 0x3f];
    const pe = [cylinderOf(p.endSector, p.endCyl), p.endHead, p.endSector & 0x3f];
    const lb = this.linear2chs(p.startSect);
    const le = this.linear2chs(p.startSect + p.nrSects - 1);
    const same = (a: readonly number[], b: readonly number[]): boolean => a[0] === b[0] && a[1] === b[1] && a[2] === b[2];
    if (this.cylinders <= 1024 && !same(pb, lb)) {
      this.o.print(`Partition ${partition + 1} has different physical/logical start (non-Linux?):\n`);
      this.o.print(`     phys=(${pb.join(',')}) logical=(${lb.join(',')})\n`);
    }
    if (this.cylinders <= 1024 && !same(pe, le)) {
      this.o.print(`Partition ${partition + 1} has different physical/logical end:\n`);
      this.o.print(`     phys=(${pe.join(',')}) logical=(${le.join(',')})\n`);
    }
  }

  wrongPOrder(): boolean {
    let last = 0;
    for (let i = 0; i < this.partitions; i++) {
      if (i === 4) last = 0;
      const pe = this.ptes[i]!;
      if (!pe.partTable!.sysInd) continue;
      const s = this.startFromDevStart(pe);
      if (last > s) return true;
      last = s;
    }
    return false;
  }

  async close(): Promise<void> {
    if (this.fd < 0) return;
    const fd = this.fd;
    this.fd = -1;
    await this.sys.close(fd).catch(() => undefined);
  }
}

/** partname: DEV + N (DEVpN when DEV ends in a digit), right-aligned to `lth` when given. */
function partname(dev: string, pno: number, lth: number): string {
  const p = /\d$/.test(dev) ? 'p' : '';
  const num = String(pno).padEnd(2);
  return lth ? dev.padStart(lth - p.length - 2) + p + num : dev + p + num;
}

/** smart_ulltoa5: a value in five characters ("12345", "63.0M", " 123G"). */
export function smartUlltoa5(value: number, scale: string): string {
  let ul = BigInt(Math.floor(value));
  let idx = 0;
  if (ul > 99999n) {
    ul *= 10n;
    do {
      ul /= 1024n;
      idx++;
    } while (ul >= 100000n);
  }
  let v = Number(ul);
  let u = Math.floor(v / 10);
  v %= 10;
  const lead = ' 123456789';
  const dig = '0123456789';
  let fmt = lead;
  const pick = (n: number): string => {
    const c = fmt[n]!;
    if (c !== ' ') fmt = dig;
    return c;
  };
  if (!idx) return pick(Math.floor(u / 1000)) + pick(Math.floor(u / 100) % 10) + pick(Math.floor(u / 10) % 10) + fmt[u % 10]! + dig[v]!;
  let s: string;
  if (u >= 100) {
    s = pick(Math.floor(u / 1000)) + pick(Math.floor(u / 100) % 10);
    v = u % 10;
    u = Math.floor(u / 10);
    s += fmt[u % 10]!;
  } else {
    s = pick(Math.floor(u / 10)) + fmt[u % 10]! + '.';
  }
  return s + dig[v]! + (scale[idx] ?? '?');
}

function guidString(b: Uint8Array): string {
  const h = (i: number): string => (b[i] ?? 0).toString(16).padStart(2, '0');
  const at = (...ix: number[]): string => ix.map(h).join('');
  return `${at(3, 2, 1, 0)}-${at(5, 4)}-${at(7, 6)}-${at(8, 9)}-${at(10, 11, 12, 13, 14, 15)}`;
}

let crcTable: Uint32Array | null = null;
function crc32(data: Uint8Array): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let crc = 0xffffffff;
  for (const x of data) crc = crcTable[(crc ^ x) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/** open_list_and_close: one disk of `fdisk -l`. */
async function listDisk(p: Process, o: Out, opts: Options, device: string, userSpecified: boolean): Promise<void> {
  const d = new Disk(p, o, opts, device);
  try {
    const gb = await d.getBoot();
    if (gb.rc === 1) {
      if (userSpecified || gb.errno?.code === 'EACCES') {
        await o.flush();
        await err(p, `fdisk: can't open '${device}'${gb.errno === null ? '' : `: ${gb.errno.message}`}\n`);
      }
      return;
    }
    if (gb.rc < 0) {
      d.listDiskGeometry();
      o.print(`Disk ${device} doesn't contain a valid partition table\n`);
    } else d.listTable();
  } catch (e) {
    if (!(e instanceof ListingAbort)) throw e;
  } finally {
    await d.close();
  }
}

/** is_whole_disk: HDIO_GETGEO's start is 0, or (without it) the name does not end in a digit. */
async function isWholeDisk(sys: Syscalls, dev: string): Promise<boolean> {
  try {
    const fd = await sys.open(dev, O_RDONLY);
    try {
      const g = (await sys.ioctl(fd, HDIO_GETGEO)) as HdGeometry | undefined;
      if (g && typeof g === 'object') return g.start === 0;
    } catch (e) {
      if (!isErrno(e)) throw e;
    } finally {
      await sys.close(fd).catch(() => undefined);
    }
  } catch (e) {
    if (!isErrno(e)) throw e;
  }
  return !/\d$/.test(dev);
}

export async function fdiskMain(p: Process): Promise<number> {
  const parsed = await getopt(p, 'fdisk', 'b:C:H:lS:us');
  if (!parsed) return showUsage(p, 'fdisk', USAGE);
  const num = async (c: string): Promise<number | null | undefined> => {
    const v = parsed.values.get(c);
    return v === undefined ? undefined : positiveArg(p, 'fdisk', v);
  };
  const b = await num('b');
  const C = await num('C');
  const H = await num('H');
  const S = await num('S');
  if (b === null || C === null || H === null || S === null) return 1;
  if (b !== undefined && (b < 512 || b > 0x10000 || (b & (b - 1)) !== 0)) return showUsage(p, 'fdisk', USAGE);
  const f = parsed.flags;
  const opts: Options = {
    listing: f.has('l'),
    nowarn: f.has('l') || f.has('s'),
    userSectorSize: b ?? null,
    userCylinders: C ?? 0,
    userHeads: H !== undefined && H > 0 && H < 256 ? H : 0,
    userSectors: S !== undefined && S > 0 && S < 64 ? S : 0,
    cylUnits: false,
  };
  const args = parsed.rest;
  const o = new Out(p, 'fdisk');

  if (opts.listing) {
    if (args.length > 0) {
      for (const a of args) await listDisk(p, o, opts, a, true);
    } else {
      let text: string;
      try {
        text = new TextDecoder().decode(await readFile(p.sys, '/proc/partitions'));
      } catch (e) {
        if (!isErrno(e)) throw e;
        await err(p, `fdisk: can't open '/proc/partitions': ${e.message}\n`);
        return 0;
      }
      for (const line of text.split('\n')) {
        const m = /^\s*(\d+)\s+(\d+)\s+(\d+)\s+(\S+)/.exec(line);
        if (!m) continue;
        const dev = `/dev/${m[4]!}`;
        if (await isWholeDisk(p.sys, dev)) await listDisk(p, o, opts, dev, false);
      }
    }
    await o.flush();
    return 0;
  }

  if (f.has('s')) {
    if (args.length === 0) return showUsage(p, 'fdisk', USAGE);
    for (const a of args) {
      const d = new Disk(p, o, opts, a);
      try {
        d.fd = await p.sys.open(d.path, O_RDONLY);
      } catch (e) {
        if (!isErrno(e)) throw e;
        await o.flush();
        await err(p, `fdisk: can't open '${a}': ${e.message}\n`);
        return 1;
      }
      const kib = Math.floor((await d.blkGetSizeSectors()) / 2);
      await d.close();
      o.print(args.length > 1 ? `${kib}\n` : `${a}: ${kib}\n`);
    }
    return (await o.flush()) ? 0 : 1;
  }

  // The command loop: after reading the label it prompts; at the end of input fdisk exits quietly.
  if (args.length !== 1) return showUsage(p, 'fdisk', USAGE);
  const d = new Disk(p, o, opts, args[0]!);
  try {
    await d.getBoot();
  } catch (e) {
    if (!(e instanceof Fatal)) throw e;
    await o.flush();
    await err(p, `fdisk: ${e.msg}\n`);
    return 1;
  } finally {
    await d.close();
  }
  o.print('\nCommand (m for help): ');
  return (await o.flush()) ? 0 : 1;
}
