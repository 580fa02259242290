// Models src/sg_reset.c (sg3_utils 1.46, sg_reset 0.67): asks the kernel for a device, target, bus or host
// reset through the SG_SCSI_RESET ioctl and reports the outcome (errno → message, exit status 1 on failure).

import { isErrno } from '../kernel/errno.ts';
import { O_NONBLOCK, O_RDWR } from '../kernel/syscalls.ts';
import {
  SG_SCSI_RESET, SG_SCSI_RESET_BUS, SG_SCSI_RESET_DEVICE, SG_SCSI_RESET_HOST, SG_SCSI_RESET_NOTHING,
  SG_SCSI_RESET_NO_ESCALATE, SG_SCSI_RESET_TARGET,
} from '../kernel/uapi/sg.ts';
import type { CommandEntry, Process } from './process.ts';
import { SG_LIB_SYNTAX_ERROR, getoptLong } from './sg_lib.ts';

const ME = 'sg_reset: ';
const VERSION = '0.67 20200501';

function usage(compat: boolean): string {
  return 'Usage: sg_reset [--bus] [--device] [--help] [--host] [--no-esc] [--no-escalate] [--target]\n' +
    '                [--verbose] [--version] DEVICE\n' +
    '  where:\n' +
    '    --bus|-b        SCSI bus reset (SPI concept), might be all targets\n' +
    '    --device|-d     device (logical unit) reset\n' +
    (compat
      ? '    --help|-z       print usage information then exit\n    --host|-h|-H    host (bus adapter: HBA) reset\n'
      : '    --help|-h       print usage information then exit\n    --host|-H       host (bus adapter: HBA) reset\n') +
    '    --no-esc|-N     overrides default action and only does reset requested\n' +
    // sg_reset 0.67's usage text lacks the newline after this line.
    '    --no-escalate   The same as --no-esc|-N' +
    '    --target|-t     target reset. The target holds the DEVICE and perhaps\n' +
    '                    other LUs\n' +
    '    --verbose|-v    increase the level of verbosity\n' +
    '    --version|-V    print version number then exit\n\n' +
    'Use SG_SCSI_RESET ioctl to send a reset to the host/bus/target/device\n' +
    'along the DEVICE path. The DEVICE itself is known as a logical unit (LU)\n' +
    'in SCSI terminology.\n' +
    "Be warned: if the '-N' option is not given then if '-d' fails then a\n" +
    "target reset ('-t') is instigated. And it '-t' fails then a bus reset\n" +
    "('-b') is instigated. And if '-b' fails then a host reset ('h') is\n" +
    "instigated. It is recommended to use '-N' to stop the reset escalation.\n";
}

export async function sgReset(p: Process): Promise<number> {
  const err = async (s: string): Promise<void> => {
    try { await p.stderr.write(s); } catch { /* stderr gone */ }
  };
  let out = '';
  // stdout is a pipe or file in every run we model: fully buffered, written at exit.
  const finish = async (rc: number): Promise<number> => {
    if (out !== '') {
      try { await p.stdout.write(out); } catch { /* nowhere to report */ }
    }
    return rc;
  };
  const compat = p.env.has('SG3_UTILS_OLD_OPTS') || p.env.has('SG_RESET_OLD_OPTS');
  const parsed = getoptLong(p.argv.slice(1), {
    short: 'bdhHNtvVz',
    long: {
      bus: ['b', false], device: ['d', false], help: ['z', false], host: ['H', false], 'no-esc': ['N', false],
      no_esc: ['N', false], 'no-escalate': ['N', false], target: ['t', false], verbose: ['v', false],
      version: ['V', false],
    },
  });
  if (!parsed.ok) {
    await err(`sg_reset: ${parsed.message}\nunrecognised option code 0x3f ??\n${usage(compat)}`);
    return SG_LIB_SYNTAX_ERROR;
  }
  let device = false;
  let bus = false;
  let host = false;
  let target = false;
  let noEscalate = false;
  let verbose = 0;
  for (const [o] of parsed.opts) {
    switch (o) {
      case 'b': bus = true; break;
      case 'd': device = true; break;
      case 'h':
        if (compat) { host = true; break; }
        await err(usage(compat));
        return 0;
      case 'H': host = true; break;
      case 'N': noEscalate = true; break;
      case 't': target = true; break;
      case 'v': verbose++; break;
      case 'V':
        await err(`${ME}version: ${VERSION}\n`);
        return 0;
      case 'z':
        await err(usage(compat));
        return 0;
    }
  }
  const name = parsed.rest[0];
  if (parsed.rest.length > 1) {
    await err(parsed.rest.slice(1).map((a) => `Unexpected extra argument: ${a}\n`).join('') + usage(compat));
    return SG_LIB_SYNTAX_ERROR;
  }
  if (name === undefined) {
    await err("Missing DEVICE name. Use '--help' to see usage.\n");
    return SG_LIB_SYNTAX_ERROR;
  }
  if (compat && verbose === 0) verbose = 1;
  if (Number(device) + Number(target) + Number(bus) + Number(host) > 1) {
    await err('Can only request one type of reset per invocation\n');
    return 1;
  }
  let fd: number;
  try {
    fd = await p.sys.open(name, O_RDWR | O_NONBLOCK);
  } catch (e) {
    if (!isErrno(e)) throw e;
    await err(`${ME}open error: ${name}: ${e.message}\n`);
    return 1;
  }
  let k = SG_SCSI_RESET_NOTHING;
  const start = (what: string): void => {
    if (verbose) out += `${ME}starting ${what} reset\n`;
  };
  if (device) { start('device'); k = SG_SCSI_RESET_DEVICE; }
  else if (target) { start('target'); k = SG_SCSI_RESET_TARGET; }
  else if (bus) { start('bus'); k = SG_SCSI_RESET_BUS; }
  else if (host) { start('host'); k = SG_SCSI_RESET_HOST; }
  if (noEscalate) k += SG_SCSI_RESET_NO_ESCALATE;
  if (verbose > 2) await err(`    third argument to ioctl(SG_SCSI_RESET) is 0x${k.toString(16)}\n`);
  try {
    await p.sys.ioctl(fd, SG_SCSI_RESET, k);
  } catch (e) {
    if (!isErrno(e)) throw e;
    const x = `0x${k.toString(16)}`;
    switch (e.code) {
      case 'EBUSY': await err(`${ME}BUSY, may be resetting now\n`); break;
      case 'ENODEV': await err(`${ME}'no device' error, may be temporary while device is resetting\n`); break;
      case 'EAGAIN': await err(`${ME}try again later, may be resetting now\n`); break;
      case 'EIO': await err(`${ME}reset (for value=${x}) may not be available\n`); break;
      case 'EPERM':
      case 'EACCES': await err(`${ME}reset requires CAP_SYS_ADMIN (root) permission\n`); break;
      case 'EINVAL':
        await err(`${ME}SG_SCSI_RESET not supported (for value=${x})\n${ME}SG_SCSI_RESET failed: ${e.message}\n`);
        break;
      default: await err(`${ME}SG_SCSI_RESET failed: ${e.message}\n`);
    }
    if (verbose > 1) await err(`${ME}ioctl(SG_SCSI_RESET) returned -1, errno=${e.errno}\n`);
    await p.sys.close(fd).catch(() => undefined);
    return finish(1);
  }
  if (noEscalate) k -= SG_SCSI_RESET_NO_ESCALATE;
  if (verbose) {
    if (k === SG_SCSI_RESET_NOTHING) out += `${ME}did nothing, device is normal mode\n`;
    else if (k === SG_SCSI_RESET_DEVICE) out += `${ME}completed device ${noEscalate ? '' : '(or target or bus or host) '}reset\n`;
    else if (k === SG_SCSI_RESET_TARGET) out += `${ME}completed target ${noEscalate ? '' : '(or bus or host) '}reset\n`;
    else if (k === SG_SCSI_RESET_BUS) out += `${ME}completed bus ${noEscalate ? '' : '(or host) '}reset\n`;
    else if (k === SG_SCSI_RESET_HOST) out += `${ME}completed host reset\n`;
  }
  try {
    await p.sys.close(fd);
  } catch (e) {
    if (!isErrno(e)) throw e;
    await err(`${ME}close error: ${e.message}\n`);
    return finish(1);
  }
  return finish(0);
}

export const sgResetEntry: CommandEntry = { name: 'sg_reset', paths: ['/usr/bin/sg_reset', '/bin/sg_reset'], run: sgReset };
