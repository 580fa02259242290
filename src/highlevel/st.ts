// Models drivers/scsi/st.c + st.h + st_options.h (Linux 6.1): the SCSI tape driver — module init (the
// version line, class `scsi_tape`, char major 9, the driver attributes), st_probe (index from an idr,
// eight class devices st%d/nst%d with the l/m/a mode letters, their attributes and `stats/`, the
// `tape` link, the two attach lines), removal, and the character device: open (check_tape: TEST UNIT
// READY with the unit-attention/not-ready loop, READ BLOCK LIMITS, MODE SENSE), read and write with
// record boundaries in variable-block mode and whole blocks in fixed-block mode, the eof state machine
// (a read that meets a filemark returns 0 once; end of data after a filemark reads 0 once more, then
// EIO), filemarks on close after writing, rewind on close for the rewinding nodes, and the mtio ioctls.
//
// What is reduced: one partition (no MTSETPART/MTMKPART), no setmarks bookkeeping beyond `at_sm`, no
// asynchronous writes (every write completes before write(2) returns, as with direct i/o), transfers
// always "direct" when whole blocks are asked for; read-ahead through the driver buffer otherwise.

import type { Kernel } from '../kernel/kernel.ts';
import { KERN_ERR, KERN_INFO, KERN_NOTICE, KERN_WARNING } from '../kernel/kernel.ts';
import { Errno } from '../kernel/errno.ts';
import type { ErrnoCode } from '../kernel/errno.ts';
import { DirNode } from '../kernel/fs.ts';
import type { FileOps } from '../kernel/fs.ts';
import { O_ACCMODE, O_NONBLOCK, O_RDONLY } from '../kernel/syscalls.ts';
import * as mt from '../kernel/uapi/mtio.ts';
import type { MtGet, MtOp, MtPos } from '../kernel/uapi/mtio.ts';
import type { ScsiDriver, ScsiMod } from '../midlayer/scsi.ts';
import { SCSI_2, SENSE_KEY, TYPE_TAPE, hostByte } from '../midlayer/scsi_common.ts';
import type { SenseHdr } from '../midlayer/scsi_common.ts';
import type { ScsiDevice } from '../midlayer/scsi_device.ts';
import { scsiIoctl } from '../midlayer/scsi_ioctl.ts';
import { scsiExecute } from '../midlayer/scsi_lib.ts';
import { sdevPrintk } from '../midlayer/scsi_logging.ts';
import { Device } from '../sysfs/core.ts';
import { createDir, createFiles, createLink, removeDir, removeNode } from '../sysfs/kernfs.ts';
import { printSenseHdr } from './constants.ts';
import { driverAttach } from './sd.ts';

export const SCSI_TAPE_MAJOR = 9;
/** st.c's verstr. */
export const ST_VERSION = '20160209';
/** ST_FIXED_BUFFER_BLOCKS (32) × ST_KILOBYTE: the driver buffer a tape gets at attach. */
export const ST_FIXED_BUFFER_SIZE = 32 * 1024;
/** ST_MAX_SG: scatter/gather segments per transfer (module parameter max_sg_segs). */
export const ST_MAX_SG_SEGS = 256;
/** try_direct_io: transfers go straight to user pages when they can (st_options.h default). */
const TRY_DIRECT_IO = 1;
/** ST_MAX_TAPES: the idr range. */
const ST_MAX_TAPES = 1 << 17;

/** Four modes, each with a rewinding and a non-rewinding node (ST_NBR_MODE_BITS = 2). */
export const ST_NBR_MODE_BITS = 2;
export const ST_NBR_MODES = 1 << ST_NBR_MODE_BITS;
const ST_MODE_SHIFT = 7 - ST_NBR_MODE_BITS;
/** st_formats: the name suffix of mode m is entry m << (4 - ST_NBR_MODE_BITS). */
const ST_FORMATS = ['', 'r', 'k', 's', 'l', 't', 'o', 'u', 'm', 'v', 'p', 'x', 'a', 'y', 'q', 'z'];

/** TAPE_MINOR: tape number (low 5 bits, the rest above bit 8), mode bits 5–6, no-rewind bit 7. */
export function tapeMinor(tape: number, mode: number, noRewind: boolean): number {
  return ((tape & ~31) << (ST_NBR_MODE_BITS + 1)) | (tape & 31) | (mode << ST_MODE_SHIFT) | (noRewind ? 0x80 : 0);
}

/** TAPE_NR / TAPE_MODE / TAPE_REWIND of a minor. */
export function decodeMinor(minor: number): { tape: number; mode: number; rewind: boolean } {
  return {
    tape: ((minor & ~255) >> (ST_NBR_MODE_BITS + 1)) | (minor & ((1 << ST_MODE_SHIFT) - 1)),
    mode: (minor >> ST_MODE_SHIFT) & (ST_NBR_MODES - 1),
    rewind: (minor & 0x80) === 0,
  };
}

/** The node name of (tape, mode, rewind): st0, nst0, st0l, nst0a … */
export function tapeNodeName(tape: number, mode: number, noRewind: boolean): string {
  return `${noRewind ? 'n' : ''}st${tape}${ST_FORMATS[mode << (4 - ST_NBR_MODE_BITS)]!}`;
}

// Timeouts (seconds): ST_TIMEOUT for ordinary commands, ST_LONG_TIMEOUT for spacing, rewinding, erasing.
const ST_TIMEOUT = 900;
const ST_LONG_TIMEOUT = 14000;
/** MAX_RETRIES, MAX_WRITE_RETRIES, MAX_READY_RETRIES: st retries nothing itself. */
const MAX_RETRIES = 0;
/** How many unit attentions test_ready swallows, and how long a blocking open waits for a medium. */
const MAX_ATTENTIONS = 10;
const ST_BLOCK_SECONDS = 120;

/** The eof state of a partition (st.h), in this order: comparisons rely on it. */
const ST_NOEOF = 0;
const ST_FM_HIT = 1;
const ST_FM = 2;
const ST_EOM_OK = 3;
const ST_EOM_ERROR = 4;
const ST_EOD_1 = 5;
const ST_EOD_2 = 6;
const ST_EOD = 7;

/** check_tape / test_ready results. */
const CHKRES_READY = 0;
const CHKRES_NEW_SESSION = 1;
const CHKRES_NOT_READY = 2;
const CHKRES_NO_TAPE = 3;

/** cmdstat.flags: the filemark, end-of-medium and incorrect-length bits of fixed sense byte 2. */
const SENSE_FMK = 0x80;
const SENSE_EOM = 0x40;
const SENSE_ILI = 0x20;

/** ST_DONT_TOUCH: default_compression leaves the drive's setting alone (shown as -1). */
const ST_DONT_TOUCH = 0;

type Ready = 'ready' | 'not-ready' | 'no-tape';
type Rw = 'idle' | 'reading' | 'writing';

/** struct st_modedef: what one of the four modes sets up at open. */
interface StModeDef {
  defined: boolean;
  sysv: boolean;
  defaultsForWrites: boolean;
  doAsyncWrites: boolean;
  doBufferWrites: boolean;
  doReadAhead: boolean;
  defaultCompression: number;
  defaultBlksize: number;
  defaultDensity: number;
  readonly devs: Device[];
}

/** struct st_partstat (one partition). */
interface StPartstat {
  rw: Rw;
  eof: number;
  atSm: boolean;
  drvBlock: number;
  drvFile: number;
}

/** struct scsi_tape_stats. */
interface StStats {
  readCnt: number;
  readByteCnt: number;
  readNs: number;
  writeCnt: number;
  writeByteCnt: number;
  writeNs: number;
  otherCnt: number;
  resid: number;
  inFlight: number;
  ioNs: number;
}

/** struct st_cmdstatus, decoded from the last command's result and sense. */
interface CmdStatus {
  readonly result: number;
  readonly haveSense: boolean;
  readonly sshdr: SenseHdr | null;
  readonly flags: number;
  readonly remainderValid: boolean;
  /** The information field as a signed 32-bit count (`(int)uremainder64`). */
  readonly remainder: number;
}

interface DoScsiResult {
  readonly cs: CmdStatus;
  readonly data: Uint8Array;
  /** 0, or the errno st_chk_result made of a failed command. */
  readonly syscallResult: 0 | ErrnoCode;
}

/** struct st_buffer, reduced: the bytes of the last read not yet handed out. */
interface StBuffer {
  data: Uint8Array;
  bufferBytes: number;
  readPointer: number;
  bufferSize: number;
  bufferBlocks: number;
}

/** struct scsi_tape. */
export class ScsiTape {
  readonly index: number;
  readonly name: string;
  readonly sdev: ScsiDevice;
  readonly modes: StModeDef[] = [];
  readonly ps: StPartstat = { rw: 'idle', eof: ST_NOEOF, atSm: false, drvBlock: -1, drvFile: -1 };
  readonly stats: StStats = { readCnt: 0, readByteCnt: 0, readNs: 0, writeCnt: 0, writeByteCnt: 0, writeNs: 0, otherCnt: 0, resid: 0, inFlight: 0, ioNs: 0 };
  readonly buffer: StBuffer = { data: new Uint8Array(0), bufferBytes: 0, readPointer: 0, bufferSize: ST_FIXED_BUFFER_SIZE, bufferBlocks: 1 };
  readonly tapeType: number;
  inUse = false;
  currentMode = 0;
  ready: Ready = 'ready';
  density = 0;
  blockSize = 0;
  minBlock = -1;
  maxBlock = -1;
  drvBuffer = 1;
  drvWriteProt = false;
  writeProt = false;
  dirty = false;
  rewAtClose = false;
  autorewDev = false;
  posUnknown = false;
  densityChanged = false;
  blksizeChanged = false;
  /** Soft (recovered) errors since the last MTIOCGET. */
  recoverReg = 0;
  recoverCount = 0;
  // Options of st_probe (st_options.h defaults).
  twoFm = false;
  fastMteom = false;
  canBsr = false;
  omitBlklims = false;
  canPartitions = false;
  scsi2Logical = false;
  immediate = false;
  immediateFilemark = false;
  sili = false;
  /** MODE SELECT's PF bit (use_pf). */
  usePf = false;
  detached = false;
  /** STp->lock: read, write and ioctl run one at a time. */
  #lock: Promise<unknown> = Promise.resolve();

  constructor(sdev: ScsiDevice, index: number) {
    this.sdev = sdev;
    this.index = index;
    this.name = `st${index}`;
    this.tapeType = sdev.scsiLevel <= 2 ? mt.MT_ISSCSI1 : mt.MT_ISSCSI2;
    // SCSI-2 and later drives space backwards well and take MODE SELECT with the page-format bit.
    this.canBsr = sdev.scsiLevel > 2;
    this.usePf = sdev.scsiLevel >= SCSI_2;
    for (let i = 0; i < ST_NBR_MODES; i++) {
      this.modes.push({
        defined: i === 0,
        sysv: false,
        defaultsForWrites: false,
        doAsyncWrites: true,
        doBufferWrites: true,
        doReadAhead: true,
        defaultCompression: ST_DONT_TOUCH,
        defaultBlksize: -1,
        defaultDensity: -1,
        devs: [],
      });
    }
  }

  get mode(): StModeDef {
    return this.modes[this.currentMode]!;
  }

  withLock<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#lock.then(fn, fn);
    this.#lock = run.catch(() => {});
    return run;
  }
}

/** Which errno a negative st return stands for; thrown at the file-operation boundary. */
class StError {
  readonly code: ErrnoCode;
  constructor(code: ErrnoCode) {
    this.code = code;
  }
}
type StRet = number | StError;
const fail = (code: ErrnoCode): StError => new StError(code);
const isErr = (r: StRet): r is StError => r instanceof StError;

export class StDriver implements ScsiDriver {
  readonly name = 'st';
  readonly #mod: ScsiMod;
  readonly #tapes = new Map<number, ScsiTape>();
  /** debug_flag (a driver attribute, writable; messages it enables are not modelled). */
  debugFlag = 0;

  private constructor(mod: ScsiMod) {
    this.#mod = mod;
  }

  get kernel(): Kernel {
    return this.#mod.kernel;
  }

  /** init_st: the version line, class scsi_tape, char major 9, the driver on the scsi bus. */
  static register(mod: ScsiMod): StDriver {
    const st = new StDriver(mod);
    const k = mod.kernel;
    k.printk(KERN_INFO, `st: Version ${ST_VERSION}, fixed bufsize ${ST_FIXED_BUFFER_SIZE}, s/g segs ${ST_MAX_SG_SEGS}`);
    k.dm.cls('scsi_tape');
    k.devs.registerChrdev(SCSI_TAPE_MAJOR, 'st', (minor, flags) => st.open(minor, flags));
    // scsi_register_driver → driver_register: the driver directory and st's driver attributes.
    const drv = k.dm.driver(mod.bus, 'st');
    createFiles(drv.dir, [
      { name: 'debug_flag', mode: 0o644, show: () => `${st.debugFlag}\n`, store: (text) => st.#storeDebugFlag(text) },
      { name: 'fixed_buffer_size', mode: 0o444, show: () => `${ST_FIXED_BUFFER_SIZE}\n` },
      { name: 'max_sg_segs', mode: 0o444, show: () => `${ST_MAX_SG_SEGS}\n` },
      { name: 'try_direct_io', mode: 0o444, show: () => `${TRY_DIRECT_IO}\n` },
      { name: 'version', mode: 0o444, show: () => `[${ST_VERSION}]\n` },
    ]);
    mod.drivers.push(st);
    // driver_register probes the devices already on the bus.
    driverAttach(mod, st);
    return st;
  }

  /** exit_st: every tape detached, the driver, the major (the class directory stays). */
  unregister(): void {
    const mod = this.#mod;
    for (const t of [...this.#tapes.values()]) {
      this.#removeTape(t);
      if (t.sdev.driver?.name === 'st') {
        mod.kernel.dm.unbind(t.sdev.sdevGendev);
        t.sdev.driver = null;
      }
    }
    const i = mod.drivers.indexOf(this);
    if (i >= 0) mod.drivers.splice(i, 1);
    mod.kernel.devs.unregisterChrdev(SCSI_TAPE_MAJOR, 'st');
    const dir = mod.bus.drivers.get('st');
    if (dir instanceof DirNode) removeDir(dir);
  }

  /** st_probe's first check: only sequential-access devices. */
  match(sdev: ScsiDevice): boolean {
    return sdev.type === TYPE_TAPE;
  }

  /** The tape attached to a LU, for tools and tests. */
  static of(sdev: ScsiDevice): ScsiTape | undefined {
    return sdev.driverData instanceof ScsiTape ? sdev.driverData : undefined;
  }

  /**
   * st_probe: a tape structure with the st_options.h defaults, the lowest free index, the eight class
   * devices (modes 0–3, rewinding then non-rewinding), the `tape` link, and the two attach lines.
   * The probe sends no command: the drive is first talked to at open.
   */
  async probe(sdev: ScsiDevice): Promise<'ok' | 'ENODEV'> {
    if (!this.match(sdev)) return 'ENODEV';
    let index = 0;
    while (this.#tapes.has(index)) index++;
    if (index >= ST_MAX_TAPES) {
      sdevPrintk(this.#mod, KERN_ERR, sdev, 'st: idr allocation failed: -28');
      return 'ENODEV';
    }
    sdev.driver = { name: 'st' };
    const tape = new ScsiTape(sdev, index);
    this.#tapes.set(index, tape);
    sdev.driverData = tape;
    this.#createCdevs(tape);
    sdevPrintk(this.#mod, KERN_NOTICE, sdev, `Attached scsi tape ${tape.name}`);
    // queue_dma_alignment + 1: scsi_init_limits sets max(4, dma_get_cache_alignment()) on x86.
    sdevPrintk(this.#mod, KERN_INFO, sdev, `${tape.name}: try direct i/o: ${TRY_DIRECT_IO ? 'yes' : 'no'} (alignment 4 B)`);
    return 'ok';
  }

  /** st_remove: the link and the class devices go, the index is freed. */
  async remove(sdev: ScsiDevice): Promise<void> {
    const tape = StDriver.of(sdev);
    if (tape) this.#removeTape(tape);
  }

  #removeTape(tape: ScsiTape): void {
    const dm = this.#mod.kernel.dm;
    tape.detached = true;
    if (tape.sdev.sdevGendev.dir) removeNode(tape.sdev.sdevGendev.dir, 'tape');
    for (const m of tape.modes) {
      for (const d of m.devs) dm.del(d);
      m.devs.length = 0;
    }
    this.#tapes.delete(tape.index);
    tape.sdev.driverData = null;
  }

  /** create_cdevs / create_one_cdev: device_create in the scsi_tape class, with st_dev_groups. */
  #createCdevs(tape: ScsiTape): void {
    const dm = this.#mod.kernel.dm;
    const cls = dm.cls('scsi_tape');
    for (let mode = 0; mode < ST_NBR_MODES; mode++) {
      const stm = tape.modes[mode]!;
      for (const noRewind of [false, true]) {
        const name = tapeNodeName(tape.index, mode, noRewind);
        const dev = new Device(name, tape.sdev.sdevGendev);
        dev.cls = cls;
        dev.devt = { kind: 'char', major: SCSI_TAPE_MAJOR, minor: tapeMinor(tape.index, mode, noRewind), devname: name };
        dm.add(dev, [
          { name: 'default_blksize', mode: 0o444, show: () => `${stm.defaultBlksize}\n` },
          { name: 'default_compression', mode: 0o444, show: () => `${stm.defaultCompression - 1}\n` },
          {
            name: 'default_density',
            mode: 0o444,
            show: () => (stm.defaultDensity >= 0 ? `0x${stm.defaultDensity.toString(16).padStart(2, '0')}\n` : `${stm.defaultDensity}\n`),
          },
          { name: 'defined', mode: 0o444, show: () => `${stm.defined ? 1 : 0}\n` },
          { name: 'options', mode: 0o444, show: () => `0x${optionsOf(tape, stm).toString(16).padStart(8, '0')}\n` },
        ]);
        if (dev.dir) {
          // The stats group prints its counters without a trailing newline, as st.c does.
          const s = tape.stats;
          createFiles(createDir(dev.dir, 'stats'), [
            { name: 'in_flight', mode: 0o444, show: () => `${s.inFlight}` },
            { name: 'io_ns', mode: 0o444, show: () => `${s.ioNs}` },
            { name: 'other_cnt', mode: 0o444, show: () => `${s.otherCnt}` },
            { name: 'read_byte_cnt', mode: 0o444, show: () => `${s.readByteCnt}` },
            { name: 'read_cnt', mode: 0o444, show: () => `${s.readCnt}` },
            { name: 'read_ns', mode: 0o444, show: () => `${s.readNs}` },
            { name: 'resid_cnt', mode: 0o444, show: () => `${s.resid}` },
            { name: 'write_byte_cnt', mode: 0o444, show: () => `${s.writeByteCnt}` },
            { name: 'write_cnt', mode: 0o444, show: () => `${s.writeCnt}` },
            { name: 'write_ns', mode: 0o444, show: () => `${s.writeNs}` },
          ]);
        }
        stm.devs.push(dev);
      }
    }
    const first = tape.modes[0]!.devs[0];
    if (tape.sdev.sdevGendev.dir && first?.dir) createLink(tape.sdev.sdevGendev.dir, 'tape', first.dir);
  }

  // ---- talking to the drive -------------------------------------------------------------------

  /** st_printk: the device prefix, then the tape name in brackets. */
  #printk(level: number, tape: ScsiTape, text: string): void {
    sdevPrintk(this.#mod, level, tape.sdev, `[${tape.name}] ${text}`);
  }

  /**
   * st_do_scsi + st_chk_result: one command, its status decoded (sense key, the filemark/EOM/ILI
   * bits, the information field), the statistics, and the error lines the driver prints.
   */
  async #doScsi(
    tape: ScsiTape,
    cdb: number[],
    opts: { readonly dir: 'none' | 'from-dev' | 'to-dev'; readonly length?: number; readonly dataOut?: Uint8Array; readonly timeout: number },
  ): Promise<DoScsiResult> {
    const k = this.#mod.kernel;
    const s = tape.stats;
    const op = cdb[0]!;
    if (op === 0x0a) s.writeCnt++;
    else if (op === 0x08) s.readCnt++;
    else s.otherCnt++;
    s.inFlight++;
    const start = k.loop.now();
    const r = await scsiExecute(this.#mod, tape.sdev, {
      cdb,
      dir: opts.dir,
      ...(opts.dataOut ? { dataOut: opts.dataOut } : { length: opts.length ?? 0 }),
      timeout: opts.timeout,
      retries: MAX_RETRIES,
    });
    const took = k.loop.now() - start;
    s.inFlight--;
    s.ioNs += took;
    const len = opts.dataOut?.length ?? opts.length ?? 0;
    if (op === 0x0a) {
      s.writeNs += took;
      s.writeByteCnt += len - r.resid;
      if (r.resid) s.resid++;
    } else if (op === 0x08) {
      s.readNs += took;
      s.readByteCnt += len - r.resid;
      if (r.resid) s.resid++;
    }
    const sshdr = r.result !== 0 ? r.sshdr : null;
    const fixed = sshdr !== null && !sshdr.descriptor;
    const sense = r.sense;
    const remainderValid = fixed && (sense[0]! & 0x80) !== 0;
    const cs: CmdStatus = {
      result: r.result,
      haveSense: sshdr !== null,
      sshdr,
      flags: fixed ? sense[2]! & 0xe0 : 0,
      remainderValid,
      remainder: remainderValid ? ((sense[3]! << 24) | (sense[4]! << 16) | (sense[5]! << 8) | sense[6]!) | 0 : 0,
    };
    return { cs, data: r.data, syscallResult: this.#chkResult(tape, cdb, cs) };
  }

  /** st_chk_result: 0 for success or a recovered error without flags; EIO (printed as Linux does) otherwise. */
  #chkResult(tape: ScsiTape, cdb: number[], cs: CmdStatus): 0 | ErrnoCode {
    if (cs.result === 0) return 0;
    const scode = cs.sshdr?.senseKey ?? 0;
    if (!cs.haveSense) {
      this.#printk(KERN_WARNING, tape, `Error ${cs.result.toString(16)} (driver bt 0, host bt 0x${hostByte(cs.result).toString(16)}).`);
    } else if (
      scode !== SENSE_KEY.NO_SENSE &&
      scode !== SENSE_KEY.RECOVERED_ERROR &&
      scode !== SENSE_KEY.BLANK_CHECK &&
      scode !== SENSE_KEY.VOLUME_OVERFLOW &&
      cdb[0] !== 0x1a &&
      cdb[0] !== 0x00
    ) {
      printSenseHdr(this.#mod, tape.sdev, tape.name, -1, cs.sshdr!);
    }
    if (cs.haveSense && scode === SENSE_KEY.RECOVERED_ERROR) {
      tape.recoverCount++;
      tape.recoverReg++;
      if (cs.flags === 0) return 0;
    }
    return 'EIO';
  }

  /** test_ready: TEST UNIT READY until it neither reports a unit attention nor (when waiting) not-ready. */
  async #testReady(tape: ScsiTape, doWait: boolean): Promise<StRet> {
    const maxWait = doWait ? ST_BLOCK_SECONDS : 0;
    let attentions = 0;
    let waits = 0;
    let newSession = false;
    for (;;) {
      const r = await this.#doScsi(tape, [0x00, 0, 0, 0, 0, 0], { dir: 'none', timeout: ST_LONG_TIMEOUT });
      const sh = r.cs.sshdr;
      if (sh) {
        if (sh.senseKey === SENSE_KEY.UNIT_ATTENTION) {
          newSession = true;
          if (attentions < MAX_ATTENTIONS) {
            attentions++;
            continue;
          }
          return fail('EIO');
        }
        if (sh.senseKey === SENSE_KEY.NOT_READY) {
          if (waits < maxWait) {
            await new Promise<void>((res) => this.#mod.kernel.loop.after(1e9, res));
            waits++;
            continue;
          }
          return tape.sdev.scsiLevel >= SCSI_2 && sh.asc === 0x3a ? CHKRES_NO_TAPE : CHKRES_NOT_READY;
        }
      }
      if (r.syscallResult) return fail(r.syscallResult);
      return newSession ? CHKRES_NEW_SESSION : CHKRES_READY;
    }
  }

  /** check_tape: readiness, a new session's reset position, block limits, the mode header and block descriptor. */
  async #checkTape(tape: ScsiTape, flags: number, mode: number): Promise<StRet> {
    tape.ready = 'ready';
    let newSession = false;
    if (mode !== tape.currentMode) {
      newSession = true;
      tape.currentMode = mode;
    }
    const doWait = (flags & O_NONBLOCK) === 0;
    const ret = await this.#testReady(tape, doWait);
    if (isErr(ret)) return ret;
    if (ret === CHKRES_NEW_SESSION) {
      tape.posUnknown = false;
      Object.assign(tape.ps, { rw: 'idle', eof: ST_NOEOF, atSm: false, drvBlock: 0, drvFile: 0 });
      newSession = true;
    } else if (ret === CHKRES_NOT_READY || ret === CHKRES_NO_TAPE) {
      tape.ready = ret === CHKRES_NO_TAPE ? 'no-tape' : 'not-ready';
      tape.density = 0;
      tape.writeProt = false;
      tape.blockSize = 0;
      tape.ps.drvFile = tape.ps.drvBlock = -1;
      return CHKRES_NOT_READY;
    }
    if (tape.omitBlklims) tape.minBlock = tape.maxBlock = -1;
    else {
      const r = await this.#doScsi(tape, [0x05, 0, 0, 0, 0, 0], { dir: 'from-dev', length: 6, timeout: ST_TIMEOUT });
      if (r.cs.result === 0) {
        const b = r.data;
        tape.maxBlock = (b[1]! << 16) | (b[2]! << 8) | b[3]!;
        tape.minBlock = (b[4]! << 8) | b[5]!;
      } else tape.minBlock = tape.maxBlock = -1;
    }
    const ms = await this.#doScsi(tape, [0x1a, 0, 0, 0, 12, 0], { dir: 'from-dev', length: 12, timeout: ST_TIMEOUT });
    if (ms.syscallResult) {
      // "No Mode Sense": an educated guess at the block size (ST_DEFAULT_BLOCK).
      tape.blockSize = 0;
      tape.drvWriteProt = false;
    } else {
      const b = ms.data;
      if (b[3]! >= 8) {
        tape.drvBuffer = (b[2]! >> 4) & 7;
        tape.density = b[4]!;
        tape.blockSize = (b[9]! << 16) | (b[10]! << 8) | b[11]!;
      }
      tape.drvWriteProt = (b[2]! & 0x80) !== 0;
    }
    tape.buffer.bufferBlocks = tape.blockSize > 0 ? Math.floor(tape.buffer.bufferSize / tape.blockSize) : 1;
    tape.buffer.bufferBytes = tape.buffer.readPointer = 0;
    if (tape.drvWriteProt) {
      tape.writeProt = true;
      const acc = flags & O_ACCMODE;
      if (doWait && acc !== O_RDONLY) return fail('EROFS');
    }
    if (newSession) {
      tape.densityChanged = tape.blksizeChanged = false;
      if (!tape.mode.defaultsForWrites) {
        const r = await this.#setModeDensblk(tape);
        if (isErr(r)) return r;
      }
    }
    return CHKRES_READY;
  }

  /** set_mode_densblk: the mode's default density and block size, when it has them and they differ. */
  async #setModeDensblk(tape: ScsiTape): Promise<StRet> {
    const stm = tape.mode;
    let setIt = false;
    let dens = tape.density;
    let blk = tape.blockSize;
    if (!tape.densityChanged && stm.defaultDensity >= 0 && stm.defaultDensity !== tape.density) {
      dens = stm.defaultDensity;
      setIt = true;
    }
    if (!tape.blksizeChanged && stm.defaultBlksize >= 0 && stm.defaultBlksize !== tape.blockSize) {
      blk = stm.defaultBlksize;
      setIt = true;
    }
    if (setIt && (await this.#modeSelect(tape, dens, blk)) !== 0) {
      this.#printk(KERN_WARNING, tape, `Can't set default block size to ${blk} bytes and density ${dens.toString(16)}.`);
      if (stm.defined) return fail('EINVAL');
    }
    return 0;
  }

  /** MODE SELECT(6) with one block descriptor (st_int_ioctl's SET_DENS_AND_BLK). */
  async #modeSelect(tape: ScsiTape, density: number, blockSize: number): Promise<number> {
    const d = new Uint8Array(12);
    d[2] = tape.drvBuffer << 4; // buffered mode
    d[3] = 8; // block descriptor length
    d[4] = density;
    d[9] = (blockSize >> 16) & 0xff;
    d[10] = (blockSize >> 8) & 0xff;
    d[11] = blockSize & 0xff;
    const r = await this.#doScsi(tape, [0x15, tape.usePf ? 0x10 : 0, 0, 0, 12, 0], { dir: 'to-dev', dataOut: d, timeout: ST_TIMEOUT });
    if (r.syscallResult) return -1;
    tape.density = density;
    tape.blockSize = blockSize;
    tape.buffer.bufferBlocks = blockSize > 0 ? Math.floor(tape.buffer.bufferSize / blockSize) : 1;
    tape.buffer.bufferBytes = tape.buffer.readPointer = 0;
    return 0;
  }

  // ---- open / release -------------------------------------------------------------------------

  /** st_open: one opener per tape (EBUSY), check_tape, ENOMEDIUM/EIO for a blocking open of an unready drive. */
  async open(minor: number, flags: number): Promise<FileOps> {
    const { tape: nr, mode, rewind } = decodeMinor(minor);
    const tape = this.#tapes.get(nr);
    if (!tape || tape.detached) throw new Errno('ENXIO');
    if (tape.inUse) throw new Errno('EBUSY');
    tape.inUse = true;
    tape.rewAtClose = tape.autorewDev = rewind;
    try {
      tape.writeProt = (flags & O_ACCMODE) === O_RDONLY;
      tape.dirty = false;
      tape.ps.rw = 'idle';
      tape.recoverCount = 0;
      const ret = await this.#checkTape(tape, flags, mode);
      if (isErr(ret)) throw new Errno(ret.code);
      if ((flags & O_NONBLOCK) === 0 && ret !== CHKRES_READY) throw new Errno(tape.ready === 'no-tape' ? 'ENOMEDIUM' : 'EIO');
    } catch (e) {
      tape.inUse = false;
      throw e;
    }
    let closed = false;
    return {
      read: (_pos, len) => tape.withLock(() => this.#read(tape, len)),
      write: (_pos, data) => tape.withLock(() => this.#write(tape, data)),
      ioctl: (request, arg) => tape.withLock(() => this.#ioctl(tape, request, arg)),
      release: async () => {
        if (closed) return;
        closed = true;
        await tape.withLock(async () => {
          try {
            const r = await this.#flush(tape);
            if (isErr(r)) throw new Errno(r.code);
          } finally {
            tape.inUse = false;
          }
        });
      },
    };
  }

  /** st_flush: a pending write gets its filemark(s); the non-rewinding node keeps its place; then rewind. */
  async #flush(tape: ScsiTape): Promise<StRet> {
    const ps = tape.ps;
    let result: StRet = 0;
    if (tape.detached) return 0;
    if (ps.rw === 'writing' && !tape.posUnknown) {
      const r = await this.#doScsi(tape, [0x10, tape.immediateFilemark ? 1 : 0, 0, 0, 1 + (tape.twoFm ? 1 : 0), 0], {
        dir: 'none',
        timeout: ST_TIMEOUT,
      });
      const cs = r.cs;
      const okAtEom =
        cs.haveSense &&
        (cs.flags & SENSE_EOM) !== 0 &&
        (cs.sshdr!.senseKey === SENSE_KEY.NO_SENSE || cs.sshdr!.senseKey === SENSE_KEY.RECOVERED_ERROR) &&
        (!cs.remainderValid || cs.remainder === 0);
      if (r.syscallResult === 0 || okAtEom) {
        if (ps.drvFile >= 0) ps.drvFile++;
        ps.drvBlock = 0;
        if (tape.twoFm) await this.#crossEof(tape, false);
        ps.eof = ST_FM;
      } else {
        this.#printk(KERN_ERR, tape, 'Error on write filemark.');
        result = fail('EIO');
      }
    } else if (!tape.rewAtClose) {
      if (!tape.mode.sysv || ps.rw !== 'reading') {
        if (tape.canBsr) result = await this.#flushBuffer(tape, false);
        else if (ps.eof === ST_FM_HIT) {
          const r = await this.#crossEof(tape, false);
          if (r) {
            if (ps.drvFile >= 0) ps.drvFile++;
            ps.drvBlock = 0;
            ps.eof = ST_FM;
          } else ps.eof = ST_NOEOF;
        }
      }
    }
    if (tape.rewAtClose) {
      const r2 = await this.#intIoctl(tape, mt.MTREW, 1);
      if (!isErr(result)) result = r2;
    }
    return result;
  }

  /** cross_eof: SPACE over one filemark, forward or backward; the errno-ish result (0 on success). */
  async #crossEof(tape: ScsiTape, forward: boolean): Promise<number> {
    const cdb = forward ? [0x11, 0x01, 0, 0, 1, 0] : [0x11, 0x01, 0xff, 0xff, 0xff, 0];
    const r = await this.#doScsi(tape, cdb, { dir: 'none', timeout: ST_TIMEOUT });
    if (r.cs.result !== 0) this.#printk(KERN_ERR, tape, `Stepping over filemark ${forward ? 'forward' : 'backward'} failed.`);
    return r.syscallResult ? -1 : 0;
  }

  /** flush_buffer: what a reader left in the driver buffer is given back to the tape (MTBSR). */
  async #flushBuffer(tape: ScsiTape, seekNext: boolean): Promise<StRet> {
    if (tape.posUnknown) return fail('EIO');
    if (tape.ready !== 'ready') return 0;
    const ps = tape.ps;
    if (ps.rw === 'writing') return 0;
    if (tape.blockSize === 0) return 0;
    const b = tape.buffer;
    const bs = tape.blockSize;
    const backspace = Math.floor((b.bufferBytes + b.readPointer) / bs) - Math.floor((b.readPointer + bs - 1) / bs);
    b.bufferBytes = 0;
    b.readPointer = 0;
    let result: StRet = 0;
    if (!seekNext) {
      if (ps.eof === ST_FM_HIT) {
        const r = await this.#crossEof(tape, false);
        if (!r) ps.eof = ST_NOEOF;
        else {
          if (ps.drvFile >= 0) ps.drvFile++;
          ps.drvBlock = 0;
          result = fail('EIO');
        }
      }
      if (!isErr(result) && backspace > 0) result = await this.#intIoctl(tape, mt.MTBSR, backspace);
    } else if (ps.eof === ST_FM_HIT) {
      if (ps.drvFile >= 0) ps.drvFile++;
      ps.drvBlock = 0;
      ps.eof = ST_FM;
    }
    return result;
  }

  /** rw_checks: ready, mode defined, position known, and the drive's block limits for variable mode. */
  #rwChecks(tape: ScsiTape, count: number): StRet {
    if (tape.detached) return fail('ENXIO');
    if (tape.ready !== 'ready') return fail(tape.ready === 'no-tape' ? 'ENOMEDIUM' : 'EIO');
    if (!tape.mode.defined) return fail('ENXIO');
    if (tape.posUnknown) return fail('EIO');
    if (count === 0) return 0;
    if (tape.blockSize === 0 && tape.maxBlock > 0 && (count < tape.minBlock || count > tape.maxBlock)) return fail('EINVAL');
    return 0;
  }

  // ---- write ----------------------------------------------------------------------------------

  /** st_write: one WRITE(6) per call — one record in variable mode, whole blocks in fixed mode. */
  async #write(tape: ScsiTape, data: Uint8Array): Promise<number> {
    const count = data.length;
    const chk = this.#rwChecks(tape, count);
    if (isErr(chk)) throw new Errno(chk.code);
    if (count === 0) return 0;
    const ps = tape.ps;
    const bs = tape.blockSize;
    if (bs !== 0 && count % bs !== 0) {
      this.#printk(KERN_WARNING, tape, 'Write not multiple of tape block size.');
      throw new Errno('EINVAL');
    }
    if (tape.writeProt) throw new Errno('EACCES');
    if (ps.rw === 'reading') {
      const r = await this.#flushBuffer(tape, false);
      if (isErr(r)) throw new Errno(r.code);
      ps.rw = 'writing';
    } else if (ps.rw !== 'writing' && ps.drvFile === 0 && ps.drvBlock === 0) {
      const r = await this.#setModeDensblk(tape);
      if (isErr(r)) throw new Errno(r.code);
    }
    if (ps.eof === ST_EOM_OK) {
      ps.eof = ST_EOD_1;
      throw new Errno('ENOSPC');
    } else if (ps.eof === ST_EOM_ERROR) throw new Errno('EIO');
    ps.rw = 'writing';
    const blks = bs === 0 ? count : count / bs;
    const r = await this.#doScsi(tape, [0x0a, bs !== 0 ? 1 : 0, (blks >> 16) & 0xff, (blks >> 8) & 0xff, blks & 0xff, 0], {
      dir: 'to-dev',
      dataOut: data,
      timeout: ST_TIMEOUT,
    });
    let written = count;
    let err: ErrnoCode | null = null;
    let doneBlks = blks;
    if (r.syscallResult) {
      const cs = r.cs;
      if (cs.haveSense && cs.flags & SENSE_EOM) {
        const scode = cs.sshdr!.senseKey;
        let undone = cs.remainderValid ? cs.remainder : bs === 0 && scode === SENSE_KEY.VOLUME_OVERFLOW ? count : 0;
        if (bs !== 0) undone *= bs;
        if (undone > count) undone = count;
        written = count - undone;
        if (bs) doneBlks = written / bs;
        ps.eof = ST_EOM_OK;
        err = 'ENOSPC';
      } else {
        ps.drvBlock = -1;
        err = 'EIO';
      }
    }
    if (ps.drvBlock >= 0) ps.drvBlock += bs === 0 ? (written > 0 ? 1 : 0) : doneBlks;
    tape.buffer.bufferBytes = 0;
    tape.dirty = false;
    if (err !== null && written === 0) throw new Errno(err);
    return written;
  }

  // ---- read -----------------------------------------------------------------------------------

  /**
   * read_tape: one READ(6) into the driver buffer and the eof state it implies. Returns 0 (data),
   * 1 (a special condition: filemark, end of data) or an error.
   */
  async #readTape(tape: ScsiTape, count: number): Promise<StRet> {
    if (count === 0) return 0;
    const ps = tape.ps;
    if (ps.eof === ST_FM_HIT) return 1;
    const b = tape.buffer;
    const bs = tape.blockSize;
    let blks: number;
    let bytes: number;
    if (bs === 0) blks = bytes = count;
    else if (count % bs === 0) {
      // Direct i/o: exactly the blocks asked for.
      blks = count / bs;
      bytes = count;
    } else {
      // Read-ahead through the driver buffer (do_read_ahead).
      blks = b.bufferBlocks;
      bytes = blks * bs;
    }
    const cdb = [0x08, bs !== 0 ? 1 : tape.sili ? 2 : 0, (blks >> 16) & 0xff, (blks >> 8) & 0xff, blks & 0xff, 0];
    const r = await this.#doScsi(tape, cdb, { dir: 'from-dev', length: bytes, timeout: ST_TIMEOUT });
    b.data = r.data;
    b.readPointer = 0;
    ps.atSm = false;
    let retval: StRet = 0;
    if (r.syscallResult) {
      retval = 1;
      const cs = r.cs;
      if (cs.haveSense) {
        let transfer = cs.remainderValid ? cs.remainder : 0;
        let flags = cs.flags;
        if (cs.sshdr!.senseKey === SENSE_KEY.MEDIUM_ERROR) {
          if (bs === 0) transfer = bytes;
          flags &= ~SENSE_ILI;
        }
        if (flags & SENSE_ILI) {
          if (bs === 0 && transfer < 0) {
            if (ps.drvBlock >= 0) ps.drvBlock += 1;
            this.#printk(KERN_NOTICE, tape, `Failed to read ${bytes - transfer} byte block with ${bytes} byte transfer.`);
            b.bufferBytes = 0;
            return fail('ENOMEM');
          } else if (bs === 0) b.bufferBytes = bytes - transfer;
          else {
            if (transfer === blks) {
              this.#printk(KERN_NOTICE, tape, 'Incorrect block size.');
              if (ps.drvBlock >= 0) ps.drvBlock += blks - transfer + 1;
              await this.#intIoctl(tape, mt.MTBSR, 1);
              return fail('EIO');
            }
            // Deliver the whole blocks before the short one, and step back over it.
            b.bufferBytes = (blks - transfer) * bs;
            if (isErr(await this.#intIoctl(tape, mt.MTBSR, 1))) return fail('EIO');
          }
        } else if (flags & SENSE_FMK) {
          ps.eof = ps.eof !== ST_FM_HIT ? ST_FM_HIT : ST_EOD_2;
          b.bufferBytes = bs === 0 ? 0 : bytes - transfer * bs;
        } else if (flags & SENSE_EOM) {
          ps.eof = ps.eof === ST_FM ? ST_EOD_1 : ST_EOM_OK;
          b.bufferBytes = bs === 0 ? bytes - transfer : bytes - transfer * bs;
        } else {
          ps.drvBlock = -1;
          if (ps.eof === ST_FM && cs.sshdr!.senseKey === SENSE_KEY.BLANK_CHECK) {
            // The first blank check after a filemark: end of data.
            ps.eof = ST_EOD_2;
            retval = 1;
          } else retval = fail('EIO');
          b.bufferBytes = 0;
        }
      } else {
        b.bufferBytes = 0;
        retval = fail(r.syscallResult);
      }
    } else {
      b.bufferBytes = bytes;
    }
    if (ps.drvBlock >= 0) {
      if (bs === 0) ps.drvBlock++;
      else ps.drvBlock += Math.floor(b.bufferBytes / bs);
    }
    return retval;
  }

  /** st_read: variable mode hands out one record per call; fixed mode fills the request from whole blocks. */
  async #read(tape: ScsiTape, count: number): Promise<Uint8Array> {
    const chk = this.#rwChecks(tape, count);
    if (isErr(chk)) throw new Errno(chk.code);
    if (count === 0) return new Uint8Array(0);
    const ps = tape.ps;
    const b = tape.buffer;
    // A read after writes: nothing is buffered (writes complete at once), so no filemark follows at close.
    if (ps.rw === 'writing') ps.rw = 'reading';
    if (b.bufferBytes === 0 && ps.eof >= ST_EOD_1) {
      if (ps.eof < ST_EOD) {
        ps.eof += 1;
        return new Uint8Array(0);
      }
      throw new Errno('EIO');
    }
    ps.rw = 'reading';
    const out = new Uint8Array(count);
    let total = 0;
    let special: StRet = 0;
    while (total < count && special === 0) {
      if (b.bufferBytes === 0) {
        special = await this.#readTape(tape, count - total);
        if (isErr(special)) throw new Errno(special.code);
      }
      if (b.bufferBytes > 0) {
        const n = Math.min(b.bufferBytes, count - total);
        out.set(b.data.subarray(b.readPointer, b.readPointer + n), total);
        b.readPointer += n;
        b.bufferBytes -= n;
        total += n;
      }
      if (tape.blockSize === 0) break;
    }
    if (total === 0) {
      if (ps.eof === ST_FM_HIT) {
        ps.eof = ST_FM;
        ps.drvBlock = 0;
        if (ps.drvFile >= 0) ps.drvFile++;
      } else if (ps.eof === ST_EOD_1) {
        ps.eof = ST_EOD_2;
        ps.drvBlock = 0;
        if (ps.drvFile >= 0) ps.drvFile++;
      } else if (ps.eof === ST_EOD_2) ps.eof = ST_EOD;
    } else if (ps.eof === ST_FM) ps.eof = ST_NOEOF;
    return out.slice(0, total);
  }

  // ---- ioctl ----------------------------------------------------------------------------------

  /** st_ioctl: MTIOCTOP (with the bookkeeping before st_int_ioctl), MTIOCGET, MTIOCPOS, then scsi_ioctl. */
  async #ioctl(tape: ScsiTape, request: number, arg: unknown): Promise<unknown> {
    if (tape.detached) throw new Errno('ENXIO');
    const stm = tape.mode;
    const ps = tape.ps;
    if (request === mt.MTIOCTOP) {
      const op = arg as MtOp;
      let count = op.mtCount | 0;
      const o = op.mtOp;
      if (!stm.defined && (o !== mt.MTSETDRVBUFFER || (count & mt.MT_ST_OPTIONS) === 0)) throw new Errno('ENXIO');
      if (!tape.posUnknown) {
        if (ps.eof === ST_FM_HIT) {
          if (o === mt.MTFSF || o === mt.MTFSFM || o === mt.MTEOM) {
            count -= 1;
            if (ps.drvFile >= 0) ps.drvFile += 1;
          } else if (o === mt.MTBSF || o === mt.MTBSFM) {
            count += 1;
            if (ps.drvFile >= 0) ps.drvFile += 1;
          }
        }
        const seekNext = [mt.MTREW, mt.MTOFFL, mt.MTRETEN, mt.MTEOM, mt.MTLOCK, mt.MTLOAD, mt.MTFSF, mt.MTFSFM, mt.MTBSF, mt.MTBSFM, mt.MTCOMPRESSION].includes(o);
        const fr = await this.#flushBuffer(tape, seekNext);
        if (isErr(fr)) throw new Errno(fr.code);
        if (ps.rw === 'writing' && [mt.MTREW, mt.MTOFFL, mt.MTSEEK, mt.MTBSF, mt.MTBSFM].includes(o)) {
          const w = await this.#intIoctl(tape, mt.MTWEOF, 1);
          if (isErr(w)) throw new Errno(w.code);
          if (o === mt.MTBSF || o === mt.MTBSFM) count++;
          ps.rw = 'idle';
        }
      } else {
        if (![mt.MTREW, mt.MTOFFL, mt.MTRETEN, mt.MTERASE, mt.MTSEEK, mt.MTEOM].includes(o)) throw new Errno('EIO');
        tape.posUnknown = false;
      }
      if (![mt.MTNOP, mt.MTSETBLK, mt.MTSETDENSITY, mt.MTWSM, mt.MTSETDRVBUFFER, mt.MTSETPART].includes(o)) ps.rw = 'idle';
      let ret: StRet;
      if (o === mt.MTSETPART || o === mt.MTMKPART) ret = fail('EINVAL'); // no partition support (can_partitions 0)
      else if (o === mt.MTSETDRVBUFFER && (count & mt.MT_ST_OPTIONS) !== 0) ret = this.#setOptions(tape, count);
      else if (o === mt.MTUNLOAD || o === mt.MTOFFL) ret = await this.#loadUnload(tape, 0);
      else if (o === mt.MTLOAD) ret = await this.#loadUnload(tape, Math.max(1, count));
      else if (o === mt.MTLOCK || o === mt.MTUNLOCK) ret = await this.#doorLock(tape, o === mt.MTLOCK);
      else if (o === mt.MTSEEK) ret = await this.#setLocation(tape, count);
      else ret = await this.#intIoctl(tape, o, count);
      if (isErr(ret)) throw new Errno(ret.code);
      return 0;
    }
    if (!stm.defined) throw new Errno('ENXIO');
    const fr = await this.#flushBuffer(tape, false);
    if (isErr(fr)) throw new Errno(fr.code);
    if (request === mt.MTIOCGET) return this.#mtget(tape);
    if (request === mt.MTIOCPOS) {
      const loc = await this.#getLocation(tape);
      if (isErr(loc)) throw new Errno(loc.code);
      const pos: MtPos = { mtBlkno: loc };
      return pos;
    }
    const r = scsiIoctl(this.#mod, tape.sdev, request, arg);
    if (r === undefined) throw new Errno('ENOTTY');
    return r;
  }

  /** MTIOCGET: type, block size and density, the GMT_* picture of the position and the drive. */
  #mtget(tape: ScsiTape): MtGet {
    const ps = tape.ps;
    const stm = tape.mode;
    let blkno = ps.drvBlock;
    if (tape.blockSize !== 0 && ps.rw === 'reading') blkno -= Math.floor((tape.buffer.bufferBytes + tape.blockSize - 1) / tape.blockSize);
    let g = 0;
    if (tape.drvWriteProt) g |= mt.GMT_WR_PROT;
    if (blkno === 0) g |= ps.drvFile === 0 ? mt.GMT_BOT : mt.GMT_EOF;
    if (ps.eof === ST_EOM_OK || ps.eof === ST_EOM_ERROR) g |= mt.GMT_EOT;
    else if (ps.eof >= ST_EOM_OK) g |= mt.GMT_EOD;
    if (tape.density === 1) g |= mt.GMT_D_800;
    else if (tape.density === 2) g |= mt.GMT_D_1600;
    else if (tape.density === 3) g |= mt.GMT_D_6250;
    if (tape.ready === 'ready') g |= mt.GMT_ONLINE;
    if (tape.ready === 'no-tape') g |= mt.GMT_DR_OPEN;
    if (ps.atSm) g |= mt.GMT_SM;
    if (stm.doAsyncWrites || (stm.doBufferWrites && tape.blockSize !== 0) || tape.drvBuffer !== 0) g |= mt.GMT_IM_REP_EN;
    const st: MtGet = {
      mtType: tape.tapeType,
      mtResid: 0,
      mtDsreg:
        (((tape.blockSize << mt.MT_ST_BLKSIZE_SHIFT) & mt.MT_ST_BLKSIZE_MASK) | ((tape.density << mt.MT_ST_DENSITY_SHIFT) & mt.MT_ST_DENSITY_MASK)) >>> 0,
      mtGstat: g >>> 0,
      mtErreg: tape.recoverReg << mt.MT_ST_SOFTERR_SHIFT,
      mtFileno: ps.drvFile,
      mtBlkno: blkno,
    };
    tape.recoverReg = 0;
    return st;
  }

  /** get_location: READ POSITION (short form, vendor block address unless scsi2logical). */
  async #getLocation(tape: ScsiTape): Promise<StRet> {
    if (tape.ready !== 'ready') return fail('EIO');
    const r = await this.#doScsi(tape, [0x34, tape.scsi2Logical ? 0 : 1, 0, 0, 0, 0, 0, 0, 0, 0], { dir: 'from-dev', length: 20, timeout: ST_TIMEOUT });
    const b = r.data;
    if (r.syscallResult || (b[0]! & 4) !== 0) return fail('EIO');
    if (b[0]! & 0x80 && b[1] === 0) tape.ps.drvBlock = tape.ps.drvFile = 0;
    return ((b[4]! << 24) | (b[5]! << 16) | (b[6]! << 8) | b[7]!) >>> 0;
  }

  /** set_location: LOCATE(10) to a block; file and block numbers become unknown. */
  async #setLocation(tape: ScsiTape, block: number): Promise<StRet> {
    if (tape.ready !== 'ready') return fail('EIO');
    const ps = tape.ps;
    const cdb = [0x2b, tape.scsi2Logical ? 0 : 4, 0, (block >>> 24) & 0xff, (block >> 16) & 0xff, (block >> 8) & 0xff, block & 0xff, 0, 0, 0];
    const r = await this.#doScsi(tape, cdb, { dir: 'none', timeout: ST_LONG_TIMEOUT });
    ps.drvBlock = ps.drvFile = -1;
    ps.eof = ST_NOEOF;
    if (r.syscallResult) return fail('EIO');
    ps.atSm = false;
    if (block === 0) ps.drvBlock = ps.drvFile = 0;
    return 0;
  }

  /** do_door_lock: PREVENT ALLOW MEDIUM REMOVAL. */
  async #doorLock(tape: ScsiTape, lock: boolean): Promise<StRet> {
    const r = await this.#doScsi(tape, [0x1e, 0, 0, 0, lock ? 1 : 0, 0], { dir: 'none', timeout: ST_TIMEOUT });
    return r.syscallResult ? fail('EIO') : 0;
  }

  /** do_load_unload: LOAD UNLOAD; a load runs check_tape again, an unload leaves the drive without tape. */
  async #loadUnload(tape: ScsiTape, loadCode: number): Promise<StRet> {
    if (tape.ready !== 'ready' && !loadCode) return fail(tape.ready === 'no-tape' ? 'ENOMEDIUM' : 'EIO');
    const r = await this.#doScsi(tape, [0x1b, tape.immediate ? 1 : 0, 0, 0, loadCode ? 1 : 0, 0], { dir: 'none', timeout: ST_LONG_TIMEOUT });
    if (r.syscallResult) {
      tape.ps.drvFile = tape.ps.drvBlock = -1;
      return fail(r.syscallResult);
    }
    if (!loadCode) {
      tape.rewAtClose = false;
      tape.ready = 'no-tape';
      return 0;
    }
    tape.rewAtClose = tape.autorewDev;
    const ret = await this.#checkTape(tape, O_NONBLOCK, tape.currentMode);
    return isErr(ret) ? ret : 0;
  }

  /** st_set_options: MT_ST_BOOLEANS / SETBOOLEANS / CLEARBOOLEANS and the default block size and density. */
  #setOptions(tape: ScsiTape, options: number): StRet {
    const stm = tape.mode;
    const code = (options & mt.MT_ST_OPTIONS) >>> 0;
    const apply = (bits: number, on: boolean): void => {
      const set = (m: number): boolean => ((bits & m) !== 0 ? on : false);
      const keep = (m: number, cur: boolean): boolean => ((bits & m) !== 0 ? on : cur);
      if (code === mt.MT_ST_BOOLEANS) {
        stm.doBufferWrites = set(mt.MT_ST_BUFFER_WRITES);
        stm.doAsyncWrites = set(mt.MT_ST_ASYNC_WRITES);
        stm.doReadAhead = set(mt.MT_ST_READ_AHEAD);
        tape.twoFm = set(mt.MT_ST_TWO_FM);
        tape.fastMteom = set(mt.MT_ST_FAST_MTEOM);
        stm.defaultsForWrites = set(mt.MT_ST_DEF_WRITES);
        tape.canBsr = set(mt.MT_ST_CAN_BSR);
        tape.omitBlklims = set(mt.MT_ST_NO_BLKLIMS);
        tape.scsi2Logical = set(mt.MT_ST_SCSI2LOGICAL);
        stm.sysv = set(mt.MT_ST_SYSV);
        tape.immediate = set(mt.MT_ST_NOWAIT);
        tape.sili = set(mt.MT_ST_SILI);
      } else {
        stm.doBufferWrites = keep(mt.MT_ST_BUFFER_WRITES, stm.doBufferWrites);
        stm.doAsyncWrites = keep(mt.MT_ST_ASYNC_WRITES, stm.doAsyncWrites);
        stm.doReadAhead = keep(mt.MT_ST_READ_AHEAD, stm.doReadAhead);
        tape.twoFm = keep(mt.MT_ST_TWO_FM, tape.twoFm);
        tape.fastMteom = keep(mt.MT_ST_FAST_MTEOM, tape.fastMteom);
        stm.defaultsForWrites = keep(mt.MT_ST_DEF_WRITES, stm.defaultsForWrites);
        tape.canBsr = keep(mt.MT_ST_CAN_BSR, tape.canBsr);
        tape.omitBlklims = keep(mt.MT_ST_NO_BLKLIMS, tape.omitBlklims);
        tape.scsi2Logical = keep(mt.MT_ST_SCSI2LOGICAL, tape.scsi2Logical);
        stm.sysv = keep(mt.MT_ST_SYSV, stm.sysv);
        tape.immediate = keep(mt.MT_ST_NOWAIT, tape.immediate);
        tape.sili = keep(mt.MT_ST_SILI, tape.sili);
      }
    };
    if (code === mt.MT_ST_BOOLEANS || code === mt.MT_ST_SETBOOLEANS || code === mt.MT_ST_CLEARBOOLEANS) {
      // The first options call defines a mode that was not (st_set_options → modes_defined).
      if (!stm.defined) {
        Object.assign(stm, { ...tape.modes[0]!, devs: stm.devs });
        stm.defined = true;
      }
      apply(options & ~mt.MT_ST_OPTIONS, code !== mt.MT_ST_CLEARBOOLEANS);
      return 0;
    }
    if (code === mt.MT_ST_DEF_BLKSIZE >>> 0) {
      // All ones in the value field withdraws the default.
      const v = options & 0x0fffffff;
      stm.defaultBlksize = v === 0x0fffffff ? -1 : v;
      return 0;
    }
    if (code === mt.MT_ST_DEF_OPTIONS >>> 0) {
      const which = (options & ~mt.MT_ST_CLEAR_DEFAULT) >>> 0;
      const value = options & mt.MT_ST_CLEAR_DEFAULT;
      const clear = value === mt.MT_ST_CLEAR_DEFAULT;
      if (which === mt.MT_ST_DEF_DENSITY >>> 0) stm.defaultDensity = clear ? -1 : value & 0xff;
      else if (which === mt.MT_ST_DEF_COMPRESSION >>> 0) {
        // ST_NO (1) / ST_YES (2); 0xff in the low byte leaves it as it is.
        if (clear) stm.defaultCompression = ST_DONT_TOUCH;
        else if ((value & 0xff) !== 0xff) stm.defaultCompression = value & 1 ? 2 : 1;
      }
      return 0;
    }
    // MT_ST_TIMEOUTS, MT_ST_WRITE_THRESHOLD, MT_ST_SET_CLN: accepted; nothing here depends on them.
    if (code === mt.MT_ST_TIMEOUTS >>> 0 || code === mt.MT_ST_WRITE_THRESHOLD >>> 0 || code === mt.MT_ST_SET_CLN >>> 0) return 0;
    return fail('EIO');
  }

  /**
   * st_int_ioctl: the MTIOCTOP operations that become one SCSI command, and what their success or
   * failure (filemark, end of medium, blank check, the residual count) means for file and block numbers.
   */
  async #intIoctl(tape: ScsiTape, op: number, arg: number): Promise<StRet> {
    if (tape.ready !== 'ready') return fail(tape.ready === 'no-tape' ? 'ENOMEDIUM' : 'EIO');
    const ps = tape.ps;
    let timeout = ST_LONG_TIMEOUT;
    let fileno = ps.drvFile;
    let blkno = ps.drvBlock;
    let atSm = ps.atSm;
    let chgEof = true;
    const b24 = (n: number): number[] => [(n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff];
    let cdb: number[];
    let dataOut: Uint8Array | undefined;
    let newBlk = tape.blockSize;
    let newDens = tape.density;
    switch (op) {
      case mt.MTFSFM:
      case mt.MTFSF:
        if (op === mt.MTFSFM) chgEof = false;
        cdb = [0x11, 0x01, ...b24(arg), 0];
        if (fileno >= 0) fileno += arg;
        blkno = 0;
        atSm = atSm && arg === 0;
        break;
      case mt.MTBSFM:
      case mt.MTBSF:
        if (op === mt.MTBSFM) chgEof = false;
        cdb = [0x11, 0x01, ...b24(-arg), 0];
        if (fileno >= 0) fileno -= arg;
        blkno = -1;
        atSm = atSm && arg === 0;
        break;
      case mt.MTFSR:
        cdb = [0x11, 0x00, ...b24(arg), 0];
        if (blkno >= 0) blkno += arg;
        atSm = atSm && arg === 0;
        break;
      case mt.MTBSR:
        cdb = [0x11, 0x00, ...b24(-arg), 0];
        if (blkno >= 0) blkno -= arg;
        atSm = atSm && arg === 0;
        break;
      case mt.MTWEOF:
      case mt.MTWEOFI:
      case mt.MTWSM:
        if (tape.writeProt) return fail('EACCES');
        cdb = [0x10, (op === mt.MTWSM ? 2 : 0) | (op === mt.MTWEOFI || (op === mt.MTWEOF && tape.immediateFilemark) ? 1 : 0), ...b24(arg), 0];
        timeout = ST_TIMEOUT;
        if (fileno >= 0) fileno += arg;
        blkno = 0;
        atSm = op === mt.MTWSM;
        break;
      case mt.MTREW:
        cdb = [0x01, tape.immediate ? 1 : 0, 0, 0, 0, 0];
        fileno = blkno = 0;
        atSm = false;
        break;
      case mt.MTNOP:
        return 0;
      case mt.MTRETEN:
        cdb = [0x1b, tape.immediate ? 1 : 0, 0, 0, 3, 0];
        fileno = blkno = 0;
        atSm = false;
        break;
      case mt.MTEOM:
        if (!tape.fastMteom) {
          // Space over every filemark first, so the file number stays known.
          await this.#intIoctl(tape, mt.MTFSF, 0x7fffff);
          fileno = ps.drvFile;
          if (ps.eof >= ST_EOD_1) return 0;
        } else fileno = -1;
        cdb = [0x11, 0x03, 0, 0, 0, 0];
        blkno = -1;
        atSm = false;
        break;
      case mt.MTERASE:
        if (tape.writeProt) return fail('EACCES');
        cdb = [0x19, arg ? 1 : 0, 0, 0, 0, 0];
        timeout = ST_LONG_TIMEOUT * 8;
        fileno = blkno = 0;
        atSm = false;
        break;
      case mt.MTSETBLK:
      case mt.MTSETDENSITY:
      case mt.MTSETDRVBUFFER: {
        chgEof = false;
        if (tape.dirty || tape.buffer.bufferBytes !== 0) return fail('EIO');
        const blk = arg & mt.MT_ST_BLKSIZE_MASK;
        if (op === mt.MTSETBLK && blk !== 0 && tape.maxBlock > 0 && (blk < tape.minBlock || blk > tape.maxBlock)) {
          this.#printk(KERN_WARNING, tape, 'Illegal block size.');
          return fail('EINVAL');
        }
        const d = new Uint8Array(12);
        d[2] = (op === mt.MTSETDRVBUFFER ? arg & 7 : tape.drvBuffer) << 4;
        d[3] = 8; // block descriptor length
        newDens = op === mt.MTSETDENSITY ? arg & 0xff : tape.density;
        d[4] = newDens;
        if (op === mt.MTSETDENSITY) tape.densityChanged = true;
        newBlk = op === mt.MTSETBLK ? blk : tape.blockSize;
        if (op === mt.MTSETBLK) tape.blksizeChanged = true;
        d.set(b24(newBlk), 9);
        dataOut = d;
        cdb = [0x15, tape.usePf ? 0x10 : 0, 0, 0, 12, 0];
        timeout = ST_TIMEOUT;
        break;
      }
      default:
        return fail('ENOSYS');
    }
    const r = await this.#doScsi(tape, cdb, dataOut ? { dir: 'to-dev', dataOut, timeout } : { dir: 'none', timeout });
    if (!r.syscallResult) {
      ps.drvBlock = blkno;
      ps.drvFile = fileno;
      ps.atSm = atSm;
      let ret: StRet = 0;
      if (op === mt.MTBSFM) ret = await this.#intIoctl(tape, mt.MTFSF, 1);
      else if (op === mt.MTFSFM) ret = await this.#intIoctl(tape, mt.MTBSF, 1);
      if (op === mt.MTSETBLK) {
        tape.blockSize = newBlk;
        if (newBlk !== 0) tape.buffer.bufferBlocks = Math.floor(tape.buffer.bufferSize / newBlk);
        tape.buffer.bufferBytes = tape.buffer.readPointer = 0;
      } else if (op === mt.MTSETDRVBUFFER) tape.drvBuffer = arg & 7;
      else if (op === mt.MTSETDENSITY) tape.density = newDens;
      if (op === mt.MTEOM) ps.eof = ST_EOD;
      else if (op === mt.MTFSF) ps.eof = ST_FM;
      else if (chgEof) ps.eof = ST_NOEOF;
      if (op === mt.MTWEOF || op === mt.MTWEOFI) ps.rw = 'idle';
      return ret;
    }
    const cs = r.cs;
    if (cs.flags & SENSE_EOM) {
      if (![mt.MTBSF, mt.MTBSFM, mt.MTBSR, mt.MTBSS].includes(op)) ps.eof = ST_EOM_OK;
      ps.drvBlock = 0;
    }
    let undone = cs.remainderValid ? cs.remainder : 0;
    let ret: StRet = fail(r.syscallResult);
    if ((op === mt.MTWEOF || op === mt.MTWEOFI) && cs.haveSense && cs.flags & SENSE_EOM) {
      const k = cs.sshdr!.senseKey;
      if (k === SENSE_KEY.NO_SENSE || k === SENSE_KEY.RECOVERED_ERROR) {
        ret = 0;
        ps.eof = ST_NOEOF;
      } else {
        if (fileno >= 0) fileno -= undone;
        if (undone < arg) ps.eof = ST_NOEOF;
      }
      ps.drvFile = fileno;
    } else if (op === mt.MTFSF || op === mt.MTFSFM) {
      ps.drvFile = fileno >= 0 ? fileno - undone : fileno;
      ps.drvBlock = -1;
      ps.eof = ST_NOEOF;
    } else if (op === mt.MTBSF || op === mt.MTBSFM) {
      if (arg > 0 && undone < 0) undone = -undone;
      if (ps.drvFile >= 0) ps.drvFile = fileno + undone;
      ps.drvBlock = 0;
      ps.eof = ST_NOEOF;
    } else if (op === mt.MTFSR) {
      if (cs.flags & SENSE_FMK) {
        if (ps.drvFile >= 0) ps.drvFile++;
        ps.drvBlock = 0;
        ps.eof = ST_FM;
      } else {
        ps.drvBlock = blkno >= undone ? blkno - undone : -1;
        ps.eof = ST_NOEOF;
      }
    } else if (op === mt.MTBSR) {
      if (cs.flags & SENSE_FMK) {
        ps.drvFile--;
        ps.drvBlock = -1;
      } else {
        if (arg > 0 && undone < 0) undone = -undone;
        if (ps.drvBlock >= 0) ps.drvBlock = blkno + undone;
      }
      ps.eof = ST_NOEOF;
    } else if (op === mt.MTEOM) {
      ps.drvFile = -1;
      ps.drvBlock = -1;
      ps.eof = ST_EOD;
    } else if (chgEof) ps.eof = ST_NOEOF;
    if (cs.sshdr?.senseKey === SENSE_KEY.BLANK_CHECK) ps.eof = ST_EOD;
    return ret;
  }

  /** debug_flag_store: only the first byte counts — '0' off, '1' on, anything else EINVAL. */
  #storeDebugFlag(text: string): void {
    if (text[0] === '0') this.debugFlag = 0;
    else if (text[0] === '1') this.debugFlag = 1;
    else throw new Errno('EINVAL');
  }
}

/** options_show: the option bits of the tape and of one mode. */
function optionsOf(t: ScsiTape, m: StModeDef): number {
  let o = 0;
  if (m.doBufferWrites) o |= mt.MT_ST_BUFFER_WRITES;
  if (m.doAsyncWrites) o |= mt.MT_ST_ASYNC_WRITES;
  if (m.doReadAhead) o |= mt.MT_ST_READ_AHEAD;
  if (t.twoFm) o |= mt.MT_ST_TWO_FM;
  if (t.fastMteom) o |= mt.MT_ST_FAST_MTEOM;
  if (m.defaultsForWrites) o |= mt.MT_ST_DEF_WRITES;
  if (t.canBsr) o |= mt.MT_ST_CAN_BSR;
  if (t.omitBlklims) o |= mt.MT_ST_NO_BLKLIMS;
  if (t.canPartitions) o |= mt.MT_ST_CAN_PARTITIONS;
  if (t.scsi2Logical) o |= mt.MT_ST_SCSI2LOGICAL;
  if (m.sysv) o |= mt.MT_ST_SYSV;
  if (t.immediate) o |= mt.MT_ST_NOWAIT;
  if (t.immediateFilemark) o |= mt.MT_ST_NOWAIT_EOF;
  if (t.sili) o |= mt.MT_ST_SILI;
  return o;
}
