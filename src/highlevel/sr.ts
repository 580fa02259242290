// Models drivers/scsi/sr.c + sr_vendor.c (Linux 6.1): the SCSI CD-ROM driver — probe (srN, 11:N), the
// capability mode page with its `scsi3-mmc drive:` line and the capability mask, registration with the
// CD-ROM layer, revalidation (multisession TOC, READ CAPACITY(10), last written sector), reads in
// 2048-byte blocks, the block-device open/release/ioctl entry points that hand over to the Uniform
// CD-ROM layer (src/highlevel/cdrom.ts; sr's cdrom_device_ops are in sr_ioctl.ts), and media events
// for the block layer's poller.
//
// Two pieces of block/disk-events.c live here until src/block models them: the events a poll found
// stay pending until an open consumes them (ev->pending: the first open after the probe's media change
// revalidates), and every close asks for an immediate check that clears MEDIA_CHANGE (blkdev_put's
// disk_flush_events), which is how an eject(1) becomes a DISK_MEDIA_CHANGE uevent.

import { scsiIoctl } from '../midlayer/scsi_ioctl.ts';
import { Errno } from '../kernel/errno.ts';
import { Ida } from '../kernel/ida.ts';
import { KERN_DEBUG, KERN_INFO } from '../kernel/kernel.ts';
import { O_ACCMODE, O_NONBLOCK, O_RDONLY } from '../kernel/syscalls.ts';
import * as u from '../kernel/uapi/cdrom.ts';
import { bdevInit, invalidatePages } from '../block/bdev.ts';
import { setHwQueues } from '../block/blk_sysfs.ts';
import type { BlkRequest, BlkStatus, BlockDeviceOperations, BlockLayer, DiskEvent, Gendisk } from '../block/genhd.ts';
import { GENHD_FL_NO_PART, GENHD_FL_REMOVABLE } from '../block/genhd.ts';
import type { ScsiDriver, ScsiMod } from '../midlayer/scsi.ts';
import { ScsiCmnd } from '../midlayer/scsi_cmnd.ts';
import { SENSE_KEY, TYPE_ROM, TYPE_WORM, normalizeSense } from '../midlayer/scsi_common.ts';
import type { ScsiDevice } from '../midlayer/scsi_device.ts';
import { scsiExecute, scsiQueueRq } from '../midlayer/scsi_lib.ts';
import type { ExecuteResult } from '../midlayer/scsi_lib.ts';
import { sdevPrintk } from '../midlayer/scsi_logging.ts';
import { printCommand, printResult, printSenseHdr } from './constants.ts';
import { driverAttach, scsiResultToBlkStatus } from './sd.ts';
import {
  CdromDeviceInfo,
  cdromCheckEvents,
  cdromErrno,
  cdromIoctl,
  cdromOpen,
  cdromProbeWriteFeatures,
  cdromRelease,
  errno,
  registerCdrom,
  unregisterCdrom,
} from './cdrom.ts';
import type { CdromOpenMode } from './cdrom.ts';
import { MAX_RETRIES, SR_TIMEOUT, scsiSendStartStop, srDops, srTestUnitReady } from './sr_ioctl.ts';
import type { SrCd } from './sr_ioctl.ts';

export const SCSI_CDROM_MAJOR = 11;
const SR_DISKS = 256;
const LOADMECH = ['caddy', 'tray', 'pop-up', '', 'changer', 'cartridge changer', '', ''];

export class ScsiCd implements SrCd {
  readonly mod: ScsiMod;
  readonly sdev: ScsiDevice;
  readonly index: number;
  readonly disk: Gendisk;
  readonly cdi: CdromDeviceInfo;
  /** Capacity in 2048-byte blocks (or 512 when the drive reports that). */
  capacity = 0x1fffff;
  sectorSize = 2048;
  mediaPresent = true;
  /** Randomly writable (DVD-RAM, MRW, CD-RW …): the disk is read-only otherwise. */
  writeable = false;
  locked = false;
  msOffset = 0;
  xaFlag = false;
  getEventChanged = false;
  turChanged = false;
  turMismatch = 0;
  ignoreGetEvent = false;
  /** ev->pending of the block layer: events a poll found that no open has consumed yet. */
  /** ev->clearing: the next check clears MEDIA_CHANGE (set by a close). */
  flushClearing = false;
  /** cd->lock: opens, releases and ioctls run one at a time. */
  #lock: Promise<unknown> = Promise.resolve();

  constructor(mod: ScsiMod, sdev: ScsiDevice, index: number, disk: Gendisk) {
    this.mod = mod;
    this.sdev = sdev;
    this.index = index;
    this.disk = disk;
    this.cdi = new CdromDeviceInfo(srDops, disk.name, this);
  }

  get name(): string {
    return this.disk.name;
  }

  /** sdev->changed: set by a UNIT ATTENTION, consumed by the next event check. */
  get changed(): boolean {
    return this.sdev.changed;
  }

  /** Runs `fn` under cd->lock. */
  withLock<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#lock.then(fn, fn);
    this.#lock = run.catch(() => {});
    return run;
  }
}

export class SrDriver implements ScsiDriver {
  readonly name = 'sr';
  readonly #mod: ScsiMod;
  readonly #layer: BlockLayer;
  readonly #indices = new Ida();

  constructor(mod: ScsiMod) {
    this.#mod = mod;
    this.#layer = bdevInit(mod.kernel);
  }

  /** init_sr: block major 11 and the driver in scsi_mod's table. */
  static register(mod: ScsiMod): SrDriver {
    const sr = new SrDriver(mod);
    sr.#layer.registerBlkdev(SCSI_CDROM_MAJOR, 'sr');
    mod.drivers.push(sr);
    driverAttach(mod, sr);
    return sr;
  }

  unregister(): void {
    const i = this.#mod.drivers.indexOf(this);
    if (i >= 0) this.#mod.drivers.splice(i, 1);
    this.#layer.unregisterBlkdev(SCSI_CDROM_MAJOR, 'sr');
  }

  static of(sdev: ScsiDevice): ScsiCd | undefined {
    return sdev.driverData instanceof ScsiCd ? sdev.driverData : undefined;
  }

  match(sdev: ScsiDevice): boolean {
    return sdev.type === TYPE_ROM || sdev.type === TYPE_WORM;
  }

  #printk(level: number, cd: ScsiCd, text: string): void {
    sdevPrintk(this.#mod, level, cd.sdev, `[${cd.name}] ${text}`);
  }

  #exec(cd: ScsiCd, cdb: number[], inLen: number, retries = MAX_RETRIES): Promise<ExecuteResult> {
    return scsiExecute(this.#mod, cd.sdev, { cdb, dir: inLen > 0 ? 'from-dev' : 'none', length: inLen, timeout: SR_TIMEOUT, retries });
  }

  async probe(sdev: ScsiDevice): Promise<'ok' | 'ENODEV'> {
    if (!this.match(sdev)) return 'ENODEV';
    const index = this.#indices.alloc(SR_DISKS);
    if (index < 0) return 'ENODEV';
    sdev.driver = { name: 'sr' };
    const fops = this.#fops();
    const disk = this.#layer.allocDisk(`sr${index}`, SCSI_CDROM_MAJOR, index, 1, fops);
    disk.flags = GENHD_FL_REMOVABLE | GENHD_FL_NO_PART;
    disk.events = ['media_change', 'eject_request'];
    const cd = new ScsiCd(this.#mod, sdev, index, disk);
    disk.privateData = cd;
    sdev.driverData = cd;
    // Force a look at the medium's type at the first check.
    sdev.changed = true;
    const l = disk.limits;
    l.maxHwSectors = sdev.host.maxSectors;
    l.maxSectors = Math.min(l.maxHwSectors, 2560);
    l.maxSegments = Math.min(sdev.host.sgTablesize, 2048);
    l.tagDepth = Math.min(sdev.host.canQueue, 256) || 256;
    setHwQueues(l, sdev.host.nrHwQueues);
    await this.#getCapabilities(cd);
    // The captured kernel learns the write features before register_cdrom decides the read-only state.
    await cdromProbeWriteFeatures(cd.cdi);
    const m = cd.cdi.mask;
    const randomWrite = u.CDC_DVD_RAM | u.CDC_MRW_W | u.CDC_RAM | u.CDC_CD_RW;
    cd.writeable = (m & randomWrite) !== randomWrite;
    registerCdrom(this.#mod.kernel, disk, cd.cdi);
    await this.revalidate(cd);
    disk.ro = !cd.writeable;
    await this.#layer.deviceAddDisk(sdev.sdevGendev, disk);
    // disk_add_events: the block layer's first look (not clearing: GESN only), which reports the
    // probe's media change (a new diskseq and a DISK_MEDIA_CHANGE uevent) and leaves it pending.
    await this.#layer.checkEvents(disk);
    sdevPrintk(this.#mod, KERN_DEBUG, sdev, `Attached scsi CD-ROM ${cd.name}`);
    return 'ok';
  }

  async remove(sdev: ScsiDevice): Promise<void> {
    const cd = SrDriver.of(sdev);
    if (!cd) return;
    this.#layer.delGendisk(cd.disk);
    unregisterCdrom(this.#mod.kernel, cd.cdi);
    this.#indices.free(cd.index);
    sdev.driverData = null;
  }

  async rescan(sdev: ScsiDevice): Promise<void> {
    const cd = SrDriver.of(sdev);
    if (cd) await this.revalidate(cd);
  }

  /**
   * get_capabilities: TUR (eats the UA), MODE SENSE(6) page 0x2a, the `scsi3-mmc drive:` line, and the
   * mask of what this unit lacks: a caddy cannot close, no DVD read, no DVD-RAM/DVD-R/CD-RW/CD-R write,
   * no eject, not a changer.
   */
  async #getCapabilities(cd: ScsiCd): Promise<void> {
    await srTestUnitReady(this.#mod, cd.sdev);
    const r = await this.#exec(cd, [0x1a, 0, 0x2a, 0, 128, 0], 128);
    const b = r.data;
    const n = 4 + (b[3] ?? 0);
    const cdi = cd.cdi;
    if (r.result !== 0 || b.length < n + 16 || (b[n]! & 0x3f) !== 0x2a) {
      cdi.speed = 1;
      cdi.mask |= u.CDC_CD_R | u.CDC_CD_RW | u.CDC_DVD_R | u.CDC_DVD | u.CDC_DVD_RAM | u.CDC_SELECT_DISC | u.CDC_SELECT_SPEED | u.CDC_MRW | u.CDC_MRW_W | u.CDC_RAM;
      this.#printk(KERN_INFO, cd, 'scsi-1 drive');
      return;
    }
    cdi.speed = Math.floor(((b[n + 8]! << 8) | b[n + 9]!) / 176);
    const maxSpeed = Math.floor(((b[n + 14]! << 8) | b[n + 15]!) / 176);
    const mech = b[n + 6]! >> 5;
    const flags =
      (b[n + 3]! & 0x01 ? 'writer ' : '') +
      (b[n + 3]! & 0x20 ? 'dvd-ram ' : '') +
      (b[n + 2]! & 0x02 ? 'cd/rw ' : '') +
      (b[n + 4]! & 0x20 ? 'xa/form2 ' : '') +
      (b[n + 5]! & 0x01 ? 'cdda ' : '') +
      LOADMECH[mech]!;
    this.#printk(KERN_INFO, cd, `scsi3-mmc drive: ${maxSpeed}x/${cdi.speed}x ${flags}`);
    if (mech === 0) cdi.mask |= u.CDC_CLOSE_TRAY;
    if (!(b[n + 2]! & 0x08)) cdi.mask |= u.CDC_DVD;
    if (!(b[n + 3]! & 0x20)) cdi.mask |= u.CDC_DVD_RAM;
    if (!(b[n + 3]! & 0x10)) cdi.mask |= u.CDC_DVD_R;
    if (!(b[n + 3]! & 0x02)) cdi.mask |= u.CDC_CD_RW;
    if (!(b[n + 3]! & 0x01)) cdi.mask |= u.CDC_CD_R;
    if (!(b[n + 6]! & 0x08)) cdi.mask |= u.CDC_OPEN_TRAY;
    // Changers (mechanism 4, 5) would count their slots with MECHANISM STATUS: not modelled, one slot.
    if (cdi.capacity <= 1) cdi.mask |= u.CDC_SELECT_DISC;
  }

  /** sr_revalidate_disk: nothing more when not ready; else the TOC checks and get_sectorsize. */
  async revalidate(cd: ScsiCd): Promise<void> {
    const tur = await srTestUnitReady(this.#mod, cd.sdev);
    if (tur.result !== 0) return;
    await this.#cdCheck(cd);
    await this.#getSectorsize(cd);
  }

  /**
   * sr_cd_check (sr_vendor.c, SCSI-3 drives): the multisession TOC (format 1 in the vendor byte) gives the
   * last session's start, then sr_disk_status reads the TOC header and the entries up to the first data
   * track. A drive without the session TOC loses CDC_MULTI_SESSION.
   */
  async #cdCheck(cd: ScsiCd): Promise<void> {
    const cdi = cd.cdi;
    if (cdi.mask & u.CDC_MULTI_SESSION) return;
    let sector = 0;
    let noMulti = false;
    const r = await cdi.ops.genericPacket(cdi, { cmd: [0x43, 0, 0, 0, 0, 0, 0, 0, 12, 0x40], dir: 'from-dev', buflen: 12 });
    const b = r.data;
    if (r.stat === 0) {
      if (((b[0]! << 8) | b[1]!) < 0x0a) {
        this.#printk(KERN_INFO, cd, "Hmm, seems the drive doesn't support multisession CD's");
        noMulti = true;
      } else {
        sector = ((b[8]! << 24) | (b[9]! << 16) | (b[10]! << 8) | b[11]!) >>> 0;
        // An offset inside the first track is no multisession disc.
        if (b[6]! <= 1) sector = 0;
      }
    }
    cd.msOffset = sector;
    cd.xaFlag = false;
    // sr_disk_status decides whether sr_is_xa would look; xa_test is off, so the disc is never XA.
    await this.#diskStatus(cd);
    if (noMulti) cdi.mask |= u.CDC_MULTI_SESSION;
  }

  /** sr_disk_status: the TOC header, then LBA entries until a data track shows up. */
  async #diskStatus(cd: ScsiCd): Promise<number> {
    const cdi = cd.cdi;
    const h = await cdi.ops.readTochdr(cdi);
    if (h.ret) return h.ret === errno('ENOMEDIUM') ? u.CDS_NO_DISC : u.CDS_NO_INFO;
    for (let i = h.hdr.cdthTrk0; i <= h.hdr.cdthTrk1; i++) {
      const e = await cdi.ops.readTocentry(cdi, i, u.CDROM_LBA);
      if (e.ret) return u.CDS_NO_INFO;
      if (e.entry.cdteCtrl & u.CDROM_DATA_TRACK) return cd.xaFlag ? u.CDS_XA_2_1 : u.CDS_DATA_1;
    }
    return u.CDS_AUDIO;
  }

  /** get_sectorsize: READ CAPACITY(10), then cdrom_get_last_written (disc info, track info or TOC lead-out). */
  async #getSectorsize(cd: ScsiCd): Promise<void> {
    let r: ExecuteResult;
    let tries = 3;
    do r = await this.#exec(cd, [0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0], 8);
    while (r.result !== 0 && --tries > 0);
    let sectorSize: number;
    if (r.result !== 0) {
      cd.capacity = 0x1fffff;
      sectorSize = 2048;
    } else {
      const dv = new DataView(r.data.buffer, r.data.byteOffset, r.data.byteLength);
      cd.capacity = dv.getUint32(0) + 1;
      const last = await this.#getLastWritten(cd);
      if (last !== null) cd.capacity = Math.max(cd.capacity, last);
      sectorSize = dv.getUint32(4);
    }
    if (sectorSize === 0 || sectorSize === 2340 || sectorSize === 2352) sectorSize = 2048;
    if (sectorSize !== 2048 && sectorSize !== 512) {
      this.#printk(KERN_INFO, cd, `unsupported sector size ${sectorSize}.`);
      cd.capacity = 0;
      sectorSize = 2048;
    }
    cd.sectorSize = sectorSize;
    cd.disk.limits.logicalBlockSize = sectorSize;
    // blk_queue_logical_block_size: the hardware limit becomes a whole number of logical blocks.
    const per = sectorSize / 512;
    cd.disk.limits.maxHwSectors = Math.floor(cd.disk.limits.maxHwSectors / per) * per;
    cd.disk.limits.maxSectors = Math.floor(cd.disk.limits.maxSectors / per) * per;
    cd.disk.limits.physicalBlockSize = sectorSize;
    cd.disk.limits.ioMin = sectorSize;
    this.#layer.setCapacityAndNotify(cd.disk, cd.capacity * (sectorSize / 512));
  }

  async #getLastWritten(cd: ScsiCd): Promise<number | null> {
    const di2 = await this.#exec(cd, [0x51, 0, 0, 0, 0, 0, 0, 0, 2, 0], 2);
    if (di2.result !== 0) return null;
    const len = Math.min(((di2.data[0]! << 8) | di2.data[1]!) + 2, 34);
    const di = await this.#exec(cd, [0x51, 0, 0, 0, 0, 0, 0, 0, len, 0], len);
    if (di.result !== 0) return null;
    const lastTrack = di.data[6] ?? 1;
    const ti = await this.#exec(cd, [0x52, 1, 0, 0, (lastTrack >> 8) & 0xff, lastTrack & 0xff, 0, 0, 8, 0], 8);
    if (ti.result === 0 && ti.data.length >= 8) return null;
    // use_toc: the lead-out's start (MSF) is the first sector past the data.
    const toc = await this.#exec(cd, [0x43, 2, 0, 0, 0, 0, 0xaa, 0, 12, 0], 12);
    if (toc.result !== 0) return null;
    const d = toc.data;
    return (d[9]! * 60 + d[10]!) * 75 + d[11]! - 150;
  }

  /** The driver's ioctl mode for an open: O_NONBLOCK is FMODE_NDELAY, any write access FMODE_WRITE. */
  static openMode(flags: number): CdromOpenMode {
    return { ndelay: (flags & O_NONBLOCK) !== 0, write: (flags & O_ACCMODE) !== O_RDONLY };
  }

  /**
   * sr_block_check_events → cdrom_check_events. What a check that is not an open's finds (the poll,
   * the first look, the check after a close) the block layer keeps pending for the next open.
   */
  async #checkEvents(cd: ScsiCd, clearing: boolean): Promise<DiskEvent[]> {
    const flush = cd.flushClearing;
    cd.flushClearing = false;
    return cdromCheckEvents(cd.cdi, clearing || flush);
  }

  /** sr_block_open: a media change seen by the block layer revalidates, then cdrom_open decides. */
  async #open(cd: ScsiCd, flags: number): Promise<void> {
    const disk = cd.disk;
    // bdev_check_media_change → disk_clear_events: a fresh check plus what was pending.
    const ev = new Set(await this.#layer.checkEvents(disk, true));
    if (ev.has('media_change')) {
      invalidatePages(disk);
      await this.revalidate(cd);
    }
    const ret = await cdromOpen(cd.cdi, SrDriver.openMode(flags));
    const err = cdromErrno(ret);
    if (err) throw err;
  }

  /** sr_block_release → cdrom_release; then blkdev_put's immediate check that clears MEDIA_CHANGE. */
  async #release(cd: ScsiCd): Promise<void> {
    await cdromRelease(cd.cdi);
    cd.flushClearing = true;
    await this.#layer.checkEvents(cd.disk);
  }

  /**
   * sr_block_ioctl: the CD-ROM layer first (but CDROMEJECT and CDROMCLOSETRAY go straight to scsi_ioctl,
   * whose START STOP UNIT neither checks other openers nor unlocks), then scsi_ioctl (SG_IO …), whose
   * answer to anything else is EINVAL.
   */
  async #ioctl(cd: ScsiCd, request: number, arg: unknown): Promise<unknown> {
    if (request !== u.CDROMCLOSETRAY && request !== u.CDROMEJECT) {
      const r = await cdromIoctl(cd.cdi, request, arg, { capSysAdmin: true, invalidate: () => invalidatePages(cd.disk) });
      if (r !== errno('ENOSYS')) {
        const err = typeof r === 'number' ? cdromErrno(r) : undefined;
        if (err) throw err;
        return r;
      }
    }
    if (request === u.CDROMCLOSETRAY) return scsiSendStartStop(cd, 3);
    if (request === u.CDROMEJECT) return scsiSendStartStop(cd, 2);
    const r = scsiIoctl(this.#mod, cd.sdev, request, arg);
    if (r === undefined) throw new Errno('EINVAL');
    return r;
  }

  #fops(): BlockDeviceOperations {
    const cdOf = (disk: Gendisk): ScsiCd => disk.privateData as ScsiCd;
    return {
      submit: (disk, req) => this.#queueRq(cdOf(disk), req),
      checkEvents: (disk, clearing) => this.#checkEvents(cdOf(disk), clearing),
      open: (disk, flags) => cdOf(disk).withLock(() => this.#open(cdOf(disk), flags)),
      // The block layer does not wait for a release: the unlock and the check run under cd->lock.
      release: (disk) => void cdOf(disk).withLock(() => this.#release(cdOf(disk))),
      ioctl: (disk, request, arg) => cdOf(disk).withLock(() => this.#ioctl(cdOf(disk), request, arg)),
    };
  }

  /** sr_init_command: READ(10) in 2048-byte blocks; misaligned requests are refused. */
  #queueRq(cd: ScsiCd, req: BlkRequest): Promise<BlkStatus> {
    const per = cd.sectorSize / 512;
    // A changed disc is quietly refused until an event check has consumed the change.
    if (cd.changed && req.op !== 'FLUSH') return Promise.resolve('IOERR');
    if (req.op !== 'READ') return Promise.resolve(req.op === 'FLUSH' ? 'OK' : 'IOERR');
    if (req.sector % per || req.nrSectors % per) return Promise.resolve('IOERR');
    const lba = req.sector / per;
    const blocks = req.nrSectors / per;
    const cmd = new ScsiCmnd(cd.sdev);
    cmd.setCdb([0x28, 0, (lba >>> 24) & 0xff, (lba >>> 16) & 0xff, (lba >>> 8) & 0xff, lba & 0xff, 0, (blocks >> 8) & 0xff, blocks & 0xff, 0]);
    cmd.dir = 'from-dev';
    cmd.sgl = req.buf !== null ? [{ addr: req.buf, len: req.nrSectors * 512 }] : [];
    cmd.length = req.nrSectors * 512;
    cmd.timeout = cd.disk.limits.timeoutMs * 1e6;
    cmd.allowed = MAX_RETRIES;
    cmd.jiffiesAtAlloc = this.#mod.kernel.loop.now();
    return scsiQueueRq(this.#mod, cmd).then((c): BlkStatus => {
      if (c.result === 0) return 'OK';
      const sshdr = normalizeSense(c.senseBuffer, c.senseBuffer.length);
      if (sshdr?.senseKey === SENSE_KEY.UNIT_ATTENTION) cd.sdev.changed = true;
      if (!req.quiet) {
        printResult(this.#mod, c, cd.name, 'FAILED');
        if (sshdr) printSenseHdr(this.#mod, c.device, cd.name, c.tag, sshdr);
        printCommand(this.#mod, c, cd.name);
      }
      return scsiResultToBlkStatus(c);
    });
  }
}
