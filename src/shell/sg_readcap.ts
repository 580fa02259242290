// Models src/sg_readcap.c (sg3_utils 1.46, sg_readcap 4.05): READ CAPACITY(10), or (16) with -l/--16 or when
// the 10-byte variant cannot express the capacity, and the derived device size.

import {
  SG_LIB_CAT_ILLEGAL_REQ, SG_LIB_CAT_INVALID_OP, SG_LIB_CAT_OTHER, SG_LIB_SYNTAX_ERROR, be32, be64,
  categorySenseStr, cFixed, closeDevice, convertErrno, getoptLong, hexDump, ifCan2stderr, llCmd, openDevice,
  strerrorNum,
} from './sg_lib.ts';
import type { CommandEntry, Process } from './process.ts';

const RCAP_REPLY_LEN = 8;
const RCAP16_REPLY_LEN = 32;

function deviceSize(blocks: bigint, blockLen: number): string {
  const total = blocks * BigInt(blockLen);
  const mb = (Number(blocks) * blockLen) / 1048576;
  const gb = (Number(blocks) * blockLen) / 1000000000;
  let s = `Hence:\n   Device size: ${total} bytes, ${cFixed(mb, 1)} MiB, ${cFixed(gb, 2)} GB`;
  if (gb > 2000) s += `, ${cFixed(gb / 1000, 2)} TB`;
  return s + '\n';
}

const USAGE = 'Usage: sg_readcap [--16] [--brief] [--help] [--hex] [--lba=LBA] [--long]\n' +
  '                  [--pmi] [--raw] [--readonly] [--verbose] [--version]\n' +
  '                  [--zbc] DEVICE\n';

export async function sgReadcap(p: Process): Promise<number> {
  const parsed = getoptLong(p.argv.slice(1), {
    short: '16bhHlL:NOprRvVz',
    long: { '16': ['l', false], brief: ['b', false], help: ['h', false], hex: ['H', false], long: ['l', false],
      raw: ['r', false], readonly: ['R', false], verbose: ['v', false], version: ['V', false] },
  });
  if (!parsed.ok) {
    await p.stderr.write(`sg_readcap: ${parsed.message}\n${USAGE}`);
    return SG_LIB_SYNTAX_ERROR;
  }
  let long = false;
  let brief = false;
  let hex = 0;
  let vb = 0;
  let readonly = false;
  for (const [o] of parsed.opts) {
    if (o === 'l' || o === '1' || o === '6') long = true;
    else if (o === 'b') brief = true;
    else if (o === 'H') hex++;
    else if (o === 'v') vb++;
    else if (o === 'R') readonly = true;
    else if (o === 'h') { await p.stderr.write(USAGE); return 0; }
    else if (o === 'V') { await p.stderr.write('Version string: 4.05 20200122\n'); return 0; }
  }
  const device = parsed.rest[0];
  if (device === undefined) {
    await p.stderr.write(`sg_readcap: No DEVICE argument given\n${USAGE}`);
    return SG_LIB_SYNTAX_ERROR;
  }
  const dev = await openDevice(p.sys, device, long ? readonly : true);
  if (typeof dev === 'number') {
    await p.stderr.write(`sg_readcap: error opening file: ${device}: ${strerrorNum(-dev)}\n`);
    const r = convertErrno(-dev);
    if (vb === 0) await ifCan2stderr(p, 'sg_readcap failed: ', r);
    return r;
  }
  let ret = 0;
  try {
    if (!long) {
      const cdb = new Uint8Array([0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
      const r = await llCmd(p, dev, 'read capacity(10)', cdb, 'in', RCAP_REPLY_LEN, true, vb);
      ret = r.ret;
      if (ret === 0) {
        const b = new Uint8Array(RCAP_REPLY_LEN);
        b.set(r.data.subarray(0, RCAP_REPLY_LEN));
        if (hex) { await p.stdout.write(hexDump(b, hex > 2 ? -1 : 1)); return 0; }
        const last = be32(b, 0);
        if (last !== 0xffffffff) {
          const bs = be32(b, 4);
          if (brief) { await p.stdout.write(`0x${(last + 1).toString(16)} 0x${bs.toString(16)}\n`); return 0; }
          await p.stdout.write('Read Capacity results:\n' +
            `   Last LBA=${last} (0x${last.toString(16)}), Number of logical blocks=${last + 1}\n` +
            `   Logical block length=${bs} bytes\n` + deviceSize(BigInt(last) + 1n, bs));
          return 0;
        }
        await p.stdout.write('READ CAPACITY (10) indicates device capacity too large\n  now trying 16 byte cdb variant\n');
        long = true;
      } else if (ret === SG_LIB_CAT_INVALID_OP) {
        long = true;
        if (vb) await p.stderr.write('READ CAPACITY (10) not supported, trying READ CAPACITY (16)\n');
      } else {
        await p.stderr.write(`READ CAPACITY (10) failed: ${categorySenseStr(ret, vb)}\n`);
      }
    }
    if (long) {
      const cdb = new Uint8Array([0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, RCAP16_REPLY_LEN, 0, 0]);
      const r = await llCmd(p, dev, 'read capacity(16)', cdb, 'in', RCAP16_REPLY_LEN, true, vb);
      ret = r.ret;
      if (ret === 0) {
        const b = new Uint8Array(RCAP16_REPLY_LEN);
        b.set(r.data.subarray(0, RCAP16_REPLY_LEN));
        if (hex) { await p.stdout.write(hexDump(b, hex > 2 ? -1 : 1)); return 0; }
        const last = be64(b, 0);
        const bs = be32(b, 8);
        if (brief) { await p.stdout.write(`0x${(last + 1n).toString(16)} 0x${bs.toString(16)}\n`); return 0; }
        const protEn = b[12]! & 1;
        const pType = (b[12]! >> 1) & 7;
        const lbppbe = b[13]! & 0xf;
        let s = 'Read Capacity results:\n' +
          `   Protection: prot_en=${protEn}, p_type=${pType}, p_i_exponent=${(b[13]! >> 4) & 0xf}` +
          (protEn ? ` [type ${pType + 1} protection]\n` : '\n') +
          `   Logical block provisioning: lbpme=${(b[14]! & 0x80) ? 1 : 0}, lbprz=${(b[14]! & 0x40) ? 1 : 0}\n` +
          `   Last LBA=${last} (0x${last.toString(16)}), Number of logical blocks=${last + 1n}\n` +
          `   Logical block length=${bs} bytes\n` +
          `   Logical blocks per physical block exponent=${lbppbe}` +
          (lbppbe > 0 ? ` [so physical block length=${bs * (1 << lbppbe)} bytes]\n` : '\n') +
          `   Lowest aligned LBA=${((b[14]! & 0x3f) << 8) + b[15]!}\n`;
        s += deviceSize(last + 1n, bs);
        await p.stdout.write(s);
        return 0;
      } else if (ret === SG_LIB_CAT_ILLEGAL_REQ) {
        await p.stderr.write('bad field in READ CAPACITY (16) cdb including unsupported service action\n');
      } else {
        await p.stderr.write(`READ CAPACITY (16) failed: ${categorySenseStr(ret, vb)}\n`);
      }
    }
    if (brief) await p.stdout.write('0x0 0x0\n');
  } finally {
    await closeDevice(dev);
    if (vb === 0 && ret !== 0 && !(await ifCan2stderr(p, 'sg_readcap failed: ', ret))) {
      await p.stderr.write("Some error occurred, try again with '-v' or '-vv' for more information\n");
    }
  }
  return ret >= 0 ? ret : SG_LIB_CAT_OTHER;
}

export const sgReadcapEntry: CommandEntry = {
  name: 'sg_readcap', paths: ['/usr/bin/sg_readcap', '/bin/sg_readcap'], run: sgReadcap,
};
