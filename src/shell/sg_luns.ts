// Models src/sg_luns.c (sg3_utils 1.46, sg_luns 1.45): send REPORT LUNS and list the LUNs (or dump them in hex).

import {
  SG_LIB_CAT_ABORTED_COMMAND, SG_LIB_CAT_ILLEGAL_REQ, SG_LIB_CAT_INVALID_OP, SG_LIB_CAT_OTHER, SG_LIB_SYNTAX_ERROR,
  be32, categorySenseStr, closeDevice, convertErrno, getoptLong, hexDump, ifCan2stderr, llCmd, openDevice, sgGetNum,
  strerrorNum,
} from './sg_lib.ts';
import type { CommandEntry, Process } from './process.ts';

const DEF_RLUNS_BUFF_LEN = 1024 * 8;

const USAGE = 'Usage: sg_luns    [--decode] [--help] [--hex] [--linux] [--lu_cong]\n' +
  '                  [--maxlen=LEN] [--quiet] [--raw] [--readonly]\n' +
  '                  [--select=SR] [--verbose] [--version] DEVICE\n';

export async function sgLuns(p: Process): Promise<number> {
  const parsed = getoptLong(p.argv.slice(1), {
    short: 'dhHlLm:qrRs:vV',
    long: { decode: ['d', false], help: ['h', false], hex: ['H', false], linux: ['l', false], maxlen: ['m', true],
      quiet: ['q', false], raw: ['r', false], readonly: ['R', false], select: ['s', true], verbose: ['v', false],
      version: ['V', false] },
  });
  if (!parsed.ok) {
    await p.stderr.write(`sg_luns: ${parsed.message}\n${USAGE}`);
    return SG_LIB_SYNTAX_ERROR;
  }
  let hex = 0;
  let vb = 0;
  let quiet = false;
  let select = 0;
  let maxlen = 0;
  let readonly = false;
  for (const [o, v] of parsed.opts) {
    if (o === 'H') hex++;
    else if (o === 'v') vb++;
    else if (o === 'q') quiet = true;
    else if (o === 'R') readonly = true;
    else if (o === 's') select = sgGetNum(v ?? '');
    else if (o === 'm') maxlen = sgGetNum(v ?? '');
    else if (o === 'h') { await p.stderr.write(USAGE); return 0; }
    else if (o === 'V') { await p.stderr.write('Version: 1.45 20200708\n'); return 0; }
  }
  const device = parsed.rest[0];
  if (device === undefined) {
    await p.stderr.write(`missing device name!\n\n${USAGE}`);
    return SG_LIB_SYNTAX_ERROR;
  }
  const dev = await openDevice(p.sys, device, readonly);
  if (typeof dev === 'number') {
    await p.stderr.write(`open error: ${device}: ${strerrorNum(-dev)}\n`);
    return convertErrno(-dev);
  }
  if (maxlen === 0) maxlen = DEF_RLUNS_BUFF_LEN;
  const cdb = new Uint8Array([0xa0, 0, select & 0xff, 0, 0, 0, (maxlen >>> 24) & 0xff, (maxlen >> 16) & 0xff,
    (maxlen >> 8) & 0xff, maxlen & 0xff, 0, 0]);
  let ret: number;
  try {
    const r = await llCmd(p, dev, 'report luns', cdb, 'in', maxlen, true, vb);
    ret = r.ret;
    if (ret === 0) {
      const buf = new Uint8Array(maxlen);
      buf.set(r.data.subarray(0, maxlen));
      const listLen = be32(buf, 0);
      const lenCap = Math.min(listLen + 8, maxlen);
      if (hex === 1) {
        await p.stdout.write(hexDump(buf.subarray(0, lenCap), 1));
      } else {
        let luns = Math.floor(listLen / 8);
        let s = quiet ? '' : `Lun list length = ${listLen} which imples ${luns} lun entr${luns === 1 ? 'y' : 'ies'}\n`;
        if (listLen + 8 > maxlen) {
          luns = Math.floor((maxlen - 8) / 8);
          await p.stderr.write(`  <<too many luns for internal buffer, will show ${luns} lun${luns === 1 ? '' : 's'}>>\n`);
        }
        for (let k = 0, off = 8; k < luns; k++, off += 8) {
          if (!quiet) {
            if (k === 0) s += `Report luns [select_report=0x${select.toString(16)}]:\n`;
            s += '    ';
          }
          s += Array.from(buf.subarray(off, off + 8), (b) => b.toString(16).padStart(2, '0')).join('') + '\n';
        }
        await p.stdout.write(s);
      }
    } else if (ret === SG_LIB_CAT_INVALID_OP) {
      await p.stderr.write('Report Luns command not supported (support mandatory in SPC-3)\n');
    } else if (ret === SG_LIB_CAT_ABORTED_COMMAND) {
      await p.stderr.write('Report Luns, aborted command\n');
    } else if (ret === SG_LIB_CAT_ILLEGAL_REQ) {
      await p.stderr.write('Report Luns command has bad field in cdb\n');
    } else {
      await p.stderr.write(`Report Luns command: ${categorySenseStr(ret, vb)}\n`);
    }
  } finally {
    await closeDevice(dev);
  }
  if (vb === 0 && !(await ifCan2stderr(p, 'sg_luns failed: ', ret))) {
    await p.stderr.write("Some error occurred, try again with '-v' or '-vv' for more information\n");
  }
  return ret >= 0 ? ret : SG_LIB_CAT_OTHER;
}

export const sgLunsEntry: CommandEntry = { name: 'sg_luns', paths: ['/usr/bin/sg_luns', '/bin/sg_luns'], run: sgLuns };
