// Ours: a small guest for udevd tests — a test kernel with a hand-built virtio-scsi device chain (PCI function,
// virtio0, host0, targets, LUs with sd/sr/sg class devices and device numbers) whose nodes answer SG_IO from a
// fake QEMU-like responder, CD-ROM ioctls for sr, and a fake blkid.

import { Errno } from '../../src/kernel/errno.ts';
import type { FileOps } from '../../src/kernel/fs.ts';
import type { Syscalls } from '../../src/kernel/syscalls.ts';
import { SG_IO, type SgIoHdrIn, type SgIoHdrOut } from '../../src/kernel/uapi/sg.ts';
import { Device } from '../../src/sysfs/core.ts';
import type { AttrSpec } from '../../src/sysfs/kernfs.ts';
import { CDROM_DRIVE_STATUS, CDROM_GET_CAPABILITY, CDROM_LOCKDOOR, CDROM_CLEAR_OPTIONS, CDS_DISC_OK, CDC_DVD } from '../../src/udev/cdrom_id.ts';
import { Udevd, type BlkidProbe } from '../../src/udev/udevd.ts';
import type { RulesFile } from '../../src/udev/rules.ts';
import { udevadm } from '../../src/shell/udevadm.ts';
import { testKernel, type TestKernel } from '../fakes/test_kernel.ts';

const enc = new TextEncoder();

function fixedSense(key: number, asc: number, ascq: number): Uint8Array {
  const s = new Uint8Array(18);
  s[0] = 0x70; s[2] = key; s[7] = 10; s[12] = asc; s[13] = ascq;
  return s;
}

type Reply = { data: Uint8Array } | { sense: Uint8Array };

export interface Lun {
  readonly h: number; readonly t: number; readonly l: number;
  readonly type: 0 | 5;
  readonly driveId: string;
  /** Block node name (sda, sr0) and its numbers. */
  readonly block: { name: string; major: number; minor: number; diskseq: number };
  readonly sg: number;
}

/** QEMU 7.2 scsi-hd / scsi-cd answers to what udev's programs send. */
export function qemuResponder(lun: Lun, log: string[]): (cdb: Uint8Array) => Reply {
  const model = lun.type === 0 ? 'QEMU HARDDISK   ' : 'QEMU CD-ROM     ';
  return (cdb) => {
    log.push(Array.from(cdb.subarray(0, 10), (b) => b.toString(16).padStart(2, '0')).join(' '));
    const op = cdb[0]!;
    if (op === 0x12 && (cdb[1]! & 1) === 0) {
      const d = new Uint8Array(36);
      d[0] = lun.type; d[1] = lun.type === 5 ? 0x80 : 0; d[2] = 5; d[3] = 0x12; d[4] = 31; d[7] = 0x12;
      d.set(enc.encode('QEMU    '), 8); d.set(enc.encode(model), 16); d.set(enc.encode('2.5+'), 32);
      return { data: d };
    }
    if (op === 0x12) {
      const page = cdb[2]!;
      if (page === 0x00) return { data: new Uint8Array([lun.type, 0, 0, 2, 0x00, 0x83]) };
      if (page === 0x83) {
        const id = enc.encode(lun.driveId);
        return { data: new Uint8Array([lun.type, 0x83, 0, 4 + id.length, 0x02, 0x00, 0x00, id.length, ...id]) };
      }
      return { sense: fixedSense(5, 0x24, 0) };
    }
    if (lun.type === 5) {
      switch (op) {
        case 0x46: { // GET CONFIGURATION as QEMU builds it: 40 bytes, data length 36, current profile CD-ROM
          const d = new Uint8Array(40);
          d[3] = 36; d[7] = 0x08;
          // Feature 0 (profile list, 2 profiles): DVD-ROM, CD-ROM (current); then features 1 and 3
          d.set([0x00, 0x00, 0x03, 0x08, 0x00, 0x10, 0x00, 0x00, 0x00, 0x08, 0x01, 0x00], 8);
          d.set([0x00, 0x01, 0x03, 0x04], 20);
          d.set([0x00, 0x03, 0x03, 0x04], 28);
          return { data: d };
        }
        case 0x43:
          if ((cdb[2]! & 0xf) === 1) return { data: new Uint8Array([0, 10, 1, 1, 0, 0x14, 1, 0, 0, 0, 0, 0]) };
          return { data: new Uint8Array([0, 18, 1, 1, 0, 0x14, 1, 0, 0, 0, 0, 0, 0, 0x14, 0xaa, 0, 0, 0, 0, 184]) };
        case 0x51: {
          const d = new Uint8Array(34);
          d[1] = 32; d[2] = 0x0e; d[3] = 1; d[4] = 1; d[5] = 1; d[6] = 1;
          return { data: d };
        }
        default: break;
      }
    }
    return { sense: fixedSense(5, 0x20, 0) };
  };
}

function sgOps(respond: (cdb: Uint8Array) => Reply, extra?: (req: number, arg: unknown) => unknown): FileOps {
  return {
    ioctl(req, arg) {
      if (req === SG_IO) {
        const h = arg as SgIoHdrIn;
        const r = respond(h.cmdp);
        const ok = 'data' in r;
        const out: SgIoHdrOut = {
          dxferp: ok ? r.data.slice(0, h.dxferLen) : new Uint8Array(0),
          sbp: ok ? new Uint8Array(0) : r.sense,
          status: ok ? 0 : 2, maskedStatus: ok ? 0 : 1, msgStatus: 0, sbLenWr: ok ? 0 : 18,
          hostStatus: 0, driverStatus: ok ? 0 : 8, resid: 0, duration: 0, info: ok ? 0 : 1,
        };
        return out;
      }
      if (extra) return extra(req, arg);
      throw new Errno('ENOTTY');
    },
  };
}

export interface Guest {
  readonly k: TestKernel;
  readonly sys: Syscalls;
  readonly udevd: Udevd;
  readonly cdbs: string[];
  readonly luns: Map<string, { lun: Lun; sdev: Device; block: Device; sg: Device }>;
  readonly locked: boolean[];
  addLun(lun: Lun): void;
  removeLun(key: string): void;
  info(node: string): Promise<string>;
  idle(): Promise<void>;
}

const ro = (name: string, v: string): AttrSpec => ({ name, mode: 0o444, show: () => `${v}\n` });

export function guest(opts: { blkid?: BlkidProbe; maxWorkers?: number; rules?: readonly RulesFile[] } = {}): Guest {
  const k = testKernel();
  const sys = k.vfs.syscalls();
  const dm = k.dm;
  const cdbs: string[] = [];
  const locked: boolean[] = [];
  const luns = new Map<string, { lun: Lun; sdev: Device; block: Device; sg: Device }>();
  const root = new Device('pci0000:00', null);
  dm.add(root);
  const pci = new Device('0000:00:04.0', root);
  pci.bus = dm.bus('pci');
  dm.add(pci);
  const virtio = new Device('virtio0', pci);
  virtio.bus = dm.bus('virtio');
  dm.add(virtio);
  const host = new Device('host0', virtio);
  host.bus = dm.bus('scsi');
  host.devtype = 'scsi_host';
  dm.add(host);
  const targets = new Map<number, Device>();
  const byMinor = (major: number, minor: number): Lun | undefined =>
    [...luns.values()].map((x) => x.lun).find((l) => (major === 21 ? l.sg === minor : l.block.major === major && l.block.minor === minor));
  const open = (major: number) => (minor: number): FileOps => {
    const lun = byMinor(major, minor);
    if (!lun) throw new Errno('ENXIO');
    return sgOps(qemuResponder(lun, cdbs), lun.type === 5 && major === 11 ? (req, arg) => {
      if (req === CDROM_GET_CAPABILITY) return CDC_DVD;
      if (req === CDROM_DRIVE_STATUS) return CDS_DISC_OK;
      if (req === CDROM_CLEAR_OPTIONS) return 0;
      if (req === CDROM_LOCKDOOR) { locked.push(arg === 1); return 0; }
      throw new Errno('ENOTTY');
    } : undefined);
  };
  k.devs.registerBlkdev(8, 'sd', open(8));
  k.devs.registerBlkdev(11, 'sr', open(11));
  k.devs.registerChrdev(21, 'sg', open(21));
  const udevd = new Udevd({ sys, dm, loop: k.loop, ...(opts.blkid ? { blkid: opts.blkid } : {}), ...(opts.maxWorkers ? { maxWorkers: opts.maxWorkers } : {}), ...(opts.rules ? { rules: opts.rules } : {}) });
  const g: Guest = {
    k, sys, udevd, cdbs, luns, locked,
    addLun(lun) {
      let target = targets.get(lun.t);
      if (!target) {
        target = new Device(`target${lun.h}:0:${lun.t}`, host);
        target.bus = dm.bus('scsi');
        target.devtype = 'scsi_target';
        dm.add(target);
        targets.set(lun.t, target);
      }
      const sdev = new Device(`${lun.h}:0:${lun.t}:${lun.l}`, target);
      sdev.bus = dm.bus('scsi');
      sdev.devtype = 'scsi_device';
      dm.add(sdev, [ro('type', String(lun.type)), ro('scsi_level', '6'), ro('vendor', 'QEMU    ')]);
      const sg = new Device(`sg${lun.sg}`, sdev);
      sg.cls = dm.cls('scsi_generic');
      sg.devt = { kind: 'char', major: 21, minor: lun.sg, devname: `sg${lun.sg}` };
      dm.add(sg);
      const block = new Device(lun.block.name, sdev);
      block.cls = dm.cls('block');
      block.devtype = 'disk';
      block.devt = { kind: 'block', major: lun.block.major, minor: lun.block.minor, devname: lun.block.name };
      block.ueventVars = () => [['DISKSEQ', String(lun.block.diskseq)]];
      luns.set(`${lun.t}:${lun.l}`, { lun, sdev, block, sg });
      dm.add(block);
    },
    removeLun(key) {
      const x = luns.get(key);
      if (!x) return;
      dm.del(x.block);
      dm.del(x.sg);
      dm.del(x.sdev);
      luns.delete(key);
    },
    async info(node) {
      let out = '';
      const rc = await udevadm({
        sys, argv: ['udevadm', 'info', '--query=all', `--name=${node}`], env: new Map(), cwd: '/',
        stdin: { readAll: async () => new Uint8Array(0), read: async () => new Uint8Array(0) },
        stdout: { write: async (d) => { out += typeof d === 'string' ? d : new TextDecoder().decode(d); } },
        stderr: { write: async () => {} },
      });
      if (rc !== 0) throw new Error(`udevadm info ${node}: rc ${rc}`);
      return out;
    },
    async idle() {
      await k.loop.runUntilIdle();
      await udevd.settle();
      await k.loop.runUntilIdle();
    },
  };
  return g;
}

export const DISK: Lun = { h: 0, t: 0, l: 0, type: 0, driveId: 'd0', block: { name: 'sda', major: 8, minor: 0, diskseq: 1 }, sg: 0 };
export const CD: Lun = { h: 0, t: 0, l: 1, type: 5, driveId: 'cd0', block: { name: 'sr0', major: 11, minor: 0, diskseq: 3 }, sg: 1 };

/** What libblkid finds on the captures' ISO (ORACLECD), in udev's order. */
export const isoBlkid: BlkidProbe = async (_sys, devnode) => devnode !== '/dev/sr0' ? null : [
  ['ID_FS_DATA_PREPARER_ID', 'XORRISO-1.5.4\\x202021.01.30.150001\\x2c\\x20LIBISOBURN-1.5.4\\x2c\\x20LIBISOFS-1.5.4\\x2c\\x20LIBBURN-1.5.4'],
  ['ID_FS_UUID', '2023-11-14-22-13-20-00'], ['ID_FS_UUID_ENC', '2023-11-14-22-13-20-00'],
  ['ID_FS_VERSION', 'Joliet Extension'], ['ID_FS_LABEL', 'ORACLECD'], ['ID_FS_LABEL_ENC', 'ORACLECD'],
  ['ID_FS_TYPE', 'iso9660'], ['ID_FS_USAGE', 'filesystem'],
];
