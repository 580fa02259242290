// Models src/sg_modes.c (sg3_utils 1.46, sg_modes 1.72): MODE SENSE(10) of one or all mode pages, printed as
// the header, the block descriptors and one hex dump per page with its name.

import {
  SG_LIB_CAT_ILLEGAL_REQ, SG_LIB_CAT_INVALID_OP, SG_LIB_CAT_OTHER, SG_LIB_SYNTAX_ERROR,
  be16, bytesToStr, categorySenseStr, closeDevice, convertErrno, getoptLong, hexDump, ifCan2stderr, llCmd,
  llInquiry, openDevice, pdtStr, sgGetNum, strerrorNum,
} from './sg_lib.ts';
import type { CommandEntry, Process } from './process.ts';

const DEF_ALLOC_LEN = 1024 * 4;
const PG_CODE_ALL = 0x3f;
const UNLIKELY_ABOVE_LEN = 512;
const PG_CONTROL = ['current', 'changeable', 'default', 'saved'] as const;

type PageDesc = readonly [page: number, subpage: number, desc: string];

/** Mode page names per device type (sorted by page as in sg_modes.c). */
const PC_DESC_COMMON: readonly PageDesc[] = [
  [0x0, 0x0, 'Unit Attention condition [vendor specific format]'], [0x2, 0x0, 'Disconnect-Reconnect'],
  [0x9, 0x0, 'Peripheral device (obsolete)'], [0xa, 0x0, 'Control'], [0xa, 0x1, 'Control extension'],
  [0xa, 0x3, 'Command duration limit A'], [0xa, 0x4, 'Command duration limit B'],
  [0xa, 0x7, 'Command duration limit T2A'], [0xa, 0x8, 'Command duration limit T2B'], [0x15, 0x0, 'Extended'],
  [0x16, 0x0, 'Extended device-type specific'], [0x18, 0x0, 'Protocol specific lu'],
  [0x19, 0x0, 'Protocol specific port'], [0x1a, 0x0, 'Power condition'], [0x1a, 0x1, 'Power consumption'],
  [0x1c, 0x0, 'Informational exceptions control'], [PG_CODE_ALL, 0x0, '[yields all supported pages]'],
  [PG_CODE_ALL, 0xff, '[yields all supported pages and subpages]'],
];
const PC_DESC_DISK: readonly PageDesc[] = [
  [0x1, 0x0, 'Read-Write error recovery'], [0x3, 0x0, 'Format (obsolete)'], [0x4, 0x0, 'Rigid disk geometry (obsolete)'],
  [0x5, 0x0, 'Flexible disk (obsolete)'], [0x7, 0x0, 'Verify error recovery'], [0x8, 0x0, 'Caching'],
  [0xa, 0x2, 'Application tag'], [0xa, 0x5, 'IO advice hints grouping'], [0xa, 0x6, 'Background operation control'],
  [0xa, 0xf1, 'Parallel ATA control (SAT)'], [0xa, 0xf2, 'ATA feature control (SAT)'],
  [0xb, 0x0, 'Medium types supported (obsolete)'], [0xc, 0x0, 'Notch and partition (obsolete)'],
  [0xd, 0x0, 'Power condition (obsolete, moved to 0x1a)'], [0x10, 0x0, 'XOR control'],
  [0x1a, 0xf1, 'ATA Power condition'], [0x1c, 0x1, 'Background control'], [0x1c, 0x2, 'Logical block provisioning'],
];
const PC_DESC_CDDVD: readonly PageDesc[] = [
  [0x1, 0x0, 'Read-Write error recovery'], [0x3, 0x0, 'Mount Rainer rewritable'], [0x5, 0x0, 'Write parameters'],
  [0x7, 0x0, 'Verify error recovery'], [0x8, 0x0, 'Caching'], [0xd, 0x0, 'CD device parameters (obsolete)'],
  [0xe, 0x0, 'CD audio'], [0x1a, 0x0, 'Power condition (mmc)'], [0x1c, 0x0, 'Fault/failure reporting control (mmc)'],
  [0x1d, 0x0, 'Timeout and protect'], [0x2a, 0x0, 'MM capabilities and mechanical status (obsolete)'],
];
const PC_DESC_TAPE: readonly PageDesc[] = [
  [0x1, 0x0, 'Read-Write error recovery'], [0xa, 0xf0, 'Control data protection'], [0xf, 0x0, 'Data Compression'],
  [0x10, 0x0, 'Device configuration'], [0x10, 0x1, 'Device configuration extension'],
  [0x11, 0x0, 'Medium Partition [1]'], [0x12, 0x0, 'Medium Partition [2]'], [0x13, 0x0, 'Medium Partition [3]'],
  [0x14, 0x0, 'Medium Partition [4]'], [0x1c, 0x0, 'Informational exceptions control (tape version)'],
  [0x1d, 0x0, 'Medium configuration'],
];
/** Transport-specific tables for pages 0x18/0x19, by protocol identifier. */
const PC_DESC_TRANSPORT: Readonly<Record<number, readonly PageDesc[]>> = {
  0x0: [[0x18, 0x0, 'LU control'], [0x19, 0x0, 'Port control']],
  0x1: [[0x18, 0x0, 'LU control'], [0x19, 0x0, 'Port control short format'], [0x19, 0x1, 'Margin control'],
    [0x19, 0x2, 'Saved training configuration value'], [0x19, 0x3, 'Negotiated settings'],
    [0x19, 0x4, 'Report transfer capabilities']],
  0x6: [[0x18, 0x0, 'Protocol specific logical unit (SAS)'], [0x19, 0x0, 'Protocol specific port (SAS)'],
    [0x19, 0x1, 'Phy control and discover (SAS)'], [0x19, 0x2, 'Shared port control (SAS)'],
    [0x19, 0x3, 'Enhanced phy control (SAS)'], [0x19, 0x4, 'Out of band management control (SAS)']],
};

function tableFor(pdt: number): readonly PageDesc[] | null {
  switch (pdt) {
    case 0x0: case 0x4: case 0x7: case 0xe: case 0x14: return PC_DESC_DISK;
    case 0x1: case 0x2: return PC_DESC_TAPE;
    case 0x5: return PC_DESC_CDDVD;
    default: return null;
  }
}

function searchTable(t: readonly PageDesc[] | null | undefined, page: number, sub: number): string | null {
  for (const [pg, sp, d] of t ?? []) {
    if (pg === page && sp === sub) return d;
    if (page < pg) break;
  }
  return null;
}

/** find_page_code_desc. */
function pageCodeDesc(page: number, sub: number, pdt: number, tProto: number): string | null {
  return (tProto >= 0 ? searchTable(PC_DESC_TRANSPORT[tProto], page, sub) : null) ??
    searchTable(tableFor(pdt), page, sub) ?? searchTable(PC_DESC_COMMON, page, sub);
}

const USAGE = 'Usage: sg_modes [--all] [--control=PC] [--dbd] [--dbout] [--examine]\n' +
  '                [--flexible] [--help] [--hex] [--list] [--llbaa] [--maxlen=LEN]\n' +
  '                [--page=PG[,SPG]] [--raw] [-R] [--readonly] [--six] [--verbose]\n' +
  '                [--version] [DEVICE]\n';

export async function sgModes(p: Process): Promise<number> {
  const parsed = getoptLong(p.argv.slice(1), {
    short: 'ac:dDeEfhHlLm:p:rRsvV6',
    long: { all: ['a', false], control: ['c', true], dbd: ['d', false], help: ['h', false], hex: ['H', false],
      maxlen: ['m', true], page: ['p', true], verbose: ['v', false], version: ['V', false] },
  });
  if (!parsed.ok) {
    await p.stderr.write(`sg_modes: ${parsed.message}\n${USAGE}`);
    return SG_LIB_SYNTAX_ERROR;
  }
  let all = 0;
  let pc = 0;
  let dbd = false;
  let hex = 0;
  let vb = 0;
  let pg = -1;
  let spg = 0;
  let maxlen = DEF_ALLOC_LEN;
  for (const [o, v] of parsed.opts) {
    if (o === 'a') all++;
    else if (o === 'c') pc = sgGetNum(v ?? '') & 3;
    else if (o === 'd') dbd = true;
    else if (o === 'H') hex++;
    else if (o === 'v') vb++;
    else if (o === 'm') maxlen = sgGetNum(v ?? '');
    else if (o === 'p') {
      const [a, b] = (v ?? '').split(',');
      pg = sgGetNum(a ?? '');
      if (b !== undefined) spg = sgGetNum(b);
      if (pg < 0 || pg > 63 || spg < 0 || spg > 255) {
        await p.stderr.write('Bad page code value after \'-p\' option\n');
        return SG_LIB_SYNTAX_ERROR;
      }
    } else if (o === 'h') { await p.stderr.write(USAGE); return 0; }
    else if (o === 'V') { await p.stderr.write('Version string: 1.72 20200930\n'); return 0; }
  }
  const device = parsed.rest[0];
  if (device === undefined) {
    await p.stderr.write(`No DEVICE argument given\n\n${USAGE}`);
    return SG_LIB_SYNTAX_ERROR;
  }
  if (pg < 0 && all === 0) {
    await p.stderr.write(`Need to give the page code as an argument or --all\n\n${USAGE}`);
    return SG_LIB_SYNTAX_ERROR;
  }
  const dev = await openDevice(p.sys, device, true);
  if (typeof dev === 'number') {
    await p.stderr.write(`error opening file: ${device}: ${strerrorNum(-dev)}\n`);
    const r = convertErrno(-dev);
    if (vb === 0) await ifCan2stderr(p, 'sg_modes failed: ', r);
    return r;
  }
  let ret = 0;
  try {
    const inq = await llInquiry(p, dev, false, 0, 36, true, vb);
    if (inq.status) {
      await p.stderr.write(`${device} doesn't respond to a SCSI INQUIRY\n`);
      ret = inq.status > 0 ? inq.status : SG_LIB_CAT_OTHER;
      return ret;
    }
    const id = inq.data;
    const pdt = id[0]! & 0x1f;
    const field = (a: number, b: number): string => bytesToStr(id.subarray(a, b)).replace(/\0.*$/s, '');
    if (hex < 3) {
      await p.stdout.write(`    ${field(8, 16)}  ${field(16, 32)}  ${field(32, 36)}   peripheral_type: ${pdtStr(pdt)} [0x${pdt.toString(16)}]\n`);
    }
    if (pg === PG_CODE_ALL) { if (all === 0) all = 1; } else if (all) pg = PG_CODE_ALL;
    if (all > 1) spg = 0xff;
    const cdb = new Uint8Array([0x5a, dbd ? 0x08 : 0, ((pc & 3) << 6) | (pg & 0x3f), spg & 0xff, 0, 0, 0,
      (maxlen >> 8) & 0xff, maxlen & 0xff, 0]);
    const r = await llCmd(p, dev, 'mode sense(10)', cdb, 'in', maxlen, true, vb);
    ret = r.ret;
    if (ret === SG_LIB_CAT_INVALID_OP) {
      await p.stderr.write(">>>>>> try again with a '-6' switch for a 6 byte MODE SENSE command\n");
    }
    if (ret === SG_LIB_CAT_ILLEGAL_REQ) {
      await p.stderr.write(spg > 0 ? 'invalid field in cdb (perhaps subpages not supported)\n'
        : pc > 0 ? 'invalid field in cdb (perhaps page control (PC) not supported)\n'
        : `invalid field in cdb (perhaps page 0x${pg.toString(16)} not supported)\n`);
    } else if (ret) {
      await p.stderr.write(`${categorySenseStr(ret, vb)}\n`);
    }
    if (ret !== 0) return ret;
    const rsp = r.data;
    let s = hex === 1 || hex > 2 ? '' : 'Mode parameter header from MODE SENSE(10):\n';
    if (rsp.length < 8) {
      await p.stderr.write(`MS(10) resid=${maxlen - rsp.length} implies abridged header length (${rsp.length})\n`);
      return 45;
    }
    const headerLen = 8;
    const mediumType = rsp[2]!;
    const specific = rsp[3]!;
    const longlba = rsp[4]! & 1;
    let bdLen = be16(rsp, 6);
    let mdLen = Math.min(be16(rsp, 0) + 2, rsp.length);
    if (bdLen + headerLen > mdLen) {
      await p.stderr.write(`Invalid block descriptor length=${bdLen}, ignore\n`);
      bdLen = 0;
    }
    if (hex > 2) { await p.stdout.write(hexDump(rsp.subarray(0, mdLen), -1)); return 0; }
    if (hex === 1) { await p.stdout.write(s + hexDump(rsp.subarray(0, mdLen), 1)); return 0; }
    if (hex > 1) { await p.stdout.write(s + hexDump(rsp.subarray(0, headerLen), 1)); return 0; }
    s += pdt === 0 || pdt === 0x14
      ? `  Mode data length=${mdLen}, medium type=0x${mediumType.toString(16).padStart(2, '0')}, WP=${(specific & 0x80) ? 1 : 0}, DpoFua=${(specific & 0x10) ? 1 : 0}, longlba=${longlba}\n`
      : `  Mode data length=${mdLen}, medium type=0x${mediumType.toString(16).padStart(2, '0')}, specific param=0x${specific.toString(16).padStart(2, '0')}, longlba=${longlba}\n`;
    s += `  Block descriptor length=${bdLen}\n`;
    if (bdLen > 0) {
      let len = 8;
      let dcOff = 0;
      if (longlba) { s += '> longlba direct access device block descriptors:\n'; len = 16; dcOff = 8; }
      else if (pdt === 0 || pdt === 0x14) { s += '> Direct access device block descriptors:\n'; dcOff = 4; }
      else s += '> General mode parameter block descriptors:\n';
      for (let off = headerLen; off < headerLen + bdLen; off += len) {
        s += `   Density code=0x${(rsp[off + dcOff] ?? 0).toString(16)}\n`;
        s += hexDump(rsp.subarray(off, off + len), 1);
      }
      s += '\n';
    }
    let bp = headerLen + bdLen;
    mdLen -= bdLen + headerLen;
    for (let k = 0; mdLen > 0; k++) {
      if (k > 0 && !all && spg !== 0xff) {
        await p.stderr.write('Unexpectedly received extra mode page responses, ignore\n');
        break;
      }
      const spf = (rsp[bp]! & 0x40) !== 0;
      const len = spf ? be16(rsp, bp + 2) + 4 : rsp[bp + 1]! + 2;
      const pageNum = rsp[bp]! & 0x3f;
      if (hex) {
        s += spf ? `>> page_code=0x${pageNum.toString(16)}, subpage_code=0x${rsp[bp + 1]!.toString(16)}, page_control=${pc}\n`
          : `>> page_code=0x${pageNum.toString(16)}, page_control=${pc}\n`;
      } else {
        const tProto = pageNum === 0x18 || pageNum === 0x19 ? (spf ? rsp[bp + 5]! : rsp[bp + 2]!) & 0xf : -1;
        const desc = pageCodeDesc(pageNum, spf ? rsp[bp + 1]! : 0, pdt, tProto);
        s += desc !== null ? `>> ${desc}, page_control: ${PG_CONTROL[pc]!}\n`
          : `>> page_code: ${spf ? `0x${pageNum.toString(16)}, subpage_code: 0x${rsp[bp + 1]!.toString(16)}` : `0x${pageNum.toString(16)}`}, page_control: ${PG_CONTROL[pc]!}\n`;
      }
      let num = Math.min(len, mdLen);
      if (k > 0 && num > UNLIKELY_ABOVE_LEN) {
        num = UNLIKELY_ABOVE_LEN;
        await p.stderr.write(`>>> page length (${len}) > ${num} bytes, unlikely, trim\n    Try '-f' option\n`);
      }
      s += hexDump(rsp.subarray(bp, bp + num), 1);
      bp += len;
      mdLen -= len;
    }
    await p.stdout.write(s);
    return 0;
  } finally {
    await closeDevice(dev);
    if (vb === 0 && ret !== 0 && !(await ifCan2stderr(p, 'sg_modes failed: ', ret))) {
      await p.stderr.write("Some error occurred, try again with '-v' or '-vv' for more information\n");
    }
  }
}

export const sgModesEntry: CommandEntry = { name: 'sg_modes', paths: ['/usr/bin/sg_modes', '/bin/sg_modes'], run: sgModes };

