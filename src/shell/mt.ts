// Models mt.c (mt-st 1.4): `mt [-v] [--version] [-h] [-f device] command [count]` — the command
// table (unique prefixes accepted, each with its open mode and the error tests run after a failure),
// MTIOCTOP for the standard commands, `status` (MTIOCGET decoded as mt-st prints it), `tell` (MTIOCPOS),
// `densities`, `drvbuffer`/`defblksize`-style MTSETDRVBUFFER commands, the `st*options` booleans, and
// `asf`. Errors are perror(device) lines; the exit status is mt-st's (1 usage/open, 2 ioctl, 3 count).

import { isErrno } from '../kernel/errno.ts';
import { O_NONBLOCK, O_RDONLY, O_RDWR } from '../kernel/syscalls.ts';
import * as mt from '../kernel/uapi/mtio.ts';
import type { MtGet, MtPos } from '../kernel/uapi/mtio.ts';
import { err, resolvePath } from './applet.ts';
import type { CommandEntry, Process } from './process.ts';

const VERSION = '1.4';
const DEFTAPE = '/dev/tape';

type Fd = 'none' | 'rdonly' | 'rdwr';
const ET_ONLINE = 1;
const ET_WPROT = 2;
const DO_BOOLEANS = 1002;
const SET_BOOLEANS = 1003;
const CLEAR_BOOLEANS = 1004;

type Fn = 'standard' | 'drvbuffer' | 'options' | 'tell' | 'partseek' | 'status' | 'densities' | 'asf' | 'showoptions';

interface Cmd {
  readonly name: string;
  readonly code: number;
  readonly fn: Fn;
  readonly countBits: number;
  readonly fd: Fd;
  /** 0, 1, 2, or 255 for any number. */
  readonly args: number;
  readonly tests: number;
}

const c = (name: string, code: number, fn: Fn, countBits: number, fd: Fd, args: number, tests: number): Cmd => ({ name, code, fn, countBits, fd, args, tests });

/** mt-st's cmds[] in its order (prefix matching takes the first hit, so the order matters). */
const CMDS: readonly Cmd[] = [
  c('weof', mt.MTWEOF, 'standard', 0, 'rdwr', 1, ET_ONLINE | ET_WPROT),
  c('wset', mt.MTWSM, 'standard', 0, 'rdwr', 1, ET_ONLINE | ET_WPROT),
  c('eof', mt.MTWEOF, 'standard', 0, 'rdwr', 1, ET_ONLINE),
  c('fsf', mt.MTFSF, 'standard', 0, 'rdonly', 1, ET_ONLINE),
  c('fsfm', mt.MTFSFM, 'standard', 0, 'rdonly', 1, ET_ONLINE),
  c('bsf', mt.MTBSF, 'standard', 0, 'rdonly', 1, ET_ONLINE),
  c('bsfm', mt.MTBSFM, 'standard', 0, 'rdonly', 1, ET_ONLINE),
  c('fsr', mt.MTFSR, 'standard', 0, 'rdonly', 1, ET_ONLINE),
  c('bsr', mt.MTBSR, 'standard', 0, 'rdonly', 1, ET_ONLINE),
  c('fss', mt.MTFSS, 'standard', 0, 'rdonly', 1, ET_ONLINE),
  c('bss', mt.MTBSS, 'standard', 0, 'rdonly', 1, ET_ONLINE),
  c('rewind', mt.MTREW, 'standard', 0, 'rdonly', 0, ET_ONLINE),
  c('offline', mt.MTOFFL, 'standard', 0, 'rdonly', 0, ET_ONLINE),
  c('rewoffl', mt.MTOFFL, 'standard', 0, 'rdonly', 0, ET_ONLINE),
  c('eject', mt.MTOFFL, 'standard', 0, 'rdonly', 0, ET_ONLINE),
  c('retension', mt.MTRETEN, 'standard', 0, 'rdonly', 0, ET_ONLINE),
  c('eod', mt.MTEOM, 'standard', 0, 'rdonly', 0, ET_ONLINE),
  c('seod', mt.MTEOM, 'standard', 0, 'rdonly', 0, ET_ONLINE),
  c('seek', mt.MTSEEK, 'standard', 0, 'rdonly', 1, ET_ONLINE),
  c('tell', mt.MTTELL, 'tell', 0, 'rdonly', 0, ET_ONLINE),
  c('status', mt.MTNOP, 'status', 0, 'rdonly', 0, 0),
  c('erase', mt.MTERASE, 'standard', 0, 'rdwr', 1, ET_ONLINE),
  c('setblk', mt.MTSETBLK, 'standard', 0, 'rdonly', 1, 0),
  c('lock', mt.MTLOCK, 'standard', 0, 'rdonly', 0, ET_ONLINE),
  c('unlock', mt.MTUNLOCK, 'standard', 0, 'rdonly', 0, ET_ONLINE),
  c('load', mt.MTLOAD, 'standard', 0, 'rdonly', 1, 0),
  c('compression', mt.MTCOMPRESSION, 'standard', 0, 'rdonly', 1, 0),
  c('setdensity', mt.MTSETDENSITY, 'standard', 0, 'rdonly', 1, 0),
  c('drvbuffer', mt.MTSETDRVBUFFER, 'drvbuffer', 0, 'rdonly', 1, 0),
  c('stwrthreshold', mt.MTSETDRVBUFFER, 'drvbuffer', mt.MT_ST_WRITE_THRESHOLD, 'rdonly', 1, 0),
  c('stoptions', DO_BOOLEANS, 'options', 0, 'rdonly', 255, 0),
  c('stsetoptions', SET_BOOLEANS, 'options', 0, 'rdonly', 255, 0),
  c('stclearoptions', CLEAR_BOOLEANS, 'options', 0, 'rdonly', 255, 0),
  c('defblksize', mt.MTSETDRVBUFFER, 'drvbuffer', mt.MT_ST_DEF_BLKSIZE, 'rdonly', 1, 0),
  c('defdensity', mt.MTSETDRVBUFFER, 'drvbuffer', mt.MT_ST_DEF_DENSITY, 'rdonly', 1, 0),
  c('defdrvbuffer', mt.MTSETDRVBUFFER, 'drvbuffer', mt.MT_ST_DEF_DRVBUFFER, 'rdonly', 1, 0),
  c('defcompression', mt.MTSETDRVBUFFER, 'drvbuffer', mt.MT_ST_DEF_COMPRESSION, 'rdonly', 1, 0),
  c('stsetcln', mt.MTSETDRVBUFFER, 'drvbuffer', mt.MT_ST_SET_CLN, 'rdonly', 1, 0),
  c('sttimeout', mt.MTSETDRVBUFFER, 'drvbuffer', mt.MT_ST_SET_TIMEOUT, 'rdonly', 1, 0),
  c('stlongtimeout', mt.MTSETDRVBUFFER, 'drvbuffer', mt.MT_ST_SET_LONG_TIMEOUT, 'rdonly', 1, 0),
  c('densities', 0, 'densities', 0, 'none', 0, 0),
  c('setpartition', mt.MTSETPART, 'standard', 0, 'rdonly', 1, ET_ONLINE),
  c('mkpartition', mt.MTMKPART, 'standard', 0, 'rdwr', 1, ET_ONLINE),
  c('partseek', 0, 'partseek', 0, 'rdonly', 2, ET_ONLINE),
  c('asf', 0, 'asf', mt.MTREW, 'rdonly', 1, ET_ONLINE),
  c('stshowoptions', 0, 'showoptions', 0, 'rdonly', 1, 0),
];

/** Density codes and names (mt-st's density_tbl, after the T10 list). */
const DENSITIES: ReadonlyArray<readonly [number, string]> = [
  [0x00, 'default'], [0x01, 'NRZI (800 bpi)'], [0x02, 'PE (1600 bpi)'], [0x03, 'GCR (6250 bpi)'], [0x04, 'QIC-11'],
  [0x05, 'QIC-45/60 (GCR, 8000 bpi)'], [0x06, 'PE (3200 bpi)'], [0x07, 'IMFM (6400 bpi)'], [0x08, 'GCR (8000 bpi)'],
  [0x09, 'GCR (37871 bpi)'], [0x0a, 'MFM (6667 bpi)'], [0x0b, 'PE (1600 bpi)'], [0x0c, 'GCR (12960 bpi)'],
  [0x0d, 'GCR (25380 bpi)'], [0x0f, 'QIC-120 (GCR 10000 bpi)'], [0x10, 'QIC-150/250 (GCR 10000 bpi)'],
  [0x11, 'QIC-320/525 (GCR 16000 bpi)'], [0x12, 'QIC-1350 (RLL 51667 bpi)'], [0x13, 'DDS (61000 bpi)'],
  [0x14, 'EXB-8200 (RLL 43245 bpi)'], [0x15, 'EXB-8500 or QIC-1000'], [0x16, 'MFM 10000 bpi'], [0x17, 'MFM 42500 bpi'],
  [0x18, 'TZ86'], [0x19, 'DLT 10GB'], [0x1a, 'DLT 20GB'], [0x1b, 'DLT 35GB'], [0x1c, 'QIC-385M'], [0x1d, 'QIC-410M'],
  [0x1e, 'QIC-1000C'], [0x1f, 'QIC-2100C'], [0x20, 'QIC-6GB'], [0x21, 'QIC-20GB'], [0x22, 'QIC-2GB'], [0x23, 'QIC-875'],
  [0x24, 'DDS-2'], [0x25, 'DDS-3'], [0x26, 'DDS-4 or QIC-4GB'], [0x27, 'Exabyte Mammoth'], [0x28, 'Exabyte Mammoth-2'],
  [0x29, 'QIC-3080MC'], [0x30, 'AIT-1 or MLR3'], [0x31, 'AIT-2'], [0x32, 'AIT-3'], [0x33, 'SLR6'], [0x34, 'SLR100'],
  [0x40, 'DLT1 40 GB, or Ultrium'], [0x41, 'DLT 40GB, or Ultrium2'], [0x42, 'LTO-2'], [0x44, 'LTO-3'],
  [0x45, 'QIC-3095-MC (TR-4)'], [0x46, 'LTO-4'], [0x47, 'DDS-5 or TR-5'], [0x48, 'SDLT220'], [0x49, 'SDLT320'],
  [0x4a, 'SDLT600, T10000A'], [0x4b, 'T10000B'], [0x4c, 'T10000C'], [0x4d, 'T10000D'], [0x51, 'IBM 3592 J1A'],
  [0x52, 'IBM 3592 E05'], [0x53, 'IBM 3592 E06'], [0x54, 'IBM 3592 E07'], [0x55, 'IBM 3592 E08'], [0x58, 'LTO-5'],
  [0x5a, 'LTO-6'], [0x5c, 'LTO-7'], [0x5d, 'LTO-7-M8'], [0x5e, 'LTO-8'], [0x80, 'DLT 15GB uncomp. or Ecrix'],
  [0x81, 'DLT 15GB compressed'], [0x82, 'DLT 20GB uncompressed'], [0x83, 'DLT 20GB compressed'],
  [0x84, 'DLT 35GB uncompressed'], [0x85, 'DLT 35GB compressed'], [0x86, 'DLT1 40 GB uncompressed'],
  [0x87, 'DLT1 40 GB compressed'], [0x88, 'DLT 40GB uncompressed'], [0x89, 'DLT 40GB compressed'],
  [0x8c, 'EXB-8505 compressed'], [0x90, 'SDLT110 uncompr/EXB-8205 compr'], [0x91, 'SDLT110 compressed'],
  [0x92, 'SDLT160 uncompressed'], [0x93, 'SDLT160 comprssed'],
];

/** boolean_tbl: the option names `stoptions` takes and `stshowoptions` prints. */
const BOOLEANS: ReadonlyArray<readonly [string, number]> = [
  ['buffer-writes', mt.MT_ST_BUFFER_WRITES], ['async-writes', mt.MT_ST_ASYNC_WRITES], ['read-ahead', mt.MT_ST_READ_AHEAD],
  ['debug', mt.MT_ST_DEBUGGING], ['two-fms', mt.MT_ST_TWO_FM], ['fast-eod', mt.MT_ST_FAST_MTEOM],
  ['auto-lock', mt.MT_ST_AUTO_LOCK], ['def-writes', mt.MT_ST_DEF_WRITES], ['can-bsr', mt.MT_ST_CAN_BSR],
  ['no-blklimits', mt.MT_ST_NO_BLKLIMS], ['can-partitions', mt.MT_ST_CAN_PARTITIONS], ['scsi2logical', mt.MT_ST_SCSI2LOGICAL],
  ['no-wait', mt.MT_ST_NOWAIT], ['sysv', mt.MT_ST_SYSV], ['sili', mt.MT_ST_SILI], ['cleaning', mt.MT_ST_SET_CLN],
];

/** strtol(s, &end, 0): the number and what follows it (null when no digits were taken). */
function strtol(s: string): { value: number; rest: string } | null {
  const m = /^\s*([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)/.exec(s);
  if (!m) return null;
  const body = m[2]!;
  const v = /^0[xX]/.test(body) ? parseInt(body.slice(2), 16) : body.length > 1 && body[0] === '0' ? parseInt(body, 8) : parseInt(body, 10);
  return { value: m[1] === '-' ? -v : v, rest: s.slice(m[0].length) };
}

class MtRun {
  readonly p: Process;
  readonly tape: string;
  /** errno of the last failed call (perror's errno). */
  lastErrno: string | null = null;
  constructor(p: Process, tape: string) {
    this.p = p;
    this.tape = tape;
  }
  async perror(e: unknown): Promise<void> {
    if (!isErrno(e)) throw e;
    this.lastErrno = e.code;
    await err(this.p, `${this.tape}: ${e.message}\n`);
  }
  async ioctl(fd: number, request: number, arg?: unknown): Promise<unknown> {
    return this.p.sys.ioctl(fd, request, arg);
  }
}

async function usage(p: Process, explain: boolean, code: number): Promise<number> {
  let text = `usage: mt [-v] [--version] [-h] [ -f device ] command [ count ]\ndefault tape device: ${DEFTAPE}\n`;
  if (explain) {
    let ind = 0;
    while (ind < CMDS.length) {
      let line = ind === 0 ? 'commands: ' : '          ';
      for (; ind < CMDS.length; ind++) {
        line += CMDS[ind]!.name + (ind + 1 < CMDS.length ? ', ' : '.');
        if (line.length >= 70 || ind + 1 === CMDS.length) {
          ind++;
          break;
        }
      }
      text += `${line}\n`;
    }
  }
  await err(p, text);
  return code;
}

export async function mtMain(p: Process): Promise<number> {
  const argv = p.argv;
  let tape: string | undefined;
  let argn = 1;
  for (; argn < argv.length; argn++) {
    const a = argv[argn]!;
    if (!a.startsWith('-')) break;
    const o = a[1];
    if (o === 'f' || o === 't') {
      argn++;
      if (argn >= argv.length) return usage(p, false, 1);
      tape = argv[argn]!;
    } else if (o === 'h') return usage(p, true, 0);
    else if (o === 'v' || (o === '-' && a[2] === 'v')) {
      await p.stdout.write(`mt-st v. ${VERSION}\ndefault tape device: ${DEFTAPE}\n`);
      return 0;
    } else return usage(p, false, 1);
  }
  if (tape === undefined) {
    tape = p.env.get('TAPE') ?? DEFTAPE;
    if (tape === DEFTAPE) {
      try {
        const st = await p.sys.stat(resolvePath(p.cwd, tape));
        if ((st.mode & 0o170000) !== 0o020000) {
          await err(p, `The default '${tape}' is not a character device.\n\n`);
          return usage(p, true, 1);
        }
      } catch {
        // no default device: the open below reports it
      }
    }
  }
  if (argn >= argv.length) return usage(p, false, 1);
  const cmdstr = argv[argn++]!;
  const hit = CMDS.findIndex((x) => x.name.startsWith(cmdstr));
  if (hit < 0) {
    await err(p, `mt: unknown command "${cmdstr}"\n`);
    return usage(p, true, 1);
  }
  const comp = CMDS[hit]!;
  if (cmdstr.length !== comp.name.length && CMDS.slice(hit + 1).some((x) => x.name.startsWith(cmdstr))) {
    await err(p, `mt: ambiguous command "${cmdstr}"\n`);
    return usage(p, true, 1);
  }
  const args = argv.slice(argn);
  if (comp.args !== 255 && comp.args < args.length) {
    await err(p, `mt: too many arguments for the command '${comp.name}'.\n`);
    return 1;
  }
  const run = new MtRun(p, tape);
  let fd = -1;
  if (comp.fd !== 'none') {
    let flags = comp.fd === 'rdonly' ? O_RDONLY : O_RDWR;
    if ((comp.tests & ET_ONLINE) === 0) flags |= O_NONBLOCK;
    try {
      fd = await p.sys.open(resolvePath(p.cwd, tape), flags);
    } catch (e) {
      await run.perror(e);
      return 1;
    }
  }
  let rc: number;
  try {
    rc = await dispatch(run, comp, fd, args);
    if (rc) {
      if (run.lastErrno === 'ENOSYS') await err(p, 'mt: Command not supported by this kernel.\n');
      else if (comp.tests !== 0) await testError(run, comp, fd);
    }
  } finally {
    if (fd >= 0) {
      try {
        await p.sys.close(fd);
      } catch (e) {
        if (!isErrno(e)) throw e;
      }
    }
  }
  return rc;
}

async function dispatch(run: MtRun, comp: Cmd, fd: number, args: readonly string[]): Promise<number> {
  switch (comp.fn) {
    case 'standard':
      return doStandard(run, comp, fd, args);
    case 'drvbuffer':
      return doDrvbuffer(run, comp, fd, args);
    case 'options':
      return doOptions(run, comp, fd, args);
    case 'tell':
      return doTell(run, fd);
    case 'status':
      return doStatus(run, fd);
    case 'densities':
      return printDensities(run);
    case 'partseek':
      return doPartseek(run, fd, args);
    case 'asf':
      return doAsf(run, fd, args);
    case 'showoptions':
      return doShowOptions(run, fd);
  }
}

async function top(run: MtRun, fd: number, mtOp: number, mtCount: number): Promise<boolean> {
  try {
    await run.ioctl(fd, mt.MTIOCTOP, { mtOp, mtCount: mtCount | 0 });
    return true;
  } catch (e) {
    await run.perror(e);
    return false;
  }
}

/** do_standard: the count (with k/M/G), then one MTIOCTOP. */
async function doStandard(run: MtRun, comp: Cmd, fd: number, args: readonly string[]): Promise<number> {
  let count = 1;
  if (args.length > 0) {
    const n = strtol(args[0]!);
    count = n?.value ?? 0;
    if (n) {
      const mult = n.rest === 'k' ? 1024 : n.rest === 'M' ? 1024 * 1024 : n.rest === 'G' ? 1024 * 1024 * 1024 : n.rest === '' ? 1 : 0;
      if (mult === 0) {
        await err(run.p, 'mt: illegal count unit.\n');
        return 3;
      }
      if (Math.abs(count) > Math.floor(0x7fffffff / mult)) {
        await err(run.p, 'mt: repeat count too large.\n');
        return 3;
      }
      count *= mult;
    }
  }
  count |= comp.countBits;
  if (comp.code !== mt.MTMKPART && count < 0) {
    await err(run.p, 'mt: negative repeat count\n');
    return 1;
  }
  return (await top(run, fd, comp.code, count)) ? 0 : 2;
}

/** do_drvbuffer: MTSETDRVBUFFER with the command's selector bits. */
async function doDrvbuffer(run: MtRun, comp: Cmd, fd: number, args: readonly string[]): Promise<number> {
  let count = args.length > 0 ? (strtol(args[0]!)?.value ?? 0) : 1;
  const sel = (comp.countBits & mt.MT_ST_OPTIONS) >>> 0;
  if (sel === mt.MT_ST_DEF_OPTIONS >>> 0) count &= 0xfffff;
  else if (sel === mt.MT_ST_TIMEOUTS >>> 0) count &= 0x7ffffff;
  else count &= 0xfffffff;
  return (await top(run, fd, mt.MTSETDRVBUFFER, count | comp.countBits)) ? 0 : 2;
}

/** do_options: the named booleans (unique prefixes) or a number, with the set/clear selector. */
async function doOptions(run: MtRun, comp: Cmd, fd: number, args: readonly string[]): Promise<number> {
  let count = 0;
  if (args.length > 0 && /^[0-9]/.test(args[0]!)) count = (strtol(args[0]!)?.value ?? 0) & ~mt.MT_ST_OPTIONS;
  else {
    for (const a of args) {
      const i = BOOLEANS.findIndex(([n]) => n.startsWith(a));
      if (i < 0) {
        let text = `Illegal property name '${a}'.\nThe implemented property names are:\n`;
        for (const [n] of BOOLEANS) text += `  ${n.padStart(9, ' ')} -> ${EXPL[n] ?? ''}\n`;
        await err(run.p, text);
        return 1;
      }
      if (a.length !== BOOLEANS[i]![0].length && BOOLEANS.slice(i + 1).some(([n]) => n.startsWith(a))) {
        await err(run.p, `Property name '${a}' ambiguous.\n`);
        return 1;
      }
      count |= BOOLEANS[i]![1];
    }
  }
  count |= comp.code === DO_BOOLEANS ? mt.MT_ST_BOOLEANS : comp.code === SET_BOOLEANS ? mt.MT_ST_SETBOOLEANS : mt.MT_ST_CLEARBOOLEANS;
  return (await top(run, fd, mt.MTSETDRVBUFFER, count)) ? 0 : 2;
}

const EXPL: Record<string, string> = {
  'buffer-writes': 'buffered writes',
  'async-writes': 'asynchronous writes',
  'read-ahead': 'read-ahead for fixed block size',
  debug: 'debugging (if compiled into driver)',
  'two-fms': 'write two filemarks when file closed',
  'fast-eod': 'space directly to eod (and lose file number)',
  'auto-lock': 'automatically lock/unlock drive door',
  'def-writes': 'the block size and density are for writes',
  'can-bsr': 'drive can space backwards well',
  'no-blklimits': "drive doesn't support read block limits",
  'can-partitions': 'drive can handle partitioned tapes',
  scsi2logical: 'logical block addresses used with SCSI-2',
  'no-wait': 'immediate mode for rewind, etc.',
  sysv: 'enable the SystemV semantics',
  sili: 'enable SILI for variable block mode',
  cleaning: 'set the cleaning bit location and mask',
};

/** do_tell: `At block N.` from MTIOCPOS. */
async function doTell(run: MtRun, fd: number): Promise<number> {
  try {
    const pos = (await run.ioctl(fd, mt.MTIOCPOS)) as MtPos;
    await run.p.stdout.write(`At block ${pos.mtBlkno}.\n`);
    return 0;
  } catch (e) {
    await run.perror(e);
    return 2;
  }
}

/** do_status: the drive type, position, block size and density, soft errors, and the GMT_* bits by name. */
async function doStatus(run: MtRun, fd: number): Promise<number> {
  let s: MtGet;
  try {
    s = (await run.ioctl(fd, mt.MTIOCGET)) as MtGet;
  } catch (e) {
    await run.perror(e);
    return 2;
  }
  let out = '';
  const type = s.mtType === mt.MT_ISSCSI1 ? 'SCSI 1' : s.mtType === mt.MT_ISSCSI2 ? 'SCSI 2' : s.mtType === mt.MT_ISONSTREAM_SC ? 'OnStream SC-, DI-, DP-, or USB' : null;
  if (type === null) {
    if (s.mtType & 0x800000) out += `qic-117 drive type = 0x${(s.mtType & 0x1ffff).toString(16).padStart(5, '0')}\n`;
    else if (s.mtType === 0) out += 'IDE-Tape (type code 0) ?\n';
    else out += `Unknown tape drive type (type code ${s.mtType})\n`;
    out += `File number=${s.mtFileno}, block number=${s.mtBlkno}.\n`;
    out += `mt_resid: ${s.mtResid}, mt_erreg: 0x${s.mtErreg.toString(16)}\n`;
    out += `mt_dsreg: 0x${(s.mtDsreg >>> 0).toString(16)}, mt_gstat: 0x${(s.mtGstat >>> 0).toString(16)}\n`;
  } else {
    out += `${type} tape drive:\n`;
    if (s.mtType === mt.MT_ISSCSI2) out += `File number=${s.mtFileno}, block number=${s.mtBlkno}, partition=${s.mtResid & 0xff}.\n`;
    else out += `File number=${s.mtFileno}, block number=${s.mtBlkno}.\n`;
    const dens = ((s.mtDsreg & mt.MT_ST_DENSITY_MASK) >>> mt.MT_ST_DENSITY_SHIFT) & 0xff;
    const name = DENSITIES.find(([code]) => code === dens)?.[1] ?? 'no translation';
    const blk = (s.mtDsreg & mt.MT_ST_BLKSIZE_MASK) >>> mt.MT_ST_BLKSIZE_SHIFT;
    out += `Tape block size ${blk} bytes. Density code 0x${dens.toString(16)} (${name}).\n`;
    out += `Soft error count since last status=${(s.mtErreg & mt.MT_ST_SOFTERR_MASK) >>> mt.MT_ST_SOFTERR_SHIFT}\n`;
  }
  const g = s.mtGstat >>> 0;
  out += `General status bits on (${g.toString(16)}):\n`;
  const bits: ReadonlyArray<readonly [number, string]> = [
    [mt.GMT_EOF, 'EOF'], [mt.GMT_BOT, 'BOT'], [mt.GMT_EOT, 'EOT'], [mt.GMT_SM, 'SM'], [mt.GMT_EOD, 'EOD'],
    [mt.GMT_WR_PROT, 'WR_PROT'], [mt.GMT_ONLINE, 'ONLINE'], [mt.GMT_D_6250, 'D_6250'], [mt.GMT_D_1600, 'D_1600'],
    [mt.GMT_D_800, 'D_800'], [mt.GMT_DR_OPEN, 'DR_OPEN'], [mt.GMT_IM_REP_EN, 'IM_REP_EN'], [mt.GMT_CLN, 'CLN'],
  ];
  for (const [bit, name] of bits) if ((g & bit) >>> 0) out += ` ${name}`;
  await run.p.stdout.write(`${out}\n`);
  return 0;
}

/** print_densities: the table in two columns. */
async function printDensities(run: MtRun): Promise<number> {
  let out = 'Some SCSI tape density codes:\ncode   explanation                   code   explanation\n';
  const half = Math.floor((DENSITIES.length + 1) / 2);
  const hex = (n: number): string => `0x${n.toString(16).padStart(2, '0')}`;
  for (let i = 0; i < half; i++) {
    const [c1, n1] = DENSITIES[i]!;
    out += `${hex(c1)}   ${n1.padEnd(28, ' ')}`;
    const right = DENSITIES[i + half];
    out += right ? `  ${hex(right[0])}   ${right[1]}\n` : '\n';
  }
  await run.p.stdout.write(out);
  return 0;
}

/** do_partseek: MTSETPART, then MTSEEK. */
async function doPartseek(run: MtRun, fd: number, args: readonly string[]): Promise<number> {
  if (!(await top(run, fd, mt.MTSETPART, args.length > 0 ? (strtol(args[0]!)?.value ?? 0) : 0))) return 2;
  return (await top(run, fd, mt.MTSEEK, args.length > 1 ? (strtol(args[1]!)?.value ?? 0) : 0)) ? 0 : 2;
}

/** do_asf: rewind, then forward over N filemarks. */
async function doAsf(run: MtRun, fd: number, args: readonly string[]): Promise<number> {
  if (!(await top(run, fd, mt.MTREW, 1))) return 2;
  const n = args.length > 0 ? (strtol(args[0]!)?.value ?? 0) : 0;
  if (n > 0 && !(await top(run, fd, mt.MTFSF, n))) return 2;
  return 0;
}

/** do_show_options: the options of the open node's mode, read from sysfs. */
async function doShowOptions(run: MtRun, fd: number): Promise<number> {
  const sys = run.p.sys;
  const st = await sys.fstat(fd);
  if ((st.mode & 0o170000) !== 0o020000) {
    await err(run.p, 'mt: not a character device.\n');
    return 1;
  }
  const minor = st.rdevMinor;
  const tapeno = ((minor & ~255) >> 3) | (minor & 31);
  const mode = ((minor >> 5) & 3) << 2;
  const suffix = ['', 'r', 'k', 's', 'l', 't', 'o', 'u', 'm', 'v', 'p', 'x', 'a', 'y', 'q', 'z'][mode]!;
  const fname = `/sys/class/scsi_tape/st${tapeno}${suffix}/options`;
  let text: string;
  try {
    const f = await sys.open(fname, O_RDONLY);
    try {
      text = new TextDecoder().decode(await sys.read(f, 20));
    } finally {
      await sys.close(f);
    }
  } catch {
    await err(run.p, `Can't read the sysfs file '${fname}'.\n`);
    return 2;
  }
  const options = strtol(text)?.value ?? 0;
  let out = 'The options set:';
  for (const [n, bit] of BOOLEANS) if (options & bit) out += ` ${n}`;
  await run.p.stdout.write(`${out}\n`);
  return 0;
}

/** test_error: why a command failed — offline, or write-protected. */
async function testError(run: MtRun, comp: Cmd, fd: number): Promise<void> {
  let s: MtGet;
  try {
    s = (await run.ioctl(fd, mt.MTIOCGET)) as MtGet;
  } catch {
    return;
  }
  if (s.mtType !== mt.MT_ISSCSI1 && s.mtType !== mt.MT_ISSCSI2) return;
  if (comp.tests & ET_ONLINE && !(s.mtGstat & mt.GMT_ONLINE)) await err(run.p, 'mt: The device is offline (not powered on, no tape ?).\n');
  if (comp.tests & ET_WPROT && s.mtGstat & mt.GMT_WR_PROT) await err(run.p, 'mt: The tape is write-protected.\n');
}

export const mtEntry: CommandEntry = { name: 'mt', paths: ['/bin/mt', '/usr/bin/mt', '/sbin/mt'], run: mtMain };
