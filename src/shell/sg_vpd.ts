// Models src/sg_vpd.c and sg_vpd_vendor.c (sg3_utils 1.46, sg_vpd 1.63): fetch one VPD page (checked first
// against the device's Supported VPD pages list) and decode it — sn, di, bl, bdc, lbpv — or dump it with -H.

import {
  EDOM, SG_LIB_CAT_ABORTED_COMMAND, SG_LIB_CAT_MALFORMED, SG_LIB_CAT_OTHER, SG_LIB_SYNTAX_ERROR, be16, be32, be64,
  bytesToStr, categorySenseStr, closeDevice, convertErrno, getoptLong, hexDump, ifCan2stderr, llInquiry,
  openDevice, sgGetNum, strerrorNum, type SgDev,
} from './sg_lib.ts';
import type { CommandEntry, Process } from './process.ts';

const DEF_ALLOC_LEN = 252;
const VPD_NOPE_WANT_STD_INQ = -2;
const VPD_DI_SEL_LU = 1;
const VPD_DI_SEL_TPORT = 2;
const VPD_DI_SEL_TARGET = 4;
const VPD_DI_SEL_AS_IS = 32;

/** standard_vpd_pg: [acronym, page, subvalue, pdt, name]. */
const STANDARD_VPD_PG: readonly (readonly [string, number, number, number, string])[] = [
  ['ai', 0x89, 0, -1, 'ATA information (SAT)'],
  ['aod', 0x82, 0, -1, 'ASCII implemented operating definition (obsolete)'],
  ['adsn', 0xb3, 0, 1, 'Automation device serial number (SSC)'],
  ['bl', 0xb0, 0, 0, 'Block limits (SBC)'],
  ['ble', 0xb7, 0, 0, 'Block limits extension (SBC)'],
  ['bdc', 0xb1, 0, 0, 'Block device characteristics (SBC)'],
  ['bdce', 0xb5, 0, 0, 'Block device characteristics extension (SBC)'],
  ['cfa', 0x8c, 0, 0, 'CFA profile information'],
  ['cpr', 0xb9, 0, 0, 'Concurrent positioning ranges'],
  ['dc', 0x8b, 0, -1, 'Device constituents'],
  ['di', 0x83, 0, -1, 'Device identification'],
  ['di_asis', 0x83, VPD_DI_SEL_AS_IS, -1, "Like 'di' but designators ordered as found"],
  ['di_lu', 0x83, VPD_DI_SEL_LU, -1, 'Device identification, lu only'],
  ['di_port', 0x83, VPD_DI_SEL_TPORT, -1, 'Device identification, target port only'],
  ['di_target', 0x83, VPD_DI_SEL_TARGET, -1, 'Device identification, target device only'],
  ['dtde', 0xb4, 0, 1, 'Data transfer device element address (SSC)'],
  ['ei', 0x86, 0, -1, 'Extended inquiry data'],
  ['fp', 0xb8, 0, 0, 'Format presets'],
  ['iod', 0x81, 0, -1, 'Implemented operating definition (obsolete)'],
  ['lbpro', 0xb5, 0, 0, 'Logical block protection (SSC)'],
  ['lbpv', 0xb2, 0, 0, 'Logical block provisioning (SBC)'],
  ['mas', 0xb1, 0, 1, 'Manufacturer assigned serial number (SSC)'],
  ['masa', 0xb1, 0, 0x12, 'Manufacturer assigned serial number (ADC)'],
  ['mna', 0x85, 0, -1, 'Management network addresses'],
  ['mpp', 0x87, 0, -1, 'Mode page policy'],
  ['oi', 0xb0, 0, 0x11, 'OSD information'],
  ['pc', 0x8a, 0, -1, 'Power condition'],
  ['psm', 0x8d, 0, -1, 'Power consumption'],
  ['pslu', 0x90, 0, -1, 'Protocol-specific logical unit information'],
  ['pspo', 0x91, 0, -1, 'Protocol-specific port information'],
  ['ref', 0xb3, 0, 0, 'Referrals (SBC)'],
  ['sad', 0xb0, 0, 1, 'Sequential access device capabilities (SSC)'],
  ['sbl', 0xb4, 0, 0, 'Supported block lengths and protection types (SBC)'],
  ['sfs', 0x92, 0, -1, 'SCSI feature sets'],
  ['sii', 0x84, 0, -1, 'Software interface identification'],
  ['sinq', VPD_NOPE_WANT_STD_INQ, 0, -1, 'Standard inquiry response'],
  ['sn', 0x80, 0, -1, 'Unit serial number'],
  ['sp', 0x88, 0, -1, 'SCSI ports'],
  ['st', 0xb1, 0, 0x11, 'Security token (OSD)'],
  ['sv', 0x00, 0, -1, 'Supported VPD pages'],
  ['tas', 0xb2, 0, 1, 'TapeAlert supported flags (SSC)'],
  ['tpc', 0x8f, 0, -1, 'Third party copy'],
  ['zbdch', 0xb6, 0, -1, 'Zoned block device characteristics'],
];

/** vp_arr: vendor/product identifiers. */
const VP_ARR: readonly (readonly [string, number, string])[] = [
  ['dds', 3, 'DDS tape family from IBM'], ['emc', 2, 'EMC (company)'], ['hit', 7, 'WDC/Hitachi disk'],
  ['hp3par', 4, '3PAR array (HP was Left Hand)'], ['hp_lto', 6, 'HP LTO tape/systems'],
  ['ibm_lto', 5, 'IBM LTO tape/systems'], ['nvme', 8, 'NVMe related'], ['rdac', 1, 'RDAC array (NetApp E-Series)'],
  ['sea', 0, 'Seagate disk'], ['sg', 9, 'sg3_utils extensions'], ['wdc', 7, 'WDC/Hitachi disk'],
];

/** vendor_vpd_pg: [acronym, page, vendor/product number, name]. */
const VENDOR_VPD_PG: readonly (readonly [string, number, number, string])[] = [
  ['aci', 0xc5, 6, 'ACI revision level (HP LTO)'], ['datc', 0xc1, 0, 'Date code (Seagate)'],
  ['dcrl', 0xc0, 5, 'Drive component revision levels (IBM LTO)'], ['ddsver', 0xc0, 3, 'Firmware revision (DDS)'],
  ['devb', 0xc3, 0, 'Device behavior (Seagate)'], ['dsn', 0xc1, 5, 'Drive serial numbers (IBM LTO)'],
  ['ducd', 0xc7, 5, 'Device unique configuration data (IBM LTO)'],
  ['edid', 0xc8, 1, 'Extended device identification (RDAC)'], ['firm', 0xc0, 0, 'Firmware numbers (Seagate)'],
  ['frl', 0xc0, 6, 'Firmware revision level (HP LTO)'], ['fwr4', 0xc1, 1, 'Firmware version (RDAC)'],
  ['head', 0xc4, 6, 'Head Assy revision level (HP LTO)'], ['hp3par', 0xc0, 4, 'Volume information (HP/3PAR)'],
  ['hrl', 0xc1, 6, 'Hardware revision level (HP LTO)'], ['hwr4', 0xc0, 1, 'Hardware version (RDAC)'],
  ['jump', 0xc2, 0, 'Jump setting (Seagate)'], ['mech', 0xc3, 6, 'Mechanism revision level (HP LTO)'],
  ['mpds', 0xc8, 5, 'Mode parameter default settings (IBM LTO)'],
  ['nicr', 0xde, 9, 'NVMe Identify Controller Response (sg3_utils)'], ['pca', 0xc2, 6, 'PCA revision level (HP LTO)'],
  ['prm4', 0xc3, 1, 'Feature Parameters (RDAC)'], ['rvsi', 0xca, 1, 'Replicated volume source identifier (RDAC)'],
  ['said', 0xd0, 1, 'Storage array world wide name (RDAC)'], ['subs', 0xc4, 1, 'Subsystem identifier (RDAC)'],
  ['swr4', 0xc2, 1, 'Software version (RDAC)'], ['upr', 0xc0, 2, 'Unit path report (EMC)'],
  ['vac1', 0xc9, 1, 'Volume access control (RDAC)'], ['wp3', 0x03, 7, 'Page 0x3 (WDC/Hitachi)'],
  ['wpd1', 0xd1, 7, 'Page 0xd1 (WDC/Hitachi)'], ['wpd2', 0xd2, 7, 'Page 0xd2 (WDC/Hitachi)'],
];

const hx = (n: number | bigint): string => n.toString(16);
const hex2 = (n: number): string => n.toString(16).padStart(2, '0');

/** enumerate_vpds(1, 1): the listing printed when an abbreviation is unknown. */
function enumerateVpds(): string {
  let s = '';
  for (const [acron, value, , , name] of STANDARD_VPD_PG) {
    s += value < 0 ? `  ${acron.padEnd(10)} -1        ${name}\n` : `  ${acron.padEnd(10)} 0x${hex2(value)}      ${name}\n`;
  }
  s += '\nVendor/product identifiers:\n';
  for (const [acron, num, name] of VP_ARR) s += `  ${acron.padEnd(10)} ${num}      ${name}\n`;
  s += '\nVendor specific VPD pages:\n';
  for (const [acron, value, vp, name] of VENDOR_VPD_PG) s += `  ${acron.padEnd(10)} 0x${hex2(value)},${vp}      ${name}\n`;
  return s;
}

const DESIG_ASSOC = ['Addressed logical unit', 'Target port', 'Target device that contains addressed lu', 'Reserved [0x3]'];
const DESIG_TYPE = ['vendor specific [0x0]', 'T10 vendor identification', 'EUI-64 based', 'NAA', 'Relative target port',
  'Target port group', 'Logical unit group', 'MD5 logical unit identifier', 'SCSI name string',
  'Protocol specific port identifier', 'UUID identifier', 'Reserved [0xb]', 'Reserved [0xc]', 'Reserved [0xd]',
  'Reserved [0xe]', 'Reserved [0xf]'];
const CODE_SET = ['Reserved [0x0]', 'Binary', 'ASCII', 'UTF-8', ...Array.from({ length: 12 }, (_, i) => `Reserved [0x${hx(i + 4)}]`)];
const TRANSPORT_PROTO = ['Fibre Channel Protocol for SCSI (FCP-5)', 'SCSI Parallel Interface (SPI-5)',
  'Serial Storage Architecture SCSI-3 Protocol (SSA-S3P)', 'Serial Bus Protocol for IEEE 1394 (SBP-3)',
  'SCSI RDMA Protocol (SRP)', 'Internet SCSI (iSCSI)', 'Serial Attached SCSI Protocol (SPL-4)',
  'Automation/Drive Interface Transport (ADT-2)', 'AT Attachment Interface (ACS-2)', 'USB Attached SCSI (UAS-2)',
  'SCSI over PCI Express (SOP)', 'PCIe', 'Oxc', 'Oxd', 'Oxe', 'No specific protocol'];

const isPrint = (c: number): boolean => c >= 0x20 && c < 0x7f;
const hexRun = (b: Uint8Array): string => Array.from(b, hex2).join('');
const lead = (text: string, lip: string): string => text.split('\n').filter(Boolean).map((l) => `${lip}${l}\n`).join('');

/** sg_get_designation_descriptor_str (short form). */
function designatorStr(lip: string, d: Uint8Array): string {
  if (d.length < 4) return `${lip}designator desc too short: got length of ${d.length} want 4 or more\n`;
  const dlen = d[3]!;
  if (dlen > d.length - 4) return `${lip}designator too long: says it is ${dlen} bytes, but given ${d.length - 4} bytes\n`;
  const ip = d.subarray(4, 4 + dlen);
  const pId = (d[0]! >> 4) & 0xf;
  const cSet = d[0]! & 0xf;
  const piv = (d[1]! & 0x80) !== 0;
  const assoc = (d[1]! >> 4) & 3;
  const type = d[1]! & 0xf;
  let s = `${lip}    designator type: ${DESIG_TYPE[type]!},  code set: ${CODE_SET[cSet]!}\n`;
  if (piv && (assoc === 1 || assoc === 2)) s += `${lip}     transport: ${TRANSPORT_PROTO[pId]!}\n`;
  const dump = (b: Uint8Array, noAscii: 0 | 1, l = lip): string => lead(hexDump(b, noAscii), l);
  switch (type) {
    case 0: {
      let k = 0;
      if (cSet === 1 || cSet === 2) {
        while (k < dlen && isPrint(ip[k]!)) k++;
        if (k >= dlen) k = 1;
      }
      s += k ? `${lip}      vendor specific: ${bytesToStr(ip)}\n` : `${lip}      vendor specific:\n${dump(ip, 0)}`;
      break;
    }
    case 1:
      s += `${lip}      vendor id: ${bytesToStr(ip.subarray(0, 8))}\n`;
      if (dlen > 8) {
        s += cSet === 2 || cSet === 3 ? `${lip}      vendor specific: ${bytesToStr(ip.subarray(8))}\n`
          : `${lip}      vendor specific: 0x${hexRun(ip.subarray(8))}\n`;
      }
      break;
    case 2:
      if (dlen !== 8 && dlen !== 12 && dlen !== 16) {
        s += `${lip}      << expect 8, 12 and 16 byte EUI, got ${dlen} >>\n${dump(ip, 1)}`;
      } else s += `${lip}      0x${hexRun(ip)}\n`;
      break;
    case 3: {
      if (cSet !== 1) { s += `${lip}      << unexpected code set ${cSet} for NAA >>\n${dump(ip, 1)}`; break; }
      const naa = (ip[0]! >> 4) & 0xff;
      const want = naa === 6 ? 16 : 8;
      if (naa === 2 || naa === 3 || naa === 5 || naa === 6) {
        s += dlen !== want ? `${lip}      << unexpected NAA ${naa} identifier length: 0x${hx(dlen)} >>\n${dump(ip, 1)}`
          : `${lip}      0x${hexRun(ip)}\n`;
      } else s += `${lip}      << unexpected NAA [0x${hx(naa)}] >>\n${dump(ip, 1)}`;
      break;
    }
    case 4: case 5: case 6: {
      const wantAssoc = type === 6 ? 0 : 1;
      if (cSet !== 1 || assoc !== wantAssoc || dlen !== 4) {
        s += `${lip}      << expected binary code_set, ${type === 6 ? 'logical unit' : 'target port'} association, length 4 >>\n` +
          dump(ip, 1, type === 4 ? '' : lip);
        break;
      }
      const label = type === 4 ? 'Relative target port' : type === 5 ? 'Target port group' : 'Logical unit group';
      s += `${lip}      ${label}: 0x${hx(be16(ip, 2))}\n`;
      break;
    }
    case 8:
      if (cSet !== 3 && cSet !== 2) { s += `${lip}      << expected UTF-8 code_set >>\n${dump(ip, 0)}`; break; }
      s += `${lip}      SCSI name string:\n${lip}      ${bytesToStr(ip).replace(/\0.*$/s, '')}\n`;
      break;
    default:
      s += `${lip}      [unsupported designator type 0x${hx(type)}]\n${dump(ip, 0)}`;
      break;
  }
  return s;
}

/** sg_vpd_dev_id_iter: the next designator offset with that association; 'end' at a clean end, 'short' if cut. */
function devIdIter(b: Uint8Array, len: number, off: number, assoc: number): number | 'end' | 'short' {
  let k = off;
  while (k + 3 < len) {
    k = k < 0 ? 0 : k + b[k + 3]! + 4;
    if (k + 4 > len) break;
    if (assoc >= 0 && ((b[k + 1]! >> 4) & 3) !== assoc) continue;
    return k;
  }
  return k === len ? 'end' : 'short';
}

async function decodeDevIds(p: Process, header: string | null, b: Uint8Array, len: number, assoc: number): Promise<string> {
  let s = '';
  if ((b[2] ?? 0) !== 0) return s;
  let off = -1;
  let printed = false;
  for (;;) {
    const r = devIdIter(b, len, off, assoc);
    if (typeof r === 'string') {
      if (r === 'short') await p.stderr.write(`VPD page error: short designator around offset ${off}\n`);
      break;
    }
    off = r;
    const iLen = b[off + 3]!;
    if (off + iLen + 4 > len) {
      await p.stderr.write(`    VPD page error: designator length longer than\n     remaining response length=${len - off}\n`);
      break;
    }
    if (header !== null && !printed) { printed = true; s += `  ${header}:\n`; }
    if (header === null) s += `  ${DESIG_ASSOC[(b[off + 1]! >> 4) & 3]!}:\n`;
    s += designatorStr('', b.subarray(off, off + iLen + 4));
  }
  return s;
}

async function decodeIdVpd(p: Process, rp: Uint8Array, subvalue: number): Promise<string> {
  const b = rp.subarray(4);
  const len = rp.length - 4;
  if (subvalue === VPD_DI_SEL_AS_IS) return decodeDevIds(p, null, b, len, -1);
  let s = '';
  for (const [bit, assoc] of [[VPD_DI_SEL_LU, 0], [VPD_DI_SEL_TPORT, 1], [VPD_DI_SEL_TARGET, 2]] as const) {
    if (subvalue === 0 || (subvalue & bit)) s += await decodeDevIds(p, DESIG_ASSOC[assoc]!, b, len, assoc);
  }
  return s;
}

function decodeB0(b: Uint8Array): string {
  const len = b.length;
  if (len < 16) return '';
  const n = (u: number, zero: string, unit = ' blocks'): string => (u === 0 ? zero : `${u}${unit}`);
  let s = `  Write same non-zero (WSNZ): ${b[4]! & 1}\n`;
  s += `  Maximum compare and write length: ${n(b[5]!, '0 blocks [Command not implemented]')}\n`;
  s += `  Optimal transfer length granularity: ${n(be16(b, 6), '0 blocks [not reported]')}\n`;
  s += `  Maximum transfer length: ${n(be32(b, 8), '0 blocks [not reported]')}\n`;
  s += `  Optimal transfer length: ${n(be32(b, 12), '0 blocks [not reported]')}\n`;
  if (len > 19) s += `  Maximum prefetch transfer length: ${n(be32(b, 16), '0 blocks [ignored]')}\n`;
  if (len > 27) {
    for (const [off, label] of [[20, 'Maximum unmap LBA count'], [24, 'Maximum unmap block descriptor count']] as const) {
      const u = be32(b, off);
      s += `  ${label}: ${u === 0 ? '0 [Unmap command not implemented]' : u === 0xffffffff ? '-1 [unbounded]' : String(u)}\n`;
    }
  }
  if (len > 35) {
    s += `  Optimal unmap granularity: ${n(be32(b, 28), '0 blocks [not reported]')}\n`;
    const valid = (b[32]! & 0x80) !== 0;
    s += `  Unmap granularity alignment valid: ${valid ? 'true' : 'false'}\n`;
    s += `  Unmap granularity alignment: ${be32(b, 32) & 0x7fffffff}${valid ? '' : ' [invalid]'}\n`;
  }
  if (len > 43) {
    const ull = be64(b, 36);
    s += `  Maximum write same length: ${ull === 0n ? '0 blocks [not reported]' : `0x${hx(ull)} blocks`}\n`;
  }
  if (len > 44) {
    s += `  Maximum atomic transfer length: ${n(be32(b, 44), '0 blocks [not reported]')}\n`;
    s += `  Atomic alignment: ${n(be32(b, 48), '0 [unaligned atomic writes permitted]', '')}\n`;
    s += `  Atomic transfer length granularity: ${n(be32(b, 52), '0 [no granularity requirement', '')}\n`;
  }
  if (len > 56) {
    s += `  Maximum atomic transfer length with atomic boundary: ${n(be32(b, 56), '0 blocks [not reported]')}\n`;
    s += `  Maximum atomic boundary size: ${n(be32(b, 60), '0 blocks [can only write atomic 1 block]')}\n`;
  }
  return s;
}

const PRODUCT_TYPE = ['Not specified', 'CFast', 'CompactFlash', 'MemoryStick', 'MultiMediaCard',
  'Secure Digital Card (SD)', 'XQD', 'Universal Flash Storage Card (UFS)'];
const ZONED = ['', '  [host-aware]', '  [host-managed]', ''];
const FORM_FACTOR = [' not reported', ': 5.25 inch', ': 3.5 inch', ': 2.5 inch', ': 1.8 inch', ': less then 1.8 inch'];

function decodeB1(b: Uint8Array): string {
  if (b.length < 64) return '';
  const u = be16(b, 4);
  let s = u === 0 ? '  Medium rotation rate is not reported\n' : u === 1 ? '  Non-rotating medium (e.g. solid state)\n'
    : u < 0x401 || u === 0xffff ? `  Reserved [0x${hx(u)}]\n` : `  Nominal rotation rate: ${u} rpm\n`;
  const pt = b[6]!;
  s += `  Product type: ${PRODUCT_TYPE[pt] ?? (pt < 0xf0 ? `Reserved [0x${hx(pt)}]` : `Vendor specific [0x${hx(pt)}]`)}\n`;
  s += `  WABEREQ=${(b[7]! >> 6) & 3}\n  WACEREQ=${(b[7]! >> 4) & 3}\n`;
  s += `  Nominal form factor${FORM_FACTOR[b[7]! & 0xf] ?? ': reserved'}\n`;
  const zoned = (b[8]! >> 4) & 3;
  s += `  ZONED=${zoned}${ZONED[zoned]!}\n  RBWZ=${(b[8]! & 8) ? 1 : 0}\n  BOCS=${(b[8]! & 4) ? 1 : 0}\n`;
  s += `  FUAB=${(b[8]! & 2) ? 1 : 0}\n  VBULS=${b[8]! & 1}\n  DEPOPULATION_TIME=${be32(b, 12)} (seconds)\n`;
  return s;
}

const PROV_TYPE = ['not known or fully provisioned', 'resource provisioned', 'thin provisioned', 'reserved [0x3]',
  'reserved [0x4]', 'reserved [0x5]', 'reserved [0x6]', 'reserved [0x7]'];

function decodeB2(b: Uint8Array): string {
  const pt = b[6]! & 7;
  let s = `  Unmap command supported (LBPU): ${(b[5]! & 0x80) ? 1 : 0}\n`;
  s += `  Write same (16) with unmap bit supported (LBPWS): ${(b[5]! & 0x40) ? 1 : 0}\n`;
  s += `  Write same (10) with unmap bit supported (LBPWS10): ${(b[5]! & 0x20) ? 1 : 0}\n`;
  s += `  Logical block provisioning read zeros (LBPRZ): ${(b[5]! >> 2) & 7}\n`;
  s += `  Anchored LBAs supported (ANC_SUP): ${(b[5]! & 2) ? 1 : 0}\n`;
  const dp = b[5]! & 1;
  s += `  Threshold exponent: ${b[4] === 0 ? '0 [threshold sets not supported]' : String(b[4])}\n`;
  s += `  Descriptor present (DP): ${dp}\n`;
  const mp = (b[6]! >> 3) & 0x1f;
  s += `  Minimum percentage: ${mp === 0 ? '0 [not reported]' : String(mp)}\n`;
  s += `  Provisioning type: ${pt} (${PROV_TYPE[pt]!})\n`;
  s += `  Threshold percentage: ${b[7] === 0 ? '0 [percentages not supported]' : String(b[7])}\n`;
  if (dp && b.length > 11 && b[11]) s += `  Provisioning group descriptor:\n${designatorStr('    ', b.subarray(8, 12 + b[11]))}`;
  return s;
}

/** vpd_fetch_page. */
async function vpdFetch(p: Process, dev: SgDev, page: number, mxlen: number, quiet: boolean, vb: number):
  Promise<{ res: number; data: Uint8Array }> {
  const n = mxlen > 0 ? mxlen : DEF_ALLOC_LEN;
  const r = await llInquiry(p, dev, true, page, n, !quiet, vb);
  if (r.status) return { res: r.status, data: r.data };
  if (r.data.length < 4) {
    await p.stderr.write(`VPD response too short (len=${r.data.length})\n`);
    return { res: SG_LIB_CAT_MALFORMED, data: r.data };
  }
  if (page !== r.data[1]) {
    await p.stderr.write('invalid VPD response; probably a STANDARD INQUIRY response\n');
    return { res: SG_LIB_CAT_MALFORMED, data: r.data };
  }
  const len = be16(r.data, 2) + 4;
  if (len <= r.data.length) return { res: 0, data: r.data.subarray(0, len) };
  if (mxlen) return { res: 0, data: r.data };
  const r2 = await llInquiry(p, dev, true, page, len, !quiet, vb);
  return { res: r2.status, data: r2.data };
}

const USAGE = 'Usage: sg_vpd  [--all] [--enumerate] [--examine] [--force] [--help] [--hex]\n' +
  '               [--ident] [--inhex=FN] [--long] [--maxlen=LEN] [--page=PG]\n' +
  '               [--quiet] [--raw] [--vendor=VP] [--verbose] [--version]\n' +
  '               DEVICE\n';

export async function sgVpd(p: Process): Promise<number> {
  const parsed = getoptLong(p.argv.slice(1), {
    short: 'aeEfhHiI:lm:M:p:qrvV',
    long: { all: ['a', false], enumerate: ['e', false], force: ['f', false], help: ['h', false], hex: ['H', false],
      ident: ['i', false], long: ['l', false], maxlen: ['m', true], page: ['p', true], quiet: ['q', false],
      raw: ['r', false], verbose: ['v', false], version: ['V', false] },
  });
  if (!parsed.ok) {
    await p.stderr.write(`sg_vpd: ${parsed.message}\n${USAGE}`);
    return SG_LIB_SYNTAX_ERROR;
  }
  let hex = 0;
  let vb = 0;
  let quiet = false;
  let force = false;
  let maxlen = 0;
  let pageStr: string | null = null;
  for (const [o, v] of parsed.opts) {
    if (o === 'H') hex++;
    else if (o === 'v') vb++;
    else if (o === 'q') quiet = true;
    else if (o === 'f') force = true;
    else if (o === 'm') maxlen = sgGetNum(v ?? '');
    else if (o === 'p') pageStr = v ?? '';
    else if (o === 'i') pageStr = 'di';
    else if (o === 'h') { await p.stderr.write(USAGE); return 0; }
    else if (o === 'V') { await p.stderr.write('version: 1.63 20210328\n'); return 0; }
  }
  let page = 0x00;
  let subvalue = 0;
  if (pageStr !== null) {
    if (pageStr === '-1' || pageStr === '-2') page = VPD_NOPE_WANT_STD_INQ;
    else if (/^[A-Za-z]/.test(pageStr)) {
      const std = STANDARD_VPD_PG.find(([a]) => a === pageStr);
      const ven = VENDOR_VPD_PG.find(([a]) => a === pageStr);
      if (!std && !ven) {
        await p.stderr.write("abbreviation doesn't match a VPD page\n");
        await p.stdout.write(`Available standard VPD pages:\n${enumerateVpds()}`);
        return SG_LIB_SYNTAX_ERROR;
      }
      page = std ? std[1] : ven![1];
      subvalue = std ? std[2] : ven![2];
    } else {
      page = sgGetNum(pageStr.split(',')[0]!);
      if (page < 0 || page > 255) {
        await p.stderr.write("Bad page code value after '-p' option\n");
        await p.stdout.write(`Available standard VPD pages:\n${enumerateVpds()}`);
        return SG_LIB_SYNTAX_ERROR;
      }
    }
  }
  const device = parsed.rest[0];
  if (device === undefined) {
    await p.stderr.write(`No DEVICE argument given\n\n${USAGE}`);
    return SG_LIB_SYNTAX_ERROR;
  }
  const dev = await openDevice(p.sys, device, true);
  let ret: number;
  if (typeof dev === 'number') {
    if (vb) await p.stderr.write(`error opening file: ${device}: ${strerrorNum(-dev)}\n`);
    ret = convertErrno(-dev);
  } else {
    try {
      ret = await decodeT10(p, dev, page, subvalue, { hex, vb, quiet, force, maxlen });
      if (!quiet) {
        if (ret === SG_LIB_CAT_ABORTED_COMMAND) await p.stderr.write('fetching VPD page failed, aborted command\n');
        else if (ret) await p.stderr.write(`fetching VPD page failed: ${categorySenseStr(ret, vb)}\n`);
      }
    } finally {
      await closeDevice(dev);
    }
  }
  if (vb === 0 && !quiet && !(await ifCan2stderr(p, 'sg_vpd failed: ', ret))) {
    await p.stderr.write("Some error occurred, try again with '-v' or '-vv' for more information\n");
  }
  return ret >= 0 ? ret : SG_LIB_CAT_OTHER;
}

interface VpdOpts { hex: number; vb: number; quiet: boolean; force: boolean; maxlen: number }

/** svpd_decode_t10 for the pages this guest's devices have. */
async function decodeT10(p: Process, dev: SgDev, page: number, subvalue: number, op: VpdOpts): Promise<number> {
  if (!op.force && page !== VPD_NOPE_WANT_STD_INQ && page !== 0x00) {
    const sv = await vpdFetch(p, dev, 0x00, op.maxlen, op.quiet, op.vb);
    if (sv.res) return sv.res;
    const num = Math.min(sv.data[3]!, sv.data.length - 4);
    if (!Array.from(sv.data.subarray(4, 4 + num)).includes(page)) {
      if (op.vb) await p.stderr.write('Given VPD page not in supported list, use --force to override this check\n');
      return convertErrno(EDOM);
    }
  }
  const titles: Record<number, string> = { 0x00: 'Supported VPD pages VPD page:', 0x80: 'Unit serial number VPD page:',
    0x83: 'Device Identification VPD page:' };
  if (page === VPD_NOPE_WANT_STD_INQ) {
    const r = await llInquiry(p, dev, false, 0, 36, !op.quiet, op.vb);
    if (r.status) return r.status;
    await p.stdout.write(hexDump(r.data, op.hex > 1 ? -1 : 0));
    return 0;
  }
  const title = titles[page];
  if (title !== undefined) await p.stdout.write(`${title}\n`);
  const r = await vpdFetch(p, dev, page, op.maxlen, op.quiet, op.vb);
  if (r.res) {
    if (page >= 0xb0 && page <= 0xb2 && !op.quiet && op.hex < 3) await p.stdout.write(`VPD page=0x${hx(page)}\n`);
    return r.res;
  }
  const rp = r.data;
  const pdt = rp[0]! & 0x1f;
  if (page >= 0xb0 && page <= 0xb2) {
    const isDisk = pdt === 0 || pdt === 4 || pdt === 7 || pdt === 0x14;
    const names = ['Block limits VPD page (SBC):', 'Block device characteristics VPD page (SBC):',
      'Logical block provisioning VPD page (SBC):'];
    await p.stdout.write(isDisk ? `${names[page - 0xb0]!}\n` : `VPD page=0x${hx(page)}, pdt=0x${hx(pdt)}:\n`);
    if (op.hex) { await p.stdout.write(hexDump(rp, op.hex === 1 ? 0 : -1)); return 0; }
    if (!isDisk) { await p.stderr.write(`  Unable to decode pdt=0x${hx(pdt)}, in hex:\n${hexDump(rp, 0)}`); return 0; }
    if (page === 0xb0) {
      if (rp.length < 16) await p.stderr.write(`Block limits VPD page length too short=${rp.length}\n`);
      await p.stdout.write(decodeB0(rp));
    } else if (page === 0xb1) {
      if (rp.length < 64) await p.stderr.write(`Block device characteristics VPD page length too short=${rp.length}\n`);
      await p.stdout.write(decodeB1(rp));
    } else {
      if (rp.length < 4) { await p.stderr.write(`Logical block provisioning page too short=${rp.length}\n`); return SG_LIB_CAT_MALFORMED; }
      await p.stdout.write(decodeB2(rp));
    }
    return 0;
  }
  if (op.hex) { await p.stdout.write(hexDump(rp, op.hex === 1 ? 0 : -1)); return 0; }
  if (page === 0x80) {
    await p.stdout.write(`  Unit serial number: ${bytesToStr(rp.subarray(4)).replace(/\0.*$/s, '')}\n`);
  } else if (page === 0x83) {
    if (rp.length < 4) await p.stderr.write(`Device identification VPD page length too short=${rp.length}\n`);
    else await p.stdout.write(await decodeIdVpd(p, rp, subvalue));
  } else if (page === 0x00) {
    let s = '';
    for (const pn of rp.subarray(4, 4 + Math.min(rp[3]!, rp.length - 4))) {
      const name = STANDARD_VPD_PG.find(([, v, sub, t]) => v === pn && sub === 0 && (t === -1 || t === pdt));
      s += name ? `  ${name[4]} [${name[0]}]\n` : `  0x${hx(pn)}\n`;
    }
    await p.stdout.write(s);
  } else {
    await p.stdout.write(`VPD page code=0x${hex2(page)}:\n${hexDump(rp, 0)}`);
  }
  return 0;
}

export const sgVpdEntry: CommandEntry = { name: 'sg_vpd', paths: ['/usr/bin/sg_vpd', '/bin/sg_vpd'], run: sgVpd };
