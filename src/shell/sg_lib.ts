// Models lib/sg_lib.c, lib/sg_lib_data.c, lib/sg_cmds_basic.c and lib/sg_pt_linux.c (sg3_utils 1.46):
// the helpers every sg3_utils tool shares — SG_IO through ioctl, result categories (the exit statuses),
// sense-data text, the hex-dump layout, the common error texts and a getopt_long-like parser.

import { ERRNO, isErrno, type ErrnoCode } from '../kernel/errno.ts';
import { O_NONBLOCK, O_RDONLY, O_RDWR, type Syscalls } from '../kernel/syscalls.ts';
import {
  SG_DXFER_FROM_DEV,
  SG_DXFER_NONE,
  SG_DXFER_TO_DEV,
  SG_IO,
  sgIoHdr,
  type SgIoHdrOut,
} from '../kernel/uapi/sg.ts';
import type { Process } from './process.ts';

// ---- exit statuses (sg_lib.h SG_LIB_*) ----------------------------------------------------------------
export const SG_LIB_CAT_CLEAN = 0;
export const SG_LIB_SYNTAX_ERROR = 1;
export const SG_LIB_CAT_NOT_READY = 2;
export const SG_LIB_CAT_MEDIUM_HARD = 3;
export const SG_LIB_CAT_ILLEGAL_REQ = 5;
export const SG_LIB_CAT_UNIT_ATTENTION = 6;
export const SG_LIB_CAT_DATA_PROTECT = 7;
export const SG_LIB_CAT_INVALID_OP = 9;
export const SG_LIB_CAT_COPY_ABORTED = 10;
export const SG_LIB_CAT_ABORTED_COMMAND = 11;
export const SG_LIB_CAT_MISCOMPARE = 14;
export const SG_LIB_FILE_ERROR = 15;
export const SG_LIB_CAT_NO_SENSE = 20;
export const SG_LIB_CAT_RECOVERED = 21;
export const SG_LIB_LBA_OUT_OF_RANGE = 22;
export const SG_LIB_CAT_RES_CONFLICT = 24;
export const SG_LIB_CAT_CONDITION_MET = 25;
export const SG_LIB_CAT_BUSY = 26;
export const SG_LIB_CAT_TS_FULL = 27;
export const SG_LIB_CAT_ACA_ACTIVE = 28;
export const SG_LIB_CAT_TASK_ABORTED = 29;
export const SG_LIB_CAT_PROTECTION = 40;
export const SG_LIB_OS_BASE_ERR = 50;
export const SG_LIB_CAT_MALFORMED = 97;
export const SG_LIB_CAT_SENSE = 98;
export const SG_LIB_CAT_OTHER = 99;

/** sg_exit_str_arr: exit status → short text (the long variants are not used by our tools). */
const EXIT_STR: ReadonlyMap<number, string> = new Map([
  [0, 'No errors'],
  [1, 'Syntax error'],
  [2, 'Device not ready'],
  [3, 'Medium or hardware error'],
  [5, 'Illegal request'],
  [6, 'Unit attention'],
  [7, 'Data protect'],
  [9, 'Illegal request, Invalid opcode'],
  [10, 'Copy aborted'],
  [11, 'Aborted command'],
  [14, 'Miscompare'],
  [15, 'File error'],
  [17, 'Illegal request with Info field'],
  [18, 'Medium or hardware error with Info'],
  [20, 'No sense key'],
  [21, 'Recovered error (warning)'],
  [22, 'LBA out of range'],
  [24, 'Reservation conflict'],
  [25, 'Condition met'],
  [26, 'Busy'],
  [27, 'Task set full'],
  [28, 'ACA aactive'],
  [29, 'Task aborted'],
  [31, 'Contradict'],
  [32, 'Logic error'],
  [33, 'SCSI command timeout'],
  [36, 'No errors (false)'],
  [40, 'Aborted command, protection error'],
  [41, 'Aborted command, protection error with Info field'],
  [50, 'An OS error occurred'],
  [97, 'Malformed SCSI command'],
  [98, 'Some other sense error'],
  [99, 'Some other error'],
]);

/** glibc strerror by number: the kernel's table plus the few errno values only userland produces. */
const EXTRA_STRERROR: ReadonlyMap<number, string> = new Map([
  [33, 'Numerical argument out of domain'],
  [71, 'Protocol error'],
  [90, 'Message too long'],
]);

export function strerrorNum(errnum: number): string {
  for (const code of Object.keys(ERRNO) as ErrnoCode[]) {
    if (ERRNO[code][0] === errnum) return ERRNO[code][1];
  }
  return EXTRA_STRERROR.get(errnum) ?? `Unknown error ${errnum}`;
}

export const EDOM = 33;

/** sg_convert_errno. */
export function convertErrno(errnum: number): number {
  if (errnum <= 0) return errnum < 0 ? SG_LIB_OS_BASE_ERR : 0;
  return errnum < SG_LIB_CAT_MALFORMED - SG_LIB_OS_BASE_ERR ? SG_LIB_OS_BASE_ERR + errnum : SG_LIB_OS_BASE_ERR;
}

/** sg_exit2str (short form); null when no text is known. */
export function exit2str(status: number): string | null {
  if (status < 0) return null;
  if (status === 0 || status === 36) return '';
  if (status > SG_LIB_OS_BASE_ERR && status < SG_LIB_CAT_MALFORMED) return strerrorNum(status - SG_LIB_OS_BASE_ERR);
  if (status > 128 && status < 255) return `Utility stopped/aborted by signal number: ${status - 128}`;
  return EXIT_STR.get(status) ?? null;
}

/** sg_get_category_sense_str. */
export function categorySenseStr(cat: number, verbose: number): string {
  const s = exit2str(cat);
  if (s !== null) return s;
  return verbose ? `Sense category: ${cat}` : `Sense category: ${cat}, try '-v' option for more information`;
}

/** sg_if_can2stderr: the final "<tool> failed: <text>" line; returns false when there is no text. */
export async function ifCan2stderr(p: Process, leadin: string, status: number): Promise<boolean> {
  if (status === 0 || status === 36) return true;
  const s = exit2str(status);
  if (s === null) return false;
  await p.stderr.write(`${leadin}${s}\n`);
  return true;
}

// ---- tables (sg_lib_data.c) -----------------------------------------------------------------------------
export const SENSE_KEY_DESC = [
  'No Sense', 'Recovered Error', 'Not Ready', 'Medium Error', 'Hardware Error', 'Illegal Request',
  'Unit Attention', 'Data Protect', 'Blank Check', 'Vendor specific(9)', 'Copy Aborted', 'Aborted Command',
  'Equal', 'Volume Overflow', 'Miscompare', 'Completed',
] as const;

/** sg_lib_pdt_strs. */
export const PDT_STRS = [
  'disk', 'tape', 'printer', 'processor', 'write once optical disk', 'cd/dvd', 'scanner',
  'optical memory device', 'medium changer', 'communications', 'graphics [0xa]', 'graphics [0xb]',
  'storage array controller', 'enclosure services device', 'simplified direct access device',
  'optical card reader/writer device', 'bridge controller commands', 'object based storage',
  'automation/driver interface', 'security manager device', 'host managed zoned block',
  '0x15', '0x16', '0x17', '0x18', '0x19', '0x1a', '0x1b', '0x1c', '0x1d',
  'well known logical unit', 'unknown or no device type',
] as const;

export function pdtStr(pdt: number): string {
  return PDT_STRS[pdt] ?? 'bad pdt';
}

/** A subset of sg_lib_asc_ascq: the codes the simulated devices (QEMU scsi-disk/cd, scsi_debug) return. */
const ASC_ASCQ: ReadonlyMap<number, string> = new Map([
  [0x0000, 'No additional sense information'],
  [0x0006, 'I/O process terminated'],
  [0x0400, 'Logical unit not ready, cause not reportable'],
  [0x0401, 'Logical unit is in process of becoming ready'],
  [0x0402, 'Logical unit not ready, initializing command required'],
  [0x0403, 'Logical unit not ready, manual intervention required'],
  [0x0404, 'Logical unit not ready, format in progress'],
  [0x0800, 'Logical unit communication failure'],
  [0x0c00, 'Write error'],
  [0x1000, 'Id CRC or ECC error'],
  [0x1100, 'Unrecovered read error'],
  [0x1a00, 'Parameter list length error'],
  [0x2000, 'Invalid command operation code'],
  [0x2100, 'Logical block address out of range'],
  [0x2400, 'Invalid field in cdb'],
  [0x2500, 'Logical unit not supported'],
  [0x2600, 'Invalid field in parameter list'],
  [0x2700, 'Write protected'],
  [0x2800, 'Not ready to ready change, medium may have changed'],
  [0x2900, 'Power on, reset, or bus device reset occurred'],
  [0x2901, 'Power on occurred'],
  [0x2902, 'SCSI bus reset occurred'],
  [0x2903, 'Bus device reset function occurred'],
  [0x2904, 'Device internal reset'],
  [0x2907, 'I_T nexus loss occurred'],
  [0x2a01, 'Mode parameters changed'],
  [0x2a09, 'Capacity data has changed'],
  [0x2c00, 'Command sequence error'],
  [0x3000, 'Incompatible medium installed'],
  [0x3a00, 'Medium not present'],
  [0x3a01, 'Medium not present - tray closed'],
  [0x3a02, 'Medium not present - tray open'],
  [0x3f00, 'Target operating conditions have changed'],
  [0x3f01, 'Microcode has been changed'],
  [0x3f03, 'Inquiry data has changed'],
  [0x3f0e, 'Reported luns data has changed'],
  [0x4400, 'Internal target failure'],
  [0x4700, 'SCSI parity error'],
  [0x4b00, 'Data phase error'],
  [0x5302, 'Medium removal prevented'],
  [0x5a01, 'Operator medium removal request'],
  [0x6400, 'Illegal mode for this track'],
]);

const hex2 = (n: number): string => n.toString(16).padStart(2, '0');

/** sg_get_asc_ascq_str. */
export function ascAscqStr(asc: number, ascq: number): string {
  const t = ASC_ASCQ.get((asc << 8) | ascq);
  if (t !== undefined) return `Additional sense: ${t}`;
  if (asc >= 0x80) return `vendor specific ASC=${hex2(asc)}, ASCQ=${hex2(ascq)} (hex)`;
  if (ascq >= 0x80) return `ASC=${hex2(asc)}, vendor specific qualification ASCQ=${hex2(ascq)} (hex)`;
  return `ASC=${hex2(asc)}, ASCQ=${hex2(ascq)} (hex)`;
}

export interface SenseHdr {
  readonly responseCode: number;
  readonly senseKey: number;
  readonly asc: number;
  readonly ascq: number;
}

/** sg_scsi_normalize_sense. */
export function normalizeSense(sb: Uint8Array): SenseHdr | null {
  if (sb.length < 1) return null;
  const rc = sb[0]! & 0x7f;
  if (rc < 0x70 || rc > 0x73) return null;
  if (rc >= 0x72) return { responseCode: rc, senseKey: (sb[1] ?? 0) & 0xf, asc: sb[2] ?? 0, ascq: sb[3] ?? 0 };
  let len = sb.length;
  if (len > 7) len = Math.min(len, sb[7]! + 8);
  return {
    responseCode: rc,
    senseKey: (sb[2] ?? 0) & 0xf,
    asc: len > 12 ? sb[12]! : 0,
    ascq: len > 13 ? sb[13]! : 0,
  };
}

/** sg_err_category_sense. */
export function errCategorySense(sb: Uint8Array): number {
  const s = sb.length > 2 ? normalizeSense(sb) : null;
  if (s === null) return SG_LIB_CAT_SENSE;
  switch (s.senseKey) {
    case 0x0: return SG_LIB_CAT_NO_SENSE;
    case 0x1: return SG_LIB_CAT_RECOVERED;
    case 0x2: return SG_LIB_CAT_NOT_READY;
    case 0x3: case 0x4: case 0x8: return SG_LIB_CAT_MEDIUM_HARD;
    case 0x6: return SG_LIB_CAT_UNIT_ATTENTION;
    case 0x5:
      if (s.asc === 0x20 && s.ascq === 0) return SG_LIB_CAT_INVALID_OP;
      if (s.asc === 0x21 && s.ascq === 0) return SG_LIB_LBA_OUT_OF_RANGE;
      return SG_LIB_CAT_ILLEGAL_REQ;
    case 0xb: return s.asc === 0x10 ? SG_LIB_CAT_PROTECTION : SG_LIB_CAT_ABORTED_COMMAND;
    case 0xe: return SG_LIB_CAT_MISCOMPARE;
    case 0x7: return SG_LIB_CAT_DATA_PROTECT;
    case 0xa: return SG_LIB_CAT_COPY_ABORTED;
    default: return SG_LIB_CAT_SENSE;
  }
}

/**
 * sg_get_sense_str for the fixed and descriptor formats (without descriptor details); with `raw`, the
 * " Raw sense data" trailer and a hex dump of the embedded length.
 */
export function senseStr(sb: Uint8Array, raw = false): string {
  if (sb.length < 1) return ' >>> sense buffer empty\n';
  const s = normalizeSense(sb);
  let out: string;
  if (s === null) {
    out = sb.length < 4 ? 'sense buffer too short (4 byte minimum)\n'
      : `>> Only sense data with response code 0x70..0x73 decoded; got 0x${hex2(sb[0]! & 0x7f)}\n`;
  } else {
    out = `${senseDecoded(sb, s)}`;
  }
  if (!raw) return out;
  out += ` Raw sense data (in hex), sb_len=${sb.length}`;
  let embedded = sb.length;
  if (sb.length > 7 && sb[0]! >= 0x70 && sb[0]! < 0x74) {
    embedded = sb[7]! + 8;
    out += `, embedded_len=${embedded}\n`;
  } else out += '\n';
  const dump = hexDump(sb.subarray(0, embedded), -1);
  return out + dump.split('\n').filter((l) => l !== '').map((l) => `        ${l}\n`).join('');
}

function senseDecoded(sb: Uint8Array, s: SenseHdr): string {
  const fmt = s.responseCode === 0x70 ? 'Fixed format, current'
    : s.responseCode === 0x71 ? 'Fixed format, <<<deferred>>>'
    : s.responseCode === 0x72 ? 'Descriptor format, current' : 'Descriptor format, <<<deferred>>>';
  let out = `${fmt}; Sense key: ${SENSE_KEY_DESC[s.senseKey]!}\n`;
  if (s.responseCode >= 0x72) {
    if (sb.length > 4 && (sb[4]! & 0x80)) out += '<<<Sense data overflow (SDAT_OVFL)>>>\n';
    return out + `${ascAscqStr(s.asc, s.ascq)}\n`;
  }
  const len = Math.min(sb.length, sb.length > 7 ? sb[7]! + 8 : sb.length);
  if (len > 2 && (sb[2]! & 0x10)) out += '<<<Sense data overflow (SDAT_OVFL)>>>\n';
  if (len <= 2) return out + ` fixed descriptor length too short, len=${len}\n`;
  if (len > 12) out += `${ascAscqStr(s.asc, s.ascq)}\n`;
  const valid = (sb[0]! & 0x80) !== 0;
  let line = '';
  let info = 0;
  if (len > 6) {
    info = ((sb[3]! << 24) >>> 0) + (sb[4]! << 16) + (sb[5]! << 8) + sb[6]!;
    if (valid) line += `  Info fld=0x${info.toString(16)} [${info}] `;
    else if (info > 0) line += `  Valid=0, Info fld=0x${info.toString(16)} [${info}] `;
  }
  if ((sb[2]! & 0xe0) !== 0) {
    if (sb[2]! & 0x80) line += ' FMK';
    if (sb[2]! & 0x40) line += ' EOM';
    if (sb[2]! & 0x20) line += ' ILI';
    line += '\n';
  } else if (valid || info > 0) line += '\n';
  if (len >= 14 && sb[14]) line += `  Field replaceable unit code: ${sb[14]}\n`;
  if (len >= 18 && (sb[15]! & 0x80)) line += senseKeySpecific(sb, s.senseKey);
  return out + line;
}

/** The sense-key specific field of fixed-format sense (SKSV set). */
function senseKeySpecific(sb: Uint8Array, key: number): string {
  const field = be16(sb, 16);
  const bit = (sb[15]! & 0x08) ? ` bit ${sb[15]! & 7}\n` : '\n';
  switch (key) {
    case 0x5:
      return `  Sense Key Specific: Error in ${(sb[15]! & 0x40) ? 'Command' : 'Data parameters'}: byte ${field}${bit}`;
    case 0x0:
    case 0x2: {
      const pr = Math.floor((field * 100) / 65536);
      const rem = Math.floor(((field * 100) % 65536) / 656);
      return `  Progress indication: ${pr}.${String(rem).padStart(2, '0')}%\n`;
    }
    case 0x1:
    case 0x3:
    case 0x4:
      return `  Actual retry count: 0x${hex2(sb[16]!)}${hex2(sb[17]!)}\n`;
    case 0xa:
      return `  Segment pointer: Relative to start of ${(sb[15]! & 0x20) ? 'segment descriptor' : 'parameter list'}, byte ${field}${bit}`;
    case 0x6:
      return `  Unit attention condition queue: overflow flag is ${sb[15]! & 1}\n`;
    default:
      return `  Sense_key: 0x${key.toString(16)} unexpected\n`;
  }
}

/** sg_get_scsi_status_str. */
export function scsiStatusStr(status: number): string {
  const st = status & 0x7e;
  return SAM_STATUS_NAMES.get(st) ?? `Unknown status [0x${st.toString(16)}]`;
}

const SAM_STATUS_NAMES: ReadonlyMap<number, string> = new Map([
  [0x00, 'Good'], [0x02, 'Check Condition'], [0x04, 'Condition Met'], [0x08, 'Busy'],
  [0x10, 'Intermediate (obsolete)'], [0x14, 'Intermediate-Condition Met (obsolete)'],
  [0x18, 'Reservation Conflict'], [0x22, 'Command terminated (obsolete)'], [0x28, 'Task Set Full'],
  [0x30, 'ACA Active'], [0x40, 'Task Aborted'],
]);

/**
 * sg_linux_sense_print / sg_chk_n_print3: what a tool prints about a failed SG_IO — the SCSI status and
 * sense, the host byte, the driver byte — prefixed by `leadin`. Empty when the command succeeded.
 */
export function linuxSensePrint(leadin: string, h: SgIoHdrOut, raw: boolean): string {
  const status = h.status & 0x7e;
  const sb = h.sbp.subarray(0, h.sbLenWr);
  if (status === 0 && h.hostStatus === 0 && h.driverStatus === 0) return '';
  let out = '';
  let doneLeadin = false;
  let doneSense = false;
  if (status !== 0) {
    out += `${leadin}: SCSI status: ${scsiStatusStr(status)} \n`;
    doneLeadin = true;
    if (status === 0x02 || status === 0x22) {
      out += senseStr(sb, raw);
      doneSense = true;
    }
  }
  if (h.hostStatus !== 0) {
    out += doneLeadin ? 'plus...: ' : `${leadin}: `;
    doneLeadin = true;
    const name = LINUX_HOST_BYTES_PLAIN[h.hostStatus];
    out += `Host_status=0x${hex2(h.hostStatus)} ${name !== undefined ? `[${name}] ` : 'is invalid '}\n`;
  }
  if (h.driverStatus !== 0) {
    const driverSense = (h.driverStatus & 0xf) === 8;
    if (doneSense && driverSense) return out;
    out += doneLeadin ? 'plus...: ' : `${leadin}: `;
    out += `Driver_status=0x${hex2(h.driverStatus)} [${LINUX_DRIVER_BYTES[h.driverStatus & 0xf] ?? 'invalid'}] \n`;
    if (!doneSense && driverSense) out += senseStr(sb, raw);
  }
  return out;
}

/** sg_io_linux.c's host-byte names (DID_NEXUS_FAILURE without the sg_pt gloss). */
const LINUX_HOST_BYTES_PLAIN: readonly string[] = [
  'DID_OK', 'DID_NO_CONNECT', 'DID_BUS_BUSY', 'DID_TIME_OUT', 'DID_BAD_TARGET', 'DID_ABORT', 'DID_PARITY',
  'DID_ERROR', 'DID_RESET', 'DID_BAD_INTR', 'DID_PASSTHROUGH', 'DID_SOFT_ERROR', 'DID_IMM_RETRY',
  'DID_REQUEUE', 'DID_TRANSPORT_DISRUPTED', 'DID_TRANSPORT_FAILFAST', 'DID_TARGET_FAILURE',
  'DID_NEXUS_FAILURE', 'DID_ALLOC_FAILURE', 'DID_MEDIUM_ERROR',
];

export const SG_LIB_CAT_TIMEOUT = 33;

/** sg_err_category_new / sg_err_category3: one SG_IO outcome as an SG_LIB_CAT_* value. */
export function errCategory3(h: SgIoHdrOut): number {
  const status = h.status & 0x7e;
  const drv = h.driverStatus & 0xf;
  if (status === 0 && h.hostStatus === 0 && drv === 0) return SG_LIB_CAT_CLEAN;
  if (status === 0x02 || status === 0x22 || drv === 8) return errCategorySense(h.sbp.subarray(0, h.sbLenWr));
  if (h.hostStatus !== 0) {
    if (h.hostStatus === 1 || h.hostStatus === 2 || h.hostStatus === 3) return SG_LIB_CAT_TIMEOUT;
    if (h.hostStatus === 0x11) return SG_LIB_CAT_RES_CONFLICT;
  }
  if (drv === 6) return SG_LIB_CAT_TIMEOUT;
  return SG_LIB_CAT_OTHER;
}

/** sg_get_sense_info_fld (fixed format only; descriptor sense yields no information here). */
export function senseInfoField(sb: Uint8Array): { valid: boolean; info: number } {
  if (sb.length < 7) return { valid: false, info: 0 };
  const rc = sb[0]! & 0x7f;
  if (rc === 0x70 || rc === 0x71) return { valid: (sb[0]! & 0x80) !== 0, info: be32(sb, 3) };
  return { valid: false, info: 0 };
}

/** The names sg_get_command_name gives the commands our tools build (sg_lib_data.c). */
const COMMAND_NAMES: ReadonlyMap<number, string> = new Map([
  [0x00, 'Test Unit Ready'], [0x03, 'Request Sense'], [0x08, 'Read(6)'], [0x0a, 'Write(6)'], [0x12, 'Inquiry'],
  [0x1b, 'Start stop unit'], [0x1e, 'Prevent allow medium removal'], [0x25, 'Read capacity(10)'],
  [0x28, 'Read(10)'], [0x2a, 'Write(10)'], [0x2f, 'Verify(10)'], [0x35, 'Synchronize cache(10)'],
  [0x88, 'Read(16)'], [0x8a, 'Write(16)'], [0x8f, 'Verify(16)'], [0xa8, 'Read(12)'], [0xaa, 'Write(12)'],
  [0xaf, 'Verify(12)'],
]);

/** sg_get_command_str with the command name: `Read(10) [28 00 …]`. */
export function commandStrNamed(cdb: Uint8Array): string {
  const op = cdb[0] ?? 0;
  const name = COMMAND_NAMES.get(op) ?? `Vendor specific [0x${hex2(op)}]`;
  return `${name} ${commandStr(cdb)}`;
}

// ---- hex dumps (dStrHexFp / hex2str) ---------------------------------------------------------------------
/**
 * dStrHex layout. noAscii 0: offset, 16 bytes with an extra space after the 8th, ASCII from column 60;
 * 1: offset and bytes only (trailing spaces trimmed); -1: bytes only, no offset.
 */
export function hexDump(data: Uint8Array, noAscii: 0 | 1 | -1): string {
  if (data.length === 0) return '';
  const lines: string[] = [];
  if (noAscii < 0) {
    for (let off = 0; off < data.length; off += 16) {
      const parts: string[] = [];
      for (let i = off; i < Math.min(off + 16, data.length); i++) {
        parts.push((i - off === 8 ? ' ' : '') + hex2(data[i]!));
      }
      lines.push(parts.join(' '));
    }
    return lines.map((l) => l + '\n').join('');
  }
  for (let off = 0; off < data.length; off += 16) {
    const buf = Array.from({ length: 80 }, () => ' ');
    const put = (pos: number, s: string): void => { for (let i = 0; i < s.length; i++) buf[pos + i] = s[i]!; };
    put(1, off.toString(16).padStart(2, '0'));
    const n = Math.min(16, data.length - off);
    let ascii = '';
    for (let i = 0; i < n; i++) {
      const c = data[off + i]!;
      put(8 + i * 3 + (i >= 8 ? 1 : 0), hex2(c));
      ascii += c >= 0x20 && c < 0x7f ? String.fromCharCode(c) : '.';
    }
    let line: string;
    if (noAscii === 0) {
      put(60, ascii);
      line = buf.slice(0, 60 + n).join('');
    } else {
      line = buf.join('').trimEnd();
    }
    lines.push(line);
  }
  return lines.map((l) => l + '\n').join('');
}

/** sg_get_command_str without the name: `[12 00 00 00 24 00]`. */
export function commandStr(cdb: Uint8Array): string {
  return `[${Array.from(cdb, hex2).join(' ')}]`;
}

// ---- the pass-through ------------------------------------------------------------------------------------
export const LINUX_HOST_BYTES = [
  'DID_OK', 'DID_NO_CONNECT', 'DID_BUS_BUSY', 'DID_TIME_OUT', 'DID_BAD_TARGET', 'DID_ABORT', 'DID_PARITY',
  'DID_ERROR', 'DID_RESET', 'DID_BAD_INTR', 'DID_PASSTHROUGH', 'DID_SOFT_ERROR', 'DID_IMM_RETRY',
  'DID_REQUEUE', 'DID_TRANSPORT_DISRUPTED', 'DID_TRANSPORT_FAILFAST', 'DID_TARGET_FAILURE',
  'DID_NEXUS_FAILURE (reservation conflict)', 'DID_ALLOC_FAILURE', 'DID_MEDIUM_ERROR',
] as const;
export const LINUX_DRIVER_BYTES = [
  'DRIVER_OK', 'DRIVER_BUSY', 'DRIVER_SOFT', 'DRIVER_MEDIA', 'DRIVER_ERROR', 'DRIVER_INVALID',
  'DRIVER_TIMEOUT', 'DRIVER_HARD', 'DRIVER_SENSE',
] as const;

const SAM_STATUS: ReadonlyMap<number, string> = new Map([
  [0x00, 'Good'], [0x02, 'Check Condition'], [0x04, 'Condition Met'], [0x08, 'Busy'],
  [0x10, 'Intermediate (obsolete)'], [0x14, 'Intermediate-Condition Met (obs)'],
  [0x18, 'Reservation Conflict'], [0x22, 'Command terminated (obsolete)'], [0x28, 'Task Set Full'],
  [0x30, 'ACA Active'], [0x40, 'Task Aborted'],
]);

export type Dir = 'none' | 'in' | 'out';

/** The outcome of one SG_IO call, as sg_pt sees it. */
export type PtResult =
  | { readonly kind: 'os-err'; readonly errno: number }
  | { readonly kind: 'done'; readonly hdr: SgIoHdrOut; readonly reqIn: number };

/** An open sg-capable device (sg_cmds_open_device). */
export interface SgDev {
  readonly sys: Syscalls;
  readonly fd: number;
}

/** sg_cmds_open_device: O_NONBLOCK plus read-only or read-write; returns the fd or a negated errno. */
export async function openDevice(sys: Syscalls, path: string, readOnly: boolean): Promise<SgDev | number> {
  try {
    const fd = await sys.open(path, (readOnly ? O_RDONLY : O_RDWR) | O_NONBLOCK);
    return { sys, fd };
  } catch (e) {
    if (isErrno(e)) return -e.errno;
    throw e;
  }
}

export async function closeDevice(dev: SgDev): Promise<void> {
  try { await dev.sys.close(dev.fd); } catch (e) { if (!isErrno(e)) throw e; }
}

/** do_scsi_pt: one SG_IO. */
export async function doScsiPt(dev: SgDev, cdb: Uint8Array, dir: Dir, len: number, timeoutSecs: number,
  dataOut?: Uint8Array): Promise<PtResult> {
  const d = dir === 'none' ? SG_DXFER_NONE : dir === 'in' ? SG_DXFER_FROM_DEV : SG_DXFER_TO_DEV;
  try {
    const out = await dev.sys.ioctl(dev.fd, SG_IO, sgIoHdr(cdb, d, dir === 'none' ? 0 : len, timeoutSecs * 1000, dataOut));
    return { kind: 'done', hdr: out as SgIoHdrOut, reqIn: dir === 'in' ? len : 0 };
  } catch (e) {
    if (isErrno(e)) return { kind: 'os-err', errno: e.errno };
    throw e;
  }
}

type PtCategory = 'good' | 'status' | 'sense' | 'transport' | 'os';

function resultCategory(h: SgIoHdrOut): PtCategory {
  const dr = h.driverStatus & 0xf;
  const st = h.status & 0x7e;
  if (h.hostStatus) return 'transport';
  if (dr && dr !== 8) return 'transport';
  if (dr === 8 || st === 0x02 || st === 0x22) return 'sense';
  if (st) return 'status';
  return 'good';
}

/** get_scsi_pt_transport_err_str. */
export function transportErrStr(h: SgIoHdrOut): string {
  let s = '';
  const hs = h.hostStatus;
  if (hs) s += LINUX_HOST_BYTES[hs] !== undefined ? `Host_status=0x${hex2(hs)} [${LINUX_HOST_BYTES[hs]}]\n`
    : `Host_status=0x${hex2(hs)} is invalid\n`;
  const ds = h.driverStatus;
  s += `Driver_status=0x${hex2(ds)} [${LINUX_DRIVER_BYTES[ds & 0xf] ?? 'invalid'}]\n`;
  return s;
}

/** What sg_cmds_process_resp decided: bytes received, a sense category, or a plain failure (-1). */
export type ProcessedResp =
  | { readonly kind: 'ok'; readonly actIn: number; readonly data: Uint8Array }
  | { readonly kind: 'cat'; readonly cat: number; readonly sense: Uint8Array }
  | { readonly kind: 'fail'; readonly errno?: number };

/** sg_cmds_process_resp: classifies and, when noisy or verbose, reports on stderr as sg3_utils does. */
export async function processResp(p: Process, leadin: string, r: PtResult, noisy: boolean,
  verbose: number): Promise<ProcessedResp> {
  if (r.kind === 'os-err') {
    if (verbose) await p.stderr.write(`${leadin}: pass-through os error: ${strerrorNum(r.errno)}\n`);
    if (r.errno === 6) return { kind: 'cat', cat: SG_LIB_CAT_NOT_READY, sense: new Uint8Array(0) };
    if (noisy && !verbose) await p.stderr.write(`${leadin}: pass-through os error: ${strerrorNum(r.errno)}\n`);
    return { kind: 'fail', errno: r.errno };
  }
  const h = r.hdr;
  switch (resultCategory(h)) {
    case 'good': {
      const act = r.reqIn - h.resid;
      return { kind: 'ok', actIn: act < 0 ? 0 : act, data: h.dxferp };
    }
    case 'status': {
      const m: Record<number, number> = { 0x18: SG_LIB_CAT_RES_CONFLICT, 0x04: SG_LIB_CAT_CONDITION_MET,
        0x08: SG_LIB_CAT_BUSY, 0x28: SG_LIB_CAT_TS_FULL, 0x30: SG_LIB_CAT_ACA_ACTIVE, 0x40: SG_LIB_CAT_TASK_ABORTED };
      const cat = m[h.status];
      if (cat !== undefined) return { kind: 'cat', cat, sense: h.sbp };
      if (verbose || noisy) {
        const name = SAM_STATUS.get(h.status) ?? `Unknown status [0x${h.status.toString(16)}]`;
        await p.stderr.write(`${leadin}: scsi status: ${name}\n`);
      }
      return { kind: 'fail' };
    }
    case 'sense': {
      const sb = h.sbp.subarray(0, h.sbLenWr);
      const cat = errCategorySense(sb);
      const quietCats = [SG_LIB_CAT_NOT_READY, SG_LIB_CAT_INVALID_OP, SG_LIB_CAT_ILLEGAL_REQ, SG_LIB_LBA_OUT_OF_RANGE,
        SG_LIB_CAT_ABORTED_COMMAND, SG_LIB_CAT_COPY_ABORTED, SG_LIB_CAT_DATA_PROTECT, SG_LIB_CAT_PROTECTION,
        SG_LIB_CAT_NO_SENSE, SG_LIB_CAT_MISCOMPARE];
      const n = quietCats.includes(cat) ? false : noisy;
      if (verbose || n) {
        if (leadin.length > 0) await p.stderr.write(`${leadin}:\n`);
        await p.stderr.write(senseStr(sb, verbose > 1));
      }
      if (cat === SG_LIB_CAT_RECOVERED || cat === SG_LIB_CAT_NO_SENSE) {
        const act = r.reqIn - h.resid;
        return { kind: 'ok', actIn: act < 0 ? 0 : act, data: h.dxferp };
      }
      return { kind: 'cat', cat, sense: sb };
    }
    case 'transport':
      if (verbose || noisy) await p.stderr.write(`${leadin}: transport: ${transportErrStr(h)}`);
      return { kind: 'fail' };
    case 'os':
      return { kind: 'fail' };
  }
}

/** Maps a processed response to the value the sg_ll_* helpers return (0, a category, or -1). */
export function llStatus(r: ProcessedResp): number {
  if (r.kind === 'ok') return 0;
  if (r.kind === 'cat') return r.cat;
  return -1;
}

/** sg_ll_inquiry_v2: standard or VPD INQUIRY; resolves to status and the bytes received. */
export async function llInquiry(p: Process, dev: SgDev, evpd: boolean, page: number, mxLen: number,
  noisy: boolean, verbose: number): Promise<{ status: number; data: Uint8Array }> {
  const cdb = new Uint8Array([0x12, evpd ? 1 : 0, page & 0xff, (mxLen >> 8) & 0xff, mxLen & 0xff, 0]);
  if (verbose) await p.stderr.write(`    inquiry cdb: ${commandStr(cdb)}\n`);
  const r = await processResp(p, 'inquiry', await doScsiPt(dev, cdb, 'in', mxLen, 60), noisy, verbose);
  if (r.kind === 'ok') {
    if (r.actIn < 4) {
      if (verbose) await p.stderr.write(`inquiry: got too few bytes (${r.actIn})\n`);
      return { status: SG_LIB_CAT_MALFORMED, data: r.data.subarray(0, r.actIn) };
    }
    return { status: 0, data: r.data.subarray(0, r.actIn) };
  }
  return { status: llStatus(r), data: new Uint8Array(0) };
}

// ---- byte helpers -----------------------------------------------------------------------------------------
export const be16 = (b: Uint8Array, o: number): number => ((b[o] ?? 0) << 8) | (b[o + 1] ?? 0);
export const be32 = (b: Uint8Array, o: number): number =>
  (((b[o] ?? 0) << 24) >>> 0) + ((b[o + 1] ?? 0) << 16) + ((b[o + 2] ?? 0) << 8) + (b[o + 3] ?? 0);
export const be64 = (b: Uint8Array, o: number): bigint => (BigInt(be32(b, o)) << 32n) | BigInt(be32(b, o + 4));

/** Latin-1 view of bytes (what printf("%.*s") of raw INQUIRY text shows for ASCII data). */
export function bytesToStr(b: Uint8Array): string {
  return Array.from(b, (c) => String.fromCharCode(c)).join('');
}

// ---- getopt_long ---------------------------------------------------------------------------------------
export interface OptSpec {
  /** short letters; a trailing ':' means the option takes an argument (getopt syntax). */
  readonly short: string;
  /** long name → [short letter it maps to, takes argument]. */
  readonly long: Readonly<Record<string, readonly [string, boolean]>>;
}

export type ParsedOpts =
  | { readonly ok: true; readonly opts: ReadonlyArray<readonly [string, string | undefined]>; readonly rest: string[] }
  | { readonly ok: false; readonly message: string };

/** GNU getopt_long with argument permutation; errors carry glibc's message text (without the program name). */
export function getoptLong(args: readonly string[], spec: OptSpec): ParsedOpts {
  const opts: [string, string | undefined][] = [];
  const rest: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') { rest.push(...args.slice(i + 1)); break; }
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      const name = eq >= 0 ? a.slice(2, eq) : a.slice(2);
      const exact = spec.long[name];
      const cands = exact ? [name] : Object.keys(spec.long).filter((k) => k.startsWith(name));
      const uniq = new Set(cands.map((c) => spec.long[c]![0]));
      if (cands.length === 0) return { ok: false, message: `unrecognized option '${a}'` };
      if (uniq.size > 1) return { ok: false, message: `option '${a}' is ambiguous` };
      const [letter, hasArg] = spec.long[cands[0]!]!;
      if (hasArg) {
        if (eq >= 0) opts.push([letter, a.slice(eq + 1)]);
        else if (i + 1 < args.length) opts.push([letter, args[++i]!]);
        else return { ok: false, message: `option '--${cands[0]!}' requires an argument` };
      } else {
        if (eq >= 0) return { ok: false, message: `option '--${cands[0]!}' doesn't allow an argument` };
        opts.push([letter, undefined]);
      }
      continue;
    }
    if (a.startsWith('-') && a.length > 1) {
      for (let j = 1; j < a.length; j++) {
        const c = a[j]!;
        const idx = spec.short.indexOf(c);
        if (idx < 0 || c === ':') return { ok: false, message: `invalid option -- '${c}'` };
        if (spec.short[idx + 1] === ':') {
          if (j + 1 < a.length) opts.push([c, a.slice(j + 1)]);
          else if (i + 1 < args.length) opts.push([c, args[++i]!]);
          else return { ok: false, message: `option requires an argument -- '${c}'` };
          break;
        }
        opts.push([c, undefined]);
      }
      continue;
    }
    rest.push(a);
  }
  return { ok: true, opts, rest };
}

/** sg_get_num: decimal, 0x-prefixed or h-suffixed hex, with k/m/g multipliers; -1 when invalid. */
export function sgGetNum(s: string): number {
  const t = s.trim();
  let m = /^0x([0-9a-f]+)$/i.exec(t);
  if (m) return parseInt(m[1]!, 16);
  m = /^([0-9a-f]+)h$/i.exec(t);
  if (m) return parseInt(m[1]!, 16);
  m = /^(\d+)([kmg]?)$/i.exec(t);
  if (m) {
    const mult = { '': 1, k: 1024, m: 1048576, g: 1073741824 }[m[2]!.toLowerCase()] ?? 1;
    return parseInt(m[1]!, 10) * mult;
  }
  return -1;
}

/**
 * The common tail of the sg_ll_* helpers: run one CDB, report as sg_cmds_process_resp does, and map the result
 * to 0, a sense category (RECOVERED and NO SENSE count as success) or the converted OS errno (0 when the
 * failure was a SCSI status or transport error, exactly as sg3_utils 1.46 does).
 */
export async function llCmd(p: Process, dev: SgDev, leadin: string, cdb: Uint8Array, dir: Dir, len: number,
  noisy: boolean, verbose: number, dataOut?: Uint8Array): Promise<{ ret: number; data: Uint8Array }> {
  if (verbose) await p.stderr.write(`    ${leadin} cdb: ${commandStr(cdb)}\n`);
  const r = await processResp(p, leadin, await doScsiPt(dev, cdb, dir, len, 60, dataOut), noisy, verbose);
  if (r.kind === 'ok') return { ret: 0, data: r.data.subarray(0, r.actIn) };
  if (r.kind === 'fail') return { ret: convertErrno(r.errno ?? 0), data: new Uint8Array(0) };
  return { ret: r.cat, data: new Uint8Array(0) };
}

/** printf("%.Nf") of a double: ties (exact binary midpoints) round to even, as glibc does. */
export function cFixed(x: number, digits: number): string {
  const scaled = x * 10 ** digits;
  if (Number.isInteger(scaled * 2) && !Number.isInteger(scaled)) {
    const down = Math.floor(scaled);
    const n = down % 2 === 0 ? down : down + 1;
    const s = String(n).padStart(digits + 1, '0');
    return digits ? `${s.slice(0, -digits)}.${s.slice(-digits)}` : s;
  }
  return x.toFixed(digits);
}
