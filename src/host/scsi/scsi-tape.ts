// Ours: scsi-tape — a sequential-access LU (SSC-3, peripheral device type 1) over a tape image file.
// QEMU 7.2 emulates no tape drive (a QEMU guest sees a tape only through scsi-generic passthrough);
// this device answers as a stand-alone drive does, so that Linux's st driver, mt and tar work on it.
// The image format is documented in docs/TAPE.md.
//
// Model. A cartridge is a list of logical objects — data blocks and filemarks — followed by end of
// data (EOD). The position is an index into that list: the logical object identifier READ POSITION
// reports, 0 = beginning of partition (BOP). The list is only an index over the image file, which
// holds the one copy of the data: a write replaces everything from the position on (as writing a
// tape does) and reaches the file at once. The drive reports buffered mode 1, but its buffer is
// always empty, so READ POSITION's "last object" equals its "first".
//
// Capacity is counted in image bytes (record headers included). A write that ends past
// `capacity − earlyWarning` still succeeds but is reported as early warning (NO SENSE, EOM, 00/02);
// a write that does not fit at all is refused as VOLUME OVERFLOW (EOM, 00/02) with the residue.
//
// Command flow (the bus's contract, as scsi-disk.ts): sendCommand() either completes at once
// (emulated replies such as INQUIRY), asks for the data-out phase (WRITE, MODE SELECT), or — for
// commands that move the medium — runs after the backend's latency on the event loop. A READ that
// ends on a filemark, EOD or a length mismatch transfers its data first, then completes with CHECK
// CONDITION and the sense already built (FILEMARK/EOM/ILI bits, VALID + INFORMATION = residue).
//
// Cartridge states: 'none' (nothing in the drive: NOT READY 3A/00), 'ejected' (unloaded by LOAD
// UNLOAD, still in the drive's mouth: also 3A/00, and LOAD threads it again) and 'loaded'. The
// monitor's `change` loads a cartridge (UNIT ATTENTION 28/00 follows); `eject` takes it out.

import { CHECK_CONDITION, GOOD } from './scsi.ts';
import { QEMU_HW_VERSION, ScsiDevice, writePadded, type ScsiReq } from './scsi-bus.ts';
import { OP, TYPE_TAPE } from './scsi-opcodes.ts';
import { SENSE, SENSE_SSC, buildSenseBuf, buildSenseFlags, type ScsiSense, type SenseFlags } from './scsi-sense.ts';
import type { BlockBackend, BlockErrno, BlockErrorPolicy, SyncFs } from '../block/block-backend.ts';

// ---- the image format (docs/TAPE.md) ----

/** Record types: the high byte of each little-endian 32-bit record header. */
export const TAPE_RECORD = {
  /** A data block; the low 24 bits give its length (1 … 0xffffff), the data follows. */
  DATA: 0x44, // 'D'
  /** A filemark; length 0. */
  FILEMARK: 0x46, // 'F'
  /** End of data; length 0. Optional: the end of the file is end of data too. */
  EOD: 0x45, // 'E'
} as const;

export const TAPE_HEADER_LEN = 4;
/** The largest block: READ(6)/WRITE(6) lengths and record headers are 24-bit. */
export const TAPE_MAX_BLOCK = 0xffffff;
export const TAPE_MIN_BLOCK = 1;
export const TAPE_DEFAULT_CAPACITY = 64 * 1024 * 1024;
/** Density code reported in the block descriptor (0x58 is LTO-5's; any value may be configured). */
export const TAPE_DEFAULT_DENSITY = 0x58;

export interface TapeObject {
  readonly kind: 'data' | 'filemark';
  /** Byte offset of the record header in the image. */
  readonly offset: number;
  /** Data length (0 for a filemark). */
  readonly length: number;
}

/** A 4-byte record header. */
export function tapeHeader(type: number, length: number): Uint8Array {
  return Uint8Array.of(length & 0xff, (length >>> 8) & 0xff, (length >>> 16) & 0xff, type);
}

/**
 * The index of a loaded cartridge over its image file. Everything after the last well-formed record
 * (an EOD record, a torn last record, an unknown type, zero bytes) is end of data: a damaged tail is
 * never an error, it is simply where the tape ends.
 */
export class TapeImage {
  readonly blk: BlockBackend;
  readonly objects: TapeObject[] = [];
  /** Byte offset of end of data. */
  end = 0;

  constructor(blk: BlockBackend) {
    this.blk = blk;
  }

  static open(blk: BlockBackend): TapeImage | BlockErrno {
    const t = new TapeImage(blk);
    const size = blk.size;
    const hdr = new Uint8Array(TAPE_HEADER_LEN);
    let off = 0;
    while (off + TAPE_HEADER_LEN <= size) {
      const err = blk.readBytesSync(off, hdr);
      if (err) return err;
      const length = hdr[0]! | (hdr[1]! << 8) | (hdr[2]! << 16);
      const type = hdr[3]!;
      if (type === TAPE_RECORD.DATA && length >= TAPE_MIN_BLOCK && off + TAPE_HEADER_LEN + length <= size) {
        t.objects.push({ kind: 'data', offset: off, length });
        off += TAPE_HEADER_LEN + length;
      } else if (type === TAPE_RECORD.FILEMARK && length === 0) {
        t.objects.push({ kind: 'filemark', offset: off, length: 0 });
        off += TAPE_HEADER_LEN;
      } else break;
    }
    t.end = off;
    return t;
  }

  get count(): number {
    return this.objects.length;
  }

  /** Byte offset where object `i` starts (end of data for i = count). */
  offsetOf(i: number): number {
    return this.objects[i]?.offset ?? this.end;
  }

  /** Reads the data of object `i` (a data block). */
  read(i: number): Uint8Array | BlockErrno {
    const o = this.objects[i];
    if (!o) return 'EINVAL';
    const buf = new Uint8Array(o.length);
    const err = this.blk.readBytesSync(o.offset + TAPE_HEADER_LEN, buf);
    return err ?? buf;
  }

  /**
   * Replaces objects `i…` by `add` (data blocks and filemarks; `null` = a filemark), then marks end
   * of data. The file is cut after the EOD record where the filesystem can truncate.
   */
  writeAt(i: number, add: ReadonlyArray<Uint8Array | null>): BlockErrno | null {
    const start = this.offsetOf(i);
    let total = TAPE_HEADER_LEN;
    for (const d of add) total += TAPE_HEADER_LEN + (d ? d.length : 0);
    const buf = new Uint8Array(total);
    const placed: TapeObject[] = [];
    let p = 0;
    for (const d of add) {
      if (d) {
        buf.set(tapeHeader(TAPE_RECORD.DATA, d.length), p);
        buf.set(d, p + TAPE_HEADER_LEN);
        placed.push({ kind: 'data', offset: start + p, length: d.length });
      } else {
        buf.set(tapeHeader(TAPE_RECORD.FILEMARK, 0), p);
        placed.push({ kind: 'filemark', offset: start + p, length: 0 });
      }
      p += TAPE_HEADER_LEN + (d ? d.length : 0);
    }
    buf.set(tapeHeader(TAPE_RECORD.EOD, 0), p);
    const err = this.blk.writeBytesSync(start, buf);
    if (err) return err;
    const cut = this.blk.truncateSync(start + total);
    if (cut && cut !== 'ENOTSUP') return cut;
    this.objects.length = i;
    this.objects.push(...placed);
    this.end = start + p;
    return null;
  }
}

// ---- the device ----

export type TapeCartridge = 'none' | 'ejected' | 'loaded';

export interface ScsiTapeProps {
  drive?: BlockBackend | undefined;
  qdevId?: string | undefined;
  channel?: number;
  scsiId?: number;
  lun?: number;
  vendor?: string;
  product?: string;
  ver?: string;
  serial?: string | undefined;
  /** Cartridge capacity in image bytes (default 64 MiB). */
  capacity?: number;
  /** Bytes before the end where early warning starts (default min(1 MiB, capacity / 16)). */
  earlyWarning?: number;
  density?: number;
}

type TapeOp =
  | 'tur'
  | 'inquiry'
  | 'request-sense'
  | 'read-block-limits'
  | 'mode-sense'
  | 'mode-select'
  | 'prevent-allow'
  | 'reserve-release'
  | 'read'
  | 'write'
  | 'write-filemarks'
  | 'space'
  | 'rewind'
  | 'read-position'
  | 'load-unload'
  | 'erase';

interface TapeCommand {
  readonly op: TapeOp;
  /** Needs a loaded cartridge (else NOT READY, MEDIUM NOT PRESENT). */
  readonly medium: boolean;
  /** Moves the medium: runs after the backend latency on the event loop. */
  readonly motion: boolean;
}

const cmd = (op: TapeOp, medium: boolean, motion: boolean): TapeCommand => ({ op, medium, motion });

/** The commands the drive implements (SSC-3 table 6 mandatory set plus MODE SELECT(10)/SENSE(10)). */
const COMMANDS: ReadonlyMap<number, TapeCommand> = new Map([
  [OP.TEST_UNIT_READY, cmd('tur', true, false)],
  [OP.REWIND, cmd('rewind', true, true)],
  [OP.REQUEST_SENSE, cmd('request-sense', false, false)],
  [OP.READ_BLOCK_LIMITS, cmd('read-block-limits', false, false)],
  [OP.READ_6, cmd('read', true, true)],
  [OP.WRITE_6, cmd('write', true, true)],
  [OP.WRITE_FILEMARKS, cmd('write-filemarks', true, true)],
  [OP.SPACE, cmd('space', true, true)],
  [OP.INQUIRY, cmd('inquiry', false, false)],
  [OP.MODE_SELECT, cmd('mode-select', false, false)],
  [OP.RESERVE, cmd('reserve-release', false, false)],
  [OP.RELEASE, cmd('reserve-release', false, false)],
  [OP.ERASE, cmd('erase', true, true)],
  [OP.MODE_SENSE, cmd('mode-sense', false, false)],
  [OP.LOAD_UNLOAD, cmd('load-unload', false, true)],
  [OP.ALLOW_MEDIUM_REMOVAL, cmd('prevent-allow', false, false)],
  [OP.READ_POSITION, cmd('read-position', true, false)],
  [OP.MODE_SELECT_10, cmd('mode-select', false, false)],
  [OP.MODE_SENSE_10, cmd('mode-sense', false, false)],
]);

const MODE_PAGE_DATA_COMPRESSION = 0x0f;
const MODE_PAGE_DEVICE_CONFIGURATION = 0x10;
const MODE_PAGE_ALLS = 0x3f;
const MODE_PAGE_LEN = 16;
/** Compression algorithm identifier reported in page 0x0f (the drive's one algorithm). */
const COMPRESSION_ALGORITHM = 1;
const MiB = 1024 * 1024;

const be16 = (b: Uint8Array, i: number): number => (b[i]! << 8) | b[i + 1]!;
const be24 = (b: Uint8Array, i: number): number => (b[i]! << 16) | (b[i + 1]! << 8) | b[i + 2]!;
const put16 = (o: Uint8Array, i: number, v: number): void => {
  o[i] = (v >>> 8) & 0xff;
  o[i + 1] = v & 0xff;
};
const put24 = (o: Uint8Array, i: number, v: number): void => {
  o[i] = (v >>> 16) & 0xff;
  put16(o, i + 1, v);
};
const put32 = (o: Uint8Array, i: number, v: number): void => {
  o[i] = (v >>> 24) & 0xff;
  put24(o, i + 1, v);
};
const put64 = (o: Uint8Array, i: number, v: number): void => {
  put32(o, i, Math.floor(v / 0x1_0000_0000));
  put32(o, i + 4, v >>> 0);
};

/** A CHECK CONDITION outcome of a medium command. */
interface Check {
  readonly sense: ScsiSense;
  readonly flags?: SenseFlags;
}

export class ScsiTape extends ScsiDevice {
  readonly kind = 'scsi-tape';
  readonly blk: BlockBackend | undefined;
  readonly vendor: string;
  readonly product: string;
  readonly version: string;
  readonly serial: string;
  readonly capacity: number;
  readonly earlyWarning: number;
  readonly defaultDensity: number;
  /** A tape drive's medium is always removable. */
  readonly removable = true;
  /** No rerror/werror policy: I/O errors are reported to the guest as MEDIUM ERROR. */
  readonly rerror: BlockErrorPolicy | undefined = undefined;
  readonly werror: BlockErrorPolicy | undefined = undefined;
  cartridge: TapeCartridge = 'none';
  medium: TapeImage | null = null;
  /** Logical object identifier of the current position. */
  pos = 0;
  /** Mode parameters: block length (0 = variable), density, compression enable, buffered mode. */
  blockLength = 0;
  density: number;
  dce = true;
  bufferedMode = 1;
  /** PREVENT ALLOW MEDIUM REMOVAL. */
  locked = false;
  /** Status a request completes with after its data-in (CHECK CONDITION: sense already built). */
  readonly #after = new WeakMap<ScsiReq, number>();

  constructor(p: ScsiTapeProps) {
    super({ channel: p.channel ?? 0, id: p.scsiId ?? -1, lun: p.lun ?? -1, qdevId: p.qdevId });
    this.blk = p.drive;
    this.vendor = p.vendor ?? 'QEMU';
    this.product = p.product ?? 'QEMU TAPE';
    this.version = p.ver ?? QEMU_HW_VERSION;
    this.serial = p.serial ?? p.drive?.name ?? '';
    this.capacity = p.capacity ?? TAPE_DEFAULT_CAPACITY;
    this.earlyWarning = p.earlyWarning ?? Math.min(MiB, Math.floor(this.capacity / 16));
    this.defaultDensity = p.density ?? TAPE_DEFAULT_DENSITY;
    this.density = this.defaultDensity;
    if (this.blk?.inserted) this.#thread();
  }

  override get driveName(): string | undefined {
    return this.blk?.name;
  }
  get type(): number {
    return TYPE_TAPE;
  }
  /** The current block length: the bus sizes FIXED transfers with it. */
  get blocksize(): number {
    return this.blockLength;
  }
  get writeProtected(): boolean {
    return this.blk?.readOnly ?? false;
  }

  // ---- cartridge (what the monitor calls) ----

  /** `change`: opens `path` on `fs` as the drive's cartridge and loads it (UA 28/00). An errno code on failure. */
  load(fs: SyncFs, path: string): string | null {
    const blk = this.blk;
    if (!blk) return 'ENODEV';
    blk.removeMedium();
    const err = blk.insertMedium(fs, path);
    if (err) {
      this.#noCartridge();
      return err;
    }
    this.changeMediaCb(true);
    return this.cartridge === 'loaded' ? null : 'EIO';
  }

  /** `eject`: the cartridge leaves the drive (whatever the guest's PREVENT says; the monitor decides). */
  unload(): void {
    this.blk?.removeMedium();
    this.#noCartridge();
  }

  /** The backend's medium was inserted (true) or removed (false) by the machine. */
  changeMediaCb(load: boolean): void {
    if (!load) {
      this.#noCartridge();
      return;
    }
    if (this.#thread()) this.setUa(SENSE.MEDIUM_CHANGED);
  }

  /** An eject request from the host: `force` drops the guest's lock. */
  ejectRequestCb(force: boolean): void {
    if (force) this.locked = false;
  }
  isMediumLocked(): boolean {
    return this.locked;
  }
  /** A tape drive has no tray; "open" = no cartridge loaded. */
  isTrayOpen(): boolean {
    return this.cartridge !== 'loaded';
  }

  /** Reads the image index; true when a cartridge is now loaded at BOP. */
  #thread(): boolean {
    const blk = this.blk;
    if (!blk?.inserted) {
      this.#noCartridge();
      return false;
    }
    const img = TapeImage.open(blk);
    if (typeof img === 'string') {
      this.#noCartridge();
      return false;
    }
    this.medium = img;
    this.cartridge = 'loaded';
    this.pos = 0;
    return true;
  }

  #noCartridge(): void {
    this.medium = null;
    this.cartridge = 'none';
    this.pos = 0;
  }

  /** Cold reset: requests purged with 29/00, the lock released, mode parameters back to defaults. */
  override reset(): void {
    this.purgeRequests(SENSE.RESET, true);
    this.locked = false;
    this.blockLength = 0;
    this.density = this.defaultDensity;
    this.dce = true;
    this.bufferedMode = 1;
  }

  // ---- command entry ----

  #check(req: ScsiReq, c: Check): void {
    const s = c.sense;
    this.bus?.trace?.('scsi_req_build_sense', { target: this.id, lun: req.lun, tag: req.tag32, key: s.key, asc: s.asc, ascq: s.ascq });
    req.senseLen = buildSenseFlags(req.sense, s, c.flags ?? {});
  }

  #fail(req: ScsiReq, sense: ScsiSense, flags?: SenseFlags): number {
    this.#check(req, flags ? { sense, flags } : { sense });
    this.bus!.complete(req, CHECK_CONDITION);
    return 0;
  }

  #good(req: ScsiReq): number {
    this.bus!.complete(req, GOOD);
    return 0;
  }

  /** Starts the data-in phase of `data` (at most the allocation length), then completes. */
  #dataIn(req: ScsiReq, data: Uint8Array, after?: Check): number {
    if (after) {
      this.#check(req, after);
      this.#after.set(req, CHECK_CONDITION);
    }
    req.buf = data;
    req.len = Math.min(data.length, req.cmd.xfer);
    if (req.len === 0) {
      this.#finish(req);
      return 0;
    }
    return req.len;
  }

  #finish(req: ScsiReq): void {
    const status = this.#after.get(req) ?? GOOD;
    this.#after.delete(req);
    this.bus!.complete(req, status);
  }

  /** Runs `fn` after the backend latency (a medium movement); a cancelled request never runs it. */
  #later(req: ScsiReq, fn: () => void): void {
    const blk = this.blk;
    if (!blk) {
      fn();
      return;
    }
    req.aio = blk.loop.after(blk.latencyNs, () => {
      req.aio = null;
      if (req.ioCanceled || req.status !== -1 || req.hostStatus !== null) return;
      fn();
    });
  }

  sendCommand(req: ScsiReq): number {
    const b = req.cmd.buf;
    const c = COMMANDS.get(b[0]!);
    if (!c) return this.#fail(req, SENSE.INVALID_OPCODE);
    if (c.medium && this.cartridge !== 'loaded') return this.#fail(req, SENSE.NO_MEDIUM);
    switch (c.op) {
      case 'tur':
      case 'reserve-release':
        return this.#good(req);
      case 'inquiry':
        return this.#inquiry(req);
      case 'request-sense': {
        // Nothing pending (the bus answers a pending sense itself): the drive's current state.
        const out = new Uint8Array(18);
        const sense = this.cartridge === 'loaded' ? SENSE.NO_SENSE : SENSE.NO_MEDIUM;
        const n = buildSenseBuf(out, out.length, sense, (b[1]! & 1) === 0);
        return this.#dataIn(req, out.subarray(0, n));
      }
      case 'read-block-limits': {
        const out = new Uint8Array(6);
        out[0] = 0; // GRANULARITY: 2^0
        put24(out, 1, TAPE_MAX_BLOCK); // MAXIMUM BLOCK LENGTH LIMIT
        put16(out, 4, TAPE_MIN_BLOCK); // MINIMUM BLOCK LENGTH LIMIT
        return this.#dataIn(req, out);
      }
      case 'mode-sense':
        return this.#modeSense(req);
      case 'mode-select': {
        if (b[1]! & 0x01) return this.#fail(req, SENSE.INVALID_FIELD); // SP: nothing can be saved
        return this.#dataOut(req);
      }
      case 'prevent-allow':
        this.locked = (b[4]! & 1) !== 0;
        return this.#good(req);
      case 'read-position':
        return this.#readPosition(req);
      case 'read': {
        const fixed = (b[1]! & 1) !== 0;
        const sili = (b[1]! & 2) !== 0;
        if (fixed && (sili || this.blockLength === 0)) return this.#fail(req, SENSE.INVALID_FIELD);
        this.#later(req, () => this.#read(req));
        return 0;
      }
      case 'write': {
        const fixed = (b[1]! & 1) !== 0;
        if (fixed && this.blockLength === 0) return this.#fail(req, SENSE.INVALID_FIELD);
        if (this.writeProtected) return this.#fail(req, SENSE.WRITE_PROTECTED);
        return this.#dataOut(req);
      }
      case 'write-filemarks':
        if (b[1]! & 0x02) return this.#fail(req, SENSE.INVALID_FIELD); // WSMK: setmarks are not supported
        if (this.writeProtected && be24(b, 2) > 0) return this.#fail(req, SENSE.WRITE_PROTECTED);
        this.#later(req, () => this.#complete(req, this.#writeFilemarks(be24(b, 2))));
        return 0;
      case 'space':
        this.#later(req, () => this.#complete(req, this.#space(b[1]! & 0x0f, signed24(be24(b, 2)))));
        return 0;
      case 'rewind':
        this.#later(req, () => {
          this.pos = 0;
          this.#good(req);
        });
        return 0;
      case 'erase':
        if (this.writeProtected) return this.#fail(req, SENSE.WRITE_PROTECTED);
        this.#later(req, () => this.#complete(req, this.#ioResult(this.medium!.writeAt(this.pos, []), false)));
        return 0;
      case 'load-unload':
        if ((b[4]! & 0x05) === 0x05) return this.#fail(req, SENSE.INVALID_FIELD); // LOAD with EOT
        this.#later(req, () => this.#complete(req, this.#loadUnload((b[4]! & 1) !== 0)));
        return 0;
    }
  }

  #dataOut(req: ScsiReq): number {
    const n = req.cmd.xfer;
    req.buf = new Uint8Array(n);
    req.len = n;
    if (n === 0) {
      this.writeData(req);
      return 0;
    }
    return -n;
  }

  readData(req: ScsiReq): void {
    const n = req.len;
    if (n > 0) {
      req.len = 0;
      this.bus!.reqData(req, req.buf!, n);
      return;
    }
    this.#finish(req);
  }

  writeData(req: ScsiReq): void {
    const n = req.len;
    if (n > 0) {
      req.len = 0;
      this.bus!.reqData(req, req.buf!, n);
      return;
    }
    const data = req.buf!;
    const b = req.cmd.buf;
    if (b[0] === OP.WRITE_6) {
      if (this.cartridge !== 'loaded') {
        this.#fail(req, SENSE.NO_MEDIUM);
        return;
      }
      this.#later(req, () => this.#complete(req, this.#write((b[1]! & 1) !== 0, be24(b, 2), data)));
      return;
    }
    const bad = this.#modeSelect(b[0] === OP.MODE_SELECT_10, data);
    if (bad) this.#fail(req, bad);
    else this.#good(req);
  }

  /** Completes a no-data medium command: GOOD, or CHECK CONDITION with its sense. */
  #complete(req: ScsiReq, c: Check | null): void {
    if (c) this.#fail(req, c.sense, c.flags);
    else this.#good(req);
  }

  /** An I/O error of the image file as a check condition (null: success). */
  #ioResult(err: BlockErrno | null, isRead: boolean): Check | null {
    if (!err) return null;
    if (err === 'ENOMEDIUM') return { sense: SENSE.NO_MEDIUM };
    if (err === 'EROFS') return { sense: SENSE.WRITE_PROTECTED };
    return { sense: isRead ? SENSE_SSC.UNRECOVERED_READ_ERROR : SENSE_SSC.WRITE_ERROR };
  }

  // ---- READ(6) ----

  #read(req: ScsiReq): void {
    const m = this.medium;
    if (!m) {
      this.#fail(req, SENSE.NO_MEDIUM);
      return;
    }
    const b = req.cmd.buf;
    const fixed = (b[1]! & 1) !== 0;
    const sili = (b[1]! & 2) !== 0;
    const count = be24(b, 2);
    if (count === 0) {
      this.#good(req);
      return;
    }
    if (!fixed) {
      const o = m.objects[this.pos];
      if (!o) {
        this.#fail(req, SENSE_SSC.END_OF_DATA, { information: count });
        return;
      }
      if (o.kind === 'filemark') {
        this.pos++;
        this.#fail(req, SENSE_SSC.FILEMARK_DETECTED, { filemark: true, information: count });
        return;
      }
      const data = m.read(this.pos);
      if (typeof data === 'string') {
        this.#complete(req, this.#ioResult(data, true));
        return;
      }
      this.pos++;
      // SSC-3 READ(6): with SILI an underlength block is not reported, nor an overlength one when
      // the mode block length is 0; the rest of an overlength block is skipped either way.
      const reported = o.length !== count && !(sili && (o.length < count || this.blockLength === 0));
      const ili: Check = { sense: SENSE.NO_SENSE, flags: { ili: true, information: count - o.length } };
      if (this.#dataIn(req, data, reported ? ili : undefined) > 0) this.bus!.continueReq(req);
      return;
    }
    // Fixed: whole blocks until a filemark, EOD or a block of another length stops the transfer.
    const bs = this.blockLength;
    const start = this.pos;
    let k = 0;
    let stop: Check | undefined;
    while (k < count) {
      const o = m.objects[start + k];
      if (!o) {
        stop = { sense: SENSE_SSC.END_OF_DATA, flags: { information: count - k } };
        break;
      }
      if (o.kind === 'filemark') {
        stop = { sense: SENSE_SSC.FILEMARK_DETECTED, flags: { filemark: true, information: count - k } };
        break;
      }
      if (o.length !== bs) {
        stop = { sense: SENSE.NO_SENSE, flags: { ili: true, information: count - k } };
        break;
      }
      k++;
    }
    const out = new Uint8Array(k * bs);
    for (let i = 0; i < k; i++) {
      const data = m.read(start + i);
      if (typeof data === 'string') {
        this.pos = start + i;
        this.#complete(req, this.#ioResult(data, true));
        return;
      }
      out.set(data, i * bs);
    }
    // Past the blocks read, and past the filemark or the wrong-length block that stopped them.
    this.pos = start + k + (stop && stop.sense !== SENSE_SSC.END_OF_DATA ? 1 : 0);
    if (this.#dataIn(req, out, stop) > 0) this.bus!.continueReq(req);
  }

  // ---- WRITE(6), WRITE FILEMARKS(6), capacity ----

  /** How many of `n` records of `size` bytes fit from the position, and whether the last one written passes early warning. */
  #room(n: number, size: number): { fit: number; early: boolean } {
    const start = this.medium!.offsetOf(this.pos);
    const per = TAPE_HEADER_LEN + size;
    const fit = Math.max(0, Math.min(n, Math.floor((this.capacity - start) / per)));
    const end = start + fit * per;
    return { fit, early: end > this.capacity - this.earlyWarning };
  }

  #write(fixed: boolean, count: number, data: Uint8Array): Check | null {
    const m = this.medium;
    if (!m) return { sense: SENSE.NO_MEDIUM };
    if (count === 0) return null;
    const size = fixed ? this.blockLength : count;
    const n = fixed ? count : 1;
    const { fit, early } = this.#room(n, size);
    if (fit === 0) return { sense: SENSE_SSC.VOLUME_OVERFLOW, flags: { eom: true, information: count } };
    const blocks: Uint8Array[] = [];
    for (let i = 0; i < fit; i++) blocks.push(data.subarray(i * size, (i + 1) * size));
    const err = m.writeAt(this.pos, blocks);
    if (err) return this.#ioResult(err, false);
    this.pos += fit;
    if (fit < n) return { sense: SENSE_SSC.VOLUME_OVERFLOW, flags: { eom: true, information: n - fit } };
    if (early) return { sense: SENSE_SSC.EOP_EOM_DETECTED, flags: { eom: true, information: 0 } };
    return null;
  }

  #writeFilemarks(count: number): Check | null {
    const m = this.medium;
    if (!m) return { sense: SENSE.NO_MEDIUM };
    if (count === 0) return null; // a flush of the (empty) buffer
    const { fit, early } = this.#room(count, 0);
    if (fit > 0) {
      const err = m.writeAt(this.pos, new Array<null>(fit).fill(null));
      if (err) return this.#ioResult(err, false);
      this.pos += fit;
    }
    if (fit < count) return { sense: SENSE_SSC.VOLUME_OVERFLOW, flags: { eom: true, information: count - fit } };
    if (early) return { sense: SENSE_SSC.EOP_EOM_DETECTED, flags: { eom: true, information: 0 } };
    return null;
  }

  // ---- SPACE(6) ----

  /**
   * SSC-3 SPACE(6). Forward motion stops past a filemark met while spacing blocks, reverse motion
   * before it; BOP stops reverse motion (EOM, 00/04), EOD forward motion (BLANK CHECK, 00/05).
   * INFORMATION = the count not done, as a magnitude (what Linux st expects for both directions).
   */
  #space(code: number, count: number): Check | null {
    const m = this.medium;
    if (!m) return { sense: SENSE.NO_MEDIUM };
    const objs = m.objects;
    const want = Math.abs(count);
    const bop = (done: number): Check => ({ sense: SENSE_SSC.BOP_BOM_DETECTED, flags: { eom: true, information: want - done } });
    const eod = (done: number): Check => ({ sense: SENSE_SSC.END_OF_DATA, flags: { information: want - done } });
    switch (code) {
      case 0: // logical blocks
        for (let done = 0; done < want; done++) {
          if (count > 0) {
            const o = objs[this.pos];
            if (!o) return eod(done);
            this.pos++;
            if (o.kind === 'filemark') return { sense: SENSE_SSC.FILEMARK_DETECTED, flags: { filemark: true, information: want - done } };
          } else {
            if (this.pos === 0) return bop(done);
            if (objs[this.pos - 1]!.kind === 'filemark') {
              this.pos--;
              return { sense: SENSE_SSC.FILEMARK_DETECTED, flags: { filemark: true, information: want - done } };
            }
            this.pos--;
          }
        }
        return null;
      case 1: // filemarks
        for (let done = 0; done < want; ) {
          if (count > 0) {
            const o = objs[this.pos];
            if (!o) return eod(done);
            this.pos++;
            if (o.kind === 'filemark') done++;
          } else {
            if (this.pos === 0) return bop(done);
            this.pos--;
            if (objs[this.pos]!.kind === 'filemark') done++;
          }
        }
        return null;
      case 3: // end of data
        this.pos = objs.length;
        return null;
      default: // sequential filemarks and setmarks are not supported
        return { sense: SENSE.INVALID_FIELD };
    }
  }

  // ---- LOAD UNLOAD ----

  #loadUnload(load: boolean): Check | null {
    if (load) {
      if (this.cartridge === 'none') return { sense: SENSE.NO_MEDIUM };
      if (this.cartridge === 'ejected' && !this.#thread()) return { sense: SENSE.NO_MEDIUM };
      this.pos = 0;
      return null;
    }
    if (this.locked) return { sense: SENSE.ILLEGAL_REQ_REMOVAL_PREVENTED };
    if (this.cartridge === 'none') return { sense: SENSE.NO_MEDIUM };
    this.medium = null;
    this.pos = 0;
    this.cartridge = 'ejected';
    return null;
  }

  // ---- READ POSITION ----

  #readPosition(req: ScsiReq): number {
    const m = this.medium!;
    const form = req.cmd.buf[1]! & 0x1f;
    const bop = this.pos === 0;
    const eop = m.offsetOf(this.pos) > this.capacity - this.earlyWarning;
    if (form === 0x00 || form === 0x01) {
      const out = new Uint8Array(20);
      out[0] = (bop ? 0x80 : 0) | (eop ? 0x40 : 0); // BOP, EOP; LOCU/BYCU 0: counts below are valid
      out[1] = 0; // PARTITION NUMBER
      put32(out, 4, this.pos); // FIRST LOGICAL OBJECT LOCATION
      put32(out, 8, this.pos); // LAST LOGICAL OBJECT LOCATION (the buffer is empty)
      put24(out, 13, 0); // NUMBER OF LOGICAL OBJECTS IN OBJECT BUFFER
      put32(out, 16, 0); // NUMBER OF BYTES IN OBJECT BUFFER
      return this.#dataIn(req, out);
    }
    if (form === 0x06) {
      const out = new Uint8Array(32);
      out[0] = (bop ? 0x80 : 0) | (eop ? 0x40 : 0); // BOP, EOP; MPU/LONU 0
      put32(out, 4, 0); // PARTITION NUMBER
      put64(out, 8, this.pos); // LOGICAL OBJECT NUMBER
      let files = 0;
      for (let i = 0; i < this.pos; i++) if (m.objects[i]!.kind === 'filemark') files++;
      put64(out, 16, files); // LOGICAL FILE IDENTIFIER
      return this.#dataIn(req, out);
    }
    return this.#fail(req, SENSE.INVALID_FIELD); // extended form
  }

  // ---- INQUIRY ----

  #inquiry(req: ScsiReq): number {
    const b = req.cmd.buf;
    if (b[1]! & 0x02) return this.#fail(req, SENSE.INVALID_FIELD); // CmdDt
    if (b[1]! & 0x01) return this.#vpd(req, b[2]!);
    if (b[2] !== 0) return this.#fail(req, SENSE.INVALID_FIELD);
    const out = new Uint8Array(36);
    out[0] = TYPE_TAPE; // PERIPHERAL QUALIFIER 0, DEVICE TYPE: sequential-access
    out[1] = 0x80; // RMB
    out[2] = this.scsiVersion; // VERSION: SPC-3
    out[3] = 0x12; // HiSup, RESPONSE DATA FORMAT 2
    out[4] = out.length - 5; // ADDITIONAL LENGTH
    out[7] = 0x10 | (this.bus?.info.tcq ? 0x02 : 0); // Sync, CmdQue (as QEMU's LUs)
    writePadded(out, 8, 8, this.vendor, 0x20); // T10 VENDOR IDENTIFICATION
    writePadded(out, 16, 16, this.product, 0x20); // PRODUCT IDENTIFICATION
    writePadded(out, 32, 4, this.version.slice(0, 4), 0x20); // PRODUCT REVISION LEVEL
    return this.#dataIn(req, out);
  }

  #vpd(req: ScsiReq, page: number): number {
    let body: number[];
    switch (page) {
      case 0x00: // Supported VPD pages
        body = [0x00, 0x80, 0x83];
        break;
      case 0x80: // Unit serial number
        body = Array.from(this.serial, (ch) => ch.charCodeAt(0) & 0xff);
        break;
      case 0x83: {
        // Device identification: one T10 vendor ID designator (vendor, product, serial).
        const id = new Uint8Array(24 + this.serial.length);
        writePadded(id, 0, 8, this.vendor, 0x20);
        writePadded(id, 8, 16, this.product, 0x20);
        writePadded(id, 24, this.serial.length, this.serial, 0x20);
        body = [0x02, 0x01, 0x00, id.length, ...id]; // code set ASCII; LU association, type T10 vendor ID
        break;
      }
      default:
        return this.#fail(req, SENSE.INVALID_FIELD);
    }
    const out = new Uint8Array(4 + body.length);
    out[0] = TYPE_TAPE; // PERIPHERAL QUALIFIER/DEVICE TYPE
    out[1] = page; // PAGE CODE
    put16(out, 2, body.length); // PAGE LENGTH
    out.set(body, 4);
    return this.#dataIn(req, out);
  }

  // ---- MODE SENSE / MODE SELECT ----

  /** One mode page for page control `pc` (0 current, 1 changeable, 2 default). */
  #modePage(page: number, pc: number): Uint8Array {
    const p = new Uint8Array(MODE_PAGE_LEN);
    p[0] = page; // PS 0: parameters cannot be saved
    p[1] = MODE_PAGE_LEN - 2; // PAGE LENGTH
    const dce = pc === 2 ? true : this.dce;
    if (page === MODE_PAGE_DATA_COMPRESSION) {
      if (pc === 1) {
        p[2] = 0x80; // only DCE is changeable
        return p;
      }
      p[2] = (dce ? 0x80 : 0) | 0x40; // DCE, DCC (the drive can compress)
      p[3] = 0x80; // DDE: decompression enabled; RED 0
      put32(p, 4, COMPRESSION_ALGORITHM); // COMPRESSION ALGORITHM
      put32(p, 8, COMPRESSION_ALGORITHM); // DECOMPRESSION ALGORITHM
      return p;
    }
    // MODE_PAGE_DEVICE_CONFIGURATION: nothing here is changeable.
    if (pc === 1) return p;
    p[2] = 0; // CAF 0, ACTIVE FORMAT 0
    p[3] = 0; // ACTIVE PARTITION
    p[4] = 0; // WRITE OBJECT BUFFER FULL RATIO
    p[5] = 0; // READ OBJECT BUFFER EMPTY RATIO
    put16(p, 6, 0); // WRITE DELAY TIME
    p[8] = 0x40; // LOIS: logical object identifiers are supported
    p[9] = 0; // GAP SIZE
    p[10] = 0x18; // EOD DEFINED 0 (default), EEG, SEW
    put24(p, 11, 0); // BUFFER SIZE AT EARLY WARNING
    p[14] = dce ? COMPRESSION_ALGORITHM : 0; // SELECT DATA COMPRESSION ALGORITHM
    return p;
  }

  #modeSense(req: ScsiReq): number {
    const b = req.cmd.buf;
    const ten = b[0] === OP.MODE_SENSE_10;
    const dbd = (b[1]! & 0x08) !== 0;
    const pc = b[2]! >> 6;
    const page = b[2]! & 0x3f;
    if (pc === 3) return this.#fail(req, SENSE.SAVING_PARAMS_NOT_SUPPORTED);
    if (b[3] !== 0 && !(page === MODE_PAGE_ALLS && b[3] === 0xff)) return this.#fail(req, SENSE.INVALID_FIELD);
    let pages: number[];
    if (page === 0) pages = [];
    else if (page === MODE_PAGE_DATA_COMPRESSION || page === MODE_PAGE_DEVICE_CONFIGURATION) pages = [page];
    else if (page === MODE_PAGE_ALLS) pages = [MODE_PAGE_DATA_COMPRESSION, MODE_PAGE_DEVICE_CONFIGURATION];
    else return this.#fail(req, SENSE.INVALID_FIELD);
    const hdr = ten ? 8 : 4;
    const bdl = dbd ? 0 : 8;
    const out = new Uint8Array(hdr + bdl + MODE_PAGE_LEN * pages.length);
    const loaded = this.cartridge === 'loaded';
    const devSpecific = (loaded && this.writeProtected ? 0x80 : 0) | (this.bufferedMode << 4); // WP, BUFFERED MODE, SPEED 0
    if (ten) {
      put16(out, 0, out.length - 2); // MODE DATA LENGTH
      out[2] = 0; // MEDIUM TYPE
      out[3] = devSpecific; // DEVICE-SPECIFIC PARAMETER
      put16(out, 6, bdl); // BLOCK DESCRIPTOR LENGTH
    } else {
      out[0] = out.length - 1; // MODE DATA LENGTH
      out[1] = 0; // MEDIUM TYPE
      out[2] = devSpecific; // DEVICE-SPECIFIC PARAMETER
      out[3] = bdl; // BLOCK DESCRIPTOR LENGTH
    }
    if (bdl) {
      const d = hdr;
      if (pc === 1) {
        put24(out, d + 5, TAPE_MAX_BLOCK); // only the block length is changeable
      } else {
        out[d] = pc === 2 ? this.defaultDensity : loaded ? this.density : 0; // DENSITY CODE
        put24(out, d + 1, 0); // NUMBER OF BLOCKS: 0 = the rest of the medium
        put24(out, d + 5, pc === 2 ? 0 : this.blockLength); // BLOCK LENGTH
      }
    }
    pages.forEach((pg, i) => out.set(this.#modePage(pg, pc), hdr + bdl + MODE_PAGE_LEN * i));
    return this.#dataIn(req, out);
  }

  /** Validates, then applies, a MODE SELECT parameter list; the sense of the first error otherwise. */
  #modeSelect(ten: boolean, p: Uint8Array): ScsiSense | null {
    if (p.length === 0) return null;
    const hdr = ten ? 8 : 4;
    if (p.length < hdr) return SENSE.INVALID_PARAM_LEN;
    const devSpecific = ten ? p[3]! : p[2]!;
    const bdl = ten ? be16(p, 6) : p[3]!;
    const buffered = (devSpecific >> 4) & 7;
    if (buffered > 2 || (devSpecific & 0x0f) !== 0) return SENSE.INVALID_PARAM;
    if (bdl !== 0 && bdl !== 8) return SENSE.INVALID_PARAM;
    if (hdr + bdl > p.length) return SENSE.INVALID_PARAM_LEN;
    let density = this.density;
    let blockLength = this.blockLength;
    if (bdl) {
      const code = p[hdr]!;
      // 0: the default density, 0x7f: no change (SSC-3 8.3.1), else the one density this drive writes.
      if (code !== 0 && code !== 0x7f && code !== this.defaultDensity) return SENSE.INVALID_PARAM;
      if (code === 0) density = this.defaultDensity;
      blockLength = be24(p, hdr + 5);
      if (blockLength !== 0 && (blockLength < TAPE_MIN_BLOCK || blockLength > TAPE_MAX_BLOCK)) return SENSE.INVALID_PARAM;
    }
    let dce = this.dce;
    for (let at = hdr + bdl; at < p.length; ) {
      if (at + 2 > p.length) return SENSE.INVALID_PARAM_LEN;
      const page = p[at]! & 0x3f;
      const len = p[at + 1]!;
      if (at + 2 + len > p.length) return SENSE.INVALID_PARAM_LEN;
      if (page !== MODE_PAGE_DATA_COMPRESSION && page !== MODE_PAGE_DEVICE_CONFIGURATION) return SENSE.INVALID_PARAM;
      if (len !== MODE_PAGE_LEN - 2) return SENSE.INVALID_PARAM;
      if (page === MODE_PAGE_DATA_COMPRESSION) dce = (p[at + 2]! & 0x80) !== 0;
      at += 2 + len;
    }
    this.bufferedMode = buffered;
    this.density = density;
    this.blockLength = blockLength;
    this.dce = dce;
    return null;
  }
}

/** A 24-bit two's complement count (SPACE). */
function signed24(v: number): number {
  return v & 0x800000 ? v - 0x1000000 : v;
}

/** realize: the checks a `-device scsi-tape` must pass. */
export function createScsiTape(p: ScsiTapeProps): ScsiTape | { error: string } {
  if (!p.drive) return { error: 'drive property not set' };
  const cap = p.capacity ?? TAPE_DEFAULT_CAPACITY;
  if (!Number.isSafeInteger(cap) || cap < 4096) return { error: `capacity must be at least 4096 bytes, not ${cap}` };
  if (p.density !== undefined && (p.density < 1 || p.density > 0x7e)) {
    return { error: `density code 0x${p.density.toString(16)} is reserved` };
  }
  return new ScsiTape(p);
}
