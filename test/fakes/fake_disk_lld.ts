// A fake LLD with disks and CD-ROMs behind it, answering as QEMU 7.2's scsi-hd / scsi-cd do for the
// commands sd and sr send (READ CAPACITY(16)/(10), MODE SENSE(6) pages 0x3f/0x08/0x2a, READ/WRITE
// over an in-memory image, SYNCHRONIZE CACHE, RSOC → 5/20/00, the VPD pages 0xb0/0xb1/0xb2 and the
// MMC commands of the sr probe). Everything else (INQUIRY, REPORT LUNS, the power-on UA, missing
// targets) is fake_lld.ts's `answer`. Injected failures: a READ touching `failLba` gets ABORTED
// COMMAND / I/O PROCESS TERMINATED (QEMU's answer for an EIO with rerror=report).

import type { Kernel } from '../../src/kernel/kernel.ts';
import type { ScsiMod } from '../../src/midlayer/scsi.ts';
import type { ScsiCmnd } from '../../src/midlayer/scsi_cmnd.ts';
import type { ScsiHostTemplate } from '../../src/midlayer/scsi_host.ts';
import { answer, completeLater, senseFixed } from './fake_lld.ts';
import type { FakeLldState, FakeReply } from './fake_lld.ts';
import { ScsiMod as ScsiModClass } from '../../src/midlayer/scsi.ts';
import { scsiAddHost, scsiHostAlloc } from '../../src/midlayer/hosts.ts';
import { scanHost } from '../../src/midlayer/scsi_scan.ts';
import { Device } from '../../src/sysfs/core.ts';
import { testKernel } from './test_kernel.ts';
import { loopRunner } from './loop_run.ts';

export interface FakeMedium {
  readonly kind: 'hd' | 'cd';
  image: Uint8Array | null;
  readonly blockSize: number;
  failLba?: number;
}

export interface FakeDiskState extends FakeLldState {
  readonly media: Map<string, FakeMedium>;
}

const hex = (s: string): number[] => s.match(/../g)!.map((x) => parseInt(x, 16));

// VPD pages of a QEMU 7.2 scsi-hd on a raw file (golden sysfs vpd_pgb0/b1/b2).
const VPD_B0 = hex('00b0003c01000000003fffff000000000000000000200000000000ff000000080000000000000000003fffff0000000000000000000000000000000000000000');
const VPD_B1 = [0x00, 0xb1, 0x00, 0x3c, ...new Array(60).fill(0)];
const VPD_B2 = hex('00b2000400e00200');
// Mode pages 0x01, 0x04, 0x05, 0x08 of a 64 MiB scsi-hd (sg_modes -a in the golden).
const PAGE_01 = hex('010a80000000000000000000');
const PAGE_04 = hex('041600008210000082000082' + '00c8ffffff00000015180000');
const PAGE_05 = hex('051e1388103f020000820082008200010100010101000000000000001518' + '0000');
const PAGE_08 = hex('08120400000000000000000000000000' + '00000000');
const PAGE_2A = hex('2a143b007fff2f002260000208000b0000000b000b00');

type Reply = FakeReply;

function be(n: number, bytes: number): number[] {
  const out: number[] = [];
  for (let i = bytes - 1; i >= 0; i--) out.push(Math.floor(n / 2 ** (8 * i)) & 0xff);
  return out;
}

function modeSense(m: FakeMedium, cdb: Uint8Array): Reply {
  const page = cdb[2]! & 0x3f;
  const dbd = (cdb[1]! & 0x08) !== 0 || m.kind === 'cd';
  const blocks = m.image ? m.image.length / m.blockSize : 0;
  const bd = dbd ? [] : [0, ...be(Math.min(blocks, 0xffffff), 3), 0, ...be(m.blockSize, 3)];
  let pages: number[];
  if (m.kind === 'hd') pages = page === 0x3f ? [...PAGE_01, ...PAGE_04, ...PAGE_05, ...PAGE_08] : page === 0x08 ? PAGE_08 : page === 0x01 ? PAGE_01 : [];
  else pages = page === 0x3f ? [...PAGE_01, ...PAGE_08, ...PAGE_2A] : page === 0x2a ? PAGE_2A : page === 0x08 ? PAGE_08 : [];
  if (pages.length === 0) return { status: 2, sense: senseFixed(5, 0x24, 0) };
  const body = [...bd, ...pages];
  return { status: 0, data: [body.length + 3, 0, 0, bd.length, ...body] };
}

function rw(kernel: Kernel, m: FakeMedium, cmd: ScsiCmnd): Reply {
  const c = cmd.cdb;
  const op = c[0]!;
  const long = op === 0x88 || op === 0x8a;
  const lba = long ? Number(new DataView(c.buffer, c.byteOffset).getBigUint64(2)) : ((c[2]! << 24) | (c[3]! << 16) | (c[4]! << 8) | c[5]!) >>> 0;
  const n = long ? new DataView(c.buffer, c.byteOffset).getUint32(10) : (c[7]! << 8) | c[8]!;
  const img = m.image;
  if (!img) return { status: 2, sense: senseFixed(2, 0x3a, 0) };
  if ((lba + n) * m.blockSize > img.length) return { status: 2, sense: senseFixed(5, 0x21, 0) };
  const write = op === 0x2a || op === 0x8a;
  if (!write && m.failLba !== undefined && m.failLba >= lba && m.failLba < lba + n) return { status: 2, sense: senseFixed(0xb, 0x00, 0x06) };
  const off = lba * m.blockSize;
  const len = n * m.blockSize;
  if (write) {
    let at = 0;
    for (const sg of cmd.sgl) {
      const k = Math.min(sg.len, len - at);
      img.set(kernel.mem.readBytes(sg.addr, k), off + at);
      at += k;
    }
    return { status: 0 };
  }
  return { status: 0, data: img.subarray(off, off + len) };
}

function diskAnswer(kernel: Kernel, st: FakeDiskState, cmd: ScsiCmnd): Reply | null {
  const sdev = cmd.device;
  const key = `${sdev.id}:${sdev.lun}`;
  const m = st.media.get(key);
  const lu = st.lus.get(key);
  if (!m || !lu) return null;
  const c = cmd.cdb;
  const op = c[0]!;
  if (lu.ua && op !== 0x12 && op !== 0xa0) return null;
  const blocks = m.image ? m.image.length / m.blockSize : 0;
  const noMedium = (): Reply => ({ status: 2, sense: senseFixed(2, 0x3a, 0) });
  switch (op) {
    case 0x00:
      return m.image ? { status: 0 } : noMedium();
    case 0x12:
      if (!(c[1]! & 1)) return null;
      if (c[2] === 0x00) return { status: 0, data: m.kind === 'hd' ? [0, 0, 0, 5, 0x00, 0x83, 0xb0, 0xb1, 0xb2] : [5, 0, 0, 2, 0x00, 0x83] };
      if (m.kind === 'hd' && c[2] === 0xb0) return { status: 0, data: VPD_B0 };
      if (m.kind === 'hd' && c[2] === 0xb1) return { status: 0, data: VPD_B1 };
      if (m.kind === 'hd' && c[2] === 0xb2) return { status: 0, data: VPD_B2 };
      return null;
    case 0x9e:
      if (!m.image) return noMedium();
      return { status: 0, data: [...be(blocks - 1, 8), ...be(m.blockSize, 4), 0, 0, m.kind === 'hd' ? 0x80 : 0, 0, ...new Array(16).fill(0)] };
    case 0x25:
      if (!m.image) return noMedium();
      return { status: 0, data: [...be(blocks - 1, 4), ...be(m.blockSize, 4)] };
    case 0x1a:
      return modeSense(m, c);
    case 0x28:
    case 0x2a:
    case 0x88:
    case 0x8a:
      return rw(kernel, m, cmd);
    case 0x35:
    case 0x91:
      return { status: 0 };
    case 0xa3:
      return { status: 2, sense: senseFixed(5, 0x20, 0) };
    case 0x1b:
    case 0x1e:
      return { status: 0 };
  }
  if (m.kind !== 'cd') return { status: 2, sense: senseFixed(5, 0x20, 0) };
  switch (op) {
    case 0x46: // GET CONFIGURATION: header only, current profile CD-ROM (8) with a medium
      return { status: 0, data: [0, 0, 0, 4 + 4, 0, 0, 0, m.image ? 0x08 : 0, 0, 0, 0, 0] };
    case 0x43: {
      if (!m.image) return noMedium();
      const msf = (c[1]! & 2) !== 0;
      const addr = (lba: number): number[] => (msf ? [0, Math.floor((lba + 150) / 75 / 60), Math.floor((lba + 150) / 75) % 60, (lba + 150) % 75] : be(lba, 4));
      if (c[9] === 0x40 || (c[2]! & 0xf) === 1) return { status: 0, data: [0, 0x0a, 1, 1, 0, 0x14, 1, 0, ...addr(0)] };
      const track = c[6]!;
      const desc = (t: number, lba: number): number[] => [0, 0x14, t, 0, ...addr(lba)];
      const entries = track === 0xaa ? [desc(0xaa, blocks)] : [...(track <= 1 ? [desc(1, 0)] : []), desc(0xaa, blocks)];
      const body = entries.flat();
      return { status: 0, data: [...be(body.length + 2, 2), 1, 1, ...body] };
    }
    case 0x51: // READ DISC INFORMATION: complete disc, one session, one track
      if (!m.image) return noMedium();
      return { status: 0, data: [0, 0x20, 0x0e, 1, 1, 1, 1, 0, ...new Array(26).fill(0)] };
    case 0x4a: // GET EVENT STATUS NOTIFICATION, media class: no event, medium present
      return { status: 0, data: [0, 6, 4, 0x54, 0, m.image ? 2 : 0, 0, 0] };
  }
  return { status: 2, sense: senseFixed(5, 0x20, 0) };
}

export function fakeDiskLld(mod: ScsiMod, kernel: Kernel, st: FakeDiskState): ScsiHostTemplate<FakeDiskState> {
  return {
    name: 'Fake SCSI HBA',
    procName: 'fake_lld',
    thisId: -1,
    canQueue: 256,
    cmdPerLun: 128,
    sgTablesize: 254,
    maxSectors: 0xffff,
    queuecommand(_host, cmd: ScsiCmnd): number {
      const sdev = cmd.device;
      st.cdbs.push(`${sdev.id}:${sdev.lun} ${[...cmd.cdb].map((b) => b.toString(16).padStart(2, '0')).join(' ')}`);
      const a: Reply = diskAnswer(kernel, st, cmd) ?? answer(st, sdev.id, sdev.lun, cmd.cdb);
      completeLater(mod, kernel, cmd, a, 'good');
      return 0;
    },
  };
}

// ---- harness ------------------------------------------------------------------------------------


export interface DiskLu {
  readonly id: number;
  readonly lun: number;
  readonly kind: 'hd' | 'cd';
  /** Image bytes (null: an empty CD drive). */
  readonly image: Uint8Array | null;
}

/** A test kernel with one host on the fake disk LLD (max_cmd_len 32, 2 hw queues like virtio-scsi). */
export function diskSetup(lus: readonly DiskLu[]) {
  const k = testKernel();
  const mod = new ScsiModClass(k);
  const st: FakeDiskState = { lus: new Map(), cdbs: [], media: new Map() };
  for (const lu of lus) {
    st.lus.set(`${lu.id}:${lu.lun}`, { type: lu.kind === 'cd' ? 5 : 0, model: lu.kind === 'cd' ? 'QEMU CD-ROM' : 'QEMU HARDDISK', ua: [0x29, 0] });
    st.media.set(`${lu.id}:${lu.lun}`, { kind: lu.kind, image: lu.image, blockSize: lu.kind === 'cd' ? 2048 : 512 });
  }
  const parent = new Device('virtio0', null);
  k.dm.add(parent);
  const host = scsiHostAlloc(mod, fakeDiskLld(mod, k, st), st, parent);
  host.maxId = 8;
  host.maxLun = 16;
  host.maxCmdLen = 32;
  host.nrHwQueues = 2;
  const scan = (): Promise<void> => {
    scsiAddHost(mod, host);
    return scanHost(mod, host);
  };
  const { run, settle } = loopRunner(k, mod);
  return { k, mod, st, host, scan, run, settle, sys: k.vfs.syscalls() };
}
