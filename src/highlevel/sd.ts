// Models drivers/scsi/sd.c (Linux 6.1): the SCSI disk driver — probe (index, name, device numbers),
// sd_revalidate_disk (spin-up TURs, READ CAPACITY, VPD-derived limits, write protect and cache mode
// pages, REPORT SUPPORTED OPERATION CODES), the scsi_disk class attributes, the read/write/flush
// request path with its failure printing, and the cache flush on removal.
//
// Algorithm of a probe, as the captures show it:
//   TUR (eats the power-on UA) → TUR → READ CAPACITY(16) → MODE SENSE(6) 0x3f/4 → page 8/4 → page 8/len
//   → RSOC (QEMU: 5/20/00, never asked again) → device_add_disk, whose partition scan opens the disk:
//   sd_open revalidates once more (TUR, RC16, VPD 0x00, the three MODE SENSEs, no messages) → the
//   partition-table reads → `Attached SCSI disk`.

import { scsiIoctl } from '../midlayer/scsi_ioctl.ts';
import { Errno } from '../kernel/errno.ts';
import { Ida } from '../kernel/ida.ts';
import type { Kernel } from '../kernel/kernel.ts';
import { KERN_DEBUG, KERN_ERR, KERN_INFO, KERN_NOTICE, KERN_WARNING } from '../kernel/kernel.ts';
import { bdevInit } from '../block/bdev.ts';
import { setHwQueues } from '../block/blk_sysfs.ts';
import type { BlkRequest, BlkStatus, BlockDeviceOperations, BlockLayer, Gendisk } from '../block/genhd.ts';
import { GENHD_FL_REMOVABLE } from '../block/genhd.ts';
import type { ScsiDriver, ScsiMod } from '../midlayer/scsi.ts';
import { ScsiCmnd } from '../midlayer/scsi_cmnd.ts';
import {
  DID_ALLOC_FAILURE,
  DID_BAD_TARGET,
  DID_BUS_BUSY,
  DID_MEDIUM_ERROR,
  DID_NEXUS_FAILURE,
  DID_NO_CONNECT,
  DID_TARGET_FAILURE,
  DID_TRANSPORT_FAILFAST,
  DID_TRANSPORT_MARGINAL,
  SENSE_KEY,
  TYPE_DISK,
  TYPE_MOD,
  TYPE_RBC,
  TYPE_ZBC,
  SCSI_SPC_2,
  SCSI_SPC_3,
  DID_TIME_OUT,
  hostByte,
  hostByteName,
  normalizeSense,
  statusByte,
} from '../midlayer/scsi_common.ts';
import type { SenseHdr } from '../midlayer/scsi_common.ts';
import type { ScsiDevice } from '../midlayer/scsi_device.ts';
import { scsiDeviceSetState, scsiExecute, scsiQueueRq } from '../midlayer/scsi_lib.ts';
import type { EhResult } from '../midlayer/scsi_host.ts';
import { sdevOnline } from '../midlayer/scsi_device_state.ts';
import { sdevFormatHeader } from '../midlayer/constants.ts';
import type { ExecuteResult } from '../midlayer/scsi_lib.ts';
import { sdevPrintk } from '../midlayer/scsi_logging.ts';
import { Device } from '../sysfs/core.ts';
import type { AttrSpec } from '../sysfs/kernfs.ts';
import { printCommand, printResult, printSenseHdr } from './constants.ts';

export const SCSI_DISK0_MAJOR = 8;
export const SD_MINORS = 16;
const SD_TIMEOUT = 30;
/** SD_MOD_TIMEOUT: magneto-optical disks (TYPE_MOD, 0x07) get 75 s. */
const SD_MOD_TIMEOUT = 75;
const SD_TYPE_MOD = TYPE_MOD;
/** scsi_medium_access_command: READ/WRITE (6, 10, 12, 16), VERIFY, WRITE SAME, SYNCHRONIZE CACHE, UNMAP… */
const MEDIUM_ACCESS_OPCODES = new Set([0x08, 0x28, 0xa8, 0x88, 0x0a, 0x2a, 0xaa, 0x8a, 0x35, 0x91, 0x2f, 0xaf, 0x8f, 0x41, 0x93, 0x42, 0x2e, 0xae, 0x8e]);
const SD_MAX_RETRIES = 5;
const SD_DEF_XFER_BLOCKS = 0xffff;
const SD_MAX_XFER_BLOCKS = 0xffffffff;
const SD_MAX_WS10_BLOCKS = 0xffff;
const SD_MAX_WS16_BLOCKS = 0x7fffff;
const BLK_DEF_MAX_SECTORS = 2560;
const SD_BUF_SIZE = 512;
const PAGE_SIZE = 4096;

// ---- numbering (§0 of highlevel.md) ---------------------------------------------------------------

/** sd_major: major index 0 → 8, 1..7 → 65..71, 8..15 → 128..135. */
export function sdMajor(majorIdx: number): number {
  if (majorIdx === 0) return SCSI_DISK0_MAJOR;
  if (majorIdx <= 7) return 64 + majorIdx;
  return 128 + majorIdx - 8;
}

/** All 16 sd majors in registration order. */
export const SD_MAJORS: readonly number[] = Array.from({ length: 16 }, (_, i) => sdMajor(i));

/** Device number of disk `index`: major from bits 4..7, minor from the rest (16 minors per disk). */
export function sdDevt(index: number): { major: number; minor: number } {
  return { major: sdMajor((index & 0xf0) >> 4), minor: ((index & 0xf) << 4) | (index & 0xfff00) };
}

/** sd_format_disk_name: bijective base 26 (sda … sdz, sdaa …). */
export function sdFormatDiskName(index: number, prefix = 'sd'): string {
  let s = '';
  let i = index;
  do {
    s = String.fromCharCode(97 + (i % 26)) + s;
    i = Math.floor(i / 26) - 1;
  } while (i >= 0);
  return prefix + s;
}

/** string_get_size: `67.1 MB` (units 10) or `64.0 MiB` (units 2) for `size` blocks of `blk` bytes. */
export function stringGetSize(size: number, blk: number, units: 2 | 10): string {
  const names = units === 10 ? ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB', 'ZB', 'YB'] : ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB', 'ZiB', 'YiB'];
  const div = units === 10 ? 1000n : 1024n;
  let s = BigInt(size);
  let b = BigInt(blk);
  let i = 0;
  let rem = 0n;
  let tmp = '';
  if (s !== 0n) {
    while (b >> 32n) {
      b /= div;
      i++;
    }
    while (s >> 32n) {
      s /= div;
      i++;
    }
    s *= b;
    while (s >= div) {
      rem = s % div;
      s /= div;
      i++;
    }
    let j = 0;
    for (let sf = s; sf * 10n < 1000n; j++) sf *= 10n;
    if (units === 2) rem = (rem * 1000n) >> 10n;
    rem += [500n, 50n, 5n][j] ?? 0n;
    if (rem >= 1000n) {
      rem -= 1000n;
      s += 1n;
    }
    if (j) tmp = `.${String(rem).padStart(3, '0')}`.slice(0, j + 1);
  }
  return `${s}${tmp} ${names[i] ?? 'UNK'}`;
}

// ---- the disk ---------------------------------------------------------------------------------------

type ProvisioningMode = 'full' | 'unmap' | 'writesame_16' | 'writesame_10' | 'writesame_zero' | 'disabled';
type ZeroingMode = 'write' | 'writesame' | 'writesame_16_unmap' | 'writesame_10_unmap';

export class ScsiDisk {
  readonly sdev: ScsiDevice;
  readonly index: number;
  readonly disk: Gendisk;
  readonly dev: Device;
  /** Capacity in logical blocks. */
  capacity = 0;
  sectorSize = 512;
  physicalBlockSize = 512;
  mediaPresent = true;
  firstScan = true;
  writeProt = false;
  wce = false;
  rcd = false;
  dpofua = false;
  lbpme = false;
  lbprz = false;
  lbpvpd = false;
  lbpu = false;
  lbpws = false;
  lbpws10 = false;
  ws16 = false;
  ws10 = false;
  maxUnmapBlocks = 0;
  unmapGranularity = 0;
  maxWsBlocks = 0;
  maxXferBlocks = 0;
  optXferBlocks = 0;
  minXferBlocks = 0;
  provisioningMode: ProvisioningMode = 'full';
  zeroingMode: ZeroingMode = 'write';
  protectionType = 0;
  maxRetries = SD_MAX_RETRIES;
  maxMediumAccessTimeouts = 2;
  /** Medium-access timeouts whose TUR succeeded, since the last command sd completed. */
  mediumAccessTimedOut = 0;
  /** Set once this error-handler round has counted its timeout (sd_eh_reset clears it). */
  ignoreMediumAccessErrors = false;
  use16ForRw = false;
  openers = 0;

  constructor(sdev: ScsiDevice, index: number, disk: Gendisk, dev: Device) {
    this.sdev = sdev;
    this.index = index;
    this.disk = disk;
    this.dev = dev;
  }

  get name(): string {
    return this.disk.name;
  }
}

export class SdDriver implements ScsiDriver {
  readonly name = 'sd';
  readonly asyncProbe = true;
  readonly #mod: ScsiMod;
  readonly #layer: BlockLayer;
  readonly #indices = new Ida();
  #lastModeSense: ExecuteResult | null = null;

  constructor(mod: ScsiMod) {
    this.#mod = mod;
    this.#layer = bdevInit(mod.kernel);
  }

  /** init_sd: the 16 majors, the scsi_disk class, the driver in scsi_mod's table. */
  static register(mod: ScsiMod): SdDriver {
    const sd = new SdDriver(mod);
    for (const m of SD_MAJORS) sd.#layer.registerBlkdev(m, 'sd');
    mod.kernel.dm.cls('scsi_disk');
    mod.drivers.push(sd);
    driverAttach(mod, sd);
    return sd;
  }

  unregister(): void {
    const mod = this.#mod;
    const i = mod.drivers.indexOf(this);
    if (i >= 0) mod.drivers.splice(i, 1);
    for (const m of SD_MAJORS) this.#layer.unregisterBlkdev(m, 'sd');
  }

  get kernel(): Kernel {
    return this.#mod.kernel;
  }

  match(sdev: ScsiDevice): boolean {
    return [TYPE_DISK, TYPE_MOD, TYPE_RBC, TYPE_ZBC].includes(sdev.type);
  }

  /** The ScsiDisk bound to a device (tests, tools). */
  static of(sdev: ScsiDevice): ScsiDisk | undefined {
    return sdev.driverData instanceof ScsiDisk ? sdev.driverData : undefined;
  }

  #printk(level: number, sdkp: ScsiDisk, text: string): void {
    sdevPrintk(this.#mod, level, sdkp.sdev, `[${sdkp.name}] ${text}`);
  }

  async probe(sdev: ScsiDevice): Promise<'ok' | 'ENODEV'> {
    if (!this.match(sdev)) return 'ENODEV';
    const mod = this.#mod;
    const k = mod.kernel;
    // really_probe sets dev->driver before calling probe, so the probe's messages say `sd`.
    sdev.driver = { name: 'sd' };
    const index = this.#indices.alloc();
    const { major, minor } = sdDevt(index);
    const disk = this.#layer.allocDisk(sdFormatDiskName(index), major, minor, SD_MINORS, this.#fops());
    const dev = new Device(sdev.hctl, sdev.sdevGendev);
    dev.cls = k.dm.cls('scsi_disk');
    const sdkp = new ScsiDisk(sdev, index, disk, dev);
    disk.privateData = sdkp;
    sdev.driverData = sdkp;
    // The gendisk now sits on the LU's request queue: commands log as `[sdX] tag#N`.
    sdev.diskName = disk.name;
    const l = disk.limits;
    l.maxHwSectors = sdev.host.maxSectors;
    l.maxSectors = Math.min(l.maxHwSectors, BLK_DEF_MAX_SECTORS);
    l.maxSegments = Math.min(sdev.host.sgTablesize, 2048);
    // The LU's request queue has one timeout (q->rq_timeout), set here (blk_queue_rq_timeout):
    // the scsi device's sysfs `timeout` and the disk's queue/io_timeout are two views of it.
    sdev.timeout = (sdev.type === SD_TYPE_MOD ? SD_MOD_TIMEOUT : SD_TIMEOUT) * 1e9;
    Object.defineProperty(l, 'timeoutMs', {
      get: () => Math.round(sdev.timeout / 1e6),
      set: (v: number) => {
        sdev.timeout = v * 1e6;
      },
      enumerable: true,
      configurable: true,
    });
    setHwQueues(l, sdev.host.nrHwQueues);
    l.tagDepth = Math.min(sdev.host.canQueue, 256) || 256;
    setHwQueues(l, sdev.host.nrHwQueues);
    k.dm.add(dev, this.#scsiDiskAttrs(sdkp));
    await this.revalidate(sdkp);
    if (sdev.removable) {
      disk.flags |= GENHD_FL_REMOVABLE;
      disk.events = ['media_change'];
    }
    await this.#layer.deviceAddDisk(sdev.sdevGendev, disk);
    this.#printk(KERN_NOTICE, sdkp, sdev.removable ? 'Attached SCSI removable disk' : 'Attached SCSI disk');
    return 'ok';
  }

  async remove(sdev: ScsiDevice): Promise<void> {
    const sdkp = SdDriver.of(sdev);
    if (!sdkp) return;
    this.#mod.kernel.dm.del(sdkp.dev);
    this.#layer.delGendisk(sdkp.disk);
    await this.shutdown(sdkp);
    this.#indices.free(sdkp.index);
    sdev.driverData = null;
    sdev.diskName = null;
  }

  async rescan(sdev: ScsiDevice): Promise<void> {
    const sdkp = SdDriver.of(sdev);
    if (sdkp) await this.revalidate(sdkp);
  }

  /** sd_shutdown: flush a write-back cache before the disk goes away. */
  async shutdown(sdkp: ScsiDisk): Promise<void> {
    if (sdkp.wce && sdkp.mediaPresent) {
      this.#printk(KERN_NOTICE, sdkp, 'Synchronizing SCSI cache');
      await this.syncCache(sdkp);
    }
  }

  /** sd_sync_cache: up to 3 attempts, then the failure lines (racing a disconnect is not an error). */
  async syncCache(sdkp: ScsiDisk): Promise<'ok' | 'EIO' | 'EBUSY'> {
    let r: ExecuteResult | null = null;
    for (let tries = 3; tries > 0; tries--) {
      r = await this.#exec(sdkp, [0x35, 0, 0, 0, 0, 0, 0, 0, 0, 0], 0, 2 * SD_TIMEOUT);
      if (r.result === 0) return 'ok';
    }
    const res = r!;
    this.#printResultLine(sdkp, 'Synchronize Cache(10) failed', res.result);
    if (statusByte(res.result) === 2 && res.sshdr) {
      printSenseHdr(this.#mod, sdkp.sdev, sdkp.name, -1, res.sshdr);
      if (res.sshdr.asc === 0x3a || res.sshdr.asc === 0x20 || (res.sshdr.asc === 0x74 && res.sshdr.ascq === 0x71)) return 'ok';
    }
    switch (hostByte(res.result)) {
      case DID_BAD_TARGET:
      case DID_NO_CONNECT:
        return 'ok';
      case DID_BUS_BUSY:
        return 'EBUSY';
      default:
        return 'EIO';
    }
  }

  #printResultLine(sdkp: ScsiDisk, msg: string, result: number): void {
    this.#printk(KERN_INFO, sdkp, `${msg}: Result: hostbyte=${hostByteName(hostByte(result))} driverbyte=DRIVER_OK`);
  }

  #exec(sdkp: ScsiDisk, cdb: number[], inLen: number, timeout = SD_TIMEOUT, retries = sdkp.maxRetries): Promise<ExecuteResult> {
    return scsiExecute(this.#mod, sdkp.sdev, { cdb, dir: inLen > 0 ? 'from-dev' : 'none', length: inLen, timeout, retries });
  }

  // ---- sd_revalidate_disk ----------------------------------------------------------------------

  async revalidate(sdkp: ScsiDisk): Promise<void> {
    const sdev = sdkp.sdev;
    if (sdev.state === 'offline' || sdev.state === 'transport-offline') return;
    await this.#spinup(sdkp);
    const l = sdkp.disk.limits;
    if (sdkp.mediaPresent) {
      const oldCapacity = sdkp.capacity;
      await this.#readCapacity(sdkp);
      l.rotational = true;
      l.addRandom = true;
      if (sdev.vpd.size > 0) {
        this.#readBlockProvisioning(sdkp);
        this.#readBlockLimits(sdkp);
        this.#readBlockCharacteristics(sdkp);
        await this.#readCpr(sdkp);
      }
      this.#printCapacity(sdkp, oldCapacity);
      await this.#readWriteProtectFlag(sdkp);
      await this.#readCacheType(sdkp);
      await this.#readWriteSame(sdkp);
    }
    l.writeCache = sdkp.wce;
    l.fua = sdkp.wce && sdkp.dpofua;
    // Transfer limits.
    let devMax = sdkp.use16ForRw ? SD_MAX_XFER_BLOCKS : SD_DEF_XFER_BLOCKS;
    if (sdkp.maxXferBlocks) devMax = Math.min(devMax, sdkp.maxXferBlocks);
    const per = sdkp.sectorSize / 512;
    l.maxDevSectors = devMax * per;
    let rwMax: number;
    if (this.#validateOptXferSize(sdkp, devMax)) {
      l.ioOpt = sdkp.optXferBlocks * sdkp.sectorSize;
      rwMax = sdkp.optXferBlocks * per;
    } else {
      l.ioOpt = 0;
      rwMax = Math.min(devMax * per, BLK_DEF_MAX_SECTORS);
    }
    rwMax = Math.min(rwMax, l.maxHwSectors);
    if (sdkp.firstScan || l.maxSectors > l.maxDevSectors || l.maxSectors > l.maxHwSectors) l.maxSectors = rwMax;
    l.ioMin = Math.max(sdkp.minXferBlocks * sdkp.sectorSize, sdkp.sectorSize, sdkp.physicalBlockSize);
    this.#layer.setCapacityAndNotify(sdkp.disk, sdkp.capacity * per);
    this.#configWriteSame(sdkp);
    sdkp.firstScan = false;
  }

  /** sd_spinup_disk, reduced: the TUR loop; spinning a stopped disk up is not modelled. */
  async #spinup(sdkp: ScsiDisk): Promise<void> {
    let r: ExecuteResult;
    let tries = 0;
    do {
      const wasPresent = sdkp.mediaPresent;
      r = await this.#exec(sdkp, [0, 0, 0, 0, 0, 0], 0);
      if (this.#mediaNotPresent(sdkp, r.sshdr)) {
        if (wasPresent) this.#printk(KERN_NOTICE, sdkp, 'Media removed, stopped polling');
        return;
      }
      tries++;
    } while (tries < 3 && (r.result !== 0 || (statusByte(r.result) === 2 && r.sshdr?.senseKey === SENSE_KEY.UNIT_ATTENTION)));
    if (statusByte(r.result) !== 2) {
      if (r.result !== 0) this.#printResultLine(sdkp, 'Test Unit Ready failed', r.result);
      return;
    }
    if (r.sshdr && r.sshdr.senseKey !== SENSE_KEY.UNIT_ATTENTION && r.sshdr.senseKey !== SENSE_KEY.NOT_READY) {
      this.#printk(KERN_NOTICE, sdkp, 'Unit Not Ready');
      printSenseHdr(this.#mod, sdkp.sdev, sdkp.name, -1, r.sshdr);
    }
  }

  #mediaNotPresent(sdkp: ScsiDisk, sshdr: SenseHdr | null): boolean {
    if (!sshdr) return false;
    if ((sshdr.senseKey === SENSE_KEY.UNIT_ATTENTION || sshdr.senseKey === SENSE_KEY.NOT_READY) && sshdr.asc === 0x3a) {
      sdkp.mediaPresent = false;
      sdkp.capacity = 0;
      return true;
    }
    sdkp.mediaPresent = true;
    return false;
  }

  async #readCapacity(sdkp: ScsiDisk): Promise<void> {
    const sdev = sdkp.sdev;
    const rc16First = sdev.host.maxCmdLen >= 16 && (sdev.scsiLevel > SCSI_SPC_2);
    let sectorSize: number | 'ENODEV' | 'EINVAL' = 'EINVAL';
    if (rc16First) {
      sectorSize = await this.#readCapacity16(sdkp);
      if (sectorSize === 'ENODEV') return;
      if (sectorSize === 'EINVAL') sectorSize = await this.#readCapacity10(sdkp);
    } else {
      sectorSize = await this.#readCapacity10(sdkp);
    }
    if (typeof sectorSize !== 'number') return;
    if (sectorSize === 0) {
      sectorSize = 512;
      this.#printk(KERN_NOTICE, sdkp, 'Sector size 0 reported, assuming 512.');
    }
    if (![512, 1024, 2048, 4096].includes(sectorSize)) {
      this.#printk(KERN_NOTICE, sdkp, `Unsupported sector size ${sectorSize}.`);
      sdkp.capacity = 0;
      sectorSize = 512;
    }
    sdkp.sectorSize = sectorSize;
    const l = sdkp.disk.limits;
    l.logicalBlockSize = sectorSize;
    l.physicalBlockSize = Math.max(sdkp.physicalBlockSize, sectorSize);
    if (sdkp.capacity > 0xffffffff) sdkp.use16ForRw = true;
  }

  async #readCapacity16(sdkp: ScsiDisk): Promise<number | 'ENODEV' | 'EINVAL'> {
    let retries = 3;
    let resetRetries = 10;
    let r: ExecuteResult;
    do {
      r = await this.#exec(sdkp, [0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0], 32);
      if (this.#mediaNotPresent(sdkp, r.sshdr)) return 'ENODEV';
      if (r.result !== 0 && r.sshdr) {
        const s = r.sshdr;
        if (s.senseKey === SENSE_KEY.ILLEGAL_REQUEST && (s.asc === 0x20 || s.asc === 0x24) && s.ascq === 0) return 'EINVAL';
        if (s.senseKey === SENSE_KEY.UNIT_ATTENTION && s.asc === 0x29 && s.ascq === 0 && --resetRetries > 0) continue;
      }
      retries--;
    } while (r.result !== 0 && retries > 0);
    if (r.result !== 0) {
      this.#printResultLine(sdkp, 'Read Capacity(16) failed', r.result);
      this.#readCapacityError(sdkp, r);
      return 'EINVAL';
    }
    const b = r.data;
    const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
    const sectorSize = dv.getUint32(8);
    const lba = Number(dv.getBigUint64(0));
    sdkp.physicalBlockSize = (1 << (b[13]! & 0xf)) * sectorSize;
    const alignment = (((b[14]! & 0x3f) << 8) | b[15]!) * sectorSize;
    sdkp.disk.limits.alignmentOffset = alignment;
    if (alignment && sdkp.firstScan) this.#printk(KERN_NOTICE, sdkp, `physical block alignment offset: ${alignment}`);
    if (b[14]! & 0x80) {
      sdkp.lbpme = true;
      if (b[14]! & 0x40) sdkp.lbprz = true;
      this.#configDiscard(sdkp, 'writesame_16');
    }
    sdkp.capacity = lba + 1;
    return sectorSize;
  }

  async #readCapacity10(sdkp: ScsiDisk): Promise<number | 'ENODEV' | 'EINVAL'> {
    let retries = 3;
    let r: ExecuteResult;
    do {
      r = await this.#exec(sdkp, [0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0], 8);
      if (this.#mediaNotPresent(sdkp, r.sshdr)) return 'ENODEV';
      retries--;
    } while (r.result !== 0 && retries > 0);
    if (r.result !== 0) {
      this.#printResultLine(sdkp, 'Read Capacity(10) failed', r.result);
      this.#readCapacityError(sdkp, r);
      return 'EINVAL';
    }
    const dv = new DataView(r.data.buffer, r.data.byteOffset, r.data.byteLength);
    const lba = dv.getUint32(0);
    const sectorSize = dv.getUint32(4);
    sdkp.capacity = lba + 1;
    sdkp.physicalBlockSize = sectorSize;
    return sectorSize;
  }

  #readCapacityError(sdkp: ScsiDisk, r: ExecuteResult): void {
    if (r.sshdr) printSenseHdr(this.#mod, sdkp.sdev, sdkp.name, -1, r.sshdr);
    else this.#printk(KERN_NOTICE, sdkp, 'Sense not available.');
    sdkp.capacity = 0;
  }

  #configDiscard(sdkp: ScsiDisk, mode: ProvisioningMode): void {
    const l = sdkp.disk.limits;
    l.discardGranularity = Math.max(sdkp.physicalBlockSize, sdkp.unmapGranularity * sdkp.sectorSize);
    sdkp.provisioningMode = mode;
    let maxBlocks = 0;
    const minNz = (a: number, b: number): number => (a === 0 ? b : b === 0 ? a : Math.min(a, b));
    switch (mode) {
      case 'full':
      case 'disabled':
        break;
      case 'unmap':
        maxBlocks = minNz(sdkp.maxUnmapBlocks, SD_MAX_WS16_BLOCKS);
        break;
      case 'writesame_16':
        maxBlocks = minNz(sdkp.maxWsBlocks, SD_MAX_WS16_BLOCKS);
        break;
      case 'writesame_10':
      case 'writesame_zero':
        maxBlocks = minNz(sdkp.maxWsBlocks, SD_MAX_WS10_BLOCKS);
        break;
    }
    l.maxHwDiscardSectors = maxBlocks * (sdkp.sectorSize / 512);
    l.maxDiscardSectors = l.maxHwDiscardSectors;
  }

  /** sd_read_block_provisioning: VPD B2 (only with LBPME). */
  #readBlockProvisioning(sdkp: ScsiDisk): void {
    if (!sdkp.lbpme) return;
    const b = sdkp.sdev.vpd.get(0xb2);
    if (!b || b.length < 8) return;
    sdkp.lbpvpd = true;
    sdkp.lbpu = (b[5]! & 0x80) !== 0;
    sdkp.lbpws = (b[5]! & 0x40) !== 0;
    sdkp.lbpws10 = (b[5]! & 0x20) !== 0;
  }

  /** sd_read_block_limits: VPD B0. */
  #readBlockLimits(sdkp: ScsiDisk): void {
    const b = sdkp.sdev.vpd.get(0xb0);
    if (!b || b.length < 16) return;
    const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
    sdkp.minXferBlocks = dv.getUint16(6);
    sdkp.maxXferBlocks = dv.getUint32(8);
    sdkp.optXferBlocks = dv.getUint32(12);
    if (b.length >= 64) {
      sdkp.maxWsBlocks = Number(dv.getBigUint64(36) & 0xffffffffn);
      if (sdkp.lbpme) {
        sdkp.maxUnmapBlocks = dv.getUint32(20);
        sdkp.unmapGranularity = dv.getUint32(28);
        if (!sdkp.lbpvpd) this.#configDiscard(sdkp, sdkp.maxUnmapBlocks ? 'unmap' : 'writesame_16');
        else if (sdkp.lbpu && sdkp.maxUnmapBlocks) this.#configDiscard(sdkp, 'unmap');
        else if (sdkp.lbpws) this.#configDiscard(sdkp, 'writesame_16');
        else if (sdkp.lbpws10) this.#configDiscard(sdkp, 'writesame_10');
        else this.#configDiscard(sdkp, 'disabled');
      }
    }
  }

  /** sd_read_block_characteristics: VPD B1 rotation rate 1 = non-rotational. */
  #readBlockCharacteristics(sdkp: ScsiDisk): void {
    const b = sdkp.sdev.vpd.get(0xb1);
    if (!b || b.length < 8) return;
    if (((b[4]! << 8) | b[5]!) === 1) {
      sdkp.disk.limits.rotational = false;
      sdkp.disk.limits.addRandom = false;
    }
  }

  /** sd_read_cpr: not on the first scan; asks which VPD pages exist (0xb9 is not among QEMU's). */
  async #readCpr(sdkp: ScsiDisk): Promise<void> {
    if (sdkp.firstScan) return;
    const r = await this.#exec(sdkp, [0x12, 0x01, 0x00, 0x00, 36, 0x00], 36);
    if (r.result !== 0) return;
    const n = Math.min(r.data[3] ?? 0, r.data.length - 4);
    if (![...r.data.subarray(4, 4 + n)].includes(0xb9)) return;
  }

  #printCapacity(sdkp: ScsiDisk, oldCapacity: number): void {
    if (!sdkp.firstScan && oldCapacity === sdkp.capacity) return;
    const s10 = stringGetSize(sdkp.capacity, sdkp.sectorSize, 10);
    const s2 = stringGetSize(sdkp.capacity, sdkp.sectorSize, 2);
    this.#printk(KERN_NOTICE, sdkp, `${sdkp.capacity} ${sdkp.sectorSize}-byte logical blocks: (${s10}/${s2})`);
    if (sdkp.physicalBlockSize !== sdkp.sectorSize) this.#printk(KERN_NOTICE, sdkp, `${sdkp.physicalBlockSize}-byte physical blocks`);
  }

  /** scsi_mode_sense with MODE SENSE(6); returns the header fields or null. */
  async #modeSense(sdkp: ScsiDisk, dbd: number, page: number, len: number): Promise<{ r: ExecuteResult; length: number; deviceSpecific: number; bdLen: number } | null> {
    const r = await this.#exec(sdkp, [0x1a, dbd, page, 0, Math.max(len, 4), 0], Math.max(len, 4));
    this.#lastModeSense = r;
    if (r.result !== 0) return null;
    const b = r.data;
    return { r, length: b[0]! + 1, deviceSpecific: b[2]!, bdLen: b[3]! };
  }

  async #readWriteProtectFlag(sdkp: ScsiDisk): Promise<void> {
    const oldWp = sdkp.writeProt;
    let ms = sdkp.sdev.skipMsPage3f ? null : await this.#modeSense(sdkp, 0, 0x3f, 4);
    if (!ms && !sdkp.sdev.skipMsPage3f) ms = await this.#modeSense(sdkp, 0, 0x00, 4);
    if (!ms) ms = await this.#modeSense(sdkp, 0, 0x3f, 255);
    if (!ms) {
      this.#printk(KERN_ERR, sdkp, 'Test WP failed, assume Write Enabled');
      return;
    }
    sdkp.writeProt = (ms.deviceSpecific & 0x80) !== 0;
    sdkp.disk.ro = sdkp.writeProt;
    if (sdkp.firstScan || oldWp !== sdkp.writeProt) {
      this.#printk(KERN_NOTICE, sdkp, `Write Protect is ${sdkp.writeProt ? 'on' : 'off'}`);
      const hdr = [...ms.r.data.subarray(0, 4)].map((x) => x.toString(16).padStart(2, '0')).join(' ');
      this.#printk(KERN_DEBUG, sdkp, `Mode Sense: ${hdr}`);
    }
  }

  async #readCacheType(sdkp: ScsiDisk): Promise<void> {
    const old = [sdkp.wce, sdkp.rcd, sdkp.dpofua];
    const rbc = sdkp.sdev.type === TYPE_RBC;
    const wanted = rbc ? 6 : 8;
    const dbd = rbc ? 8 : 0;
    const first = 4;
    let ms = await this.#modeSense(sdkp, dbd, wanted, first);
    let failed = !ms;
    if (ms) {
      let len = ms.length;
      if (len > SD_BUF_SIZE) {
        this.#printk(KERN_NOTICE, sdkp, `Truncating mode parameter data from ${len} to ${SD_BUF_SIZE} bytes`);
        len = SD_BUF_SIZE;
      }
      if (len > first) ms = await this.#modeSense(sdkp, dbd, wanted, len);
      failed = !ms;
      if (ms) {
        const b = ms.r.data;
        const n = Math.min(len, b.length);
        if (n < 4) {
          this.#printk(KERN_ERR, sdkp, 'Missing header in MODE_SENSE response');
          return this.#cacheDefaults(sdkp, old);
        }
        let off = 4 + ms.bdLen;
        let found = -1;
        while (off < n) {
          const code = b[off]! & 0x3f;
          const spf = b[off]! & 0x40;
          if (code === 8 || code === 6) {
            if (n - off <= 2) {
              this.#printk(KERN_ERR, sdkp, 'Incomplete mode parameter data');
              return this.#cacheDefaults(sdkp, old);
            }
            found = off;
            break;
          }
          if (spf && n - off > 3) off += 4 + ((b[off + 2]! << 8) | b[off + 3]!);
          else if (!spf && n - off > 1) off += 2 + b[off + 1]!;
          else {
            this.#printk(KERN_ERR, sdkp, 'Incomplete mode parameter data');
            return this.#cacheDefaults(sdkp, old);
          }
        }
        if (found < 0) {
          this.#printk(KERN_NOTICE, sdkp, 'No Caching mode page found');
          return this.#cacheDefaults(sdkp, old);
        }
        if ((b[found]! & 0x3f) === 8) {
          sdkp.wce = (b[found + 2]! & 0x04) !== 0;
          sdkp.rcd = (b[found + 2]! & 0x01) !== 0;
        } else {
          sdkp.wce = (b[found + 2]! & 0x01) === 0;
          sdkp.rcd = false;
        }
        sdkp.dpofua = (ms.deviceSpecific & 0x10) !== 0;
        if (sdkp.wce && sdkp.writeProt) sdkp.wce = false;
        if (sdkp.firstScan || old[0] !== sdkp.wce || old[1] !== sdkp.rcd || old[2] !== sdkp.dpofua) {
          this.#printk(
            KERN_NOTICE,
            sdkp,
            `Write cache: ${sdkp.wce ? 'enabled' : 'disabled'}, read cache: ${sdkp.rcd ? 'disabled' : 'enabled'}, ${sdkp.dpofua ? 'supports DPO and FUA' : "doesn't support DPO or FUA"}`,
          );
        }
        return;
      }
    }
    if (failed && sdkp.firstScan) {
      const s = this.#lastModeSense?.sshdr;
      if (s && s.senseKey === SENSE_KEY.ILLEGAL_REQUEST && s.asc === 0x24 && s.ascq === 0) this.#printk(KERN_NOTICE, sdkp, 'Cache data unavailable');
      else this.#printk(KERN_ERR, sdkp, 'Asking for cache data failed');
    }
    this.#cacheDefaults(sdkp, old);
  }

  #cacheDefaults(sdkp: ScsiDisk, _old: boolean[]): void {
    if (sdkp.firstScan) this.#printk(KERN_WARNING, sdkp, 'Assuming drive cache: write through');
    sdkp.wce = false;
    sdkp.rcd = false;
    sdkp.dpofua = false;
  }

  /** sd_read_write_same: RSOC for INQUIRY; ILLEGAL REQUEST 20/24 → no_report_opcodes, never asked again. */
  async #readWriteSame(sdkp: ScsiDisk): Promise<void> {
    const sdev = sdkp.sdev;
    const report = async (opcode: number, cdbLen: number): Promise<number> => {
      if (sdev.noReportOpcodes || sdev.scsiLevel < SCSI_SPC_3) return -1;
      const len = 4 + cdbLen;
      const r = await this.#exec(sdkp, [0xa3, 0x0c, 0x01, opcode, 0, 0, (len >>> 24) & 0xff, (len >>> 16) & 0xff, (len >>> 8) & 0xff, len & 0xff, 0, 0], len, SD_TIMEOUT, 3);
      if (r.result !== 0) {
        if (r.sshdr?.senseKey === SENSE_KEY.ILLEGAL_REQUEST && (r.sshdr.asc === 0x20 || r.sshdr.asc === 0x24)) return -1;
        return 0;
      }
      return (r.data[1]! & 3) === 3 ? 1 : 0;
    };
    if ((await report(0x12, 6)) < 0) sdev.noReportOpcodes = true;
    if ((await report(0x93, 16)) === 1) sdkp.ws16 = true;
    if ((await report(0x41, 10)) === 1) sdkp.ws10 = true;
  }

  #configWriteSame(sdkp: ScsiDisk): void {
    const minNz = (a: number, b: number): number => (a === 0 ? b : b === 0 ? a : Math.min(a, b));
    if (sdkp.maxWsBlocks > SD_MAX_WS10_BLOCKS) sdkp.maxWsBlocks = minNz(sdkp.maxWsBlocks, SD_MAX_WS16_BLOCKS);
    else if (sdkp.ws16 || sdkp.ws10 || sdkp.sdev.noReportOpcodes) sdkp.maxWsBlocks = minNz(sdkp.maxWsBlocks, SD_MAX_WS10_BLOCKS);
    else sdkp.maxWsBlocks = 0;
    if (sdkp.lbprz && sdkp.lbpws) sdkp.zeroingMode = 'writesame_16_unmap';
    else if (sdkp.lbprz && sdkp.lbpws10) sdkp.zeroingMode = 'writesame_10_unmap';
    else if (sdkp.maxWsBlocks) sdkp.zeroingMode = 'writesame';
    else sdkp.zeroingMode = 'write';
    sdkp.disk.limits.maxWriteZeroesSectors = sdkp.maxWsBlocks * (sdkp.sectorSize / 512);
  }

  #validateOptXferSize(sdkp: ScsiDisk, devMax: number): boolean {
    const opt = sdkp.optXferBlocks;
    if (opt === 0) return false;
    const bytes = opt * sdkp.sectorSize;
    if (opt > devMax) {
      this.#printk(KERN_WARNING, sdkp, `Optimal transfer size ${opt} logical blocks > dev_max (${devMax} logical blocks)`);
      return false;
    }
    if (opt > SD_DEF_XFER_BLOCKS) {
      this.#printk(KERN_WARNING, sdkp, `Optimal transfer size ${opt} logical blocks > sd driver limit (${SD_DEF_XFER_BLOCKS} logical blocks)`);
      return false;
    }
    if (bytes < PAGE_SIZE) {
      this.#printk(KERN_WARNING, sdkp, `Optimal transfer size ${bytes} bytes < PAGE_SIZE (${PAGE_SIZE} bytes)`);
      return false;
    }
    if (bytes % sdkp.physicalBlockSize) {
      this.#printk(KERN_WARNING, sdkp, `Optimal transfer size ${bytes} bytes not a multiple of physical block size (${sdkp.physicalBlockSize} bytes)`);
      return false;
    }
    return true;
  }

  // ---- request path ----------------------------------------------------------------------------

  #fops(): BlockDeviceOperations {
    return {
      submit: (disk, req) => this.#queueRq(disk.privateData as ScsiDisk, req),
      open: async (disk) => {
        const sdkp = disk.privateData as ScsiDisk;
        if (sdkp.sdev.state === 'deleted' || sdkp.sdev.state === 'offline') throw new Errno('ENXIO');
        if (disk.needPartScan) await this.revalidate(sdkp);
        if (sdkp.sdev.removable && !sdkp.mediaPresent) throw new Errno('ENOMEDIUM');
        sdkp.openers++;
      },
      release: (disk) => {
        (disk.privateData as ScsiDisk).openers--;
      },
      ioctl: (disk, request, arg) => scsiIoctl(this.#mod, (disk.privateData as ScsiDisk).sdev, request, arg),
    };
  }

  /** sd_init_command + scsi_io_completion, one request at a time. */
  #queueRq(sdkp: ScsiDisk, req: BlkRequest): Promise<BlkStatus> {
    const mod = this.#mod;
    const per = sdkp.sectorSize / 512;
    const cmd = new ScsiCmnd(sdkp.sdev);
    const lba = Math.floor(req.sector / per);
    const blocks = Math.floor(req.nrSectors / per);
    switch (req.op) {
      case 'READ':
      case 'WRITE': {
        const write = req.op === 'WRITE';
        if (sdkp.use16ForRw || lba > 0xffffffff || blocks > 0xffff) {
          const c = new Uint8Array(16);
          c[0] = write ? 0x8a : 0x88;
          new DataView(c.buffer).setBigUint64(2, BigInt(lba));
          new DataView(c.buffer).setUint32(10, blocks);
          cmd.setCdb(c);
        } else {
          cmd.setCdb([write ? 0x2a : 0x28, 0, (lba >>> 24) & 0xff, (lba >>> 16) & 0xff, (lba >>> 8) & 0xff, lba & 0xff, 0, (blocks >>> 8) & 0xff, blocks & 0xff, 0]);
        }
        cmd.dir = write ? 'to-dev' : 'from-dev';
        cmd.sgl = req.buf !== null ? [{ addr: req.buf, len: req.nrSectors * 512 }] : [];
        cmd.length = req.nrSectors * 512;
        cmd.timeout = sdkp.disk.limits.timeoutMs * 1e6;
        break;
      }
      case 'FLUSH':
        cmd.setCdb([0x35, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        cmd.timeout = 2 * sdkp.disk.limits.timeoutMs * 1e6;
        break;
      default:
        return Promise.resolve('NOTSUPP');
    }
    cmd.allowed = sdkp.maxRetries;
    cmd.jiffiesAtAlloc = mod.kernel.loop.now();
    return scsiQueueRq(mod, cmd).then((c) => this.#ioCompletion(sdkp, c, req.quiet ?? false));
  }

  /** sd_eh_reset: a new error-handler round may count a medium-access timeout again. */
  ehReset(cmd: ScsiCmnd): void {
    const sdkp = cmd.device.driverData as ScsiDisk | null;
    if (sdkp) sdkp.ignoreMediumAccessErrors = false;
  }

  /**
   * sd_eh_action: a medium-access command that timed out although the device then passed TEST UNIT
   * READY counts; at max_medium_access_timeouts the disk goes offline.
   */
  ehAction(cmd: ScsiCmnd, disp: EhResult): EhResult {
    const sdev = cmd.device;
    const sdkp = sdev.driverData as ScsiDisk | null;
    if (!sdkp || !sdevOnline(sdev.state) || !MEDIUM_ACCESS_OPCODES.has(cmd.cmnd[0]!) || hostByte(cmd.result) !== DID_TIME_OUT || disp !== 'SUCCESS') return disp;
    if (!sdkp.ignoreMediumAccessErrors) {
      sdkp.mediumAccessTimedOut++;
      sdkp.ignoreMediumAccessErrors = true;
    }
    if (sdkp.mediumAccessTimedOut >= sdkp.maxMediumAccessTimeouts) {
      sdevPrintk(this.#mod, KERN_ERR, sdev, sdevFormatHeader(sdkp.name, cmd.tag) + 'Medium access timeout failure. Offlining disk!');
      scsiDeviceSetState(sdev, 'offline');
      return 'SUCCESS';
    }
    return disp;
  }

  /** scsi_io_completion: the block status and, on failure, the four log lines. */
  #ioCompletion(sdkp: ScsiDisk, cmd: ScsiCmnd, quiet: boolean): BlkStatus {
    // sd_done: any completion ends a run of medium-access timeouts.
    sdkp.mediumAccessTimedOut = 0;
    if (cmd.result === 0) return 'OK';
    const sshdr = normalizeSense(cmd.senseBuffer, cmd.senseBuffer.length);
    if (statusByte(cmd.result) === 2 && sshdr && hostByte(cmd.result) === 0 && sshdr.senseKey === SENSE_KEY.RECOVERED_ERROR) return 'OK';
    const st = scsiResultToBlkStatus(cmd);
    if (!quiet) {
      printResult(this.#mod, cmd, sdkp.name, 'FAILED');
      if (sshdr && statusByte(cmd.result) === 2) printSenseHdr(this.#mod, cmd.device, sdkp.name, cmd.tag, sshdr);
      printCommand(this.#mod, cmd, sdkp.name);
    }
    return st;
  }

  // ---- scsi_disk class attributes (§1.6; the 6.1.192 set) ---------------------------------------

  #scsiDiskAttrs(sdkp: ScsiDisk): AttrSpec[] {
    const CACHE_TYPES = ['write through', 'none', 'write back', 'write back, no read (daft)'];
    const boolStore = (set: (v: boolean) => void) => (t: string) => {
      const v = t.trim();
      if (!['0', '1', 'y', 'n', 'Y', 'N', 'on', 'off'].includes(v)) throw new Errno('EINVAL');
      set(v === '1' || v === 'y' || v === 'Y' || v === 'on');
    };
    const ro = (name: string, show: () => string): AttrSpec => ({ name, mode: 0o444, show: () => `${show()}\n` });
    return [
      { name: 'FUA', mode: 0o444, show: () => `${sdkp.dpofua ? 1 : 0}\n` },
      { name: 'allow_restart', mode: 0o644, show: () => `${sdkp.sdev.allowRestart ? 1 : 0}\n`, store: boolStore((v) => (sdkp.sdev.allowRestart = v)) },
      ro('app_tag_own', () => '0'),
      {
        name: 'cache_type',
        mode: 0o644,
        show: () => `${CACHE_TYPES[(sdkp.rcd ? 1 : 0) + 2 * (sdkp.wce ? 1 : 0)]}\n`,
        store: (t) => {
          let v = t.trim();
          const temporary = v.startsWith('temporary ');
          if (temporary) v = v.slice('temporary '.length);
          const ct = CACHE_TYPES.indexOf(v);
          if (ct < 0 || ![TYPE_DISK, TYPE_ZBC].includes(sdkp.sdev.type)) throw new Errno('EINVAL');
          if (!temporary) throw new Errno('EINVAL');
          sdkp.wce = ct >= 2;
          sdkp.rcd = (ct & 1) === 1;
          sdkp.disk.limits.writeCache = sdkp.wce;
        },
      },
      { name: 'manage_runtime_start_stop', mode: 0o644, show: () => '0\n', store: boolStore(() => {}) },
      { name: 'manage_shutdown', mode: 0o644, show: () => '0\n', store: boolStore(() => {}) },
      ro('manage_start_stop', () => '0'),
      { name: 'manage_system_start_stop', mode: 0o644, show: () => '0\n', store: boolStore(() => {}) },
      {
        name: 'max_medium_access_timeouts',
        mode: 0o644,
        show: () => `${sdkp.maxMediumAccessTimeouts}\n`,
        store: (t) => {
          const v = Number(t.trim());
          if (!Number.isInteger(v) || v < 0) throw new Errno('EINVAL');
          sdkp.maxMediumAccessTimeouts = v;
        },
      },
      {
        name: 'max_retries',
        mode: 0o644,
        show: () => `${sdkp.maxRetries}\n`,
        store: (t) => {
          const v = Number(t.trim());
          if (!Number.isInteger(v)) throw new Errno('EINVAL');
          if (v < -1 || v > SD_MAX_RETRIES) {
            this.#printk(KERN_ERR, sdkp, `max_retries must be between -1 and ${SD_MAX_RETRIES}`);
            throw new Errno('EINVAL');
          }
          sdkp.maxRetries = v;
        },
      },
      {
        name: 'max_write_same_blocks',
        mode: 0o644,
        show: () => `${sdkp.maxWsBlocks}\n`,
        store: (t) => {
          const v = Number(t.trim());
          if (!Number.isInteger(v) || v < 0 || v > SD_MAX_WS16_BLOCKS) throw new Errno('EINVAL');
          sdkp.maxWsBlocks = v;
          this.#configWriteSame(sdkp);
        },
      },
      ro('protection_mode', () => (sdkp.protectionType ? `dif${sdkp.protectionType}` : 'none')),
      {
        name: 'protection_type',
        mode: 0o644,
        show: () => `${sdkp.protectionType}\n`,
        store: (t) => {
          const v = Number(t.trim());
          if (!Number.isInteger(v) || v < 0 || v > 3) throw new Errno('EINVAL');
          sdkp.protectionType = v;
        },
      },
      {
        name: 'provisioning_mode',
        mode: 0o644,
        show: () => `${sdkp.provisioningMode}\n`,
        store: (t) => {
          const v = t.trim() as ProvisioningMode;
          if (!['full', 'unmap', 'writesame_16', 'writesame_10', 'writesame_zero', 'disabled'].includes(v)) throw new Errno('EINVAL');
          this.#configDiscard(sdkp, v);
        },
      },
      ro('thin_provisioning', () => (sdkp.lbpme ? '1' : '0')),
      {
        name: 'zeroing_mode',
        mode: 0o644,
        show: () => `${sdkp.zeroingMode}\n`,
        store: (t) => {
          const v = t.trim() as ZeroingMode;
          if (!['write', 'writesame', 'writesame_16_unmap', 'writesame_10_unmap'].includes(v)) throw new Errno('EINVAL');
          sdkp.zeroingMode = v;
        },
      },
      ro('zoned_cap', () => 'none'),
    ];
  }
}

/**
 * driver_attach: a driver registered after the scan probes every visible LU no driver holds yet (in
 * the bus's device order); async-probing drivers do it in the background. Binding follows a good
 * probe, as really_probe → driver_bound does.
 */
export function driverAttach(mod: ScsiMod, drv: ScsiDriver): void {
  const probeOne = async (sdev: ScsiDevice): Promise<void> => {
    if (sdev.driver || !sdev.isVisible || !drv.match(sdev)) return;
    if ((await drv.probe(sdev)) !== 'ok') {
      sdev.driver = null;
      return;
    }
    sdev.driver = { name: drv.name };
    mod.kernel.dm.bind(sdev.sdevGendev, mod.kernel.dm.driver(mod.bus, drv.name));
  };
  const sdevs = mod.hosts.flatMap((h) => h.devices);
  if (drv.asyncProbe) {
    // async_schedule on an SMP guest: which probe reaches the index allocator first is a race the
    // kernel does not order. This follows what the captures show, as an empirical rule: with two
    // LUs the probes take indices in bus order (targets 0 and 1 → sda, sdb); with three or more, the
    // first item waits while another CPU's worker takes the following items, so the next LU this
    // driver accepts is first, then the first item, then the rest (0:0:0:0, 0:0:1:0 (a CD), 1:0:0:0
    // → sda = 1:0:0:0, sdb = 0:0:0:0; LUs 2:0, 2:5, 7:3 → sda = 2:5, sdb = 2:0, sdc = 7:3).
    let order = sdevs;
    if (mod.kernel.nrCpus > 1 && sdevs.length > 2) {
      const rest = sdevs.slice(1);
      const k = rest.findIndex((d) => drv.match(d) && !d.driver);
      if (k >= 0) order = [...rest.slice(0, k + 1), sdevs[0]!, ...rest.slice(k + 1)];
    }
    for (const sdev of order) mod.track(Promise.resolve().then(() => probeOne(sdev)));
    return;
  }
  mod.track(
    (async () => {
      for (const sdev of sdevs) await probeOne(sdev);
    })(),
  );
}

/** scsi_result_to_blk_status: the ml byte first, then the host byte. */
export function scsiResultToBlkStatus(cmd: ScsiCmnd): BlkStatus {
  switch (cmd.ml) {
    case 'RESV_CONFLICT':
      return 'NEXUS';
    case 'NOSPC':
      return 'NOSPC';
    case 'MED_ERROR':
      return 'MEDIUM';
    case 'TGT_FAILURE':
      return 'TARGET';
    case 'none':
      break;
  }
  switch (hostByte(cmd.result)) {
    case 0:
      return statusByte(cmd.result) === 0 ? 'OK' : 'IOERR';
    case DID_TRANSPORT_FAILFAST:
    case DID_TRANSPORT_MARGINAL:
      return 'TRANSPORT';
    case DID_TARGET_FAILURE:
      return 'TARGET';
    case DID_NEXUS_FAILURE:
      return 'NEXUS';
    case DID_ALLOC_FAILURE:
      return 'NOSPC';
    case DID_MEDIUM_ERROR:
      return 'MEDIUM';
    default:
      return 'IOERR';
  }
}
