// Models src/sg_dd.c (sg3_utils 1.46, sg_dd 6.25): dd specialised for SCSI — SCSI READ/WRITE(6/10/12/16)
// through SG_IO on sg devices (or block devices with blk_sgio=1 / iflag=sgio), plain read/write on other
// files, /dev/null (or `.`) as a sink that is never opened; retries of UNIT ATTENTION and ABORTED COMMAND,
// continue-on-error, the closing record counts and SG_LIB_CAT_* exit statuses.

import { isErrno } from '../kernel/errno.ts';
import {
  O_APPEND, O_CREAT, O_DIRECT, O_EXCL, O_NONBLOCK, O_RDONLY, O_RDWR, O_SYNC, O_WRONLY,
  S_IFBLK, S_IFCHR, S_IFIFO, S_IFMT, type Syscalls,
} from '../kernel/syscalls.ts';
import { BLKGETSIZE64, BLKSSZGET, ioctlValue } from '../kernel/uapi/fs.ts';
import {
  SG_DXFER_FROM_DEV, SG_DXFER_TO_DEV, SG_FLAG_DIRECT_IO, SG_GET_RESERVED_SIZE, SG_GET_VERSION_NUM, SG_INFO_DIRECT_IO,
  SG_INFO_DIRECT_IO_MASK, SG_IO, SG_SET_RESERVED_SIZE, sgIoHdr, type SgIoHdrOut,
} from '../kernel/uapi/sg.ts';
import { readFile } from './applet.ts';
import type { CommandEntry, Process } from './process.ts';
import {
  SG_LIB_CAT_ABORTED_COMMAND, SG_LIB_CAT_CLEAN, SG_LIB_CAT_CONDITION_MET, SG_LIB_CAT_ILLEGAL_REQ,
  SG_LIB_CAT_INVALID_OP, SG_LIB_CAT_MEDIUM_HARD, SG_LIB_CAT_MISCOMPARE, SG_LIB_CAT_NOT_READY, SG_LIB_CAT_OTHER,
  SG_LIB_CAT_RECOVERED, SG_LIB_CAT_UNIT_ATTENTION, SG_LIB_FILE_ERROR, SG_LIB_SYNTAX_ERROR, be32, be64,
  commandStrNamed, errCategory3, linuxSensePrint, llCmd, llInquiry, normalizeSense, senseInfoField,
  sgGetNum, type SgDev,
} from './sg_lib.ts';

const VERSION = '6.25 20210326';
const ME = 'sg_dd: ';

const DEF_BLOCK_SIZE = 512;
const DEF_BLOCKS_PER_TRANSFER = 128;
const DEF_BLOCKS_PER_2048TRANSFER = 32;
const DEF_SCSI_CDBSZ = 10;
const MAX_SCSI_CDBSZ = 16;
const SENSE_BUFF_LEN = 64;
const DEF_TIMEOUT_MS = 60000;
const MIN_RESERVED_SIZE = 8192;
const MAX_UNIT_ATTENTIONS = 10;
const MAX_ABORTED_CMDS = 256;
const READ_LONG_DEF_BLK_INC = 8;
const SG_LIB_CONTRADICT = 31;
/** Private status values of sg_dd.c. */
const SG_LIB_CAT_MEDIUM_HARD_WITH_INFO = 18;
const SG_DD_BYPASS = 999;

/** <linux/major.h> numbers sg_dd compares st_rdev against (RAW_MAJOR is its "unlikely" 255). */
const MEM_MAJOR = 1;
const DEV_NULL_MINOR = 3;
const RAW_MAJOR = 255;
const SCSI_GENERIC_MAJOR = 21;
const SCSI_TAPE_MAJOR = 9;

/** dd_filetype bits. */
const FT = {
  OTHER: 1, SG: 2, RAW: 4, DEV_NULL: 8, ST: 16, BLOCK: 32, FIFO: 64, NVME: 128, RANDOM_0_FF: 256, ERROR: 512,
} as const;

const UINT_MAX = 0xffffffff;
const USHRT_MAX = 0xffff;

interface Flags {
  append: boolean; dio: boolean; direct: boolean; dpo: boolean; dsync: boolean; excl: boolean; flock: boolean;
  ff: boolean; fua: boolean; nocreat: boolean; random: boolean; sgio: boolean; sparse: boolean; zero: boolean;
  cdbsz: number; cdl: number; coe: number; nocache: number; pdt: number; retries: number;
}

function newFlags(): Flags {
  return {
    append: false, dio: false, direct: false, dpo: false, dsync: false, excl: false, flock: false, ff: false,
    fua: false, nocreat: false, random: false, sgio: false, sparse: false, zero: false,
    cdbsz: DEF_SCSI_CDBSZ, cdl: 0, coe: 0, nocache: 0, pdt: -1, retries: 0,
  };
}

const hex = (n: number): string => n.toString(16);

/** sg_get_llnum: as sg_get_num, also for values past 32 bits; -1 when invalid. */
function getLlNum(s: string): number {
  return sgGetNum(s);
}

/** drand48's 48-bit linear congruential generator (mrand48: the top 32 bits, signed). */
class Drand48 {
  #x: bigint;
  constructor(seed: bigint) {
    this.#x = (((seed & 0xffffffffn) << 16n) | 0x330en) & 0xffffffffffffn;
  }
  mrand(): number {
    this.#x = (this.#x * 0x5deece66dn + 0xbn) & 0xffffffffffffn;
    return Number(this.#x >> 16n) | 0;
  }
}

const USAGE_1 = 'Usage: sg_dd  [bs=BS] [conv=CONV] [count=COUNT] [ibs=BS] [if=IFILE]\n' +
  '              [iflag=FLAGS] [obs=BS] [of=OFILE] [oflag=FLAGS] [seek=SEEK]\n' +
  '              [skip=SKIP] [--dry-run] [--help] [--verbose] [--version]\n\n' +
  '              [blk_sgio=0|1] [bpt=BPT] [cdbsz=6|10|12|16] [cdl=CDL]\n' +
  '              [coe=0|1|2|3] [coe_limit=CL] [dio=0|1] [odir=0|1]\n' +
  '              [of2=OFILE2] [retries=RETR] [sync=0|1] [time=0|1[,TO]]\n' +
  '              [verbose=VERB] [--progress] [--verify]\n' +
  '  where:\n' +
  '    blk_sgio    0->block device use normal I/O(def), 1->use SG_IO\n' +
  '    bpt         is blocks_per_transfer (default is 128 or 32 when BS>=2048)\n' +
  '    bs          logical block size (default is 512)\n';
const USAGE_2 = '    cdbsz       size of SCSI READ or WRITE cdb (default is 10)\n' +
  '    cdl         command duration limits value 0 to 7 (def: 0 (no cdl))\n' +
  '    coe         0->exit on error (def), 1->continue on sg error (zero\n' +
  '                fill), 2->also try read_long on unrecovered reads,\n' +
  '                3->and set the CORRCT bit on the read long\n' +
  "    coe_limit   limit consecutive 'bad' blocks on reads to CL times\n" +
  '                when COE>1 (default: 0 which is no limit)\n' +
  '    conv        comma separated list from: [nocreat,noerror,notrunc,\n' +
  '                null,sparse,sync]\n' +
  '    count       number of blocks to copy (def: device size)\n' +
  '    dio         for direct IO, 1->attempt, 0->indirect IO (def)\n' +
  "    ibs         input logical block size (if given must be same as 'bs=')\n" +
  '    if          file or device to read from (def: stdin)\n' +
  '    iflag       comma separated list from: [00,coe,dio,direct,dpo,dsync,\n' +
  '                excl,ff,flock,fua,nocache,null,random,sgio]\n' +
  "    obs         output logical block size (if given must be same as 'bs=')\n" +
  "    odir        1->use O_DIRECT when opening block dev, 0->don't(def)\n" +
  "    of          file or device to write to (def: stdout), OFILE of '.'\n";
const USAGE_3 = '                treated as /dev/null\n' +
  '    of2         additional output file (def: /dev/null), OFILE2 should be\n' +
  '                normal file or pipe\n' +
  '    oflag       comma separated list from: [append,coe,dio,direct,dpo,\n' +
  '                dsync,excl,flock,fua,nocache,nocreat,null,sgio,sparse]\n' +
  '    retries     retry sgio errors RETR times (def: 0)\n' +
  '    seek        block position to start writing to OFILE\n' +
  '    skip        block position to start reading from IFILE\n' +
  '    sync        0->no sync(def), 1->SYNCHRONIZE CACHE on OFILE after copy\n' +
  '    time        0->no timing(def), 1->time plus calculate throughput;\n' +
  '                TO is command timeout in seconds (def: 60)\n' +
  '    verbose     0->quiet(def), 1->some noise, 2->more noise, etc\n' +
  '    --dry-run    do preparation but bypass copy (or read)\n' +
  '    --help|-h    print out this usage message then exit\n' +
  '    --progress|-p    print progress report every 2 minutes\n' +
  "    --verbose|-v   same as 'verbose=1', can be used multiple times\n" +
  '    --verify|-x    do verify/compare rather than copy (OFILE must\n' +
  '                   be a sg device)\n' +
  '    --version|-V    print version information then exit\n\n' +
  'Copy from IFILE to OFILE, similar to dd command; specialized for SCSI\n' +
  'devices. If the --verify option is given then IFILE is read and that data\n' +
  'is used to compare with OFILE using the VERIFY(n) SCSI command (with\n' +
  'BYTCHK=1).\n';

/** One run of sg_dd: the globals of sg_dd.c. */
class SgDd {
  readonly p: Process;
  readonly sys: Syscalls;
  ddCount = -1;
  inFull = 0;
  inPartial = 0;
  outFull = 0;
  outPartial = 0;
  outSparseNum = 0;
  recoveredErrs = 0;
  unrecoveredErrs = 0;
  miscompareErrs = 0;
  readLongs = 0;
  numRetries = 0;
  sumOfResids = 0;
  progress = 0;
  dryRun = 0;
  doTime = false;
  doVerify = false;
  verbose = 0;
  blkSz = 0;
  maxUas = MAX_UNIT_ATTENTIONS;
  maxAborted = MAX_ABORTED_CMDS;
  coeLimit = 0;
  coeCount = 0;
  cmdTimeout = DEF_TIMEOUT_MS;
  readLongBlkInc = READ_LONG_DEF_BLK_INC;
  startTime: number | null = null;
  readonly iflag = newFlags();
  readonly oflag = newFlags();
  #bsgMajor: number | null = null;
  #nvmeMajor: number | null = null;

  constructor(p: Process) {
    this.p = p;
    this.sys = p.sys;
  }

  async err(s: string): Promise<void> {
    try {
      await this.p.stderr.write(s);
    } catch {
      // stderr is gone
    }
  }

  /**
   * skip= on the input / seek= on the output of a plain file or block device: lseek to the block,
   * closing the file on failure (false) as sg_dd does; the verbose line is indented differently.
   */
  async #positionAt(fd: number, blocks: number, what: 'skip' | 'seek', name: string, vb: number): Promise<boolean> {
    if (blocks <= 0) return true;
    const offset = blocks * this.blkSz;
    try {
      await this.sys.lseek(fd, offset, 0);
    } catch (e) {
      await this.perror(`${ME}couldn't ${what} to required position on ${name}`, e);
      await this.#closeQuiet(fd);
      return false;
    }
    if (vb) await this.err(`${what === 'skip' ? '  ' : '   '}>> ${what}: lseek64 SEEK_SET, byte offset=0x${hex(offset)}\n`);
    return true;
  }

  /** perror(prefix). */
  async perror(prefix: string, e: unknown): Promise<void> {
    if (!isErrno(e)) throw e;
    await this.err(prefix === '' ? `${e.message}\n` : `${prefix}: ${e.message}\n`);
  }

  async printStats(str: string): Promise<void> {
    let s = '';
    if (this.ddCount !== 0) s += `  remaining block count=${this.ddCount}\n`;
    s += `${str}${this.inFull - this.inPartial}+${this.inPartial} records in\n`;
    s += `${str}${this.outFull - this.outPartial}+${this.outPartial} records ${this.doVerify ? 'verified' : 'out'}\n`;
    if (this.oflag.sparse) s += `${str}${this.outSparseNum} bypassed records out\n`;
    if (this.recoveredErrs > 0) s += `${str}${this.recoveredErrs} recovered errors\n`;
    if (this.numRetries > 0) s += `${str}${this.numRetries} retries attempted\n`;
    if (this.unrecoveredErrs > 0) {
      s += `${str}${this.unrecoveredErrs} unrecovered error(s)\n`;
      if (this.iflag.coe || this.oflag.coe) s += `${str}${this.readLongs} read_longs fetched part of unrecovered read errors\n`;
    }
    if (this.miscompareErrs > 0) s += `${str}${this.miscompareErrs} miscompare error(s)\n`;
    await this.err(s);
  }

  /** find_bsg_major / find_nvme_major: the char major named `name` in /proc/devices (0 when absent). */
  async #procDevicesMajor(name: string): Promise<number> {
    let text: string;
    try {
      text = new TextDecoder().decode(await readFile(this.sys, '/proc/devices'));
    } catch (e) {
      if (!isErrno(e)) throw e;
      if (this.verbose) await this.err(`fopen /proc/devices failed: ${e.message}\n`);
      return 0;
    }
    const lines = text.split('\n');
    let i = lines.findIndex((l) => l.trim().startsWith('Character'));
    if (i < 0) return 0;
    for (i++; i < lines.length; i++) {
      const m = /^\s*(-?\d+)\s+(\S+)/.exec(lines[i]!);
      if (!m) break;
      if (m[2] === name) return Number(m[1]);
    }
    return 0;
  }

  async fileType(name: string): Promise<number> {
    if (name === '.') return FT.DEV_NULL;
    let st;
    try {
      st = await this.sys.stat(name);
    } catch (e) {
      if (!isErrno(e)) throw e;
      return FT.ERROR;
    }
    const type = st.mode & S_IFMT;
    if (type === S_IFCHR) {
      const major = st.rdevMajor;
      if (major === MEM_MAJOR && st.rdevMinor === DEV_NULL_MINOR) return FT.DEV_NULL;
      if (major === RAW_MAJOR) return FT.RAW;
      if (major === SCSI_GENERIC_MAJOR) return FT.SG;
      if (major === SCSI_TAPE_MAJOR) return FT.ST;
      this.#bsgMajor ??= await this.#procDevicesMajor('bsg');
      if (this.#bsgMajor === major) return FT.SG;
      this.#nvmeMajor ??= await this.#procDevicesMajor('nvme');
      if (this.#nvmeMajor === major) return FT.NVME;
    } else if (type === S_IFBLK) return FT.BLOCK;
    else if (type === S_IFIFO) return FT.FIFO;
    return FT.OTHER;
  }

  /** sg_build_scsi_cdb: null (after the message) when the request does not fit the cdb size. */
  async buildCdb(cdbSz: number, blocks: number, start: number, isVerify: boolean, write: boolean, fua: boolean,
    dpo: boolean, cdl: number): Promise<Uint8Array | null> {
    const cdb = new Uint8Array(MAX_SCSI_CDBSZ);
    const rd = [0x08, 0x28, 0xa8, 0x88];
    const ve = [0xff, 0x2f, 0xaf, 0x8f];
    const wr = [0x0a, 0x2a, 0xaa, 0x8a];
    if (isVerify) cdb[1] = 0x2;
    else {
      if (dpo) cdb[1]! |= 0x10;
      if (fua) cdb[1]! |= 0x8;
    }
    const put32 = (v: number, o: number): void => {
      cdb[o] = (v >>> 24) & 0xff; cdb[o + 1] = (v >>> 16) & 0xff; cdb[o + 2] = (v >>> 8) & 0xff; cdb[o + 3] = v & 0xff;
    };
    const opcode = (i: number): number => (isVerify && write ? ve[i]! : write ? wr[i]! : rd[i]!);
    switch (cdbSz) {
      case 6:
        if (isVerify && write) {
          await this.err(`${ME}there is no VERIFY(6), choose a larger cdbsz\n`);
          return null;
        }
        cdb[0] = opcode(0);
        cdb[1] = (cdb[1]! & 0xe0) | ((start >> 16) & 0x1f);
        cdb[2] = (start >> 8) & 0xff;
        cdb[3] = start & 0xff;
        cdb[4] = blocks === 256 ? 0 : blocks & 0xff;
        if (blocks > 256) {
          await this.err(`${ME}for 6 byte commands, maximum number of blocks is 256\n`);
          return null;
        }
        if ((start + blocks - 1) > 0x1fffff) {
          await this.err(`${ME}for 6 byte commands, can't address blocks beyond ${0x1fffff}\n`);
          return null;
        }
        if (dpo || fua) {
          await this.err(`${ME}for 6 byte commands, neither dpo nor fua bits supported\n`);
          return null;
        }
        return cdb.slice(0, 6);
      case 10:
        cdb[0] = opcode(1);
        put32(start >>> 0, 2);
        cdb[7] = (blocks >> 8) & 0xff;
        cdb[8] = blocks & 0xff;
        if (blocks > 0xffff) {
          await this.err(`${ME}for 10 byte commands, maximum number of blocks is ${0xffff}\n`);
          return null;
        }
        return cdb.slice(0, 10);
      case 12:
        cdb[0] = opcode(2);
        put32(start >>> 0, 2);
        put32(blocks, 6);
        return cdb.slice(0, 12);
      case 16:
        cdb[0] = opcode(3);
        if (!isVerify && cdl > 0) {
          if (cdl & 0x4) cdb[1]! |= 0x1;
          if (cdl & 0x3) cdb[14]! |= (cdl & 0x3) << 6;
        }
        put32(Math.floor(start / 0x100000000), 2);
        put32(start >>> 0, 6);
        put32(blocks, 10);
        return cdb;
      default:
        await this.err(`${ME}expected cdb size of 6, 10, 12, or 16 but got ${cdbSz}\n`);
        return null;
    }
  }

  /** One SG_IO, repeated while the kernel says EINTR/EAGAIN/EBUSY; an Errno when it fails otherwise. */
  async sgIo(fd: number, cdb: Uint8Array, toDev: boolean, len: number, dio: boolean, dataOut?: Uint8Array): Promise<SgIoHdrOut> {
    const base = sgIoHdr(cdb, toDev ? SG_DXFER_TO_DEV : SG_DXFER_FROM_DEV, len, this.cmdTimeout, dataOut);
    const hdr = { ...base, mxSbLen: SENSE_BUFF_LEN, flags: dio ? SG_FLAG_DIRECT_IO : 0 };
    for (let tries = 0; ; tries++) {
      try {
        return (await this.sys.ioctl(fd, SG_IO, hdr)) as SgIoHdrOut;
      } catch (e) {
        if (!isErrno(e) || !['EINTR', 'EAGAIN', 'EBUSY'].includes(e.code) || tries > 10000) throw e;
      }
    }
  }

  /** sg_read_low. Returns 0, a category, SG_LIB_SYNTAX_ERROR, -2 (ENOMEM) or -1; `io.addr` gets the info field. */
  async readLow(fd: number, buf: Uint8Array, off: number, blocks: number, from: number, bs: number, ifp: Flags,
    dio: { v: boolean }, io: { addr: number }): Promise<number> {
    const cdb = await this.buildCdb(ifp.cdbsz, blocks, from, this.doVerify, false, ifp.fua, ifp.dpo, ifp.cdl);
    if (cdb === null) {
      await this.err(`${ME}bad rd cdb build, from_block=${from}, blocks=${blocks}\n`);
      return SG_LIB_SYNTAX_ERROR;
    }
    if (this.verbose > 2) await this.err(`${commandStrNamed(cdb)}\n`);
    let h: SgIoHdrOut;
    try {
      h = await this.sgIo(fd, cdb, false, bs * blocks, dio.v);
    } catch (e) {
      if (isErrno(e) && e.code === 'ENOMEM') return -2;
      await this.perror('reading (SG_IO) on sg device, error', e);
      return -1;
    }
    if (this.verbose > 2) await this.err(`      duration=${h.duration} ms\n`);
    const res = errCategory3(h);
    const sb = h.sbp.subarray(0, h.sbLenWr);
    const chk = async (raw: boolean): Promise<void> => this.err(linuxSensePrint('reading', h, raw));
    let printCdbAfter = false;
    switch (res) {
      case SG_LIB_CAT_CLEAN:
      case SG_LIB_CAT_CONDITION_MET:
        break;
      case SG_LIB_CAT_RECOVERED: {
        this.recoveredErrs++;
        const f = senseInfoField(sb);
        io.addr = f.info;
        if (f.valid) {
          await this.err(`    lba of last recovered error in this READ=0x${hex(f.info)}\n`);
          if (this.verbose > 1) await chk(true);
        } else {
          await this.err(`Recovered error: [no info] reading from block=0x${hex(from)}, num=${blocks}\n`);
          await chk(this.verbose > 1);
        }
        break;
      }
      case SG_LIB_CAT_ABORTED_COMMAND:
      case SG_LIB_CAT_UNIT_ATTENTION:
        await chk(this.verbose > 1);
        return res;
      case SG_LIB_CAT_MEDIUM_HARD: {
        if (this.verbose > 1) await chk(true);
        this.unrecoveredErrs++;
        const f = senseInfoField(sb);
        io.addr = f.info;
        // MMC devices don't necessarily set the VALID bit.
        if (f.valid || (ifp.pdt === 5 && io.addr > 0)) return SG_LIB_CAT_MEDIUM_HARD_WITH_INFO;
        await this.err('Medium, hardware or blank check error but no lba of failure in sense\n');
        return res;
      }
      case SG_LIB_CAT_NOT_READY:
        this.unrecoveredErrs++;
        if (this.verbose > 0) await chk(this.verbose > 1);
        return res;
      default:
        if (res === SG_LIB_CAT_ILLEGAL_REQ) {
          if (ifp.pdt === 5) {
            if (this.verbose > 1) await chk(true);
            const ssh = normalizeSense(sb);
            if (ssh !== null && ssh.asc === 0x64 && ssh.ascq === 0) {
              const ili = (sb[0]! & 0x7f) < 0x72 && sb.length > 2 && (sb[2]! & 0x20) !== 0;
              if (ili) {
                io.addr = senseInfoField(sb).info;
                if (io.addr > 0) {
                  this.unrecoveredErrs++;
                  return SG_LIB_CAT_MEDIUM_HARD_WITH_INFO;
                }
                await this.err("MMC READ gave 'illegal mode for this track' and ILI but no LBA of failure\n");
              }
              this.unrecoveredErrs++;
              return SG_LIB_CAT_MEDIUM_HARD;
            }
          }
          if (this.verbose > 0) printCdbAfter = true;
        }
        this.unrecoveredErrs++;
        if (this.verbose > 0) await chk(this.verbose > 1);
        if (printCdbAfter) await this.err(`${commandStrNamed(cdb)}\n`);
        return res;
    }
    buf.set(h.dxferp.subarray(0, Math.min(h.dxferp.length, bs * blocks)), off);
    if (dio.v && (h.info & SG_INFO_DIRECT_IO_MASK) !== SG_INFO_DIRECT_IO) dio.v = false;
    this.sumOfResids += h.resid;
    return 0;
  }

  /** sg_ll_read_long10 as sg_read uses it (no PBLOCK): 0, a category or -1. */
  async readLong10(fd: number, corrct: boolean, lba: number, len: number): Promise<{ res: number; data: Uint8Array }> {
    const cdb = Uint8Array.from([0x3e, corrct ? 2 : 0, (lba >>> 24) & 0xff, (lba >> 16) & 0xff, (lba >> 8) & 0xff,
      lba & 0xff, 0, (len >> 8) & 0xff, len & 0xff, 0]);
    const r = await llCmd(this.p, { sys: this.sys, fd } satisfies SgDev, 'read long(10)', cdb, 'in', len, true, this.verbose);
    return { res: r.ret, data: r.data };
  }

  /** sg_read: reads `blocks` from `from`, repeating as sg_dd does. Sets `got.blocks`. */
  async read(fd: number, buf: Uint8Array, blocks: number, from: number, bs: number, ifp: Flags, dio: { v: boolean },
    got: { blocks: number }): Promise<number> {
    let retriesTmp = ifp.retries;
    let xferred = 0;
    let blks = blocks;
    let lba = from;
    let bp = 0;
    let ret = 0;
    let mayCoe = false;
    const io = { addr: 0 };
    const errOut = async (): Promise<number> => {
      if (ifp.coe) {
        buf.fill(0, bp, bp + bs * blks);
        await this.err(`>> unable to read at blk=${lba} for ${bs * blks} bytes, use zeros\n`);
        if (blks > 1) await this.err('>>   try reducing bpt to limit number of zeros written near bad block(s)\n');
        got.blocks = xferred + blks;
        if (this.coeLimit > 0 && ++this.coeCount > this.coeLimit) {
          await this.err('>> coe_limit on consecutive reads exceeded\n');
          return ret;
        }
        return mayCoe ? 0 : ret;
      }
      return ret;
    };
    for (; blks > 0; blks = blocks - xferred) {
      io.addr = 0;
      let repeat = false;
      mayCoe = false;
      const res = await this.readLow(fd, buf, bp, blks, lba, bs, ifp, dio, io);
      switch (res) {
        case 0:
          got.blocks = xferred + blks;
          if (this.coeLimit > 0) this.coeCount = 0;
          return 0;
        case -2:
          return res;
        case SG_LIB_CAT_NOT_READY:
          await this.err('Device (r) not ready\n');
          return res;
        case SG_LIB_CAT_ABORTED_COMMAND:
          if (--this.maxAborted > 0) {
            await this.err('Aborted command, continuing (r)\n');
            repeat = true;
          } else {
            await this.err('Aborted command, too many (r)\n');
            return res;
          }
          break;
        case SG_LIB_CAT_UNIT_ATTENTION:
          if (--this.maxUas > 0) {
            await this.err('Unit attention, continuing (r)\n');
            repeat = true;
          } else {
            await this.err('Unit attention, too many (r)\n');
            return res;
          }
          break;
        case SG_LIB_CAT_MEDIUM_HARD_WITH_INFO:
          if (retriesTmp > 0) {
            await this.err(`>>> retrying a sgio read, lba=0x${hex(lba)}\n`);
            retriesTmp--;
            this.numRetries++;
            if (this.unrecoveredErrs > 0) this.unrecoveredErrs--;
            repeat = true;
          }
          ret = SG_LIB_CAT_MEDIUM_HARD;
          break;
        case SG_LIB_SYNTAX_ERROR:
          ifp.coe = 0;
          ret = res;
          return errOut();
        case -1:
          ret = res;
          return errOut();
        default:
          if (res === SG_LIB_CAT_MEDIUM_HARD) mayCoe = true;
          if (retriesTmp > 0) {
            await this.err(`>>> retrying a sgio read, lba=0x${hex(lba)}\n`);
            retriesTmp--;
            this.numRetries++;
            if (this.unrecoveredErrs > 0) this.unrecoveredErrs--;
            repeat = true;
            break;
          }
          ret = res;
          return errOut();
      }
      if (repeat) continue;
      if (io.addr < lba || io.addr >= lba + blks) {
        await this.err(`  Unrecovered error lba 0x${hex(io.addr)} not in correct range:\n\t[0x${hex(lba)},0x${hex(lba + blks - 1)}]\n`);
        mayCoe = true;
        return errOut();
      }
      blks = io.addr - lba;
      if (blks > 0) {
        if (this.verbose) await this.err(`  partial read of ${blks} blocks prior to medium error\n`);
        const r2 = await this.readLow(fd, buf, bp, blks, lba, bs, ifp, dio, io);
        switch (r2) {
          case 0:
            break;
          case -1:
            ifp.coe = 0;
            ret = r2;
            return errOut();
          case -2:
            await this.err('ENOMEM again, unexpected (r)\n');
            return -1;
          case SG_LIB_CAT_NOT_READY:
            await this.err('device (r) not ready\n');
            return r2;
          case SG_LIB_CAT_UNIT_ATTENTION:
            await this.err('Unit attention, unexpected (r)\n');
            return r2;
          case SG_LIB_CAT_ABORTED_COMMAND:
            await this.err('Aborted command, unexpected (r)\n');
            return r2;
          case SG_LIB_CAT_MEDIUM_HARD_WITH_INFO:
          case SG_LIB_CAT_MEDIUM_HARD:
            ret = SG_LIB_CAT_MEDIUM_HARD;
            return errOut();
          default:
            await this.err(`>> unexpected result=${r2} from sg_read_low() 2\n`);
            ret = r2;
            return errOut();
        }
      }
      xferred += blks;
      if (ifp.coe === 0) {
        got.blocks = xferred;
        return ret;
      }
      if (bs < 32) {
        await this.err(`>> bs=${bs} too small for read_long\n`);
        return -1;
      }
      bp += blks * bs;
      lba += blks;
      if (ifp.pdt !== 0 || ifp.coe < 2) {
        await this.err(`>> unrecovered read error at blk=${lba}, pdt=${ifp.pdt}, use zeros\n`);
        buf.fill(0, bp, bp + bs);
      } else if (io.addr < UINT_MAX) {
        const corrct = ifp.coe > 2;
        const r = await this.readLong10(fd, corrct, lba, bs + this.readLongBlkInc);
        let ok = false;
        switch (r.res) {
          case 0:
            ok = true;
            this.readLongs++;
            break;
          case SG_LIB_CAT_INVALID_OP:
            await this.err('>> read_long(10); not supported\n');
            break;
          case SG_LIB_CAT_ILLEGAL_REQ:
            await this.err('>> read_long(10): bad cdb field\n');
            break;
          case SG_LIB_CAT_NOT_READY:
            await this.err('>> read_long(10): device not ready\n');
            break;
          case SG_LIB_CAT_UNIT_ATTENTION:
            await this.err('>> read_long(10): unit attention\n');
            break;
          case SG_LIB_CAT_ABORTED_COMMAND:
            await this.err('>> read_long(10): aborted command\n');
            break;
          default:
            await this.err(`>> read_long(10): problem (${r.res})\n`);
            break;
        }
        if (ok) buf.set(r.data.subarray(0, bs), bp);
        else buf.fill(0, bp, bp + bs);
      } else {
        await this.err(`>> read_long(10) cannot handle blk=${lba}, use zeros\n`);
        buf.fill(0, bp, bp + bs);
      }
      xferred++;
      bp += bs;
      lba++;
      if (this.coeLimit > 0 && ++this.coeCount > this.coeLimit) {
        got.blocks = xferred + blks;
        await this.err('>> coe_limit on consecutive reads exceeded\n');
        return SG_LIB_CAT_MEDIUM_HARD;
      }
    }
    got.blocks = xferred;
    return 0;
  }

  /** sg_write (WRITE, or VERIFY with BYTCHK when --verify). */
  async write(fd: number, data: Uint8Array, blocks: number, to: number, bs: number, ofp: Flags, dio: { v: boolean }): Promise<number> {
    const opStr = this.doVerify ? 'verifying' : 'writing';
    const cdb = await this.buildCdb(ofp.cdbsz, blocks, to, this.doVerify, true, ofp.fua, ofp.dpo, ofp.cdl);
    if (cdb === null) {
      await this.err(`${ME}bad wr cdb build, to_block=${to}, blocks=${blocks}\n`);
      return SG_LIB_SYNTAX_ERROR;
    }
    if (this.verbose > 2) await this.err(`${commandStrNamed(cdb)}\n`);
    let h: SgIoHdrOut;
    try {
      h = await this.sgIo(fd, cdb, true, bs * blocks, dio.v, data.subarray(0, bs * blocks));
    } catch (e) {
      if (isErrno(e) && e.code === 'ENOMEM') return -2;
      await this.perror(`${opStr} (SG_IO) on sg device, error`, e);
      return -1;
    }
    if (this.verbose > 2) await this.err(`      duration=${h.duration} ms\n`);
    const res = errCategory3(h);
    const chk = async (raw: boolean): Promise<void> => this.err(linuxSensePrint(opStr, h, raw));
    switch (res) {
      case SG_LIB_CAT_CLEAN:
      case SG_LIB_CAT_CONDITION_MET:
        break;
      case SG_LIB_CAT_RECOVERED: {
        this.recoveredErrs++;
        const f = senseInfoField(h.sbp.subarray(0, h.sbLenWr));
        if (f.valid) {
          await this.err(`    lba of last recovered error in this WRITE=0x${hex(f.info)}\n`);
          if (this.verbose > 1) await chk(true);
        } else {
          await this.err(`Recovered error: [no info] ${opStr} to block=0x${hex(to)}, num=${blocks}\n`);
          await chk(this.verbose > 1);
        }
        break;
      }
      case SG_LIB_CAT_ABORTED_COMMAND:
      case SG_LIB_CAT_UNIT_ATTENTION:
        await chk(this.verbose > 1);
        return res;
      case SG_LIB_CAT_MISCOMPARE:
        this.miscompareErrs++;
        if (ofp.coe) {
          if (this.verbose > 1) await this.err(`>> bypass due to miscompare: out blk=${to} for ${blocks} blocks\n`);
          return SG_DD_BYPASS;
        }
        await this.err('VERIFY reports miscompare\n');
        return res;
      case SG_LIB_CAT_NOT_READY:
        this.unrecoveredErrs++;
        await this.err('device not ready (w)\n');
        return res;
      default:
        await chk(this.verbose > 1);
        if (res === SG_LIB_CAT_ILLEGAL_REQ && this.verbose) await this.err(`${commandStrNamed(cdb)}\n`);
        this.unrecoveredErrs++;
        if (ofp.coe) {
          if (this.verbose > 1) await this.err(`>> ignored errors for out blk=${to} for ${bs * blocks} bytes\n`);
          return SG_DD_BYPASS;
        }
        return res;
    }
    if (dio.v && (h.info & SG_INFO_DIRECT_IO_MASK) !== SG_INFO_DIRECT_IO) dio.v = false;
    return 0;
  }

  /** scsi_read_capacity: READ CAPACITY(10), then (16) when the answer is saturated. */
  async readCapacity(fd: number): Promise<{ res: number; numSect: number; sectSz: number }> {
    const verb = this.verbose ? this.verbose - 1 : 0;
    const dev: SgDev = { sys: this.sys, fd };
    const cdb10 = new Uint8Array(10);
    cdb10[0] = 0x25;
    const r10 = await llCmd(this.p, dev, 'read capacity(10)', cdb10, 'in', 8, true, verb);
    if (r10.ret !== 0) return { res: r10.ret, numSect: -1, sectSz: -1 };
    let numSect: number;
    let sectSz: number;
    if (be32(r10.data, 0) === 0xffffffff) {
      const cdb = new Uint8Array(16);
      cdb[0] = 0x9e; cdb[1] = 0x10; cdb[13] = 32;
      const r16 = await llCmd(this.p, dev, 'read capacity(16)', cdb, 'in', 32, true, verb);
      if (r16.ret !== 0) return { res: r16.ret, numSect: -1, sectSz: -1 };
      numSect = Number(be64(r16.data, 0)) + 1;
      sectSz = be32(r16.data, 8);
    } else {
      numSect = be32(r10.data, 0) + 1;
      sectSz = be32(r10.data, 4);
    }
    if (this.verbose) await this.err(`      number of blocks=${numSect} [0x${hex(numSect)}], logical block size=${sectSz}\n`);
    return { res: 0, numSect, sectSz };
  }

  /** read_blkdev_capacity: BLKSSZGET then BLKGETSIZE64. */
  async readBlkdevCapacity(fd: number): Promise<{ ok: boolean; numSect: number; sectSz: number }> {
    let sectSz: number;
    try {
      sectSz = ioctlValue(await this.sys.ioctl(fd, BLKSSZGET));
    } catch (e) {
      await this.perror('BLKSSZGET ioctl error', e);
      return { ok: false, numSect: -1, sectSz: 0 };
    }
    try {
      const bytes = ioctlValue(await this.sys.ioctl(fd, BLKGETSIZE64));
      const numSect = Math.floor(bytes / sectSz);
      if (this.verbose) await this.err(`      [bgs64] number of blocks=${numSect} [0x${hex(numSect)}], logical block size=${sectSz}\n`);
      return { ok: true, numSect, sectSz };
    } catch (e) {
      await this.perror('BLKGETSIZE64 ioctl error', e);
      return { ok: false, numSect: -1, sectSz };
    }
  }

  static fileTypeStr(ft: number): string {
    let s = '';
    if (ft & FT.DEV_NULL) s += 'null device ';
    if (ft & FT.SG) s += 'SCSI generic (sg) device ';
    if (ft & FT.BLOCK) s += 'block device ';
    if (ft & FT.FIFO) s += 'fifo (named pipe) ';
    if (ft & FT.ST) s += 'SCSI tape device ';
    if (ft & FT.RAW) s += 'raw device ';
    if (ft & FT.NVME) s += 'NVMe char device ';
    if (ft & FT.OTHER) s += 'other (perhaps ordinary file) ';
    if (ft & FT.ERROR) s += "unable to 'stat' file ";
    return s;
  }

  /** The sg-side checks of open_if/open_of after the open: INQUIRY, reserved size, driver version. */
  async #sgSetup(fd: number, name: string, fp: Flags, type: number, vb: number): Promise<number> {
    const inq = await llInquiry(this.p, { sys: this.sys, fd }, false, 0, 36, false, vb ? vb - 1 : 0);
    if (inq.status !== 0) {
      await this.err(`INQUIRY failed on ${name}\n`);
      return -SG_LIB_CAT_OTHER;
    }
    const d = inq.data;
    fp.pdt = (d[0] ?? 0x1f) & 0x1f;
    if (vb) {
      const field = (a: number, b: number): string => {
        const raw = Array.from(d.subarray(a, b), (c) => String.fromCharCode(c)).join('');
        const nul = raw.indexOf('\0');
        return nul >= 0 ? raw.slice(0, nul) : raw;
      };
      await this.err(`    ${name}: ${field(8, 16)}  ${field(16, 32)}  ${field(32, 36)}  [pdt=${fp.pdt}]\n`);
    }
    if (!(type & FT.BLOCK)) {
      try {
        await this.sys.ioctl(fd, SG_SET_RESERVED_SIZE, this.blkSz * this.bpt);
      } catch (e) {
        await this.perror(`${ME}SG_SET_RESERVED_SIZE error`, e);
      }
      let version = 0;
      try {
        version = ioctlValue(await this.sys.ioctl(fd, SG_GET_VERSION_NUM));
      } catch (e) {
        if (!isErrno(e)) throw e;
        version = -1;
      }
      if (version < 30000) {
        await this.err(`${ME}sg driver prior to 3.x.y\n`);
        return -SG_LIB_FILE_ERROR;
      }
    }
    return fd;
  }

  bpt = DEF_BLOCKS_PER_TRANSFER;

  async #closeQuiet(fd: number): Promise<void> {
    try { await this.sys.close(fd); } catch (e) { if (!isErrno(e)) throw e; }
  }

  /** open_if: the input fd, or a negated exit status. */
  async openIf(inf: string, skip: number, ifp: Flags, vb: number): Promise<{ fd: number; type: number }> {
    let type = await this.fileType(inf);
    if (vb) await this.err(` >> Input file type: ${SgDd.fileTypeStr(type)}\n`);
    if (type & FT.ERROR) {
      await this.err(`${ME}unable access ${inf}\n`);
      return { fd: -SG_LIB_FILE_ERROR, type };
    }
    if ((type & FT.BLOCK) && ifp.sgio) type |= FT.SG;
    let extra = 0;
    if (ifp.direct) extra |= O_DIRECT;
    if (ifp.excl) extra |= O_EXCL;
    if (ifp.dsync) extra |= O_SYNC;
    if (type & FT.ST) {
      await this.err(`${ME}unable to use scsi tape device ${inf}\n`);
      return { fd: -SG_LIB_FILE_ERROR, type };
    }
    if (type & FT.SG) {
      const flags = O_NONBLOCK | extra;
      let fl = O_RDWR;
      let fd: number;
      try {
        fd = await this.sys.open(inf, fl | flags);
      } catch {
        fl = O_RDONLY;
        try {
          fd = await this.sys.open(inf, fl | flags);
        } catch (e) {
          await this.perror(`${ME}could not open ${inf} for sg reading`, e);
          return { fd: -SG_LIB_FILE_ERROR, type };
        }
      }
      if (vb) await this.err(`        open input(sg_io), flags=0x${hex(fl | flags)}\n`);
      const r = await this.#sgSetup(fd, inf, ifp, type, vb);
      if (r < 0) await this.#closeQuiet(fd);
      return { fd: r, type };
    }
    if (type & FT.NVME) {
      await this.err("Don't support NVMe char devices as IFILE\n");
      return { fd: -SG_LIB_FILE_ERROR, type };
    }
    const flags = O_RDONLY | extra;
    let fd: number;
    try {
      fd = await this.sys.open(inf, flags);
    } catch (e) {
      await this.perror(`${ME}could not open ${inf} for reading`, e);
      return { fd: -SG_LIB_FILE_ERROR, type };
    }
    if (vb) await this.err(`        open input, flags=0x${hex(flags)}\n`);
    if (!(await this.#positionAt(fd, skip, 'skip', inf, vb))) return { fd: -SG_LIB_FILE_ERROR, type };
    return { fd, type };
  }

  /** open_of: the output fd, -1 for /dev/null (never opened), or a more negative exit status. */
  async openOf(outf: string, seek: number, ofp: Flags, vb: number): Promise<{ fd: number; type: number }> {
    let type = await this.fileType(outf);
    if (vb) await this.err(` >> Output file type: ${SgDd.fileTypeStr(type)}\n`);
    const notFound = type === FT.ERROR;
    if ((type & FT.BLOCK) && ofp.sgio) type |= FT.SG;
    let extra = 0;
    if (ofp.direct) extra |= O_DIRECT;
    if (ofp.excl) extra |= O_EXCL;
    if (ofp.dsync) extra |= O_SYNC;
    if (type & FT.ST) {
      await this.err(`${ME}unable to use scsi tape device ${outf}\n`);
      return { fd: -SG_LIB_FILE_ERROR, type };
    }
    if (type & FT.SG) {
      const flags = O_RDWR | O_NONBLOCK | extra;
      let fd: number;
      try {
        fd = await this.sys.open(outf, flags);
      } catch (e) {
        await this.perror(`${ME}could not open ${outf} for sg writing`, e);
        return { fd: -SG_LIB_FILE_ERROR, type };
      }
      if (vb) await this.err(`        open output(sg_io), flags=0x${hex(flags)}\n`);
      const r = await this.#sgSetup(fd, outf, ofp, type, vb);
      if (r < 0) await this.#closeQuiet(fd);
      return { fd: r, type };
    }
    if (type & FT.NVME) {
      await this.err("Don't support NVMe char devices as OFILE\n");
      return { fd: -SG_LIB_FILE_ERROR, type };
    }
    if (type & FT.DEV_NULL) return { fd: -1, type };
    if (type & FT.RAW) {
      try {
        return { fd: await this.sys.open(outf, O_WRONLY | extra), type };
      } catch (e) {
        await this.perror(`${ME}could not open ${outf} for raw writing`, e);
        return { fd: -SG_LIB_FILE_ERROR, type };
      }
    }
    let flags = O_WRONLY | extra;
    if (!ofp.nocreat) flags |= O_CREAT;
    if (ofp.append) flags |= O_APPEND;
    let fd: number;
    try {
      fd = await this.sys.open(outf, flags, 0o666);
    } catch (e) {
      await this.perror(`${ME}could not open ${outf} for writing`, e);
      return { fd: -SG_LIB_FILE_ERROR, type };
    }
    if (vb) await this.err(`        ${notFound ? 'create' : 'open'} output, flags=0x${hex(flags)}\n`);
    if (!(await this.#positionAt(fd, seek, 'seek', outf, vb))) return { fd: -SG_LIB_FILE_ERROR, type };
    return { fd, type };
  }

  /** process_flags: false (after the message) on an unknown flag. */
  async processFlags(arg: string, fp: Flags): Promise<boolean> {
    if (arg === '') {
      await this.err('no flag found\n');
      return false;
    }
    for (const f of arg.split(',')) {
      switch (f) {
        case '00': fp.zero = true; break;
        case 'append': fp.append = true; break;
        case 'coe': fp.coe++; break;
        case 'dio': fp.dio = true; break;
        case 'direct': fp.direct = true; break;
        case 'dpo': fp.dpo = true; break;
        case 'dsync': fp.dsync = true; break;
        case 'excl': fp.excl = true; break;
        case 'flock': fp.flock = true; break;
        case 'ff': fp.ff = true; break;
        case 'fua': fp.fua = true; break;
        case 'nocache': fp.nocache++; break;
        case 'nocreat': fp.nocreat = true; break;
        case 'null': break;
        case 'random': fp.random = true; break;
        case 'sgio': fp.sgio = true; break;
        case 'sparse': fp.sparse = true; break;
        default:
          await this.err(`unrecognised flag: ${f}\n`);
          return false;
      }
    }
    return true;
  }

  /** process_conv. */
  async processConv(arg: string): Promise<boolean> {
    if (arg === '') {
      await this.err('no conversions found\n');
      return false;
    }
    for (const f of arg.split(',')) {
      if (f === 'nocreat') this.oflag.nocreat = true;
      else if (f === 'noerror') this.iflag.coe++;
      else if (f === 'sparse') this.oflag.sparse = true;
      else if (f !== 'notrunc' && f !== 'null' && f !== 'sync') {
        await this.err(`unrecognised flag: ${f}\n`);
        return false;
      }
    }
    return true;
  }

  async calcDurationThroughput(contin: boolean): Promise<void> {
    if (this.startTime === null) return;
    const blks = Math.max(this.inFull, this.outFull);
    const usecs = Math.max(0, Math.round((this.sys.uptime() - this.startTime) * 1e6));
    const secs = Math.floor(usecs / 1e6);
    const us = usecs % 1e6;
    const a = usecs / 1e6;
    const b = this.blkSz * blks;
    let s = `time to transfer data${contin ? ' so far' : ''}: ${secs}.${String(us).padStart(6, '0')} secs`;
    s += a > 0.00001 && b > 511 ? ` at ${(b / (a * 1000000.0)).toFixed(2)} MB/sec\n` : '\n';
    await this.err(s);
  }
}

export async function sgDd(p: Process): Promise<number> {
  const d = new SgDd(p);
  const iflag = d.iflag;
  const oflag = d.oflag;
  let bptGiven = false;
  let cdbszGiven = false;
  let cdlGiven = false;
  let doSync = false;
  let verboseGiven = false;
  let versionGiven = false;
  let ibs = 0;
  let obs = 0;
  let skip = 0;
  let seek = 0;
  let inf = '';
  let outf = '';
  let out2f = '';
  const argv = p.argv;
  for (let k = 1; k < argv.length; k++) {
    const str = argv[k]!;
    const eq = str.indexOf('=');
    const key = eq >= 0 ? str.slice(0, eq) : str;
    const buf = eq >= 0 ? str.slice(eq + 1) : '';
    if (key.startsWith('app')) {
      iflag.append = oflag.append = sgGetNum(buf) !== 0;
    } else if (key === 'blk_sgio') {
      iflag.sgio = oflag.sgio = sgGetNum(buf) !== 0;
    } else if (key === 'bpt') {
      d.bpt = sgGetNum(buf);
      if (d.bpt === -1) {
        await d.err(`${ME}bad argument to 'bpt='\n`);
        return SG_LIB_SYNTAX_ERROR;
      }
      bptGiven = true;
    } else if (key === 'bs') {
      // sg_dd 6.25 marks bpt as given here (so bs>=2048 keeps bpt=128).
      d.blkSz = sgGetNum(buf);
      bptGiven = true;
    } else if (key === 'cdbsz') {
      iflag.cdbsz = oflag.cdbsz = sgGetNum(buf);
      cdbszGiven = true;
    } else if (key === 'cdl') {
      const comma = buf.indexOf(',');
      iflag.cdl = sgGetNum(comma >= 0 ? buf.slice(0, comma) : buf);
      if (iflag.cdl < 0 || iflag.cdl > 7) {
        await d.err(`${ME}bad argument to 'cdl=', expect 0 to 7\n`);
        return SG_LIB_SYNTAX_ERROR;
      }
      if (comma >= 0) {
        oflag.cdl = sgGetNum(buf.slice(comma + 1));
        if (oflag.cdl < 0 || oflag.cdl > 7) {
          await d.err(`${ME}bad argument to 'cdl=ICDL,OCDL', expect OCDL to be 0 to 7\n`);
          return SG_LIB_SYNTAX_ERROR;
        }
      } else oflag.cdl = iflag.cdl;
      cdlGiven = true;
    } else if (key === 'coe') {
      iflag.coe = oflag.coe = sgGetNum(buf);
    } else if (key === 'coe_limit') {
      d.coeLimit = sgGetNum(buf);
      if (d.coeLimit === -1) {
        await d.err(`${ME}bad argument to 'coe_limit='\n`);
        return SG_LIB_SYNTAX_ERROR;
      }
    } else if (key === 'conv') {
      if (!(await d.processConv(buf))) {
        await d.err(`${ME}bad argument to 'conv='\n`);
        return SG_LIB_SYNTAX_ERROR;
      }
    } else if (key === 'count') {
      if (buf !== '-1') {
        d.ddCount = getLlNum(buf);
        if (d.ddCount === -1) {
          await d.err(`${ME}bad argument to 'count='\n`);
          return SG_LIB_SYNTAX_ERROR;
        }
      }
    } else if (key === 'dio') {
      iflag.dio = oflag.dio = sgGetNum(buf) !== 0;
    } else if (key === 'fua') {
      const t = sgGetNum(buf);
      oflag.fua = (t & 1) !== 0;
      iflag.fua = (t & 2) !== 0;
    } else if (key === 'ibs') {
      ibs = sgGetNum(buf);
    } else if (key === 'if') {
      if (inf !== '') {
        await d.err('Second IFILE argument??\n');
        return SG_LIB_SYNTAX_ERROR;
      }
      inf = buf;
    } else if (key === 'iflag') {
      if (!(await d.processFlags(buf, iflag))) {
        await d.err(`${ME}bad argument to 'iflag='\n`);
        return SG_LIB_SYNTAX_ERROR;
      }
    } else if (key === 'obs') {
      obs = sgGetNum(buf);
    } else if (key === 'odir') {
      iflag.direct = oflag.direct = sgGetNum(buf) !== 0;
    } else if (key === 'of') {
      if (outf !== '') {
        await d.err('Second OFILE argument??\n');
        return SG_LIB_CONTRADICT;
      }
      outf = buf;
    } else if (key === 'of2') {
      if (out2f !== '') {
        await d.err('Second OFILE2 argument??\n');
        return SG_LIB_CONTRADICT;
      }
      out2f = buf;
    } else if (key === 'oflag') {
      if (!(await d.processFlags(buf, oflag))) {
        await d.err(`${ME}bad argument to 'oflag='\n`);
        return SG_LIB_SYNTAX_ERROR;
      }
    } else if (key === 'retries') {
      iflag.retries = oflag.retries = sgGetNum(buf);
      if (iflag.retries === -1) {
        await d.err(`${ME}bad argument to 'retries='\n`);
        return SG_LIB_SYNTAX_ERROR;
      }
    } else if (key === 'seek') {
      seek = getLlNum(buf);
      if (seek === -1) {
        await d.err(`${ME}bad argument to 'seek='\n`);
        return SG_LIB_SYNTAX_ERROR;
      }
    } else if (key === 'skip') {
      skip = getLlNum(buf);
      if (skip === -1) {
        await d.err(`${ME}bad argument to 'skip='\n`);
        return SG_LIB_SYNTAX_ERROR;
      }
    } else if (key === 'sync') {
      doSync = sgGetNum(buf) !== 0;
    } else if (key === 'time') {
      const comma = buf.indexOf(',');
      d.doTime = sgGetNum(comma >= 0 ? buf.slice(0, comma) : buf) !== 0;
      if (comma >= 0) {
        const n = sgGetNum(buf.slice(comma + 1));
        if (n < 0) {
          await d.err(`${ME}bad argument to 'time=0|1,TO'\n`);
          return SG_LIB_SYNTAX_ERROR;
        }
        d.cmdTimeout = n ? n * 1000 : DEF_TIMEOUT_MS;
      }
    } else if (key.startsWith('verb')) {
      d.verbose = sgGetNum(buf);
    } else if (key.length > 1 && key[0] === '-' && key[1] !== '-') {
      const letters = key.slice(1);
      const count = (c: string): number => [...letters].filter((x) => x === c).length;
      let res = 0;
      d.dryRun += count('d');
      res += count('d');
      if (count('h') > 0) {
        await d.err(USAGE_1 + USAGE_2 + USAGE_3);
        return 0;
      }
      d.progress += count('p');
      res += count('p');
      if (count('v') > 0) verboseGiven = true;
      d.verbose += count('v');
      res += count('v');
      if (count('V') > 0) versionGiven = true;
      res += count('V');
      if (count('x') > 0) d.doVerify = true;
      res += count('x');
      if (res < letters.length) {
        await d.err(`Unrecognised short option in '${key}', try '--help'\n`);
        return SG_LIB_SYNTAX_ERROR;
      }
    } else if (key.startsWith('--dry-run') || key.startsWith('--dry_run')) {
      d.dryRun++;
    } else if (key.startsWith('--help') || key === '-?') {
      await d.err(USAGE_1 + USAGE_2 + USAGE_3);
      return 0;
    } else if (key.startsWith('--progress')) {
      d.progress++;
    } else if (key.startsWith('--verb')) {
      verboseGiven = true;
      d.verbose++;
    } else if (key.startsWith('--veri')) {
      d.doVerify = true;
    } else if (key.startsWith('--vers')) {
      versionGiven = true;
    } else {
      await d.err(`Unrecognized option '${key}'\nFor more information use '--help'\n`);
      return SG_LIB_SYNTAX_ERROR;
    }
  }
  if (verboseGiven && versionGiven) await d.err("Not in DEBUG mode, so '-vV' has no special action\n");
  if (versionGiven) {
    await d.err(`${ME}version: ${VERSION}\n`);
    return 0;
  }
  if (d.progress > 0 && !d.doTime) d.doTime = true;
  if (argv.length < 2) {
    await d.err("Won't default both IFILE to stdin _and_ OFILE to stdout\nFor more information use '--help'\n");
    return SG_LIB_CONTRADICT;
  }
  if (d.blkSz <= 0) {
    d.blkSz = DEF_BLOCK_SIZE;
    await d.err(`Assume default 'bs' ((logical) block size) of ${d.blkSz} bytes\n`);
  }
  if ((ibs && ibs !== d.blkSz) || (obs && obs !== d.blkSz)) {
    await d.err("If 'ibs' or 'obs' given must be same as 'bs'\nFor more information use '--help'\n");
    return SG_LIB_CONTRADICT;
  }
  if (skip < 0 || seek < 0) {
    await d.err('skip and seek cannot be negative\n');
    return SG_LIB_CONTRADICT;
  }
  if (oflag.append && seek > 0) {
    await d.err("Can't use both append and seek switches\n");
    return SG_LIB_CONTRADICT;
  }
  if (d.bpt < 1) {
    await d.err('bpt must be greater than 0\n');
    return SG_LIB_SYNTAX_ERROR;
  }
  if (iflag.sparse) await d.err('sparse flag ignored for iflag\n');
  if (d.blkSz >= 2048 && !bptGiven) d.bpt = DEF_BLOCKS_PER_2048TRANSFER;

  // -1 stands for STDIN_FILENO / STDOUT_FILENO: the process's own streams.
  const STDIO = -100;
  let infd = STDIO;
  let outfd = STDIO;
  let inType: number = FT.OTHER;
  let outType: number = FT.OTHER;
  iflag.pdt = -1;
  oflag.pdt = -1;
  let rng: Drand48 | null = null;
  let special: [string, string] | null = null;
  if (iflag.ff) special = ['<0xff bytes>', 'ff'];
  else if (iflag.random) {
    special = ['<random>', 'random'];
    let seed = 0n;
    try {
      const b = await readFile(p.sys, '/dev/urandom', (_c, total) => total >= 8);
      for (let i = 0; i < 8 && i < b.length; i++) seed = (seed << 8n) | BigInt(b[i]!);
    } catch {
      seed = BigInt(Math.floor(p.sys.time()));
    }
    if (d.verbose > 1) await d.err(`seed=${BigInt.asIntN(64, seed)}\n`);
    rng = new Drand48(seed);
  } else if (iflag.zero) special = ['<zero bytes>', '00'];
  if (special) {
    if (inf !== '') {
      await d.err(`iflag=${special[1]} and if=${inf} contradict\n`);
      return SG_LIB_CONTRADICT;
    }
    inType = FT.RANDOM_0_FF;
    inf = special[0];
    infd = -1;
  } else if (inf !== '' && inf[0] !== '-') {
    const r = await d.openIf(inf, skip, iflag, d.verbose);
    if (r.fd < 0) return -r.fd;
    infd = r.fd;
    inType = r.type;
  }
  if (outf !== '' && outf[0] !== '-') {
    const r = await d.openOf(outf, seek, oflag, d.verbose);
    outType = r.type;
    if (r.fd < -1) return -r.fd;
    outfd = r.fd;
  }
  const fds = { infd, outfd, out2fd: -1 };
  const closeAll = async (): Promise<void> => {
    for (const fd of [fds.infd, fds.outfd, fds.out2fd]) {
      if (fd >= 0) {
        try { await p.sys.close(fd); } catch (e) { if (!isErrno(e)) throw e; }
      }
    }
  };
  try {
    return await copy();
  } finally {
    await closeAll();
  }

  async function copy(): Promise<number> {
    let ret = 0;
    let diocIncomplete = 0;
    const bypass = async (): Promise<number> => {
      if (d.doTime) await d.calcDurationThroughput(false);
      if (d.progress > 0) await d.err('\nCompleted:\n');
      if (d.dryRun > 0) return ret >= 0 ? ret : SG_LIB_CAT_OTHER;
      if (d.ddCount !== 0) {
        await d.err('Some error occurred,');
        if (ret === 0) ret = SG_LIB_CAT_OTHER;
      }
      await d.printStats('');
      if (diocIncomplete) {
        await d.err(`>> Direct IO requested but incomplete ${diocIncomplete} times\n`);
        try {
          const b = await readFile(p.sys, '/proc/scsi/sg/allow_dio', (_c, t) => t >= 1);
          if (b[0] === 0x30) await d.err(">>> /proc/scsi/sg/allow_dio set to '0' but should be set to '1' for direct IO\n");
        } catch (e) {
          if (!isErrno(e)) throw e;
        }
      }
      if (d.sumOfResids) await d.err(`>> Non-zero sum of residual counts=${d.sumOfResids}\n`);
      return ret >= 0 ? ret : SG_LIB_CAT_OTHER;
    };
    if (d.doVerify) {
      if (!(outType & FT.SG)) {
        await d.err('--verify only supported when OFILE is a sg device or oflag=sgio\n');
        ret = SG_LIB_CONTRADICT;
        return bypass();
      }
      if (oflag.sparse) {
        await d.err('--verify cannot be used with oflag=sparse\n');
        ret = SG_LIB_CONTRADICT;
        return bypass();
      }
    }
    if (cdlGiven && !cdbszGiven) {
      let changed = false;
      if (iflag.cdbsz < 16 && iflag.cdl > 0) {
        iflag.cdbsz = 16;
        changed = true;
      }
      if (oflag.cdbsz < 16 && !d.doVerify && oflag.cdl > 0) {
        oflag.cdbsz = 16;
        changed = true;
      }
      if (changed) await d.err('>> increasing cdbsz to 16 due to cdl > 0\n');
    }
    if (out2f !== '') {
      await d.fileType(out2f); // its answer only steers posix_fadvise, which is not modelled
      try {
        fds.out2fd = await p.sys.open(out2f, O_WRONLY | O_CREAT, 0o666);
      } catch (e) {
        if (!isErrno(e)) throw e;
        await d.perror(`${ME}could not open ${out2f} for writing`, e);
        return e.errno;
      }
    }
    if (fds.infd === STDIO && fds.outfd === STDIO) {
      await d.err("Can't have both 'if' as stdin _and_ 'of' as stdout\nFor more information use '--help'\n");
      return SG_LIB_CONTRADICT;
    }
    if (oflag.sparse && fds.outfd === STDIO) {
      await d.err('oflag=sparse needs seekable output file\n');
      return SG_LIB_CONTRADICT;
    }
    if (d.ddCount < 0 || (d.verbose > 0 && d.ddCount === 0)) {
      let inNumSect = -1;
      if (inType & FT.SG) {
        let r = await d.readCapacity(fds.infd);
        if (r.res === SG_LIB_CAT_UNIT_ATTENTION) {
          await d.err('Unit attention (readcap in), continuing\n');
          r = await d.readCapacity(fds.infd);
        } else if (r.res === SG_LIB_CAT_ABORTED_COMMAND) {
          await d.err('Aborted command (readcap in), continuing\n');
          r = await d.readCapacity(fds.infd);
        }
        if (r.res !== 0) {
          if (r.res === SG_LIB_CAT_INVALID_OP) await d.err(`read capacity not supported on ${inf}\n`);
          else if (r.res === SG_LIB_CAT_NOT_READY) await d.err(`read capacity failed on ${inf} - not ready\n`);
          else await d.err(`Unable to read capacity on ${inf}\n`);
          inNumSect = -1;
        } else {
          inNumSect = r.numSect;
          if (r.sectSz !== d.blkSz) {
            await d.err(`>> warning: logical block size on ${inf} confusion: bs=${d.blkSz}, device claims=${r.sectSz}\n`);
          }
        }
      } else if (inType & FT.BLOCK) {
        const r = await d.readBlkdevCapacity(fds.infd);
        inNumSect = r.numSect;
        if (!r.ok) {
          await d.err(`Unable to read block capacity on ${inf}\n`);
          inNumSect = -1;
        }
        if (d.blkSz !== r.sectSz) {
          await d.err(`logical block size on ${inf} confusion: bs=${d.blkSz}, device claims=${r.sectSz}\n`);
          inNumSect = -1;
        }
      }
      if (inNumSect > skip) inNumSect -= skip;
      let outNumSect = -1;
      if (outType & FT.SG) {
        let r = await d.readCapacity(fds.outfd);
        if (r.res === SG_LIB_CAT_UNIT_ATTENTION) {
          await d.err('Unit attention (readcap out), continuing\n');
          r = await d.readCapacity(fds.outfd);
        } else if (r.res === SG_LIB_CAT_ABORTED_COMMAND) {
          await d.err('Aborted command (readcap out), continuing\n');
          r = await d.readCapacity(fds.outfd);
        }
        if (r.res !== 0) {
          if (r.res === SG_LIB_CAT_INVALID_OP) await d.err(`read capacity not supported on ${outf}\n`);
          else await d.err(`Unable to read capacity on ${outf}\n`);
          outNumSect = -1;
        } else {
          outNumSect = r.numSect;
          if (d.blkSz !== r.sectSz) {
            await d.err(`>> warning: logical block size on ${outf} confusion: bs=${d.blkSz}, device claims=${r.sectSz}\n`);
          }
        }
      } else if (outType & FT.BLOCK) {
        const r = await d.readBlkdevCapacity(fds.outfd);
        if (!r.ok) {
          await d.err(`Unable to read block capacity on ${outf}\n`);
          outNumSect = -1;
        } else if (d.blkSz !== r.sectSz) {
          await d.err(`logical block size on ${outf} confusion: bs=${d.blkSz}, device claims=${r.sectSz}\n`);
          outNumSect = -1;
        } else outNumSect = r.numSect;
      }
      if (outNumSect > seek) outNumSect -= seek;
      if (d.ddCount < 0) {
        if (inNumSect > 0) d.ddCount = outNumSect > 0 ? Math.min(inNumSect, outNumSect) : inNumSect;
        else d.ddCount = outNumSect;
      }
    }
    if (d.ddCount < 0) {
      await d.err("Couldn't calculate count, please give one\n");
      return SG_LIB_CAT_OTHER;
    }
    if (!cdbszGiven) {
      if ((inType & FT.SG) && iflag.cdbsz !== MAX_SCSI_CDBSZ && (d.ddCount + skip > UINT_MAX || d.bpt > USHRT_MAX)) {
        await d.err("Note: SCSI command size increased to 16 bytes (for 'if')\n");
        iflag.cdbsz = MAX_SCSI_CDBSZ;
      }
      if ((outType & FT.SG) && oflag.cdbsz !== MAX_SCSI_CDBSZ && (d.ddCount + seek > UINT_MAX || d.bpt > USHRT_MAX)) {
        await d.err("Note: SCSI command size increased to 16 bytes (for 'of')\n");
        oflag.cdbsz = MAX_SCSI_CDBSZ;
      }
    }
    const work = new Uint8Array(d.blkSz * d.bpt);
    let blocksPer = d.bpt;
    if (d.doTime) d.startTime = p.sys.uptime();
    if (d.dryRun > 0) {
      await d.err('Since --dry-run option given, bypassing copy\n');
      return bypass();
    }
    let blocks = 0;
    let sparseSkip = false;
    let penultSparseSkip = false;
    let penultBlocks = 0;
    let zeros: Uint8Array | null = null;
    const bs = d.blkSz;
    while (d.ddCount > 0) {
      penultSparseSkip = sparseSkip;
      penultBlocks = penultSparseSkip ? blocks : 0;
      sparseSkip = false;
      blocks = Math.min(d.ddCount, blocksPer);
      if (inType & FT.SG) {
        const dio = { v: iflag.dio };
        const got = { blocks: 0 };
        let res = await d.read(fds.infd, work, blocks, skip, bs, iflag, dio, got);
        if (res === -2) {
          let bufSz: number;
          try {
            bufSz = ioctlValue(await p.sys.ioctl(fds.infd, SG_GET_RESERVED_SIZE));
          } catch (e) {
            await d.perror('RESERVED_SIZE ioctls failed', e);
            ret = res;
            break;
          }
          if (bufSz < MIN_RESERVED_SIZE) bufSz = MIN_RESERVED_SIZE;
          blocksPer = Math.ceil(bufSz / bs);
          if (blocksPer < blocks) {
            blocks = blocksPer;
            await d.err(`Reducing read to ${blocksPer} blocks per loop\n`);
            res = await d.read(fds.infd, work, blocks, skip, bs, iflag, dio, got);
          }
        }
        if (res) {
          await d.err(`sg_read failed,${res === -2 ? ' try reducing bpt,' : ''} at or after lba=${skip} [0x${hex(skip)}]\n`);
          ret = res;
          break;
        }
        if (got.blocks < blocks) {
          d.ddCount = 0;
          blocks = got.blocks;
        }
        d.inFull += blocks;
        if (iflag.dio && !dio.v) diocIncomplete++;
      } else if (inType === FT.RANDOM_0_FF) {
        const n = blocks * bs;
        if (iflag.zero) work.fill(0, 0, n);
        else if (iflag.ff) work.fill(0xff, 0, n);
        else if (rng) {
          const dv = new DataView(work.buffer, work.byteOffset, work.byteLength);
          for (let kk = 0; kk < blocks; kk++) {
            for (let j = 0; j < bs; j += 4) dv.setUint32(kk * bs + j, rng.mrand() >>> 0, true);
          }
        }
        d.inFull += blocks;
      } else {
        const want = blocks * bs;
        let got: Uint8Array;
        try {
          got = fds.infd === STDIO ? await p.stdin.read(want) : await p.sys.read(fds.infd, want);
        } catch (e) {
          if (d.verbose > 2) await d.err(`read(unix): count=${want}, res=-1\n`);
          await d.perror(`${ME}reading, skip=${skip} `, e);
          ret = -1;
          break;
        }
        if (d.verbose > 2) await d.err(`read(unix): count=${want}, res=${got.length}\n`);
        work.set(got.subarray(0, want), 0);
        if (got.length < want) {
          d.ddCount = 0;
          blocks = Math.floor(got.length / bs);
          if (got.length % bs > 0) {
            blocks++;
            d.inPartial++;
          }
        }
        d.inFull += blocks;
      }
      if (blocks === 0) break;
      const chunk = work.subarray(0, blocks * bs);
      if (out2f !== '') {
        try {
          const n = await p.sys.write(fds.out2fd, chunk);
          if (d.verbose > 2) await d.err(`write to of2: count=${chunk.length}, res=${n}\n`);
        } catch (e) {
          await d.perror(`${ME}writing to of2, seek=${seek} `, e);
          ret = -1;
          break;
        }
      }
      if (oflag.sparse && d.ddCount > blocks && !(outType & FT.DEV_NULL)) {
        zeros ??= new Uint8Array(blocks * bs);
        if (chunk.every((b) => b === 0)) sparseSkip = true;
      }
      if (sparseSkip) {
        if (outType & FT.SG) {
          d.outSparseNum += blocks;
          if (d.verbose > 2) await d.err(`sparse bypassing sg_write: seek blk=${seek}, offset blks=${blocks}\n`);
        } else if (!(outType & FT.DEV_NULL)) {
          const offset = blocks * bs;
          if (d.verbose > 2) await d.err(`sparse bypassing write: seek=${seek * bs}, rel offset=${offset}\n`);
          try {
            const r = await p.sys.lseek(fds.outfd, offset, 1);
            if (d.verbose > 4) await d.err(`oflag=sparse lseek64 result=${r}\n`);
          } catch (e) {
            await d.err(`sparse tried to bypass write: seek=${seek * bs}, rel offset=${offset} but ...\n`);
            await d.perror('lseek64 on output', e);
            ret = SG_LIB_FILE_ERROR;
            break;
          }
          d.outSparseNum += blocks;
        }
      } else if (outType & FT.SG) {
        const dio = { v: oflag.dio };
        let retriesTmp = oflag.retries;
        let first = true;
        for (;;) {
          ret = await d.write(fds.outfd, work, blocks, seek, bs, oflag, dio);
          if (ret === 0 || ret === SG_DD_BYPASS) break;
          if (ret === SG_LIB_CAT_NOT_READY || ret === SG_LIB_SYNTAX_ERROR) break;
          if (ret === -2 && first) {
            let bufSz: number;
            try {
              bufSz = ioctlValue(await p.sys.ioctl(fds.outfd, SG_GET_RESERVED_SIZE));
            } catch (e) {
              await d.perror('RESERVED_SIZE ioctls failed', e);
              break;
            }
            if (bufSz < MIN_RESERVED_SIZE) bufSz = MIN_RESERVED_SIZE;
            blocksPer = Math.ceil(bufSz / bs);
            if (blocksPer < blocks) {
              blocks = blocksPer;
              await d.err(`Reducing ${d.doVerify ? 'verify' : 'write'} to ${blocks} blocks per loop\n`);
            } else break;
          } else if (ret === SG_LIB_CAT_UNIT_ATTENTION && first) {
            if (--d.maxUas > 0) await d.err('Unit attention, continuing (w)\n');
            else {
              await d.err('Unit attention, too many (w)\n');
              break;
            }
          } else if (ret === SG_LIB_CAT_ABORTED_COMMAND && first) {
            if (--d.maxAborted > 0) await d.err('Aborted command, continuing (w)\n');
            else {
              await d.err('Aborted command, too many (w)\n');
              break;
            }
          } else if (ret < 0) break;
          else if (retriesTmp > 0) {
            await d.err(`>>> retrying a sgio ${d.doVerify ? 'verify' : 'write'}, lba=0x${hex(seek)}\n`);
            retriesTmp--;
            d.numRetries++;
            if (d.unrecoveredErrs > 0) d.unrecoveredErrs--;
          } else break;
          first = false;
        }
        if (ret === SG_DD_BYPASS) ret = 0;
        else if (ret !== 0) {
          await d.err(`sg_write failed,${ret === -2 ? ' try reducing bpt,' : ''} seek=${seek}\n`);
          break;
        } else {
          d.outFull += blocks;
          if (oflag.dio && !dio.v) diocIncomplete++;
        }
      } else if (outType & FT.DEV_NULL) {
        d.outFull += blocks;
      } else {
        let n: number;
        try {
          if (fds.outfd === STDIO) {
            await p.stdout.write(chunk.slice());
            n = chunk.length;
          } else n = await p.sys.write(fds.outfd, chunk);
        } catch (e) {
          if (d.verbose > 2) await d.err(`write(unix): count=${chunk.length}, res=-1\n`);
          await d.perror(`${ME}writing, seek=${seek} `, e);
          ret = -1;
          break;
        }
        if (d.verbose > 2) await d.err(`write(unix): count=${chunk.length}, res=${n}\n`);
        if (n < chunk.length) {
          await d.err(`output file probably full, seek=${seek} `);
          blocks = Math.floor(n / bs);
          d.outFull += blocks;
          if (n % bs > 0) d.outPartial++;
          ret = -1;
          break;
        }
        d.outFull += blocks;
      }
      if (d.ddCount > 0) d.ddCount -= blocks;
      skip += blocks;
      seek += blocks;
    }
    if (ret && penultSparseSkip && penultBlocks > 0 && !(outType & FT.SG) && !(outType & FT.DEV_NULL) && fds.outfd >= 0) {
      try {
        const n = await p.sys.write(fds.outfd, new Uint8Array(penultBlocks * bs));
        if (d.verbose > 2) await d.err(`write(unix, sparse after error): count=${penultBlocks * bs}, res=${n}\n`);
      } catch (e) {
        await d.perror(`${ME}writing(sparse after error), seek=${seek} `, e);
      }
    }
    if (doSync && (outType & FT.SG)) {
      await d.err(`>> Synchronizing cache on ${outf}\n`);
      const dev: SgDev = { sys: p.sys, fd: fds.outfd };
      const sync = new Uint8Array(10);
      sync[0] = 0x35;
      let res = (await llCmd(p, dev, 'synchronize cache(10)', sync, 'none', 0, true, 0)).ret;
      if (res === SG_LIB_CAT_UNIT_ATTENTION) {
        await d.err('Unit attention (out, sync cache), continuing\n');
        res = (await llCmd(p, dev, 'synchronize cache(10)', sync, 'none', 0, false, 0)).ret;
      }
      if (res !== 0) await d.err('Unable to synchronize cache\n');
    }
    return bypass();
  }
}

export const sgDdEntry: CommandEntry = { name: 'sg_dd', paths: ['/usr/bin/sg_dd', '/bin/sg_dd'], run: sgDd };
