// Models block/bsg.c + drivers/scsi/scsi_bsg.c (Linux 6.1): the bsg char driver (a dynamic major,
// class `bsg`, nodes /dev/bsg/<name>, minors from an IDA) and its SCSI user, which registers one
// node per visible SCSI device and serves SG_IO with the v4 header (struct sg_io_v4, guard 'Q').
//
// bsg.c is built in: bsgInit runs at boot, before any module, and prints its major. scsi_bsg.c is
// part of scsi_mod: scsi_sysfs_add_sdev registers the node right after the class interfaces (sg)
// have seen the device, and __scsi_remove_device unregisters it first — hence a ScsiInterface kept
// at the END of mod.interfaces (ScsiBsg.keepLast), whatever order the modules were loaded in.
//
// The queue/bsg link bsg_register_queue makes when the queue already has a sysfs directory is not
// modelled: for a SCSI device's queue that directory does not exist at registration time (sd and
// sr register their disk's queue later), so the captures never show it.

import { Errno } from '../kernel/errno.ts';
import { Ida } from '../kernel/ida.ts';
import type { FileOps } from '../kernel/fs.ts';
import { KERN_ERR, KERN_INFO, KERN_WARNING } from '../kernel/kernel.ts';
import type { Kernel } from '../kernel/kernel.ts';
import * as uapi from '../kernel/uapi/bsg.ts';
import type { SgIoV4In, SgIoV4Out } from '../kernel/uapi/bsg.ts';
import * as sgApi from '../kernel/uapi/sg.ts';
import type { ScsiInterface, ScsiMod } from '../midlayer/scsi.ts';
import type { ScsiDevice } from '../midlayer/scsi_device.ts';
import { MAX_COMMAND_SIZE } from '../midlayer/scsi_cmnd.ts';
import { scsiExecute } from '../midlayer/scsi_lib.ts';
import { sdevPrintk } from '../midlayer/scsi_logging.ts';
import { Device, powerUnsupported } from '../sysfs/core.ts';

const BSG_DESCRIPTION = 'Block layer SCSI generic (bsg) driver';
const BSG_VERSION = '0.4';
export const BSG_MAX_DEVS = 32768;
const BSG_DEFAULT_CMDS = 64;
/** BLK_DEFAULT_SG_TIMEOUT / BLK_MIN_SG_TIMEOUT (include/linux/blkdev.h), in ms. */
const BLK_DEFAULT_SG_TIMEOUT_MS = 60_000;
const BLK_MIN_SG_TIMEOUT_MS = 7_000;
/** BLK_DEF_MAX_SECTORS: the cap blk_queue_max_hw_sectors puts on a queue's max_sectors. */
const BLK_DEF_MAX_SECTORS = 2560;
/** USER_HZ: SG_SET_TIMEOUT/SG_GET_TIMEOUT count clock ticks of 10 ms. */
const MS_PER_CLOCK_T = 10;
const DRIVER_SENSE = 0x08;
const SAM_STAT_CHECK_CONDITION = 0x02;

/** The per-queue hook bsg calls for SG_IO (≈ bsg_sg_io_fn); the timeout is already resolved. */
export type BsgSgIoFn = (hdr: SgIoV4In, timeoutMs: number) => Promise<SgIoV4Out>;

/** One registered node (≈ struct bsg_device). */
export interface BsgDevice {
  readonly dev: Device;
  readonly minor: number;
  readonly sgIoFn: BsgSgIoFn;
  /** queue_max_bytes of the queue behind the node (caps SG_*_RESERVED_SIZE). */
  readonly queueMaxBytes: number;
  maxQueue: number;
  /** SG_SET_TIMEOUT value in ms; 0 = the block layer default. */
  timeoutMs: number;
  reservedSize: number;
  /** Unregistered: the queue is gone, so commands on a still-open fd fail. */
  dead: boolean;
}

/** block/bsg.c: the class, the major and the minor allocator. One per kernel. */
export class Bsg {
  readonly kernel: Kernel;
  readonly major: number;
  readonly #byMinor = new Map<number, BsgDevice>();
  readonly #minors = new Ida();

  private constructor(kernel: Kernel, major: number) {
    this.kernel = kernel;
    this.major = major;
  }

  /** bsg_init: class `bsg`, a dynamic char major (alloc_chrdev_region), and the boot line. */
  static init(kernel: Kernel): Bsg {
    kernel.dm.cls('bsg');
    let bsg: Bsg | null = null;
    const major = kernel.devs.registerChrdev(0, 'bsg', (minor) => {
      if (!bsg) throw new Errno('ENXIO');
      return bsg.open(minor);
    });
    bsg = new Bsg(kernel, major);
    kernel.printk(KERN_INFO, `${BSG_DESCRIPTION} version ${BSG_VERSION} loaded (major ${major})`);
    return bsg;
  }

  /** bsg_register_queue: the lowest free minor, a class device named `name` under `parent`; null when all minors are taken. */
  registerQueue(parent: Device, name: string, sgIoFn: BsgSgIoFn, queueMaxBytes: number): BsgDevice | null {
    const minor = this.#minors.alloc(BSG_MAX_DEVS);
    if (minor < 0) return null;
    const dev = new Device(name, parent);
    dev.cls = this.kernel.dm.cls('bsg');
    dev.devt = { kind: 'char', major: this.major, minor, devname: `bsg/${name}` };
    // A bsg device never takes part in async suspend/resume (power/async reads "disabled").
    dev.power = { ...powerUnsupported(), async: 'disabled' };
    const bd: BsgDevice = {
      dev,
      minor,
      sgIoFn,
      queueMaxBytes,
      maxQueue: BSG_DEFAULT_CMDS,
      timeoutMs: 0,
      reservedSize: 0x7fffffff,
      dead: false,
    };
    this.#byMinor.set(minor, bd);
    this.kernel.dm.add(dev);
    return bd;
  }

  /** bsg_unregister_queue: the `remove` uevent, the node, and the minor back to the pool. */
  unregisterQueue(bd: BsgDevice): void {
    bd.dead = true;
    this.kernel.dm.del(bd.dev);
    if (this.#byMinor.get(bd.minor) === bd) {
      this.#byMinor.delete(bd.minor);
      this.#minors.free(bd.minor);
    }
  }

  /** The node registered under a minor (tests, tools). */
  device(minor: number): BsgDevice | undefined {
    return this.#byMinor.get(minor);
  }

  /** bsg_open: ENXIO when no node holds that minor any more. */
  open(minor: number): FileOps {
    const bd = this.#byMinor.get(minor);
    if (!bd || bd.dead) throw new Errno('ENXIO');
    return {
      ioctl: (request, arg) => this.#ioctl(bd, request, arg),
    };
  }

  /** bsg_ioctl */
  #ioctl(bd: BsgDevice, request: number, arg: unknown): unknown {
    switch (request) {
      case uapi.SG_GET_COMMAND_Q:
        return bd.maxQueue;
      case uapi.SG_SET_COMMAND_Q: {
        const n = Number(arg);
        if (!Number.isInteger(n) || n < 1) throw new Errno('EINVAL');
        bd.maxQueue = n;
        return 0;
      }
      case sgApi.SG_GET_VERSION_NUM:
        return uapi.BSG_SG_VERSION_NUM;
      case uapi.SCSI_IOCTL_GET_IDLUN:
      case uapi.SCSI_IOCTL_GET_BUS_NUMBER:
        return 0;
      case sgApi.SG_SET_TIMEOUT: {
        const ticks = Number(arg);
        if (!Number.isFinite(ticks)) throw new Errno('EFAULT');
        bd.timeoutMs = Math.max(0, Math.trunc(ticks)) * MS_PER_CLOCK_T;
        return 0;
      }
      case sgApi.SG_GET_TIMEOUT:
        return Math.floor(bd.timeoutMs / MS_PER_CLOCK_T);
      case sgApi.SG_GET_RESERVED_SIZE:
        return Math.min(bd.reservedSize, bd.queueMaxBytes);
      case sgApi.SG_SET_RESERVED_SIZE: {
        const n = Number(arg);
        if (!Number.isFinite(n)) throw new Errno('EFAULT');
        if (n < 0) throw new Errno('EINVAL');
        bd.reservedSize = Math.min(Math.trunc(n), bd.queueMaxBytes);
        return 0;
      }
      case sgApi.SG_EMULATED_HOST:
        return 1;
      case sgApi.SG_IO:
        return this.#sgIo(bd, arg);
      case uapi.SCSI_IOCTL_SEND_COMMAND:
        // The kernel also warns "<comm>: calling unsupported …" (ratelimited); the caller's
        // command name does not reach a driver here, so only the errno is modelled.
        throw new Errno('EINVAL');
      default:
        throw new Errno('ENOTTY');
    }
  }

  /** bsg_sg_io: only a v4 header passes the guard; the timeout is resolved as bsg_timeout does. */
  async #sgIo(bd: BsgDevice, arg: unknown): Promise<SgIoV4Out> {
    if (typeof arg !== 'object' || arg === null) throw new Errno('EFAULT');
    const hdr = arg as Partial<SgIoV4In>;
    // A v3 sg_io_hdr starts with interface_id 'S' where sg_io_v4 has its guard: EINVAL.
    if (hdr.guard !== uapi.BSG_GUARD) throw new Errno('EINVAL');
    if (!(hdr.request instanceof Uint8Array)) throw new Errno('EFAULT');
    if (hdr.doutXferp !== undefined && !(hdr.doutXferp instanceof Uint8Array)) throw new Errno('EFAULT');
    // copy_from_user of a whole struct: a field the caller left out reads as 0.
    const u32 = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? Math.max(0, Math.trunc(v)) >>> 0 : 0);
    const full: SgIoV4In = {
      guard: hdr.guard,
      protocol: u32(hdr.protocol),
      subprotocol: u32(hdr.subprotocol),
      request: hdr.request,
      maxResponseLen: u32(hdr.maxResponseLen),
      ...(hdr.doutXferp ? { doutXferp: hdr.doutXferp } : {}),
      doutXferLen: u32(hdr.doutXferLen),
      dinXferLen: u32(hdr.dinXferLen),
      timeout: u32(hdr.timeout),
      flags: u32(hdr.flags),
    };
    let timeoutMs = BLK_DEFAULT_SG_TIMEOUT_MS;
    if (full.timeout) timeoutMs = full.timeout;
    else if (bd.timeoutMs) timeoutMs = bd.timeoutMs;
    return bd.sgIoFn(full, Math.max(timeoutMs, BLK_MIN_SG_TIMEOUT_MS));
  }
}

/** drivers/scsi/scsi_bsg.c: a bsg node for every visible SCSI device, with the SCSI SG_IO hook. */
export class ScsiBsg implements ScsiInterface {
  readonly name = 'bsg';
  readonly bsg: Bsg;
  readonly #mod: ScsiMod;
  #bidiWarned = false;

  private constructor(mod: ScsiMod, bsg: Bsg) {
    this.#mod = mod;
    this.bsg = bsg;
  }

  /** Hooks bsg into scsi_mod; LUs already visible get their node now. */
  static register(mod: ScsiMod, bsg: Bsg): ScsiBsg {
    const sb = new ScsiBsg(mod, bsg);
    mod.interfaces.push(sb);
    for (const sdev of mod.hosts.flatMap((h) => h.devices)) if (sdev.isVisible) sb.addDev(sdev);
    return sb;
  }

  unregister(): void {
    const mod = this.#mod;
    for (const sdev of mod.hosts.flatMap((h) => h.devices)) this.removeDev(sdev);
    const i = mod.interfaces.indexOf(this);
    if (i >= 0) mod.interfaces.splice(i, 1);
  }

  /**
   * Moves bsg behind every class interface, where scsi_sysfs_add_sdev calls it (after sg's
   * add_dev; removal runs the list backwards, so bsg goes first). Call after registering sg.
   */
  keepLast(): void {
    const list = this.#mod.interfaces;
    const i = list.indexOf(this);
    if (i >= 0 && i !== list.length - 1) {
      list.splice(i, 1);
      list.push(this);
    }
  }

  /** scsi_bsg_register_queue: the node is named after the LU's bus device (H:C:T:L). */
  addDev(sdev: ScsiDevice): void {
    if (sdev.interfaceData.has('bsg')) return;
    const queueMaxBytes = Math.min(sdev.host.maxSectors, BLK_DEF_MAX_SECTORS) * 512;
    const bd = this.bsg.registerQueue(sdev.sdevGendev, sdev.sdevGendev.name, (hdr, t) => this.#sgIoFn(sdev, bd!, hdr, t), queueMaxBytes);
    if (bd) sdev.interfaceData.set('bsg', bd);
    else sdevPrintk(this.#mod, KERN_ERR, sdev, 'bsg: too many bsg devices');
  }

  removeDev(sdev: ScsiDevice): void {
    const bd = ScsiBsg.of(sdev);
    if (!bd) return;
    this.bsg.unregisterQueue(bd);
    sdev.interfaceData.delete('bsg');
  }

  /** The bsg node of a LU, for tools and tests. */
  static of(sdev: ScsiDevice): BsgDevice | undefined {
    return sdev.interfaceData.get('bsg') as BsgDevice | undefined;
  }

  /** scsi_bsg_sg_io_fn: one CDB, never retried, outputs as sg_io_v4 defines them. */
  async #sgIoFn(sdev: ScsiDevice, bd: BsgDevice, hdr: SgIoV4In, timeoutMs: number): Promise<SgIoV4Out> {
    const mod = this.#mod;
    if (hdr.protocol !== uapi.BSG_PROTOCOL_SCSI || hdr.subprotocol !== uapi.BSG_SUB_PROTOCOL_SCSI_CMD) throw new Errno('EINVAL');
    if (hdr.doutXferLen && hdr.dinXferLen) {
      if (!this.#bidiWarned) mod.kernel.printk(KERN_WARNING, 'BIDI support in bsg has been removed.');
      this.#bidiWarned = true;
      throw new Errno('EOPNOTSUPP');
    }
    // The queue is being torn down: allocating a request on it fails.
    if (bd.dead) throw new Errno('ENODEV');
    if (hdr.request.length > MAX_COMMAND_SIZE) throw new Errno('EINVAL');
    // scsi_cmd_allowed: the guest's user is root (CAP_SYS_RAWIO), so every opcode passes.
    let dataOut: Uint8Array | undefined;
    if (hdr.doutXferLen) {
      const src = hdr.doutXferp ?? new Uint8Array(0);
      if (src.length < hdr.doutXferLen) throw new Errno('EFAULT');
      dataOut = src.subarray(0, hdr.doutXferLen);
    }
    const dir = dataOut ? 'to-dev' : hdr.dinXferLen ? 'from-dev' : 'none';
    const r = await scsiExecute(mod, sdev, {
      cdb: hdr.request,
      dir,
      length: dataOut ? dataOut.length : hdr.dinXferLen,
      ...(dataOut ? { dataOut } : {}),
      timeout: timeoutMs / 1000,
      retries: 0,
    });
    const deviceStatus = r.result & 0xff;
    const transportStatus = (r.result >>> 16) & 0xff;
    const driverStatus = r.result >= 0 && (deviceStatus & 0xfe) === SAM_STAT_CHECK_CONDITION ? DRIVER_SENSE : 0;
    // The mid-layer keeps a passthrough command's sense length only when the sense is valid
    // (response code 70h–73h): 8 + additional length, at most the sense buffer.
    const senseValid = r.result !== 0 && r.sense.length >= 8 && (r.sense[0]! & 0x70) === 0x70;
    const senseLen = senseValid ? Math.min(8 + r.sense[7]!, sgApi.SCSI_SENSE_BUFFERSIZE, r.sense.length) : 0;
    const responseLen = Math.min(hdr.maxResponseLen, senseLen);
    // A request without data is a read (REQ_OP_DRV_IN), so its residue lands in din_resid.
    const isRead = dir !== 'to-dev';
    return {
      dinXferp: dir === 'from-dev' ? r.data.slice(0, Math.max(0, hdr.dinXferLen - r.resid)) : new Uint8Array(0),
      response: r.sense.slice(0, responseLen),
      driverStatus,
      transportStatus,
      deviceStatus,
      info: deviceStatus || transportStatus || driverStatus ? sgApi.SG_INFO_CHECK : sgApi.SG_INFO_OK,
      responseLen,
      dinResid: isRead ? r.resid : 0,
      doutResid: isRead ? 0 : r.resid,
    };
  }
}
