// Models src/sg_inq.c (sg3_utils 1.46, sg_inq 2.10): standard INQUIRY decode (with the unit serial number
// from VPD 0x80 when supported), `-H` hex, and `-p PAGE` for VPD pages (0x00 decoded, 0x80 decoded, others hex).

import {
  EDOM, SG_LIB_CAT_MALFORMED, SG_LIB_CAT_OTHER, SG_LIB_FILE_ERROR, SG_LIB_SYNTAX_ERROR, bytesToStr, categorySenseStr,
  closeDevice, convertErrno, getoptLong, hexDump, ifCan2stderr, llInquiry, openDevice, pdtStr, sgGetNum,
  strerrorNum, type SgDev,
} from './sg_lib.ts';
import type { CommandEntry, Process } from './process.ts';

const SAFE_STD_INQ_RESP_LEN = 36;
const DEF_ALLOC_LEN = 252;

/** sg_ansi_version_arr (sg_inq_data.c). */
const ANSI_VERSION = [
  'no conformance claimed', 'SCSI-1', 'SCSI-2', 'SPC', 'SPC-2', 'SPC-3', 'SPC-4', 'SPC-5', 'ecma=1, [8h]',
  'ecma=1, [9h]', 'ecma=1, [Ah]', 'ecma=1, [Bh]', 'reserved [Ch]', 'reserved [Dh]', 'reserved [Eh]', 'reserved [Fh]',
] as const;

/** vpd_name_arr: [page, pdt (0 = any), name]; 0xb0..0xbf depend on the peripheral type. */
const VPD_NAMES: readonly (readonly [number, number, string])[] = [
  [0x00, 0, 'Supported VPD pages'], [0x80, 0, 'Unit serial number'],
  [0x81, 0, 'Implemented operating definitions (obsolete)'],
  [0x82, 0, 'ASCII implemented operating definition (obsolete)'], [0x83, 0, 'Device identification'],
  [0x84, 0, 'Software interface identification'], [0x85, 0, 'Management network addresses'],
  [0x86, 0, 'Extended INQUIRY data'], [0x87, 0, 'Mode page policy'], [0x88, 0, 'SCSI ports'],
  [0x89, 0, 'ATA information'], [0x8a, 0, 'Power condition'], [0x8b, 0, 'Device constituents'],
  [0x8c, 0, 'CFA profile information'], [0x8d, 0, 'Power consumption'], [0x8f, 0, 'Third party copy'],
  [0x90, 0, 'Protocol-specific logical unit information'], [0x91, 0, 'Protocol-specific port information'],
  [0x92, 0, 'SCSI Feature sets'], [0xb0, 0, 'Block limits (sbc2)'], [0xb1, 0, 'Block device characteristics (sbc3)'],
  [0xb2, 0, 'Logical block provisioning (sbc3)'], [0xb3, 0, 'Referrals (sbc3)'],
  [0xb0, 1, 'Sequential access device capabilities (ssc3)'], [0xb2, 1, 'TapeAlert supported flags (ssc3)'],
  [0xb0, 0x11, 'OSD information (osd)'], [0xb1, 0x11, 'Security token (osd)'],
  [0xc0, 0, 'vendor: Firmware numbers (seagate); Unit path report (EMC)'], [0xc1, 0, 'vendor: Date code (seagate)'],
  [0xc2, 0, 'vendor: Jumper settings (seagate); Software version (RDAC)'], [0xc3, 0, 'vendor: Device behavior (seagate)'],
  [0xc9, 0, 'Volume Access Control (RDAC)'],
];

function vpdPageStr(page: number, pdt: number): string | null {
  if (page >= 0xb0 && page < 0xc0) {
    const exact = VPD_NAMES.find(([n, t]) => n === page && t === pdt);
    if (exact) return exact[2];
  }
  return VPD_NAMES.find(([n, t]) => n === page && t === 0)?.[2] ?? null;
}

/** vpd_fetch_page_from_dev: mxlen -1 means the page has a one-byte length. */
async function vpdFetch(p: Process, dev: SgDev, page: number, mxlen: number, vb: number):
  Promise<{ status: number; data: Uint8Array }> {
  const n = mxlen > 0 ? mxlen : DEF_ALLOC_LEN;
  let r = await llInquiry(p, dev, true, page, n, true, vb);
  if (r.status) return r;
  const rlen = r.data.length;
  if (rlen < 4) {
    await p.stderr.write(`VPD response too short (len=${rlen})\n`);
    return { status: SG_LIB_CAT_MALFORMED, data: r.data };
  }
  if (page !== r.data[1]) {
    await p.stderr.write('invalid VPD response; probably a STANDARD INQUIRY response\n');
    return { status: SG_LIB_CAT_MALFORMED, data: r.data };
  }
  const len = mxlen < 0 ? r.data[3]! + 4 : ((r.data[2]! << 8) | r.data[3]!) + 4;
  if (len <= rlen) return { status: 0, data: r.data.subarray(0, len) };
  if (mxlen) return r;
  r = await llInquiry(p, dev, true, page, len, true, vb);
  return r;
}

function pageSupported(pg0: Uint8Array, page: number): boolean {
  if (pg0.length < 4) return false;
  const len = Math.min(pg0.length, pg0[3]! + 4);
  return Array.from(pg0.subarray(4, len)).includes(page);
}

async function fetchUnitSerialNum(p: Process, dev: SgDev, vb: number): Promise<string> {
  const pg0 = await vpdFetch(p, dev, 0x00, -1, vb);
  if (pg0.status || !pageSupported(pg0.data, 0x80)) return '';
  const sn = await vpdFetch(p, dev, 0x80, -1, vb);
  if (sn.status || sn.data.length <= 4) return '';
  let out = '';
  for (const c of sn.data.subarray(4)) {
    if (c === 0) break;
    out += c >= 0x20 && c < 0x7f ? String.fromCharCode(c) : ' ';
  }
  return out;
}

function stdInqDecode(rp: Uint8Array, actLen: number, usn: string): string {
  const b = (i: number, m: number): number => ((rp[i] ?? 0) & m ? 1 : 0);
  const pqual = (rp[0]! & 0xe0) >> 5;
  let s = 'standard INQUIRY:';
  s += pqual === 0 ? '\n' : pqual === 1 ? ' [PQ indicates LU temporarily unavailable]\n'
    : pqual === 3 ? ' [PQ indicates LU not accessible via this port]\n'
    : ` [reserved or vendor specific qualifier [${pqual}]]\n`;
  const len = rp[4]! + 5;
  const ansi = rp[2]! & 0x7;
  const pdt = rp[0]! & 0x1f;
  s += `  PQual=${pqual}  PDT=${pdt}  RMB=${b(1, 0x80)}  LU_CONG=${b(1, 0x40)}  hot_pluggable=${(rp[1]! >> 4) & 3}  ` +
    `version=0x${rp[2]!.toString(16).padStart(2, '0')}  [${ANSI_VERSION[ansi]!}]\n`;
  s += `  [AERC=${b(3, 0x80)}]  [TrmTsk=${b(3, 0x40)}]  NormACA=${b(3, 0x20)}  HiSUP=${b(3, 0x10)}  ` +
    `Resp_data_format=${rp[3]! & 0xf}\n  SCCS=${b(5, 0x80)}  `;
  s += `ACC=${b(5, 0x40)}  TPGS=${(rp[5]! & 0x30) >> 4}  3PC=${b(5, 0x08)}  Protect=${b(5, 0x01)}  [BQue=${b(6, 0x80)}]\n`;
  s += `  EncServ=${b(6, 0x40)}  ` + ((rp[6]! & 0x10) ? `MultiP=1 (VS=${b(6, 0x20)})  ` : 'MultiP=0  ');
  s += `[MChngr=${b(6, 0x08)}]  [ACKREQQ=${b(6, 0x04)}]  Addr16=${b(6, 0x01)}\n  [RelAdr=${b(7, 0x80)}]  `;
  s += `WBus16=${b(7, 0x20)}  Sync=${b(7, 0x10)}  [Linked=${b(7, 0x08)}]  [TranDis=${b(7, 0x04)}]  CmdQue=${b(7, 0x02)}\n`;
  if (actLen > 56) {
    s += `  [SPI: Clocking=0x${((rp[56]! & 0x0c) >> 2).toString(16)}  QAS=${b(56, 0x2)}  IUS=${b(56, 0x1)}]\n`;
  }
  s += actLen >= len ? `    length=${len} (0x${len.toString(16)})`
    : `    length=${len} (0x${len.toString(16)}), but only fetched ${actLen} bytes`;
  if (ansi >= 2 && len < SAFE_STD_INQ_RESP_LEN) s += '\n  [for SCSI>=2, len>=36 is expected]';
  s += `   Peripheral device type: ${pdtStr(pdt)}\n`;
  if (actLen <= 8) {
    s += ` Inquiry response length=${actLen}, no vendor, product or revision data\n`;
  } else {
    s += ` Vendor identification: ${bytesToStr(rp.subarray(8, 16)).replace(/\t/g, ' ').replace(/\0.*$/s, '')}\n`;
    s += actLen <= 16 ? ' Product identification: <none>\n'
      : ` Product identification: ${bytesToStr(rp.subarray(16, 32)).replace(/\0.*$/s, '')}\n`;
    s += actLen <= 32 ? ' Product revision level: <none>\n'
      : ` Product revision level: ${bytesToStr(rp.subarray(32, 36)).replace(/\0.*$/s, '')}\n`;
  }
  if (usn !== '') s += ` Unit serial number: ${usn}\n`;
  return s;
}

function usage(): string {
  return 'Usage: sg_inq [--ata] [--block=0|1] [--cmddt] [--descriptors] [--export]\n' +
    '              [--extended] [--force] [--help] [--hex] [--id] [--inhex=FN]\n' +
    '              [--len=LEN] [--long] [--maxlen=LEN] [--only] [--page=PG]\n' +
    '              [--raw] [--vendor] [--verbose] [--version] [--vpd]\n' +
    '              DEVICE\n';
}

export async function sgInq(p: Process): Promise<number> {
  const parsed = getoptLong(p.argv.slice(1), {
    short: 'aB:cdeEfhHiI:l:Lm:NOp:rsuvVx',
    long: { hex: ['H', false], page: ['p', true], verbose: ['v', false], help: ['h', false], len: ['l', true],
      maxlen: ['m', true], only: ['o', false], force: ['f', false], vpd: ['e', false], version: ['V', false] },
  });
  if (!parsed.ok) {
    await p.stderr.write(`sg_inq: ${parsed.message}\n${usage()}`);
    return SG_LIB_SYNTAX_ERROR;
  }
  let hex = 0;
  let vb = 0;
  let page = -1;
  let respLen = 0;
  let force = false;
  for (const [o, v] of parsed.opts) {
    if (o === 'H') hex++;
    else if (o === 'v') vb++;
    else if (o === 'f') force = true;
    else if (o === 'h') { await p.stdout.write(usage()); return 0; }
    else if (o === 'V') { await p.stderr.write('Version string: 2.10 20210328\n'); return 0; }
    else if (o === 'p') {
      page = sgGetNum(v ?? '');
      if (page < 0 || page > 255) {
        await p.stderr.write('Bad page code value after \'-p\' option\n');
        return SG_LIB_SYNTAX_ERROR;
      }
    } else if (o === 'l' || o === 'm') respLen = sgGetNum(v ?? '');
    else if (o === 'e') page = page < 0 ? 0 : page;
  }
  const device = parsed.rest[0];
  if (device === undefined) {
    await p.stderr.write(`No DEVICE argument given\n\n${usage()}`);
    return SG_LIB_SYNTAX_ERROR;
  }
  const dev = await openDevice(p.sys, device, true);
  if (typeof dev === 'number') {
    await p.stderr.write(`sg_inq: error opening file: ${device}: ${strerrorNum(-dev)}\n`);
    const r = convertErrno(-dev);
    if (vb === 0) await ifCan2stderr(p, 'sg_inq failed: ', r);
    return r < 0 ? SG_LIB_FILE_ERROR : r;
  }
  let ret = 0;
  try {
    if (page < 0) {
      const rlen = respLen > 0 ? respLen : SAFE_STD_INQ_RESP_LEN;
      let r = await llInquiry(p, dev, false, 0, rlen, false, vb);
      if (r.status === 0) {
        let data = r.data;
        const len = data[4]! + 5;
        if (len > SAFE_STD_INQ_RESP_LEN && len < 256 && respLen === 0) {
          r = await llInquiry(p, dev, false, 0, len, true, vb);
          if (r.status) {
            await p.stderr.write(`second INQUIRY (${len} byte) failed\n`);
            return SG_LIB_CAT_OTHER;
          }
          data = r.data;
        }
        const actLen = Math.min(data.length, respLen > 0 ? data.length : Math.min(len, data.length));
        // std_inq_process fetches the unit serial number (VPD 0x00, then 0x80 when listed) whenever no
        // response length was given — with -H too, although the hex dump does not show it.
        const usn = respLen === 0 ? await fetchUnitSerialNum(p, dev, vb) : '';
        if (hex) await p.stdout.write(hexDump(data.subarray(0, actLen), hex === 1 ? 0 : -1));
        else await p.stdout.write(stdInqDecode(data, actLen, usn));
      } else if (r.status < 0) {
        await p.stderr.write(`SCSI INQUIRY, NVMe Identify and fetching ATA information failed on ${device}\n`);
        ret = SG_LIB_CAT_OTHER;
      } else {
        if (vb) await p.stderr.write(`    inquiry: failed requesting ${rlen} byte response: ${categorySenseStr(r.status, vb)}\n`);
        ret = r.status;
      }
    } else {
      if (page !== 0 && !force) {
        const pg0 = await vpdFetch(p, dev, 0x00, respLen, vb);
        if (pg0.status) ret = pg0.status;
        else if (!pageSupported(pg0.data, page)) {
          if (vb) await p.stderr.write('Given VPD page not in supported list, use --force to override this check\n');
          ret = convertErrno(EDOM);
        }
      }
      if (ret === 0) ret = await vpdPage(p, dev, page, respLen, hex, vb);
    }
  } finally {
    await closeDevice(dev);
  }
  if (ret !== 0 && vb === 0) {
    if (!(await ifCan2stderr(p, 'sg_inq failed: ', ret))) {
      await p.stderr.write("Some error occurred, try again with '-v' or '-vv' for more information\n");
    }
  }
  return ret >= 0 ? ret : SG_LIB_CAT_OTHER;
}

async function vpdPage(p: Process, dev: SgDev, page: number, mxlen: number, hex: number, vb: number): Promise<number> {
  const title = page === 0x00 ? 'Supported VPD pages page' : page === 0x80 ? 'Unit serial number page'
    : page === 0x83 ? 'Device Identification page' : null;
  if (hex < 2) await p.stdout.write(title !== null ? `VPD INQUIRY: ${title}\n` : `VPD INQUIRY, page code=0x${page.toString(16).padStart(2, '0')}:\n`);
  const r = await vpdFetch(p, dev, page, mxlen, vb);
  if (r.status) return r.status;
  const rp = r.data;
  if (page === 0x00 && !hex) {
    // decode_supported_vpd() receives the peripheral type where it expects the hex level, so anything but a
    // disk (PDT 0) is shown as bare hex — sg_inq 2.10's own behaviour.
    const pdt = rp[0]! & 0x1f;
    if (pdt) { await p.stdout.write(hexDump(rp, pdt === 1 ? 0 : -1)); return 0; }
    let s = '   Supported VPD pages:\n';
    const len = Math.min(rp.length, rp[3]! + 4);
    for (let k = 0; k < len - 4; k++) {
      const v = rp[4 + k]!;
      const name = vpdPageStr(v, pdt);
      s += name !== null ? `     0x${v.toString(16)}\t${name}\n` : `     0x${v.toString(16)}\n`;
    }
    await p.stdout.write(s);
    return 0;
  }
  if (page === 0x80 && !hex) {
    await p.stdout.write(`  Unit serial number: ${bytesToStr(rp.subarray(4, 4 + rp[3]!))}\n`);
    return 0;
  }
  await p.stdout.write(hexDump(rp, hex === 2 ? -1 : 0));
  return 0;
}

export const sgInqEntry: CommandEntry = { name: 'sg_inq', paths: ['/usr/bin/sg_inq', '/bin/sg_inq'], run: sgInq };
