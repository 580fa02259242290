// Models src/udev/scsi_id/scsi_id.c and scsi_serial.c (systemd v252): identify a SCSI device through SG_IO —
// standard INQUIRY for vendor/model/revision/type, then VPD 0x00 to choose a page, VPD 0x80 (the unit serial
// number) and VPD 0x83 (designators searched in a fixed priority order) — and print the ID_* properties.
// `scsiId()` is exported so the kernel-side udev model computes the same properties for its database.

import { isErrno } from '../kernel/errno.ts';
import { O_NONBLOCK, O_RDONLY, type Syscalls } from '../kernel/syscalls.ts';
import { SG_DXFER_FROM_DEV, SG_IO, sgIoHdr, type SgIoHdrOut } from '../kernel/uapi/sg.ts';
import type { CommandEntry, Process } from './process.ts';

/** SCSI_INQ_BUFF_LEN: every INQUIRY scsi_id sends asks for 254 bytes. */
const SCSI_INQ_BUFF_LEN = 254;
const VENDOR_LENGTH = 8;
const MODEL_LENGTH = 16;
const MAX_SERIAL_LEN = 256;

/** Designator types (SPC), as scsi_id.h names them. */
const SCSI_ID_VENDOR_SPECIFIC = 0;
const SCSI_ID_T10_VENDOR = 1;
const SCSI_ID_EUI_64 = 2;
const SCSI_ID_NAA = 3;
const SCSI_ID_TGTGROUP = 5;
const SCSI_ID_BINARY = 1;
const SCSI_ID_ASCII = 2;
const NAA_DONT_CARE = 0xff;
const NAA_IEEE_REG = 5;
const NAA_IEEE_REG_EXTENDED = 6;

/** id_search_list: the order in which page 0x83 designators are preferred. */
const ID_SEARCH_LIST: readonly { idType: number; naaType: number; codeSet: number }[] = [
  { idType: SCSI_ID_TGTGROUP, naaType: NAA_DONT_CARE, codeSet: SCSI_ID_BINARY },
  { idType: SCSI_ID_NAA, naaType: NAA_IEEE_REG_EXTENDED, codeSet: SCSI_ID_BINARY },
  { idType: SCSI_ID_NAA, naaType: NAA_IEEE_REG_EXTENDED, codeSet: SCSI_ID_ASCII },
  { idType: SCSI_ID_NAA, naaType: NAA_IEEE_REG, codeSet: SCSI_ID_BINARY },
  { idType: SCSI_ID_NAA, naaType: NAA_IEEE_REG, codeSet: SCSI_ID_ASCII },
  { idType: SCSI_ID_NAA, naaType: NAA_DONT_CARE, codeSet: SCSI_ID_BINARY },
  { idType: SCSI_ID_NAA, naaType: NAA_DONT_CARE, codeSet: SCSI_ID_ASCII },
  { idType: SCSI_ID_EUI_64, naaType: NAA_DONT_CARE, codeSet: SCSI_ID_BINARY },
  { idType: SCSI_ID_EUI_64, naaType: NAA_DONT_CARE, codeSet: SCSI_ID_ASCII },
  { idType: SCSI_ID_T10_VENDOR, naaType: NAA_DONT_CARE, codeSet: SCSI_ID_BINARY },
  { idType: SCSI_ID_T10_VENDOR, naaType: NAA_DONT_CARE, codeSet: SCSI_ID_ASCII },
  { idType: SCSI_ID_VENDOR_SPECIFIC, naaType: NAA_DONT_CARE, codeSet: SCSI_ID_BINARY },
  { idType: SCSI_ID_VENDOR_SPECIFIC, naaType: NAA_DONT_CARE, codeSet: SCSI_ID_ASCII },
];

const HEX = '0123456789abcdef';

/** The ID_* properties scsi_id --export prints, in its order; optional ones are absent when not found. */
export interface ScsiIdProps {
  readonly ID_SCSI: '1';
  readonly ID_VENDOR: string;
  readonly ID_VENDOR_ENC: string;
  readonly ID_MODEL: string;
  readonly ID_MODEL_ENC: string;
  readonly ID_REVISION: string;
  readonly ID_TYPE: string;
  readonly ID_SERIAL?: string;
  readonly ID_SERIAL_SHORT?: string;
  readonly ID_WWN?: string;
  readonly ID_WWN_VENDOR_EXTENSION?: string;
  readonly ID_WWN_WITH_EXTENSION?: string;
  readonly ID_TARGET_PORT?: string;
  readonly ID_SCSI_SERIAL?: string;
}

const latin1 = (b: Uint8Array): string => Array.from(b, (c) => String.fromCharCode(c)).join('');

/** udev_util_encode_string: every byte outside the devnode alphabet (and '\\') becomes \xNN. */
export function encodeString(s: string): string {
  let out = '';
  for (const c of s) {
    if (/[0-9A-Za-z#+\-.:=@_/]/.test(c)) out += c;
    else out += `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`;
  }
  return out;
}

/** util_replace_whitespace: trim, and turn each inner run of whitespace into one '_'. */
export function replaceWhitespace(s: string): string {
  return s.trim().replace(/\s+/g, '_');
}

/** util_replace_chars(str, NULL): characters outside [0-9A-Za-z#+-.:=@_] become '_'. */
export function replaceChars(s: string): string {
  return s.replace(/[^0-9A-Za-z#+\-.:=@_]/g, '_');
}

function typeStr(pdt: number): string {
  switch (pdt) {
    case 0x0: case 0xe: return 'disk';
    case 0x1: return 'tape';
    case 0x4: case 0x7: case 0xf: return 'optical';
    case 0x5: return 'cd';
    default: return 'generic';
  }
}

/** scsi_inquiry: one INQUIRY through SG_IO; null on any error (scsi_id only logs those at debug level). */
async function inquiry(sys: Syscalls, fd: number, evpd: boolean, page: number): Promise<Uint8Array | null> {
  const cdb = new Uint8Array([0x12, evpd ? 1 : 0, page, 0, SCSI_INQ_BUFF_LEN, 0]);
  let out: SgIoHdrOut;
  try {
    out = (await sys.ioctl(fd, SG_IO, sgIoHdr(cdb, SG_DXFER_FROM_DEV, SCSI_INQ_BUFF_LEN, 30_000))) as SgIoHdrOut;
  } catch (e) {
    if (isErrno(e)) return null;
    throw e;
  }
  if (out.status !== 0 || out.hostStatus !== 0 || (out.driverStatus & 0xf) !== 0) return null;
  const buf = new Uint8Array(SCSI_INQ_BUFF_LEN);
  buf.set(out.dxferp.subarray(0, SCSI_INQ_BUFF_LEN));
  return buf;
}

interface Std {
  readonly vendor: string;
  readonly model: string;
  readonly revision: string;
  readonly type: number;
}

interface Found {
  serial: string;
  serialShort: string;
  wwn: string;
  wwnVendorExtension: string;
  tgptGroup: string;
  unitSerialNumber: string;
}

/** check_fill_0x83_id: 0 = found (serial filled), 1 = no match, -1 = error. */
function checkFill83Id(std: Std, d: Uint8Array, search: (typeof ID_SEARCH_LIST)[number], f: Found): number {
  const assoc = d[1]! & 0x30;
  if (assoc === 0x10) {
    if (search.idType !== SCSI_ID_TGTGROUP) return 1;
  } else if (assoc !== 0) return 1;
  if ((d[1]! & 0x0f) !== search.idType) return 1;
  if (search.naaType !== NAA_DONT_CARE && search.naaType !== (d[4]! & 0xf0) >> 4) return 1;
  if ((d[0]! & 0x0f) !== search.codeSet) return 1;
  let len = d[3]!;
  if ((d[0]! & 0x0f) !== SCSI_ID_ASCII) len *= 2;
  len += 2;
  if (search.idType === SCSI_ID_VENDOR_SPECIFIC) len += VENDOR_LENGTH + MODEL_LENGTH;
  if (MAX_SERIAL_LEN < len) return -1;
  if (search.idType === SCSI_ID_TGTGROUP) {
    f.tgptGroup = (((d[6]! << 8) | d[7]!) >>> 0).toString(16);
    return 1;
  }
  let serial = HEX[search.idType]!;
  if (search.idType === SCSI_ID_VENDOR_SPECIFIC) serial += std.vendor + std.model;
  const start = serial.length;
  const ident = d.subarray(4, 4 + d[3]!);
  if ((d[0]! & 0x0f) === SCSI_ID_ASCII) serial += latin1(ident);
  else for (const b of ident) serial += HEX[b >> 4]! + HEX[b & 0xf]!;
  f.serial = serial;
  f.serialShort = serial.slice(start);
  if (search.idType === SCSI_ID_NAA) {
    f.wwn = serial.slice(start, start + 16);
    f.wwnVendorExtension = serial.slice(start + 16, start + 32);
  }
  return 0;
}

/** do_scsi_page80_inquiry: 0 on success; fills the unit serial number and, when asked, the 'S' serial. */
async function page80(sys: Syscalls, fd: number, std: Std, f: Found, fillSerial: boolean): Promise<number> {
  const buf = await inquiry(sys, fd, true, 0x80);
  if (buf === null) return -1;
  if (buf[1] !== 0x80) return 1;
  const len = 1 + VENDOR_LENGTH + MODEL_LENGTH + buf[3]!;
  if (MAX_SERIAL_LEN < len) return 1;
  const sn = latin1(buf.subarray(4, 4 + buf[3]!));
  if (fillSerial) {
    f.serial = 'S' + std.vendor + std.model + sn;
    f.serialShort = sn;
  }
  f.unitSerialNumber = sn;
  return 0;
}

/** check_fill_0x83_prespc3: the whole identifier of a pre-SPC-3 page as hex. */
function fill83PreSpc3(d: Uint8Array, f: Found): number {
  let serial = HEX[SCSI_ID_NAA]!;
  for (let i = 4; i < 4 + d[3]! && i < d.length; i++) serial += HEX[d[i]! >> 4]! + HEX[d[i]! & 0xf]!;
  f.serial = serial;
  f.serialShort = serial.slice(1);
  return 0;
}

/** do_scsi_page83_inquiry. */
async function page83(sys: Syscalls, fd: number, std: Std, f: Found): Promise<number> {
  await page80(sys, fd, std, f, false);
  const p = await inquiry(sys, fd, true, 0x83);
  if (p === null) return 1;
  if (p[1] !== 0x83) return 1;
  if (p[6] !== 0) return fill83PreSpc3(p, f);
  const end = ((p[2]! << 8) | p[3]!) + 3;
  for (const search of ID_SEARCH_LIST) {
    for (let j = 4; j <= end && j + 3 < p.length; j += p[j + 3]! + 4) {
      const r = checkFill83Id(std, p.subarray(j), search, f);
      if (r <= 0) return r;
    }
  }
  return 1;
}

/** do_scsi_page0_inquiry: the supported-pages list, with scsi_id's sanity checks. */
async function page0(sys: Syscalls, fd: number, std: Std): Promise<Uint8Array | null> {
  const b = await inquiry(sys, fd, true, 0x00);
  if (b === null || b[1] !== 0) return null;
  if (b[3]! > MODEL_LENGTH && latin1(b.subarray(VENDOR_LENGTH, 2 * VENDOR_LENGTH)) === std.vendor) return null;
  return b;
}

/** scsi_id for one device node: null when the standard INQUIRY cannot be done (scsi_id exits 1 silently). */
export async function scsiId(sys: Syscalls, devnode: string): Promise<ScsiIdProps | null> {
  return (await scsiIdFull(sys, devnode))?.props ?? null;
}

/** Opens the node as scsi_id does (O_RDONLY|O_NONBLOCK), runs `body`, closes; null when the open fails. */
async function withNode<T>(sys: Syscalls, devnode: string, body: (fd: number) => Promise<T>): Promise<T | null> {
  let fd: number;
  try { fd = await sys.open(devnode, O_RDONLY | O_NONBLOCK); } catch (e) { if (isErrno(e)) return null; throw e; }
  try {
    return await body(fd);
  } finally {
    try { await sys.close(fd); } catch (e) { if (!isErrno(e)) throw e; }
  }
}

async function scsiIdFull(sys: Syscalls, devnode: string): Promise<{ props: ScsiIdProps; rawSerial: string } | null> {
  // scsi_std_inquiry opens the node for the standard INQUIRY alone; scsi_get_serial opens it again.
  const inq = await withNode(sys, devnode, (fd) => inquiry(sys, fd, false, 0));
  if (inq === null) return null;
  const std: Std = {
    vendor: latin1(inq.subarray(8, 16)),
    model: latin1(inq.subarray(16, 32)),
    revision: latin1(inq.subarray(32, 36)),
    type: inq[0]! & 0x1f,
  };
  const f: Found = { serial: '', serialShort: '', wwn: '', wwnVendorExtension: '', tgptGroup: '', unitSerialNumber: '' };
  // scsi_get_serial with the default page code: 0x83 if listed, else 0x80.
  await withNode(sys, devnode, async (fd) => {
    const pages = await page0(sys, fd, std);
    if (pages === null) return;
    const listed = Array.from(pages.subarray(4, 4 + pages[3]!));
    let done = false;
    if (listed.includes(0x83)) done = (await page83(sys, fd, std, f)) === 0;
    if (!done && listed.includes(0x80)) {
      if ((await page80(sys, fd, std, f, true)) !== 0) { f.serial = ''; f.serialShort = ''; }
    }
    if (!done && !listed.includes(0x80)) { f.serial = ''; f.serialShort = ''; }
  });
  const clean = (s: string): string => replaceChars(replaceWhitespace(s));
  const props: Record<string, string> = {
    ID_SCSI: '1',
    ID_VENDOR: clean(std.vendor),
    ID_VENDOR_ENC: encodeString(std.vendor),
    ID_MODEL: clean(std.model),
    ID_MODEL_ENC: encodeString(std.model),
    ID_REVISION: clean(std.revision),
    ID_TYPE: typeStr(std.type),
  };
  if (f.serial !== '') {
    props['ID_SERIAL'] = clean(f.serial);
    props['ID_SERIAL_SHORT'] = clean(f.serialShort);
  }
  if (f.wwn !== '') {
    props['ID_WWN'] = `0x${f.wwn}`;
    if (f.wwnVendorExtension !== '') {
      props['ID_WWN_VENDOR_EXTENSION'] = `0x${f.wwnVendorExtension}`;
      props['ID_WWN_WITH_EXTENSION'] = `0x${f.wwn}${f.wwnVendorExtension}`;
    } else props['ID_WWN_WITH_EXTENSION'] = `0x${f.wwn}`;
  }
  if (f.tgptGroup !== '') props['ID_TARGET_PORT'] = f.tgptGroup;
  if (f.unitSerialNumber !== '') props['ID_SCSI_SERIAL'] = f.unitSerialNumber;
  return { props: props as unknown as ScsiIdProps, rawSerial: f.serial };
}

/** The `KEY=value` lines of --export, in scsi_id's order. */
export function formatScsiIdExport(props: ScsiIdProps): string {
  return Object.entries(props).map(([k, v]) => `${k}=${String(v)}\n`).join('');
}

export async function scsiIdMain(p: Process): Promise<number> {
  let exportMode = false;
  let replaceWs = false;
  let dev: string | null = null;
  let whitelisted = false;
  const args = p.argv.slice(1);
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '-x' || a === '--export') exportMode = true;
    else if (a === '-g' || a === '--whitelisted') whitelisted = true;
    else if (a === '-b' || a === '--blacklisted') whitelisted = false;
    else if (a === '-u' || a === '--replace-whitespace') replaceWs = true;
    else if (a === '-d' || a === '--device') dev = args[++i] ?? null;
    else if (a.startsWith('--device=')) dev = a.slice('--device='.length);
    else if (/^-d./.test(a)) dev = a.slice(2);
    else if (a === '-v' || a === '--verbose' || a === '-s' || a === '--sg-version' || a.startsWith('--sg-version=')) {
      if (a === '-s' || a === '--sg-version') i++;
    } else if (a.startsWith('-')) {
      await p.stderr.write(`${p.argv[0]!.slice(p.argv[0]!.lastIndexOf('/') + 1)}: unrecognized option '${a}'\n`);
      return 1;
    } else if (dev === null) dev = a;
  }
  if (dev === null) {
    await p.stderr.write('No device specified.\n');
    return 1;
  }
  // Without a config file every device is blacklisted unless --whitelisted is given.
  if (!whitelisted) return 1;
  const r = await scsiIdFull(p.sys, dev);
  if (r === null) return 1;
  const props = r.props;
  if (exportMode) {
    await p.stdout.write(formatScsiIdExport(props));
    return 0;
  }
  if (props.ID_SERIAL === undefined) return 1;
  await p.stdout.write(`${replaceWs ? props.ID_SERIAL : r.rawSerial}\n`);
  return 0;
}

export const scsiIdEntry: CommandEntry = {
  name: 'scsi_id',
  paths: ['/usr/lib/udev/scsi_id', '/lib/udev/scsi_id'],
  run: scsiIdMain,
};
