// A fake LLD with a tape drive behind it, answering the SSC-3 commands st sends over an in-memory tape
// of records and filemarks: TEST UNIT READY, READ BLOCK LIMITS, MODE SENSE(6)/SELECT(6) (block
// descriptor: density, block length, WP), READ(6)/WRITE(6) in variable and fixed mode, WRITE
// FILEMARKS, SPACE (blocks, filemarks, end of data; forward and backward), REWIND, LOAD UNLOAD, ERASE,
// READ POSITION, LOCATE(10), PREVENT ALLOW MEDIUM REMOVAL. Conditions are reported as a drive does:
// filemark (NO SENSE + FM, 00/01), end of data (BLANK CHECK 00/05), beginning of medium (NO SENSE +
// EOM, 00/04), incorrect length (NO SENSE + ILI), early warning (NO SENSE + EOM, 00/02), write protect
// (7/27/00), no medium (2/3a/00), each with the residue in the information field. A write truncates
// the tape at the head: what followed is gone and end of data follows the new data.
// INQUIRY, REPORT LUNS and the power-on UA come from fake_lld.ts's `answer`.

import type { Kernel } from '../../src/kernel/kernel.ts';
import { ScsiMod } from '../../src/midlayer/scsi.ts';
import type { ScsiCmnd } from '../../src/midlayer/scsi_cmnd.ts';
import type { ScsiHostTemplate } from '../../src/midlayer/scsi_host.ts';
import { scsiAddHost, scsiHostAlloc } from '../../src/midlayer/hosts.ts';
import { scanHost } from '../../src/midlayer/scsi_scan.ts';
import { Device } from '../../src/sysfs/core.ts';
import { answer, completeLater } from './fake_lld.ts';
import type { FakeLldState, FakeReply } from './fake_lld.ts';
import { testKernel } from './test_kernel.ts';
import { loopRunner } from './loop_run.ts';

export type TapeItem = { readonly kind: 'rec'; readonly data: Uint8Array } | { readonly kind: 'fm' };

export interface FakeTape {
  items: TapeItem[];
  /** Index of the next item; items.length is end of data. */
  pos: number;
  loaded: boolean;
  /** 0: variable-block mode. */
  blockSize: number;
  density: number;
  writeProtected: boolean;
  /** Record bytes after which every write reports early warning (EOM, still written). */
  earlyWarning: number;
  locked: boolean;
}

export interface FakeTapeState extends FakeLldState {
  readonly tape: FakeTape;
}

type Reply = FakeReply;

const GOOD: Reply = { status: 0 };

/** Fixed-format sense with the tape bits (FM 0x80, EOM 0x40, ILI 0x20) and a valid information field. */
export function tapeSense(key: number, asc: number, ascq: number, bits: { fm?: boolean; eom?: boolean; ili?: boolean; info?: number } = {}): number[] {
  const s = new Array<number>(18).fill(0);
  s[0] = 0x70 | (bits.info !== undefined ? 0x80 : 0); // response code, VALID
  s[2] = (bits.fm ? 0x80 : 0) | (bits.eom ? 0x40 : 0) | (bits.ili ? 0x20 : 0) | key;
  const info = (bits.info ?? 0) >>> 0;
  s[3] = info >>> 24; // information (residue)
  s[4] = (info >>> 16) & 0xff;
  s[5] = (info >>> 8) & 0xff;
  s[6] = info & 0xff;
  s[7] = 10; // additional sense length
  s[12] = asc;
  s[13] = ascq;
  return s;
}

const check = (key: number, asc: number, ascq: number, bits: Parameters<typeof tapeSense>[3] = {}): Reply => ({ status: 2, sense: tapeSense(key, asc, ascq, bits) });
const fmHit = (info: number): Reply => check(0, 0, 1, { fm: true, info });
const eod = (info: number): Reply => check(8, 0, 5, { info });
const bot = (info: number): Reply => check(0, 0, 4, { eom: true, info });

function count24(c: Uint8Array): number {
  const n = (c[2]! << 16) | (c[3]! << 8) | c[4]!;
  return n & 0x800000 ? n - 0x1000000 : n;
}

function recordBytes(t: FakeTape): number {
  return t.items.reduce((n, it) => n + (it.kind === 'rec' ? it.data.length : 0), 0);
}

function dataOut(kernel: Kernel, cmd: ScsiCmnd): Uint8Array {
  const out = new Uint8Array(cmd.length);
  let at = 0;
  for (const sg of cmd.sgl) {
    const n = Math.min(sg.len, cmd.length - at);
    out.set(kernel.mem.readBytes(sg.addr, n), at);
    at += n;
  }
  return out;
}

function read(t: FakeTape, c: Uint8Array, len: number): Reply {
  const fixed = (c[1]! & 1) !== 0;
  const sili = (c[1]! & 2) !== 0;
  const n = (c[2]! << 16) | (c[3]! << 8) | c[4]!;
  if (fixed !== (t.blockSize !== 0)) return check(5, 0x24, 0);
  if (!fixed) {
    const it = t.items[t.pos];
    if (!it) return eod(n);
    t.pos++;
    if (it.kind === 'fm') return fmHit(n);
    const data = it.data.subarray(0, Math.min(n, it.data.length));
    if (it.data.length === n || (sili && it.data.length < n)) return { status: 0, data };
    return { ...check(0, 0, 0, { ili: true, info: n - it.data.length }), data };
  }
  const out = new Uint8Array(len);
  for (let i = 0; i < n; i++) {
    const it = t.items[t.pos];
    const got = out.subarray(0, i * t.blockSize);
    if (!it) return { ...eod(n - i), data: got };
    t.pos++;
    if (it.kind === 'fm') return { ...fmHit(n - i), data: got };
    out.set(it.data.subarray(0, t.blockSize), i * t.blockSize);
    if (it.data.length !== t.blockSize) return { ...check(0, 0, 0, { ili: true, info: n - i }), data: out.subarray(0, (i + 1) * t.blockSize) };
  }
  return { status: 0, data: out };
}

function write(kernel: Kernel, t: FakeTape, cmd: ScsiCmnd): Reply {
  const c = cmd.cdb;
  const fixed = (c[1]! & 1) !== 0;
  const n = (c[2]! << 16) | (c[3]! << 8) | c[4]!;
  if (t.writeProtected) return check(7, 0x27, 0);
  if (fixed !== (t.blockSize !== 0)) return check(5, 0x24, 0);
  const bytes = dataOut(kernel, cmd);
  t.items.length = t.pos;
  if (!fixed) t.items.push({ kind: 'rec', data: bytes.slice(0, n) });
  else for (let i = 0; i < n; i++) t.items.push({ kind: 'rec', data: bytes.slice(i * t.blockSize, (i + 1) * t.blockSize) });
  t.pos = t.items.length;
  return recordBytes(t) > t.earlyWarning ? check(0, 0, 2, { eom: true, info: 0 }) : GOOD;
}

function space(t: FakeTape, c: Uint8Array): Reply {
  const code = c[1]! & 7;
  let n = count24(c);
  if (code === 3) {
    t.pos = t.items.length;
    return GOOD;
  }
  if (code !== 0 && code !== 1) return check(5, 0x24, 0);
  const wantFm = code === 1;
  while (n > 0) {
    const it = t.items[t.pos];
    if (!it) return eod(n);
    t.pos++;
    if (it.kind === 'fm') {
      if (!wantFm) return fmHit(n);
      n--;
    } else if (!wantFm) n--;
  }
  while (n < 0) {
    if (t.pos === 0) return bot(-n);
    const it = t.items[t.pos - 1]!;
    t.pos--;
    if (it.kind === 'fm') {
      // Spacing back over blocks stops on the BOP side of a filemark.
      if (!wantFm) return fmHit(-n);
      n++;
    } else if (!wantFm) n++;
  }
  return GOOD;
}

function tapeAnswer(kernel: Kernel, st: FakeTapeState, cmd: ScsiCmnd): Reply | null {
  const sdev = cmd.device;
  const lu = st.lus.get(`${sdev.id}:${sdev.lun}`);
  if (!lu || lu.type !== 1) return null;
  const c = cmd.cdb;
  const op = c[0]!;
  if (lu.ua && op !== 0x12 && op !== 0xa0) return null;
  const t = st.tape;
  const noMedium = check(2, 0x3a, 0);
  if (op === 0x12 || op === 0xa0) return null;
  if (op === 0x1b) {
    const load = (c[4]! & 1) !== 0;
    if (!load && t.locked) return check(5, 0x53, 2);
    // A cartridge coming online is a medium change: the next command gets 6/28/00.
    if (load && !t.loaded) lu.ua = [0x28, 0];
    t.loaded = load;
    t.pos = 0;
    return GOOD;
  }
  if (op === 0x1e) {
    t.locked = (c[4]! & 1) !== 0;
    return GOOD;
  }
  if (op === 0x05) return { status: 0, data: Uint8Array.from([0, 0xff, 0xff, 0xff, 0, 1]) }; // granularity, max 16 MiB - 1, min 1
  if (op === 0x1a) {
    return {
      status: 0,
      data: Uint8Array.from([
        11, // mode data length
        0, // medium type
        (t.writeProtected ? 0x80 : 0) | 0x10, // WP, buffered mode 1
        8, // block descriptor length
        t.density, // density code
        0, 0, 0, // number of blocks
        0, // reserved
        (t.blockSize >> 16) & 0xff, (t.blockSize >> 8) & 0xff, t.blockSize & 0xff, // block length
      ]),
    };
  }
  if (op === 0x15) {
    const d = dataOut(kernel, cmd);
    if (d.length < 12 || d[3] !== 8) return check(5, 0x26, 0);
    if (d[4]) t.density = d[4];
    t.blockSize = (d[9]! << 16) | (d[10]! << 8) | d[11]!;
    return GOOD;
  }
  if (!t.loaded) return noMedium;
  switch (op) {
    case 0x00:
      return GOOD;
    case 0x01:
      t.pos = 0;
      return GOOD;
    case 0x08:
      return read(t, c, cmd.length);
    case 0x0a:
      return write(kernel, t, cmd);
    case 0x10: {
      if (t.writeProtected) return check(7, 0x27, 0);
      const n = (c[2]! << 16) | (c[3]! << 8) | c[4]!;
      t.items.length = t.pos;
      for (let i = 0; i < n; i++) t.items.push({ kind: 'fm' });
      t.pos = t.items.length;
      return GOOD;
    }
    case 0x11:
      return space(t, c);
    case 0x19:
      if (t.writeProtected) return check(7, 0x27, 0);
      t.items.length = t.pos;
      return GOOD;
    case 0x2b: {
      const blk = ((c[3]! << 24) | (c[4]! << 16) | (c[5]! << 8) | c[6]!) >>> 0;
      if (blk > t.items.length) {
        t.pos = t.items.length;
        return eod(0);
      }
      t.pos = blk;
      return GOOD;
    }
    case 0x34: {
      const b = new Uint8Array(20);
      b[0] = t.pos === 0 ? 0x80 : 0; // BOP
      for (const off of [4, 8]) new DataView(b.buffer).setUint32(off, t.pos); // first / last block location
      return { status: 0, data: b };
    }
  }
  return check(5, 0x20, 0);
}

export function fakeTapeLld(mod: ScsiMod, kernel: Kernel, st: FakeTapeState): ScsiHostTemplate<FakeTapeState> {
  return {
    name: 'Fake SCSI HBA',
    procName: 'fake_lld',
    thisId: -1,
    canQueue: 64,
    cmdPerLun: 16,
    sgTablesize: 64,
    queuecommand(_host, cmd: ScsiCmnd): number {
      const sdev = cmd.device;
      st.cdbs.push(`${sdev.id}:${sdev.lun} ${[...cmd.cdb].map((b) => b.toString(16).padStart(2, '0')).join(' ')}`);
      const a: Reply = tapeAnswer(kernel, st, cmd) ?? answer(st, sdev.id, sdev.lun, cmd.cdb);
      completeLater(mod, kernel, cmd, a, 'from-dev');
      return 0;
    },
  };
}

/** A test kernel with one fake host and a tape drive at 0:0:0:0 (plus optional disks elsewhere). */
export function tapeSetup(opts: { readonly tape?: Partial<FakeTape>; readonly ids?: readonly number[] } = {}) {
  const k = testKernel();
  const mod = new ScsiMod(k);
  const tape: FakeTape = { items: [], pos: 0, loaded: true, blockSize: 0, density: 0, writeProtected: false, earlyWarning: Infinity, locked: false, ...opts.tape };
  const st: FakeTapeState = { lus: new Map(), cdbs: [], tape };
  for (const id of opts.ids ?? [0]) st.lus.set(`${id}:0`, { type: 1, model: 'QEMU TAPE', ua: [0x29, 0] });
  const parent = new Device('virtio0', null);
  k.dm.add(parent);
  const host = scsiHostAlloc(mod, fakeTapeLld(mod, k, st), st, parent);
  host.maxId = 8;
  host.maxLun = 16;
  const scan = (): Promise<void> => {
    scsiAddHost(mod, host);
    return scanHost(mod, host);
  };
  const { run, settle } = loopRunner(k, mod);
  return { k, mod, st, tape, host, scan, run, settle, sys: k.vfs.syscalls() };
}
