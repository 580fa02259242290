// Models src/sg_prevent.c (sg3_utils 1.46, sg_prevent 1.12): PREVENT ALLOW MEDIUM REMOVAL through SG_IO
// with a prevent code 0..3 (default 1, prevent; --allow is 0) and sg3_utils' failure report.

import type { CommandEntry, Process } from './process.ts';
import {
  SG_LIB_CAT_OTHER, SG_LIB_SYNTAX_ERROR, categorySenseStr, closeDevice, convertErrno, getoptLong, ifCan2stderr,
  llCmd, openDevice, sgGetNum, strerrorNum,
} from './sg_lib.ts';

const ME = 'sg_prevent: ';
const VERSION = '1.12 20180627';
const SG_LIB_CONTRADICT = 31;

const USAGE = 'Usage: sg_prevent [--allow] [--help] [--prevent=PC] [--verbose] [--version]\n' +
  '                  DEVICE\n' +
  '  where:\n' +
  '    --allow|-a            allow media removal\n' +
  '    --help|-h             print usage message then exit\n' +
  '    --prevent=PC|-p PC    prevent code value (def: 1 -> prevent)\n' +
  '                            0 -> allow, 1 -> prevent\n' +
  '                            2 -> persistent allow, 3 -> persistent prevent\n' +
  '    --verbose|-v          increase verbosity\n' +
  '    --version|-V          print version string and exit\n\n' +
  'Performs a SCSI PREVENT ALLOW MEDIUM REMOVAL command\n';

/** sg_ll_prevent_allow's cdb: PREVENT ALLOW MEDIUM REMOVAL with the prevent field in byte 4. */
export function preventAllowCdb(prevent: number): Uint8Array {
  return Uint8Array.from([0x1e, 0, 0, 0, prevent & 0x3, 0]);
}

export async function sgPrevent(p: Process): Promise<number> {
  const err = async (s: string): Promise<void> => {
    try { await p.stderr.write(s); } catch { /* stderr gone */ }
  };
  const parsed = getoptLong(p.argv.slice(1), {
    short: 'ahp:vV',
    long: { allow: ['a', false], help: ['h', false], prevent: ['p', true], verbose: ['v', false], version: ['V', false] },
  });
  if (!parsed.ok) {
    // getopt_long's '?' takes sg_prevent's help branch.
    await err(`sg_prevent: ${parsed.message}\n${USAGE}`);
    return 0;
  }
  let allow = false;
  let prevent = -1;
  let verbose = 0;
  let verboseGiven = false;
  let versionGiven = false;
  for (const [c, v] of parsed.opts) {
    switch (c) {
      case 'a': allow = true; break;
      case 'h':
        await err(USAGE);
        return 0;
      case 'p':
        prevent = sgGetNum(v ?? '');
        if (prevent < 0 || prevent > 3) {
          await err("bad argument to '--prevent'\n");
          return SG_LIB_SYNTAX_ERROR;
        }
        break;
      case 'v': verboseGiven = true; verbose++; break;
      case 'V': versionGiven = true; break;
    }
  }
  const device = parsed.rest[0];
  if (parsed.rest.length > 1) {
    await err(parsed.rest.slice(1).map((a) => `Unexpected extra argument: ${a}\n`).join('') + USAGE);
    return SG_LIB_SYNTAX_ERROR;
  }
  if (verboseGiven && versionGiven) await err("Not in DEBUG mode, so '-vV' has no special action\n");
  if (versionGiven) {
    await err(`${ME}version: ${VERSION}\n`);
    return 0;
  }
  if (device === undefined) {
    await err(`missing device name!\n${USAGE}`);
    return SG_LIB_SYNTAX_ERROR;
  }
  if (allow && prevent >= 0) {
    await err(`can't give both '--allow' and '--prevent='\n${USAGE}`);
    return SG_LIB_CONTRADICT;
  }
  if (allow) prevent = 0;
  else if (prevent < 0) prevent = 1;
  let ret: number;
  const dev = await openDevice(p.sys, device, false);
  if (typeof dev === 'number') {
    if (verbose) await err(`${ME}open error: ${device}: ${strerrorNum(-dev)}\n`);
    ret = convertErrno(-dev);
  } else {
    ret = (await llCmd(p, dev, 'prevent allow medium removal', preventAllowCdb(prevent), 'none', 0, true, verbose)).ret;
    if (ret) await err(`Prevent allow medium removal: ${categorySenseStr(ret, verbose)}\n`);
    await closeDevice(dev);
  }
  if (verbose === 0) {
    if (!(await ifCan2stderr(p, 'sg_prevent failed: ', ret))) {
      await err("Some error occurred, try again with '-v' or '-vv' for more information\n");
    }
  }
  return ret >= 0 ? ret : SG_LIB_CAT_OTHER;
}

export const sgPreventEntry: CommandEntry = {
  name: 'sg_prevent', paths: ['/usr/bin/sg_prevent', '/bin/sg_prevent'], run: sgPrevent,
};
