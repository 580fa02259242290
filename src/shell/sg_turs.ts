// Models src/sg_turs.c (sg3_utils 1.46, sg_turs 3.48): send TEST UNIT READY (once, or -n times) and report.

import {
  SG_LIB_CAT_NOT_READY, SG_LIB_CAT_OTHER, SG_LIB_CAT_RECOVERED, SG_LIB_CAT_NO_SENSE, SG_LIB_SYNTAX_ERROR,
  categorySenseStr, closeDevice, commandStr, convertErrno, doScsiPt, getoptLong, openDevice, processResp,
  strerrorNum, type SgDev,
} from './sg_lib.ts';
import type { CommandEntry, Process } from './process.ts';

/** sg_ll_test_unit_ready: 0, a sense category, or (transport/OS failure) the converted errno — 0 when none. */
export async function llTestUnitReady(p: Process, dev: SgDev, noisy: boolean, vb: number): Promise<number> {
  const cdb = new Uint8Array(6);
  if (vb) await p.stderr.write(`    test unit ready cdb: ${commandStr(cdb)}\n`);
  const r = await processResp(p, 'test unit ready', await doScsiPt(dev, cdb, 'none', 0, 60), noisy, vb);
  if (r.kind === 'ok') return 0;
  if (r.kind === 'fail') return convertErrno(r.errno ?? 0);
  return r.cat === SG_LIB_CAT_RECOVERED || r.cat === SG_LIB_CAT_NO_SENSE ? 0 : r.cat;
}

const USAGE = 'Usage: sg_turs [--delay=MS] [--help] [--low] [--number=NUM] [--num=NUM]\n' +
  '               [--progress] [--time] [--verbose] [--version] DEVICE\n';

export async function sgTurs(p: Process): Promise<number> {
  const parsed = getoptLong(p.argv.slice(1), {
    short: 'd:hln:ptvV',
    long: { delay: ['d', true], help: ['h', false], low: ['l', false], number: ['n', true], num: ['n', true],
      progress: ['p', false], time: ['t', false], verbose: ['v', false], version: ['V', false] },
  });
  if (!parsed.ok) {
    await p.stderr.write(`sg_turs: ${parsed.message}\n${USAGE}`);
    return SG_LIB_SYNTAX_ERROR;
  }
  let vb = 0;
  let number = 1;
  for (const [o, v] of parsed.opts) {
    if (o === 'v') vb++;
    else if (o === 'n') {
      number = Number(v);
      if (!Number.isInteger(number) || number < 0) {
        await p.stderr.write("bad argument to '--number='\n");
        return SG_LIB_SYNTAX_ERROR;
      }
    } else if (o === 'h') { await p.stderr.write(USAGE); return 0; }
    else if (o === 'V') { await p.stderr.write('Version string: 3.48 20210102\n'); return 0; }
  }
  if (parsed.rest.length > 1) {
    await p.stderr.write(`Unexpected extra argument: ${parsed.rest[1]!}\n`);
    return SG_LIB_SYNTAX_ERROR;
  }
  const device = parsed.rest[0];
  if (device === undefined) {
    await p.stderr.write(`No DEVICE argument given\n${USAGE}`);
    return SG_LIB_SYNTAX_ERROR;
  }
  const dev = await openDevice(p.sys, device, true);
  if (typeof dev === 'number') {
    await p.stderr.write(`main: error opening file: ${device}: ${strerrorNum(-dev)}\n`);
    return convertErrno(-dev);
  }
  let ret = 0;
  let errs = 0;
  let reported = false;
  try {
    for (let k = 0; k < number; k++) {
      const res = await llTestUnitReady(p, dev, k === 0, vb);
      if (res) {
        errs++;
        ret = res;
        if (number === 1) {
          if (res === SG_LIB_CAT_NOT_READY) await p.stdout.write('device not ready\n');
          else await p.stdout.write(`${categorySenseStr(res, vb)}\n`);
          reported = true;
          break;
        }
      }
    }
  } finally {
    await closeDevice(dev);
  }
  if ((number > 1 || errs > 0) && !reported) {
    await p.stdout.write(`Completed ${number} Test Unit Ready commands with ${errs} errors\n`);
  }
  if (number !== 1) ret = 0;
  return ret >= 0 ? ret : SG_LIB_CAT_OTHER;
}

export const sgTursEntry: CommandEntry = { name: 'sg_turs', paths: ['/usr/bin/sg_turs', '/bin/sg_turs'], run: sgTurs };
