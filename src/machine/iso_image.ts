// Ours: a small ISO 9660 image writer — primary descriptor, optional Joliet supplementary descriptor
// and Rock Ridge, one level of directories. `npm start` builds the seed machine's CD with it; tests
// use it to round-trip volume ids, dates, names, modes and contents through isofs and libblkid.

const SECTOR = 2048;

export interface IsoEntry {
  readonly name: string;
  /** File contents, or the entries of a directory. */
  readonly data?: Uint8Array;
  readonly entries?: readonly IsoEntry[];
  /** Rock Ridge permission bits (default 0o444 files, 0o555 dirs). */
  readonly mode?: number;
}

export interface IsoSpec {
  readonly volumeId: string;
  /** 16 digits YYYYMMDDhhmmsscc for the creation / modification dates (modification defaults to creation). */
  readonly created: string;
  readonly modified?: string;
  readonly dataPreparer?: string;
  /** Seconds since the epoch for every record's date (UTC, offset 0). */
  readonly mtime: number;
  readonly rockRidge?: boolean;
  readonly joliet?: boolean;
  readonly entries: readonly IsoEntry[];
}

function both16(v: number): number[] {
  return [v & 0xff, (v >> 8) & 0xff, (v >> 8) & 0xff, v & 0xff];
}
function both32(v: number): number[] {
  const le = [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
  return [...le, ...[...le].reverse()];
}
function date7(t: number): number[] {
  const d = new Date(t * 1000);
  return [d.getUTCFullYear() - 1900, d.getUTCMonth() + 1, d.getUTCDate(), d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds(), 0];
}
function ascii(s: string, len: number, pad = 0x20): number[] {
  const out = new Array<number>(len).fill(pad);
  for (let i = 0; i < Math.min(len, s.length); i++) out[i] = s.charCodeAt(i);
  return out;
}
function ucs2(s: string, len: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < len / 2; i++) {
    const c = i < s.length ? s.charCodeAt(i) : 0x20;
    out.push(c >> 8, c & 0xff);
  }
  return out;
}
function ucs2Name(s: string): number[] {
  return [...s].flatMap((c) => [c.charCodeAt(0) >> 8, c.charCodeAt(0) & 0xff]);
}

interface Placed {
  readonly entry: IsoEntry;
  sector: number;
  size: number;
  jSector: number;
  children: Placed[];
}

function isoName(e: IsoEntry): number[] {
  const up = e.name.toUpperCase().replace(/[^A-Z0-9_.]/g, '_');
  return [...(e.entries ? up : `${up};1`)].map((c) => c.charCodeAt(0));
}

function record(name: number[], sector: number, size: number, flags: number, mtime: number, su: number[] = []): number[] {
  const pad = name.length % 2 === 0 ? [0] : [];
  const len = 33 + name.length + pad.length + su.length;
  const r = [len + (len % 2), 0, ...both32(sector), ...both32(size), ...date7(mtime), flags, 0, 0, ...both16(1), name.length, ...name, ...pad, ...su];
  if (r.length % 2) r.push(0);
  return r;
}

function rrEntries(mode: number, nlink: number, mtime: number, name: string | null): number[] {
  const px = [0x50, 0x58, 36, 1, ...both32(mode), ...both32(nlink), ...both32(0), ...both32(0)];
  const tf = [0x54, 0x46, 12, 1, 0x02, ...date7(mtime)];
  const nm = name === null ? [] : [0x4e, 0x4d, 5 + name.length, 1, 0, ...[...name].map((c) => c.charCodeAt(0))];
  return [...px, ...tf, ...nm];
}

/** Builds the image bytes. */
export function buildIso(spec: IsoSpec): Uint8Array {
  const rr = spec.rockRidge ?? false;
  const joliet = spec.joliet ?? false;
  // Sectors: 16 PVD, 17 SVD (Joliet), then terminator, then directories, then file data.
  let next = 17 + (joliet ? 1 : 0) + 1;
  const place = (e: IsoEntry): Placed => ({ entry: e, sector: 0, size: 0, jSector: 0, children: (e.entries ?? []).map(place) });
  const root = place({ name: '', entries: spec.entries });
  const dirs: Placed[] = [];
  const walk = (p: Placed): void => {
    dirs.push(p);
    p.children.filter((c) => c.entry.entries).forEach(walk);
  };
  walk(root);
  for (const d of dirs) {
    d.sector = next++;
    d.size = SECTOR;
  }
  if (joliet) for (const d of dirs) d.jSector = next++;
  const files: Placed[] = [];
  for (const d of dirs) for (const c of d.children) if (!c.entry.entries) files.push(c);
  for (const f of files) {
    f.size = f.entry.data!.length;
    f.sector = next;
    f.jSector = next;
    next += Math.max(1, Math.ceil(f.size / SECTOR));
  }
  const img = new Uint8Array(next * SECTOR);
  const put = (sector: number, bytes: number[], off = 0): void => img.set(bytes, sector * SECTOR + off);

  const dirBlock = (d: Placed, parent: Placed, useJoliet: boolean): number[] => {
    const sec = useJoliet ? d.jSector : d.sector;
    const psec = useJoliet ? parent.jSector : parent.sector;
    const subdirs = d.children.filter((c) => c.entry.entries).length;
    let dotSu: number[] = [];
    if (rr && !useJoliet) {
      dotSu = rrEntries(0o40000 | (d.entry.mode ?? 0o555), 2 + subdirs, spec.mtime, null);
      if (d === root) {
        const er = [0x45, 0x52, 8 + 10, 1, 10, 0, 0, 1, ...[...'RRIP_1991A'].map((c) => c.charCodeAt(0))];
        dotSu = [0x53, 0x50, 7, 1, 0xbe, 0xef, 0, ...er, ...dotSu];
      }
    }
    const out = [...record([0], sec, SECTOR, 2, spec.mtime, dotSu), ...record([1], psec, SECTOR, 2, spec.mtime)];
    for (const c of d.children) {
      const isDir = c.entry.entries !== undefined;
      const name = useJoliet ? ucs2Name(isDir ? c.entry.name : `${c.entry.name};1`) : isoName(c.entry);
      const su =
        rr && !useJoliet
          ? rrEntries((isDir ? 0o40000 : 0o100000) | (c.entry.mode ?? (isDir ? 0o555 : 0o444)), isDir ? 2 + c.children.filter((x) => x.entry.entries).length : 1, spec.mtime, c.entry.name)
          : [];
      out.push(...record(name, useJoliet ? c.jSector : c.sector, isDir ? SECTOR : c.size, isDir ? 2 : 0, spec.mtime, su));
    }
    if (out.length > SECTOR) throw new Error('directory too large for the test writer');
    return out;
  };
  const parentOf = (d: Placed): Placed => dirs.find((p) => p.children.includes(d)) ?? root;
  for (const d of dirs) put(d.sector, dirBlock(d, parentOf(d), false));
  if (joliet) for (const d of dirs) put(d.jSector, dirBlock(d, parentOf(d), true));
  for (const f of files) img.set(f.entry.data!, f.sector * SECTOR);

  const created = [...spec.created].map((c) => c.charCodeAt(0));
  const modified = [...(spec.modified ?? spec.created)].map((c) => c.charCodeAt(0));
  const vd = (type: number, j: boolean): number[] => {
    const b = new Array<number>(SECTOR).fill(0);
    const set = (off: number, bytes: number[]): void => bytes.forEach((x, i) => (b[off + i] = x));
    set(0, [type, ...ascii('CD001', 5), 1]);
    set(8, j ? ucs2('', 32) : ascii('', 32));
    set(40, j ? ucs2(spec.volumeId, 32) : ascii(spec.volumeId, 32));
    set(80, both32(next));
    if (j) set(88, [0x25, 0x2f, 0x45]);
    set(120, both16(1));
    set(124, both16(1));
    set(128, both16(SECTOR));
    set(156, record([0], j ? root.jSector : root.sector, SECTOR, 2, spec.mtime).slice(0, 34));
    for (const off of [190, 318, 574]) set(off, j ? ucs2('', 128) : ascii('', 128));
    set(446, j ? ucs2(spec.dataPreparer ?? '', 128) : ascii(spec.dataPreparer ?? '', 128));
    for (const off of [702, 739, 776]) set(off, j ? ucs2('', 37) : ascii('', 37));
    set(813, [...created, 0]);
    set(830, [...modified, 0]);
    set(847, [...ascii('0000000000000000', 16), 0]);
    set(864, [...ascii('0000000000000000', 16), 0]);
    set(881, [1]);
    return b;
  };
  put(16, vd(1, false));
  if (joliet) put(17, vd(2, true));
  put(17 + (joliet ? 1 : 0), [255, ...ascii('CD001', 5), 1]);
  return img;
}
