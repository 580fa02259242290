// Models src/sg_start.c (sg3_utils 1.46, sg_start 0.67) with its getopt_long interface: START STOP UNIT
// through SG_IO — start (the default), stop, load, eject, power conditions and format layers — and the
// failure report ("<category>", "START STOP UNIT command failed", "sg_start failed: …").

import type { CommandEntry, Process } from './process.ts';
import {
  SG_LIB_CAT_OTHER, SG_LIB_SYNTAX_ERROR, categorySenseStr, closeDevice, convertErrno, getoptLong, ifCan2stderr,
  llCmd, openDevice, sgGetNum, strerrorNum,
} from './sg_lib.ts';

const VERSION = '0.67 20200930';
const SG_LIB_CONTRADICT = 31;

const USAGE = 'Usage: sg_start [--eject] [--fl=FL] [--help] [--immed] [--load] [--loej]\n' +
  '                [--mod=PC_MOD] [--noflush] [--pc=PC] [--readonly]\n' +
  '                [--start] [--stop] [--verbose] [--version] DEVICE\n' +
  '  where:\n' +
  '    --eject|-e      stop unit then eject the medium\n' +
  '    --fl=FL|-f FL    format layer number (mmc5)\n' +
  '    --help|-h       print usage message then exit\n' +
  '    --immed|-i      device should return control after receiving cdb,\n' +
  '                    default action is to wait until action is complete\n' +
  '    --load|-l       load medium then start the unit\n' +
  '    --loej|-L       load or eject, corresponds to LOEJ bit in cdb;\n' +
  '                    load when START bit also set, else eject\n' +
  '    --mod=PC_MOD|-m PC_MOD    power condition modifier (def: 0) (sbc)\n' +
  '    --noflush|-n    no flush prior to operation that limits access (sbc)\n' +
  '    --pc=PC|-p PC    power condition: 0 (default) -> no power condition,\n' +
  '                    1 -> active, 2 -> idle, 3 -> standby, 5 -> sleep (mmc)\n' +
  '    --readonly|-r    open DEVICE read-only (def: read-write)\n' +
  '                     recommended if DEVICE is ATA disk\n' +
  '    --start|-s      start unit, corresponds to START bit in cdb,\n' +
  '                    default (START=1) if no other options given\n' +
  '    --stop|-S       stop unit (e.g. spin down disk)\n' +
  '    --verbose|-v    increase verbosity\n' +
  '    --old|-O        use old interface (use as first option)\n' +
  '    --version|-V    print version string then exit\n\n' +
  "    Example: 'sg_start --stop /dev/sdb'    stops unit\n" +
  "             'sg_start --eject /dev/scd0'  stops unit and ejects medium\n\n" +
  'Performs a SCSI START STOP UNIT command\n';

/** sg_ll_start_stop_unit: builds the cdb and runs it (noisy). */
export function startStopCdb(immed: boolean, pcModFl: number, powerCond: number, noflushFl: boolean, loej: boolean,
  start: boolean): Uint8Array {
  const cdb = new Uint8Array(6);
  cdb[0] = 0x1b;
  if (immed) cdb[1] = 0x1;
  cdb[3] = pcModFl & 0xf;
  cdb[4] = (powerCond & 0xf) << 4;
  if (noflushFl) cdb[4] |= 0x4;
  if (loej) cdb[4] |= 0x2;
  if (start) cdb[4] |= 0x1;
  return cdb;
}

export async function sgStart(p: Process): Promise<number> {
  const err = async (s: string): Promise<void> => {
    try { await p.stderr.write(s); } catch { /* stderr gone */ }
  };
  const parsed = getoptLong(p.argv.slice(1), {
    short: 'ef:hilLm:nNOp:rsSvV',
    long: {
      eject: ['e', false], fl: ['f', true], help: ['h', false], immed: ['i', false], load: ['l', false],
      loej: ['L', false], mod: ['m', true], noflush: ['n', false], new: ['N', false], old: ['O', false],
      pc: ['p', true], readonly: ['r', false], start: ['s', false], stop: ['S', false], verbose: ['v', false],
      version: ['V', false],
    },
  });
  let help = 0;
  if (!parsed.ok) {
    // getopt_long reports, then answers '?', which sg_start counts as a request for help.
    await err(`sg_start: ${parsed.message}\n`);
    await err(USAGE);
    return 0;
  }
  const o = {
    eject: false, immed: false, load: false, loej: false, noflush: false, readonly: false, start: false, stop: false,
    verboseGiven: false, versionGiven: false, fl: -1, mod: 0, pc: 0, verbose: 0,
  };
  for (const [c, v] of parsed.opts) {
    switch (c) {
      case 'e': o.eject = true; o.loej = true; break;
      case 'f': {
        const n = sgGetNum(v ?? '');
        if (n < 0 || n > 3) {
          await err(`bad argument to '--fl='\n${USAGE}`);
          return SG_LIB_SYNTAX_ERROR;
        }
        o.loej = true; o.start = true; o.fl = n;
        break;
      }
      case 'h': help++; break;
      case 'i': o.immed = true; break;
      case 'l': o.load = true; o.loej = true; break;
      case 'L': o.loej = true; break;
      case 'm': {
        const n = sgGetNum(v ?? '');
        if (n < 0 || n > 15) {
          await err(`bad argument to '--mod='\n${USAGE}`);
          return SG_LIB_SYNTAX_ERROR;
        }
        o.mod = n;
        break;
      }
      case 'n': o.noflush = true; break;
      case 'N': break;
      case 'O':
        await err("sg_start: the old ('--old') command line interface is not supported here\n");
        return SG_LIB_SYNTAX_ERROR;
      case 'p': {
        const n = sgGetNum(v ?? '');
        if (n < 0 || n > 15) {
          await err(`bad argument to '--pc='\n${USAGE}`);
          return SG_LIB_SYNTAX_ERROR;
        }
        o.pc = n;
        break;
      }
      case 'r': o.readonly = true; break;
      case 's': o.start = true; break;
      case 'S': o.stop = true; break;
      case 'v': o.verboseGiven = true; o.verbose++; break;
      case 'V': o.versionGiven = true; break;
    }
  }
  let device: string | undefined;
  let extra = 0;
  for (const a of parsed.rest) {
    if (a === '0') { o.stop = true; continue; }
    if (a === '1') { o.start = true; continue; }
    if (device === undefined) device = a;
    else {
      await err(`Unexpected extra argument: ${a}\n`);
      extra++;
    }
  }
  if (extra) {
    await err(USAGE);
    return SG_LIB_SYNTAX_ERROR;
  }
  if (help) {
    await err(USAGE);
    return 0;
  }
  if (o.verboseGiven && o.versionGiven) await err("Not in DEBUG mode, so '-vV' has no special action\n");
  if (o.versionGiven) {
    await err(`Version string: ${VERSION}\n`);
    return 0;
  }
  if (o.start && o.stop) {
    await err("Ambiguous to give both '--start' and '--stop'\n");
    return SG_LIB_CONTRADICT;
  }
  if (o.load && o.eject) {
    await err("Ambiguous to give both '--load' and '--eject'\n");
    return SG_LIB_CONTRADICT;
  }
  if (o.load) o.start = true;
  else if (o.eject || o.stop) o.start = false;
  else if (o.loej && !o.start) o.start = true; // --loej alone in the new interface is a load
  else if (!o.loej && o.fl === -1 && o.pc === 0) o.start = true;
  if (device === undefined) {
    await err(`No DEVICE argument given\n${USAGE}`);
    return SG_LIB_SYNTAX_ERROR;
  }
  if (o.fl >= 0) {
    if (!o.start) {
      await err("Giving '--fl=FL' with '--stop' (or '--eject') is invalid\n");
      return SG_LIB_CONTRADICT;
    }
    if (o.pc > 0) {
      await err("Giving '--fl=FL' with '--pc=PC' when PC is non-zero is invalid\n");
      return SG_LIB_CONTRADICT;
    }
  }
  let ret = 0;
  const dev = await openDevice(p.sys, device, o.readonly);
  if (typeof dev === 'number') {
    if (o.verbose) await err(`Error trying to open ${device}: ${strerrorNum(-dev)}\n`);
    ret = convertErrno(-dev);
  } else {
    const cdb = o.fl >= 0 ? startStopCdb(o.immed, o.fl, 0, true, true, true)
      : o.pc > 0 ? startStopCdb(o.immed, o.mod, o.pc, o.noflush, false, false)
      : startStopCdb(o.immed, 0, 0, o.noflush, o.loej, o.start);
    ret = (await llCmd(p, dev, 'start stop unit', cdb, 'none', 0, true, o.verbose)).ret;
    if (ret) {
      if (o.verbose < 2) await err(`${categorySenseStr(ret, o.verbose)}\n`);
      await err('START STOP UNIT command failed\n');
    }
    await closeDevice(dev);
  }
  if (o.verbose === 0) {
    if (!(await ifCan2stderr(p, 'sg_start failed: ', ret))) {
      await err("Some error occurred, try again with '-v' or '-vv' for more information\n");
    }
  }
  return ret >= 0 ? ret : SG_LIB_CAT_OTHER;
}

export const sgStartEntry: CommandEntry = { name: 'sg_start', paths: ['/usr/bin/sg_start', '/bin/sg_start'], run: sgStart };
